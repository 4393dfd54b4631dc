"""``newsletter preview``: drafts included, rebuilt when a file changes, errors shown in the
page with their path:line while the preview keeps running. A real uvicorn server and real file
watching (watchfiles)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from pipeline.preview import Preview, create_preview_app, rebuild_lines
from pipeline.serving import bind

from .conftest import AS_OF_EPOCH, REPO, RunCli, Scratch, piece_text
from .web_server import serving

ISSUE = "2026-12-solstice"
NOW = datetime(2026, 12, 1, tzinfo=UTC)


class Running:
    def __init__(self, scratch: Scratch, preview: Preview, url: str) -> None:
        self.scratch, self.preview, self.url = scratch, preview, url

    def wait_for(self, text: str, path: str = f"/{ISSUE}/", timeout: float = 30) -> str:
        """The page once it contains ``text`` (the preview rebuilds in the background)."""
        deadline = time.monotonic() + timeout
        while True:
            page = httpx.get(self.url + path, timeout=10).text
            if text in page:
                return page
            if time.monotonic() > deadline:
                raise AssertionError(f"{text!r} never appeared in {path}:\n{page[:2000]}")
            time.sleep(0.1)


@pytest.fixture
def running(scratch: Scratch) -> Iterator[Running]:
    scratch.piece(ISSUE, "ready-one", title="The ready one")
    scratch.piece(ISSUE, "still-a-draft", title="Still a draft", status="draft")
    preview = Preview(scratch.root, ISSUE, now=lambda: NOW)
    state = preview.rebuild()
    assert state.error is None, state.problems
    sock = bind("127.0.0.1", 0)
    with serving(create_preview_app(preview), sock):
        yield Running(scratch, preview, f"http://127.0.0.1:{sock.getsockname()[1]}")


def test_the_preview_shows_drafts_with_the_reload_script(running: Running) -> None:
    home = httpx.get(running.url + "/")
    assert home.status_code == 307 and home.headers["location"] == f"/{ISSUE}/"
    page = httpx.get(running.url + f"/{ISSUE}/")
    assert "Still a draft" in page.text and "DRAFT" in page.text
    tags = re.findall(r'<script src="/__preview/reload.js" nonce="([^"]+)" '
                      r'data-version="[^"]+" defer></script>', page.text)
    assert len(tags) == 1 and page.text.count("<script") == 1
    csp = page.headers["content-security-policy"]
    assert f"script-src 'nonce-{tags[0]}'" in csp  # that one script, not 'self'
    assert "'self'" not in csp.split("script-src", 1)[1].split(";")[0]
    assert "unsafe-inline" not in csp
    again = httpx.get(running.url + f"/{ISSUE}/")
    assert tags[0] not in again.text  # a nonce per response
    email = httpx.get(running.url + f"/{ISSUE}/email.html")
    assert "Still a draft" in email.text and "/__preview/reload.js" in email.text
    script = httpx.get(running.url + "/__preview/reload.js")
    assert script.headers["content-type"].startswith("text/javascript")
    assert "EventSource" in script.text
    # Built into <root>/preview, never into the live output.
    assert (running.scratch.root / "preview" / ISSUE / "index.html").is_file()
    assert not (running.scratch.root / "public").exists()


def test_an_edit_rebuilds_and_the_event_stream_announces_it(running: Running) -> None:
    with httpx.stream("GET", running.url + "/__preview/events", timeout=30) as events:
        assert events.headers["content-type"].startswith("text/event-stream")
        lines = events.iter_lines()
        first = next(line for line in lines if line.startswith("data: "))
        running.scratch.piece(ISSUE, "ready-one", title="The ready one, retitled")
        second = next(line for line in lines if line.startswith("data: "))
    assert first != second
    running.wait_for("The ready one, retitled")


def test_a_content_error_is_shown_in_the_page_and_the_preview_keeps_going(
        running: Running) -> None:
    broken = running.scratch.write(f"issues/{ISSUE}/ready-one.md",
                                   piece_text(title="The ready one").replace("title:", "titel:"))
    page = running.wait_for("The preview could not be built")
    assert f"issues/{ISSUE}/ready-one.md:2: error: unknown key &#39;titel&#39;" in page
    assert "/__preview/reload.js" in page
    assert httpx.get(running.url + "/").status_code == 200  # the error, not a redirect
    broken.write_text(piece_text(title="Fixed again"), encoding="utf-8")
    running.wait_for("Fixed again")


def test_a_broken_configuration_is_shown_too(running: Running) -> None:
    config = running.scratch.root / "newsletter.toml"
    good = config.read_text(encoding="utf-8")
    config.write_text("bogus_key = 1\n" + good, encoding="utf-8")
    page = running.wait_for("The preview could not be built")
    assert "newsletter.toml:1: error: unknown key &#39;bogus_key&#39;" in page
    config.write_text(good, encoding="utf-8")
    running.wait_for("The ready one")


def test_editing_a_template_rebuilds(running: Running) -> None:
    running.scratch.write("templates/issue.html",
                          '{% extends "page.html" %}{% block main %}<h1>Custom template '
                          "{{ issue.title }}</h1>{% endblock %}\n")
    running.wait_for("Custom template")


def test_preview_of_an_unknown_issue_is_bad_usage(cli: RunCli, scratch: Scratch) -> None:
    scratch.piece(ISSUE, "ready-one")
    code, _, err = cli("preview", "2027-03-equinox", "--root", str(scratch.root))
    assert code == 2 and "no issue folder" in err


def test_the_watch_filter_ignores_outputs_and_editor_files(scratch: Scratch) -> None:
    preview = Preview(scratch.root, ISSUE, now=lambda: NOW)
    root = scratch.root
    assert preview.should_watch(root / "issues" / ISSUE / "a.md")
    assert preview.should_watch(root / "newsletter.toml")
    assert preview.should_watch(root / "contributors.toml")
    assert preview.should_watch(root / "templates" / "issue.html")
    for ignored in (root / "preview" / ISSUE / "index.html", root / "public" / "index.html",
                    root / "feeds" / "rss.xml", root / "subscribers.sqlite3",
                    root / "outbox" / "x.eml", root / "issues" / ISSUE / ".a.md.swp",
                    root / "issues" / ISSUE / "a.md~", Path("/elsewhere/file.md")):
        assert not preview.should_watch(ignored), ignored


def test_only_the_host_it_was_started_on_is_answered(running: Running) -> None:
    """A page on another site that rebinds its name to 127.0.0.1 sends its own Host header:
    refused, so it cannot read the drafts. The address printed (and localhost) work."""
    port = running.url.rsplit(":", 1)[1]
    for host in (f"127.0.0.1:{port}", f"localhost:{port}", "127.0.0.1"):
        answer = httpx.get(running.url + f"/{ISSUE}/", headers={"host": host})
        assert answer.status_code == 200, host
    for host in (f"attacker.example:{port}", "evil.test", "", f"127.0.0.1.evil.test:{port}"):
        answer = httpx.get(running.url + f"/{ISSUE}/", headers={"host": host})
        assert answer.status_code == 400, host
        assert "Still a draft" not in answer.text
    events = httpx.get(running.url + "/__preview/events", headers={"host": "evil.test"})
    assert events.status_code == 400


def test_a_script_in_the_issue_folder_never_runs(running: Running, browser: Any) -> None:
    """Chromium runs the preview's reload script and nothing else: a page or script left in
    the preview folder is refused (403), and a script that got into a served page (here,
    written into the built index.html) is blocked by the page's policy."""
    folder = running.scratch.root / "preview" / ISSUE
    (folder / "evil.js").write_text("document.title = 'pwned';\n", encoding="utf-8")
    (folder / "evil.html").write_text("<script>document.title = 'pwned';</script>",
                                      encoding="utf-8")
    page_file = folder / "index.html"
    page_file.write_text(page_file.read_text(encoding="utf-8").replace(
        "</head>", "<script src=\"evil.js\"></script>"
        "<script>document.title = 'inline';</script></head>", 1), encoding="utf-8")
    context = browser.new_context()
    try:
        page = context.new_page()
        assert page.goto(running.url + f"/{ISSUE}/evil.html").status == 403
        assert page.goto(running.url + f"/{ISSUE}/evil.js").status == 403
        blocked: list[str] = []
        requested: list[str] = []
        page.on("console", lambda message: blocked.append(message.text))
        page.on("request", lambda request: requested.append(request.url))
        page.goto(running.url + f"/{ISSUE}/")
        deadline = time.monotonic() + 20
        while not any(url.endswith("/__preview/events") for url in requested):
            assert time.monotonic() < deadline, requested  # the reload script opens it
            page.wait_for_timeout(100)
        assert page.title() not in ("pwned", "inline")
        assert sum("Content Security Policy" in text for text in blocked) == 2, blocked
    finally:
        context.close()


