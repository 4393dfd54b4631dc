"""The web commands: ``newsletter serve`` (archive, feeds, subscription pages) and
``newsletter preview`` (the coming issue with drafts, rebuilt and reloaded on every edit)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .build import PREVIEW_DIR
from .config import load_config
from .console import Console, newsletter_root, now
from .content import resolve_issue
from .errors import UsageError, display_path
from .seasons import next_issue
from .send import SendOptions, transports_for
from .store import open_store
from .tokens import Tokens, secret_from_env

#: A client has this long (seconds) to send a whole request, headers and body, from when it
#: connects or its previous answer ends; then the connection is closed.
REQUEST_TIMEOUT = 10.0
#: An idle keep-alive connection is closed after this long (seconds).
KEEP_ALIVE_TIMEOUT = 5


def register(commands: Any, common: Callable[[argparse.ArgumentParser, bool], None]) -> None:
    """Add ``serve`` and ``preview`` to the ``newsletter`` parser."""
    serve = commands.add_parser(
        "serve", help="serve the archive, the feeds and the subscribe/unsubscribe pages",
        description="Serve the built archive (output_dir) and the feeds, with the pages where "
                    "readers subscribe (double opt-in: a confirmation email goes through the "
                    "delivery transport, the outbox by default), confirm and unsubscribe "
                    "(one click, RFC 8058). Needs the token signing key in the environment "
                    "variable named by delivery.token_secret_env. Access logs are off unless "
                    "-v is given: the app records no visitor's address. A client has "
                    f"{REQUEST_TIMEOUT:g} s to send a whole request (headers and body), and "
                    f"an idle keep-alive connection is closed after {KEEP_ALIVE_TIMEOUT} s.")
    common(serve, True)
    _host_port(serve)
    serve.set_defaults(run=_run_serve)

    preview = commands.add_parser(
        "preview", help="preview an issue with its drafts, rebuilt and reloaded on every edit",
        description="Build the issue with its drafts into <root>/preview, serve it on "
                    "127.0.0.1 and rebuild it whenever a file of the issues, the templates, "
                    "newsletter.toml or contributors.toml changes; the page in the browser "
                    "reloads by itself. A content error is shown in the page, located as "
                    "path:line, and the preview keeps running; each rebuild prints one line. "
                    "Only requests for --host are answered, and only the preview's own "
                    "reload script runs.")
    common(preview, True)
    preview.add_argument("issue", metavar="ISSUE", nargs="?",
                         help="an issue id or the path of its folder (default: the coming "
                              "issue)")
    _host_port(preview)
    preview.set_defaults(run=_run_preview)


def _host_port(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1",
                        help="the address to listen on (default: 127.0.0.1, this machine only)")
    parser.add_argument("--port", type=_port, default=8000,
                        help="the port to listen on (default: 8000)")


def _port(text: str) -> int:
    if not text.isdigit() or not 0 <= int(text) <= 65535:
        raise argparse.ArgumentTypeError(f"'{text}' is not a port number (0-65535)")
    return int(text)


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


def _url(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def _run_serve(args: argparse.Namespace, console: Console) -> int:
    from .web import WebParts, create_app

    root = newsletter_root(args)
    config = load_config(root)
    env = dict(os.environ)
    tokens = Tokens(secret_from_env(config.delivery.token_secret_env, env))
    if not (config.output_dir / "index.html").is_file():
        console.message("warning", f"{display_path(config.output_dir)} has no built archive "
                        "yet: it is written when the first issue is published ('newsletter "
                        "publish ISSUE' at its moment; 'newsletter preview' shows one before); "
                        "the subscription pages work anyway")

    def transport() -> Any:
        found, _ = transports_for(config, SendOptions(issue=""), env, count=1, clean=False)
        return found[0]

    _, label = transports_for(config, SendOptions(issue=""), env, count=1)
    store = open_store(config.delivery.database, config.delivery.database_password_env, env)
    sock = bind(args.host, args.port)
    parts = WebParts(store=store, tokens=tokens, transport=transport, now=now,
                     monotonic=time.monotonic)
    app = create_app(config, parts)
    console.result(f"serving {display_path(config.output_dir)} and the subscription pages on "
                   f"{_url(sock)}/ (confirmation emails via {label}); Ctrl-C stops")
    try:
        run_server(app, sock, args.verbosity > 0)
    finally:
        store.close()
    console.message("note", "stopped")
    return 0


def _run_preview(args: argparse.Namespace, console: Console) -> int:
    from .preview import Preview, create_preview_app, rebuild_lines

    root = newsletter_root(args)
    config = load_config(root)
    ref = args.issue
    if ref is None:
        ref = str(next_issue(now().astimezone(config.time_zone).date(), config.time_zone))
    issue_id = resolve_issue(ref, config)

    def report(state: Any) -> None:  # one line per rebuild, at once even into a pipe
        for line in rebuild_lines(state, Path.cwd()):
            console.result(line)
        console.out.flush()

    preview = Preview(root, str(issue_id), now=now, report=report)
    state = preview.rebuild()
    for problem in state.problems:
        console.problem(problem)
    sock = bind(args.host, args.port)
    console.result(f"previewing {issue_id} with its drafts on {_url(sock)}/{issue_id}/ "
                   f"(built into {display_path(root / PREVIEW_DIR)}); it rebuilds and reloads "
                   "on every save; Ctrl-C stops")
    if state.error:
        console.message("error", f"the first build failed ({state.error}); the page shows "
                        "why, and the preview rebuilds when you save a fix")
    console.out.flush()
    # Open tabs hold an event stream each: stopping ends them, so Ctrl-C stops at once.
    run_server(create_preview_app(preview, host=args.host), sock, args.verbosity > 0,
               on_exit=preview.stop, grace=1)
    console.message("note", "stopped")
    return 0

