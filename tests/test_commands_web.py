"""The commands themselves, as an operator and an editor run them: ``newsletter serve`` and
``newsletter preview`` as processes, driven from a real browser (chromium)."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
from playwright.sync_api import Browser, expect

from pipeline.store.sqlite import SqliteStore

from .browser import assert_accessible, new_page
from .conftest import REPO, Scratch, copy_sample
from .test_delivery import parse

SECRET = "commands-test-signing-key-0123456789"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def command(*argv: str, ready: str) -> Iterator[subprocess.Popen[str]]:
    """Run ``newsletter ARGV`` until the block ends (then Ctrl-C, which must exit 0); wait
    until its output says ``ready``."""
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("NEWSLETTER_")},
           "NEWSLETTER_TOKEN_SECRET": SECRET, "NO_COLOR": "1"}
    process = subprocess.Popen([sys.executable, "-m", "pipeline.cli", *argv], env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               cwd=REPO)
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert ready in line, f"{line}{process.stderr.read() if process.stderr else ''}"
        yield process
    finally:
        process.send_signal(signal.SIGINT)
        try:
            code = process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            raise
    assert code == 0, process.stderr.read() if process.stderr else code


def wait_until_up(url: str) -> None:
    deadline = time.monotonic() + 20
    while True:
        try:
            httpx.get(url, timeout=2)
            return
        except httpx.TransportError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def test_newsletter_serve_handles_the_journey(tmp_path: Path, browser: Browser) -> None:
    root = copy_sample(tmp_path / "sample")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    config = root / "newsletter.toml"
    config.write_text(re.sub(r'(?m)^base_url = .*$', f'base_url = "{url}"',
                             config.read_text(encoding="utf-8")), encoding="utf-8")
    run = [sys.executable, "-m", "pipeline.cli"]
    env = {**os.environ, "NEWSLETTER_TOKEN_SECRET": SECRET}
    subprocess.run([*run, "build", "--root", str(root), "-q"], check=True, env=env)
    database = root / "subscribers.sqlite3"

    def status(email: str) -> str | None:
        store = SqliteStore(database)
        try:
            person = store.get(email)
            return person.status if person else None
        finally:
            store.close()

    with command("serve", "--root", str(root), "--port", str(port), ready=f"on {url}/"):
        wait_until_up(url + "/subscribe")
        page = new_page(browser, 375, "dark")
        try:
            page.goto(url + "/")
            page.get_by_role("link", name="Subscribe by email").click()
            page.get_by_label("Email address").fill("process@example.org")
            page.get_by_role("button", name="Subscribe").click()
            expect(page.get_by_role("heading", name="Check your inbox")).to_be_visible()
            assert status("process@example.org") == "pending"
            [mail] = [parse(p.read_bytes()) for p in (root / "outbox").glob("*.eml")]
            body = mail.get_body(("plain",))
            assert body is not None
            link = re.search(rf"{re.escape(url)}/confirm\?token=\S+", body.get_content())
            assert link
            page.goto(link[0])
            page.get_by_role("button", name="Confirm my subscription").click()
            expect(page.get_by_role("heading", name="You are subscribed")).to_be_visible()
            assert_accessible(page, "the subscribed page, dark, 375 px, from newsletter serve")
            assert status("process@example.org") == "active"

            sent = subprocess.run([*run, "send", "2026-12-solstice", "--root", str(root),
                                   "--outbox", str(root / "sent"), "--yes"], env=env, text=True,
                                  capture_output=True, check=False)
            assert sent.returncode == 0, sent.stderr
            [issue] = [parse(p.read_bytes()) for p in (root / "sent").glob("*.eml")]
            leave = re.search(r"<(http[^>]+)>", issue["List-Unsubscribe"])
            assert leave
            page.goto(leave[1])
            page.get_by_role("button", name="Unsubscribe").click()
            expect(page.get_by_role("heading", name="You are unsubscribed")).to_be_visible()
            assert status("process@example.org") == "unsubscribed"
        finally:
            page.context.close()


def test_newsletter_preview_reloads_on_an_edit(scratch: Scratch, browser: Browser) -> None:
    scratch.piece("2026-12-solstice", "first", title="Written first")
    port = free_port()
    with command("preview", "2026-12-solstice", "--root", str(scratch.root), "--port",
                 str(port), ready="previewing 2026-12-solstice"):
        url = f"http://127.0.0.1:{port}/"
        wait_until_up(url)
        page = new_page(browser, 600, "light")
        try:
            page.goto(url)  # redirected to the issue
            expect(page.get_by_role("heading", name="Written first")).to_be_visible()
            page.wait_for_timeout(300)  # the page's event stream connects
            scratch.piece("2026-12-solstice", "first", title="Rewritten")
            expect(page.get_by_role("heading", name="Rewritten")).to_be_visible(timeout=30_000)
        finally:
            page.context.close()