def test_a_build_that_raises_shows_its_error_in_the_page_and_the_terminal(
    scratch: Scratch,
) -> None:
    """A bug in the build (an exception that is not a content error) replaces the page by
    the error, is reported on the terminal, and the preview keeps going."""
    from pipeline.build import build_issue

    scratch.piece(ISSUE, "ready-one", title="The ready one")
    lines: list[str] = []
    failing = threading.Event()

    def build(*args: Any, **kwargs: Any) -> Any:
        if failing.is_set():
            raise RuntimeError("the moon is in the wrong place")
        return build_issue(*args, **kwargs)

    preview = Preview(scratch.root, ISSUE, now=lambda: NOW, build=build,
                      report=lambda state: lines.extend(rebuild_lines(state, scratch.root)))
    assert preview.rebuild().error is None
    sock = bind("127.0.0.1", 0)
    with serving(create_preview_app(preview), sock):
        running = Running(scratch, preview, f"http://127.0.0.1:{sock.getsockname()[1]}")
        failing.set()
        scratch.piece(ISSUE, "ready-one", title="Edited")
        page = running.wait_for("The preview could not be built")
        assert "RuntimeError: the moon is in the wrong place" in page
        deadline = time.monotonic() + 10
        while not any("RuntimeError" in line for line in lines) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert lines[-1].startswith("rebuild failed: the build failed unexpectedly "
                                    "(RuntimeError: the moon is in the wrong place)")
        failing.clear()
        scratch.piece(ISSUE, "ready-one", title="Fixed")
        running.wait_for("Fixed")
        assert lines[-1] == f"rebuilt {ISSUE}: ok"


