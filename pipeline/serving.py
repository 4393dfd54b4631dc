"""Serving over HTTP, for ``newsletter serve`` and ``newsletter preview``: a listening socket
(or a clear error), and uvicorn with the timeouts a public service needs and no access log
unless asked."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Callable
from typing import Any

from .errors import UsageError

#: A client has this long (seconds) to send a whole request, headers and body, from when it
#: connects or its previous answer ends; then the connection is closed.
REQUEST_TIMEOUT = 10.0
#: An idle keep-alive connection is closed after this long (seconds).
KEEP_ALIVE_TIMEOUT = 5


def bind(host: str, port: int) -> socket.socket:
    """A listening socket, or a clear error when the address is taken or wrong."""
    try:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
    except OSError as exc:
        raise UsageError(f"cannot listen on {host}:{port}: {exc.strerror or exc}; pass "
                         "another --port or --host") from None
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


def server(app: Any, verbose: bool = False, on_exit: Callable[[], None] | None = None,
           grace: int | None = None, request_timeout: float = REQUEST_TIMEOUT,
           keep_alive_timeout: int = KEEP_ALIVE_TIMEOUT) -> Any:
    """The uvicorn server for ``app``: no access log unless verbose (visitors' addresses
    are not recorded), no Server header, and the timeouts a public service needs: a request
    not read in full within ``request_timeout`` seconds (a slow or half-open client) and an
    idle keep-alive connection after ``keep_alive_timeout`` seconds are closed. ``on_exit``
    runs when Ctrl-C or SIGTERM asks it to stop; requests still running ``grace`` seconds
    later are cancelled. With ``on_exit`` a second Ctrl-C is the same as the first (the stop
    is quick already): uvicorn's forced exit would skip the app's shutdown and leave its
    tasks to be cancelled with tracebacks."""
    import uvicorn

    class Server(uvicorn.Server):
        def handle_exit(self, sig: int, frame: Any) -> None:
            super().handle_exit(sig, frame)
            if on_exit is not None:
                self.force_exit = False
                on_exit()

    return Server(uvicorn.Config(app, log_level="info" if verbose else "warning",
                                 access_log=verbose, lifespan="on", server_header=False,
                                 http=_timed_h11(request_timeout),
                                 timeout_keep_alive=keep_alive_timeout,
                                 timeout_graceful_shutdown=grace))


def _timed_h11(request_timeout: float) -> type[asyncio.Protocol]:
    """uvicorn's h11 protocol with a deadline for reading each request: uvicorn itself waits
    for a request's headers for ever (a client that connects and sends part of them keeps its
    connection). The deadline starts when the connection opens and when an answer ends; a
    request not read in full by then (headers and body) closes the connection."""
    import h11
    from uvicorn.protocols.http.h11_impl import H11Protocol

    class TimedH11Protocol(H11Protocol):
        deadline: asyncio.TimerHandle | None = None

        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            super().connection_made(transport)  # type: ignore[arg-type]
            self._arm()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            self._arm()

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

        def _arm(self) -> None:
            self._disarm()
            self.deadline = self.loop.call_later(request_timeout, self._expired)

        def _disarm(self) -> None:
            if self.deadline is not None:
                self.deadline.cancel()
                self.deadline = None

        def _expired(self) -> None:
            self.deadline = None
            if self.conn.their_state is h11.DONE or self.transport.is_closing():
                return  # the request was read in full: the app is answering it
            self.transport.close()

    return TimedH11Protocol


def run_server(app: Any, sock: socket.socket, verbose: bool,
               on_exit: Callable[[], None] | None = None, grace: int | None = None) -> None:
    """Serve until Ctrl-C (or SIGTERM), which is how a server is stopped: not an error."""
    with contextlib.suppress(KeyboardInterrupt):  # uvicorn re-raises it once shut down
        server(app, verbose, on_exit, grace).run(sockets=[sock])


def url(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"
