"""A process forked from this one to make one thing while this one goes on, and the pipe that
brings it back: the build's way to use another core for work that needs what this process
holds (the entries of the feeds: megabytes that a fork does not copy), or that should start
before this process has loaded what the work needs (:mod:`pipeline.ahead`). What it makes
comes back pickled, each thing as soon as it is made.

It is :func:`os.fork` and a pipe, not :mod:`multiprocessing`, whose loading alone (about
8 ms) costs more than a small issue's bodies take to render. The forked process runs one
function, sends back what it returns and leaves with :func:`os._exit`: no exit
handler of this process runs twice, no buffered output is written twice. If it fails or is
stopped, the result is the caller's ``stopped`` value, and the caller does the work itself.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import pickle
import signal
import struct
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import GeneratorType
from typing import Any, BinaryIO, TypeVar

T = TypeVar("T")

#: Before each thing sent: its length.
_HEAD = struct.Struct("<Q")
#: What the pipe holds before the process that writes waits for this one to read (where
#: the system lets it be set): room for the issue :mod:`pipeline.ahead` sends first, so it
#: renders on while the build is still loading.
PIPE_BYTES = 1 << 20


class Forked:
    """A process started by :func:`fork` (``pid``), and what it sends."""

    def __init__(self, pid: int, pipe: int) -> None:
        self.pid = pid
        self._pipe: BinaryIO | None = os.fdopen(pipe, "rb")

    def receive(self, stopped: T) -> Any | T:
        """The next thing it sent (waiting for it), or ``stopped`` when it sends no more:
        it is done, it failed, it was stopped, or this was closed."""
        if self._pipe is None:
            return stopped
        try:
            head = self._pipe.read(_HEAD.size)
            if len(head) == _HEAD.size:
                data = self._pipe.read(_HEAD.unpack(head)[0])
                return pickle.loads(data)
        except (OSError, EOFError, pickle.UnpicklingError):
            pass
        self.close()
        return stopped

    def close(self) -> None:
        """Stop it if it still runs, and reap it: a build that ends without asking for
        everything it sends leaves no process behind."""
        if self._pipe is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGTERM)
        with contextlib.suppress(OSError):
            self._pipe.close()
        self._pipe = None
        with contextlib.suppress(ChildProcessError):
            os.waitpid(self.pid, 0)


def fork(target: Callable[..., Any] | str, args: tuple[Any, ...]) -> Forked | None:
    """``target(*args)`` in a process forked from this one, which sends what it returns (or
    each thing it yields, as it yields it: :meth:`Forked.receive`); ``target`` may be named
    (``"module:function"``) to be imported in that process only. None on one core, where
    processes cannot be forked, or when the system has none left to give (then the caller
    does the work itself). Call it when no other thread runs (a fork copies one)."""
    if (os.cpu_count() or 1) < 2 or not hasattr(os, "fork"):
        return None
    try:
        receive, send = os.pipe()
    except OSError:  # no file descriptor left: the work is done here
        return None
    with contextlib.suppress(OSError, AttributeError, ImportError):  # Linux: room for 1 MB
        import fcntl

        fcntl.fcntl(send, fcntl.F_SETPIPE_SZ, PIPE_BYTES)
    try:
        pid = os.fork()
    except OSError:  # no process left to start: the work is done here
        os.close(receive)
        os.close(send)
        return None
    if pid == 0:  # the forked process: it never returns from here
        code = 1
        try:
            os.close(receive)
            with os.fdopen(send, "wb") as pipe:
                made = _run(target, args)
                for value in made if isinstance(made, GeneratorType) else (made,):
                    data = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
                    pipe.write(_HEAD.pack(len(data)) + data)
                    pipe.flush()
            code = 0
        finally:
            os._exit(code)
    os.close(send)
    return Forked(pid, receive)


@contextmanager
def forked(target: Callable[..., Any] | str, args: tuple[Any, ...]) -> Iterator[Forked | None]:
    """:func:`fork` for the ``with``: its process stopped at the end unless it was done."""
    started = fork(target, args)
    try:
        yield started
    finally:
        if started is not None:
            started.close()


def _run(target: Callable[..., Any] | str, args: tuple[Any, ...]) -> Any:
    if isinstance(target, str):
        module, function = target.split(":")
        target = getattr(importlib.import_module(module), function)
    assert callable(target)
    return target(*args)