def _start_preview(root: Path) -> tuple[subprocess.Popen[str], str, list[str]]:
    """``newsletter preview`` in a process of its own; (process, URL, its stdout lines)."""
    env = {**os.environ, "SOURCE_DATE_EPOCH": AS_OF_EPOCH, "PYTHONPATH": str(REPO),
           "NO_COLOR": "1"}
    process = subprocess.Popen(
        [sys.executable, "-m", "pipeline.cli", "preview", ISSUE, "--root", str(root),
         "--port", "0"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    assert process.stdout is not None
    first = process.stdout.readline()
    match = re.search(r"(http://127\.0\.0\.1:\d+)/", first)
    assert match, first + (process.stderr.read() if process.stderr else "")
    lines: list[str] = []

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.append(line.rstrip("\n"))

    threading.Thread(target=read, daemon=True).start()
    return process, match[1], lines


def _open_tab(url: str) -> Iterator[str]:
    """An open event stream, as a browser tab keeps one."""
    with httpx.stream("GET", url + "/__preview/events", timeout=30) as events:
        yield from events.iter_lines()


@pytest.mark.parametrize("signals", [(signal.SIGINT,), (signal.SIGTERM,),
                                     (signal.SIGINT, signal.SIGINT)])
def test_the_preview_stops_at_once_with_a_tab_open(scratch: Scratch,
                                                   signals: tuple[int, ...]) -> None:
    """Ctrl-C (once or twice) or SIGTERM stops the preview within two seconds although a tab
    holds its event stream, with no traceback; every rebuild printed one line."""
    scratch.piece(ISSUE, "ready-one", title="The ready one")
    process, url, lines = _start_preview(scratch.root)
    try:
        tab = _open_tab(url)
        assert next(tab).startswith("data: ")
        scratch.piece(ISSUE, "ready-one", title="Edited once")
        deadline = time.monotonic() + 20
        while not lines and time.monotonic() < deadline:
            time.sleep(0.05)
        assert lines == [f"rebuilt {ISSUE}: ok"]
        started = time.monotonic()
        for sig in signals:
            process.send_signal(sig)
            time.sleep(0.1)
        process.wait(timeout=10)
        assert time.monotonic() - started < 2.5
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.stderr is not None
    err = process.stderr.read()
    assert "Traceback" not in err and "CancelledError" not in err, err
