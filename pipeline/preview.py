"""``newsletter preview``: the coming issue, drafts included, rebuilt on every edit.

:class:`Preview` builds the issue into ``<root>/preview/`` (as ``build-issue --drafts`` does)
and rebuilds it whenever a file of the issues, the templates, ``newsletter.toml`` or
``contributors.toml`` changes (watchfiles). The app serves the preview with a small script
that listens for rebuilds (server-sent events) and reloads the page. When a build fails (or
raises), every page shows the problems as ``path:line: level: message`` instead, and the
preview keeps running and watching, so fixing the file brings the page back. Each rebuild is
reported in one line (``report``).

Only its own reload script runs: each page's Content-Security-Policy allows the one script
tag that carries that response's nonce. Only requests for the host it was started on are
answered (a page on another site cannot reach it through DNS rebinding). :meth:`Preview.stop`
ends the event streams of open tabs, so the server stops at once.

Besides the pages a build writes, it serves only files a build would publish
(:mod:`pipeline.safe_files`): a page or a script left in the folder would run with the
preview's own origin.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import secrets
import socket
import threading
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import datetime
from html import escape
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jinja2
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response, StreamingResponse
from starlette.routing import Mount, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from . import safe_files
from .build import BuildResult, build_issue
from .config import CONFIG_NAME, load_config
from .content import resolve_issue
from .errors import ContentError, PipelineError, Problem, display_path, plural
from .render import default_templates_dir
from .site import PREVIEW_DIR
from .web import Files
from .web_security import CSP, EMAIL_CSP, SecurityHeaders

RELOAD_SCRIPT = """\
// Reloads the page when the preview has been rebuilt (newsletter preview).
(function () {
  // The build the page was served from: a rebuild that ends before the stream connects
  // still reloads the page.
  var script = document.currentScript;
  var seen = (script && script.dataset.version) || null;
  var events = new EventSource("/__preview/events");
  events.onmessage = function (event) {
    if (seen === null) { seen = event.data; return; }
    if (event.data !== seen) { window.location.reload(); }
  };
})();
"""
SCRIPT_TAG = ('<script src="/__preview/reload.js" nonce="{nonce}" data-version="{version}" '
              'defer></script>')


def script_tag(nonce: str, version: str) -> str:
    return SCRIPT_TAG.format(nonce=nonce, version=escape(version, quote=True))


def page_csp(path: str, nonce: str) -> str:
    """The served site's policy, plus this response's one script and its event stream."""
    base = EMAIL_CSP if path.endswith("/email.html") else CSP
    return f"{base}; script-src 'nonce-{nonce}'; connect-src 'self'"


#: The files a build writes itself; any other file in the preview folder is served only if
#: it is one a build would publish (:func:`pipeline.safe_files.refusal`).
BUILT_FILES = frozenset({"index.html", "email.html", "email.txt", "style.css", "robots.txt",
                         "ai.txt"})


@dataclass(frozen=True)
class State:
    """The outcome of the latest build: a version that changes with every build."""

    version: str
    issue_id: str | None
    problems: tuple[Problem, ...]
    error: str | None  # why the build failed; None when it succeeded


class Preview:
    """Builds one issue with drafts, and again whenever its sources change."""

    def __init__(self, root: Path, ref: str, now: Callable[[], datetime],
                 out: Path | None = None, *,
                 build: Callable[..., BuildResult] = build_issue,
                 report: Callable[[State], None] | None = None) -> None:
        self.root, self.ref, self.now = root, ref, now
        self.out = out or root / PREVIEW_DIR
        self.build, self.report = build, report
        self.boot = secrets.token_hex(4)
        self.builds = 0
        self.lock = threading.Lock()
        self.state = State(f"{self.boot}-0", None, (), "not built yet")
        self.changed: asyncio.Event | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self.stopping = False

    def rebuild(self) -> State:
        with self.lock:
            self.builds += 1
            version = f"{self.boot}-{self.builds}"
            try:
                config = load_config(self.root)  # edited while the preview runs: read again
                result = self.build(config, resolve_issue(self.ref, config), self.now(),
                                    out=self.out, drafts=True)
                state = State(version, str(result.issues[0].issue_id), result.problems, None)
            except ContentError as exc:
                state = State(version, None, exc.problems, str(exc))
            except PipelineError as exc:  # a usage error: the issue folder went away, ...
                state = State(version, None, (), str(exc))
            except Exception as exc:  # a bug: shown, and the preview keeps watching
                state = State(version, None, (), f"the build failed unexpectedly "
                              f"({type(exc).__name__}: {exc}); please report it")
            self.state = state
            return state

    def stop(self) -> None:
        """End the event streams of open tabs (safe from a signal handler or a thread)."""
        self.stopping = True
        if self.loop is not None and not self.loop.is_closed():
            with contextlib.suppress(RuntimeError):
                self.loop.call_soon_threadsafe(self._wake)

    def _wake(self) -> None:
        if self.changed is not None:
            self.changed.set()
            self.changed.clear()

    def should_watch(self, path: Path) -> bool:
        """Only the sources matter: issues/, templates/ and the two configuration files
        (outputs, the database, editors' swap and backup files are ignored)."""
        root, full = self.root.resolve(), path.resolve()
        if not full.is_relative_to(root) or full.name.startswith(".") or \
                full.name.endswith("~"):
            return False
        parts = full.relative_to(root).parts
        return bool(parts) and (parts[0] in ("issues", "templates") or
                                parts == (CONFIG_NAME,) or parts == ("contributors.toml",))

    def watched_folders(self) -> tuple[Path, ...]:
        return tuple(p for p in (self.root / "issues", self.root / "templates") if p.is_dir())

    async def watch(self, stop: asyncio.Event) -> None:
        """Rebuild on every change until ``stop`` is set.

        ``issues/`` and ``templates/`` are watched with their subfolders, the root itself
        without (for the two configuration files, and a templates/ folder that appears), so
        nothing else under the root (outputs, a virtual environment) costs a watch.
        """
        while not stop.is_set():
            folders = self.watched_folders()
            done = asyncio.Event()  # set on stop, or when the folders to watch change

            relays = [asyncio.create_task(self._relay((self.root,), False, folders, done))]
            if folders:
                relays.append(asyncio.create_task(self._relay(folders, True, folders, done)))
            stopping = asyncio.create_task(stop.wait())
            await asyncio.wait([stopping, *relays], return_when=asyncio.FIRST_COMPLETED)
            done.set()
            await asyncio.gather(*relays, return_exceptions=True)
            stopping.cancel()
            if not stop.is_set() and self.watched_folders() == folders:
                await asyncio.sleep(1)  # a watcher failed (a folder vanished?): not too often

    async def _relay(self, paths: tuple[Path, ...], recursive: bool, folders: tuple[Path, ...],
                     done: asyncio.Event) -> None:
        """Rebuild after each batch of changes under ``paths``, until ``done`` is set; set it
        when the folders to watch are no longer ``folders``."""
        from watchfiles import awatch

        changed = self.changed
        assert changed is not None
        async for changes in awatch(*paths, stop_event=done, recursive=recursive, debounce=150,
                                    watch_filter=lambda _, p: self.should_watch(Path(p))):
            if changes:
                state = await asyncio.to_thread(self.rebuild)
                if self.report is not None:
                    self.report(state)
                changed.set()
                changed.clear()
                if self.watched_folders() != folders:
                    done.set()


def rebuild_lines(state: State, root: Path) -> list[str]:
    """What the terminal says after a rebuild: one line, then the problems of a failure."""
    if state.error is None:
        warnings = sum(1 for p in state.problems if p.level == "warning")
        more = f" ({plural(warnings, 'warning')})" if warnings else ""
        return [f"rebuilt {state.issue_id}: ok{more}"]
    return [f"rebuild failed: {state.error}",
            *(f"  {p.format(root)}" for p in state.problems if p.level != "note")]


def allowed_hosts(host: str) -> Callable[[str], bool]:
    """Which Host headers the preview answers: the address it was started on ("localhost"
    too, on a loopback address); on every interface (0.0.0.0), IP addresses, localhost and
    this machine's name. A name an attacker controls (DNS rebinding) is never one of them."""
    bound = host.strip("[]")
    try:
        ip = ipaddress.ip_address(bound)
    except ValueError:
        ip = None
    names = {bound.lower()}
    if ip is not None and ip.is_loopback:
        names.add("localhost")
    if ip is not None and ip.is_unspecified:
        names |= {"localhost", socket.gethostname().lower(), socket.getfqdn().lower()}

    def allowed(name: str) -> bool:
        name = name.lower()
        if name in names:
            return True
        if ip is not None and ip.is_unspecified:
            try:
                ipaddress.ip_address(name)
            except ValueError:
                return False
            return True
        return False

    return allowed


class HostCheck:
    """Answers 400 to a request whose Host header is not one the preview was started on."""

    def __init__(self, app: ASGIApp, allowed: Callable[[str], bool]) -> None:
        self.app, self.allowed = app, allowed

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            header = dict(scope.get("headers", [])).get(b"host", b"").decode("latin-1")
            try:
                name = urlsplit(f"//{header}").hostname or ""
            except ValueError:
                name = ""
            if not self.allowed(name):
                response = Response("Unknown Host header: open the address the preview "
                                    "printed when it started.\n", 400,
                                    media_type="text/plain")
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


def create_preview_app(preview: Preview, watch: bool = True,
                       host: str = "127.0.0.1") -> Starlette:
    """The preview server: the built issue with a reload script, and the build's errors;
    only for requests to ``host``, the address it listens on."""

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        preview.changed = asyncio.Event()
        preview.loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        task = asyncio.create_task(preview.watch(stop)) if watch else None
        try:
            yield
        finally:
            stop.set()
            if task:
                # A watcher that does not end in time is cancelled: stopping is never an error.
                with contextlib.suppress(asyncio.CancelledError, TimeoutError):
                    await asyncio.wait_for(task, timeout=1)

    async def events(request: Request) -> Response:
        async def stream() -> AsyncIterator[str]:
            sent = None
            while not preview.stopping and not await request.is_disconnected():
                version = preview.state.version
                if version != sent:
                    sent = version
                    yield f"data: {version}\n\n"
                changed = preview.changed
                assert changed is not None
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(changed.wait(), timeout=10)
                if preview.stopping:  # the server is stopping: let the tab go
                    return
                yield ": keep-alive\n\n"

        return StreamingResponse(stream(), media_type="text/event-stream",
                                 headers={"cache-control": "no-store"})

    async def script(request: Request) -> Response:
        return Response(RELOAD_SCRIPT, media_type="text/javascript; charset=utf-8",
                        headers={"cache-control": "no-store"})

    async def home(request: Request) -> Response:
        state = preview.state
        if state.error is not None:
            return _error_page(state, preview.root, request.url.path)
        return Response(status_code=307, headers={"location": f"/{state.issue_id}/"})

    files = _PreviewFiles(preview, directory=preview.out, html=True, check_dir=False)
    app = Starlette(routes=[Route("/__preview/events", events),
                            Route("/__preview/reload.js", script),
                            Route("/", home), Mount("/", app=files)],
                    lifespan=lifespan)
    app.add_middleware(SecurityHeaders)  # pages set their own policy, with their nonce
    app.add_middleware(HostCheck, allowed=allowed_hosts(host))
    return app


class _PreviewFiles(Files):
    """The built preview, with the reload script in every page; the errors while it fails."""

    def __init__(self, preview: Preview, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.preview = preview

    def file_response(self, full_path: Any, stat_result: Any, scope: Scope,
                      status_code: int = 200) -> Response:
        path = Path(str(full_path))
        refused = None if path.name in BUILT_FILES else safe_files.refusal(path)
        if refused is not None:  # a file left in the folder, or put there: not the build's
            return Response(f"Not served by the preview: {path.name} {refused}.\n", 403,
                            media_type="text/plain; charset=utf-8",
                            headers={"cache-control": "no-store"})
        if path.suffix != ".html":
            return super().file_response(full_path, stat_result, scope, status_code)
        state = self.preview.state
        if state.error is not None:
            return _error_page(state, self.preview.root, scope["path"])
        nonce = secrets.token_urlsafe(16)
        tag = script_tag(nonce, state.version).encode()
        html = path.read_bytes()
        at = html.rfind(b"</body>")
        html = html[:at] + tag + html[at:] if at >= 0 else html + tag
        return Response(html, status_code, media_type="text/html; charset=utf-8",
                        headers={"cache-control": "no-store",
                                 "content-security-policy": page_csp(scope["path"], nonce)})


_ERROR_PAGE = jinja2.Environment(
    loader=jinja2.FileSystemLoader(default_templates_dir()), autoescape=True,
).get_template("preview_error.html")


def _error_page(state: State, root: Path, path: str) -> HTMLResponse:
    """Every problem of the failed build, located, with the reload script."""
    lines = [p.format(root) for p in state.problems if p.level != "note"]
    nonce = secrets.token_urlsafe(16)
    html = _ERROR_PAGE.render(error=state.error, problems=lines,
                              script=script_tag(nonce, state.version), root=display_path(root))
    return HTMLResponse(html, 200, headers={"cache-control": "no-store",
                                            "content-security-policy": page_csp(path, nonce)})
