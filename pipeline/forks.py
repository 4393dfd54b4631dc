"""A process forked from this one to make one thing while this one goes on, and the pipe that
brings it back: the build's way to use another core for work that needs what this process
holds (the entries of the feeds: megabytes that a fork does not copy), or that should start
before this process has loaded what the work needs (:mod:`pipeline.ahead`).

It is :func:`os.fork` and a pipe, not :mod:`multiprocessing`, whose loading alone (about
8 ms) costs more than a small issue's bodies take to render. The forked process runs one
function, sends back what it returns (pickled) and leaves with :func:`os._exit`: no exit
handler of this process runs twice, no buffered output is written twice. If it fails or is
stopped, the result is the caller's ``stopped`` value, and the caller does the work itself.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import pickle
import signal
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

T = TypeVar("T")

#: What a process that sent nothing returned.
_STOPPED = object()


class Forked:
    """A process started by :func:`fork` (``pid``), and what it returns."""

    def __init__(self, pid: int, pipe: int) -> None:
        self.pid, self._pipe = pid, pipe
        self._done = False
        self._value: Any = _STOPPED

    def result(self, stopped: T) -> Any | T:
        """What its function returned (waiting for it), or ``stopped`` if it failed, was
        stopped, or this was closed first."""
        if not self._done:
            self._done = True
            try:
                with os.fdopen(self._pipe, "rb") as pipe:
                    data = pipe.read()
                self._value = pickle.loads(data) if data else _STOPPED
            except (OSError, EOFError, pickle.UnpicklingError):
                self._value = _STOPPED
            finally:
                self._reap()
        return stopped if self._value is _STOPPED else self._value

    def close(self) -> None:
        """Stop it unless its result was taken: a build that ends without asking for it
        leaves no process behind."""
        if self._done:
            return
        self._done = True
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGTERM)
        with contextlib.suppress(OSError):
            os.close(self._pipe)
        self._reap()

    def _reap(self) -> None:
        with contextlib.suppress(ChildProcessError):
            os.waitpid(self.pid, 0)


def fork(target: Callable[..., Any] | str, args: tuple[Any, ...]) -> Forked | None:
    """``target(*args)`` in a process forked from this one; ``target`` may be named
    (``"module:function"``) to be imported in that process only. None on one core or where
    processes cannot be forked (then the caller does the work itself). Call it when no other
    thread runs (a fork copies one)."""
    if (os.cpu_count() or 1) < 2 or not hasattr(os, "fork"):
        return None
    receive, send = os.pipe()
    pid = os.fork()
    if pid == 0:  # the forked process: it never returns from here
        code = 1
        try:
            os.close(receive)
            data = pickle.dumps(_run(target, args), protocol=pickle.HIGHEST_PROTOCOL)
            with os.fdopen(send, "wb") as pipe:
                pipe.write(data)
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
