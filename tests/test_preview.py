"""``newsletter preview``: drafts included, rebuilt when a file changes, errors shown in the
page with their path:line while the preview keeps running. A real uvicorn server and real file
watching (watchfiles)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from pipeline.cli_web import bind
from pipeline.preview import Preview, create_preview_app

from .conftest import RunCli, Scratch, piece_text
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
    assert page.text.count('<script src="/__preview/reload.js" defer></script>') == 1
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert "unsafe-inline" not in page.headers["content-security-policy"]
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
