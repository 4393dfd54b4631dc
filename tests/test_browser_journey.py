"""The reader's whole journey in a real browser (Debian's chromium) against the real server:
subscribe, read the confirmation email from the outbox, confirm, receive an issue, leave in one
click, with the database checked at each step; axe-core (WCAG 2.1 A and AA) on every form page
in light and dark; and the preview reloading the open page when a file is saved."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from pipeline.preview import Preview, create_preview_app
from pipeline.serving import bind

from .browser import assert_accessible, assert_shows_content, new_page, screenshot
from .conftest import RunCli, Scratch
from .web_server import Site, serving

SCHEMES = ("light", "dark")


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    made = Site(tmp_path / "site")
    with serving(made.app(), made.sock):
        yield made
    made.store.close()


def ledger(site: Site, email: str) -> str | None:
    with sqlite3.connect(site.config.delivery.database) as db:
        row = db.execute("SELECT d.status FROM deliveries d JOIN subscribers s ON "
                         "s.id = d.subscriber_id WHERE s.email = ?", (email,)).fetchone()
    return row[0] if row else None


def check_page(page: Page, what: str, browser: Browser) -> None:
    """axe on the page as it is, then the same URL in the other colour scheme."""
    assert_accessible(page, f"{what} (light)")
    dark = new_page(browser, 600, "dark")
    try:
        dark.goto(page.url)
        assert_accessible(dark, f"{what} (dark)")
    finally:
        dark.context.close()


def test_subscribe_confirm_receive_and_unsubscribe_in_a_browser(
        site: Site, browser: Browser, cli: RunCli, monkeypatch: pytest.MonkeyPatch) -> None:
    page = new_page(browser, 600, "light")
    try:
        page.goto(f"{site.url}/subscribe")
        expect(page.get_by_role("heading", name="Subscribe to Ethics & Society")).to_be_visible()
        check_page(page, "the subscribe form", browser)
        expect(page.get_by_label("Leave this field empty")).to_be_hidden()  # the honeypot

        # A mistyped address: the form says what is wrong, and stays accessible.
        page.get_by_label("Email address").fill("reader@example")  # a browser lets it through
        page.get_by_role("button", name="Subscribe").click()
        expect(page.get_by_role("alert")).to_contain_text("does not look right")
        assert_accessible(page, "the subscribe form with an error")
        assert site.store.count() == 0

        page.get_by_label("Email address").fill("reader@example.org")
        page.get_by_label("Name (optional)").fill("Rea Der")
        page.get_by_role("button", name="Subscribe").click()
        expect(page.get_by_role("heading", name="Check your inbox")).to_be_visible()
        assert_accessible(page, "the check-your-inbox page")
        assert site.status("reader@example.org") == "pending"

        [mail] = site.mails()
        link = site.link_in(mail, "confirm")
        page.goto(link)
        expect(page.get_by_role("button", name="Confirm my subscription")).to_be_visible()
        check_page(page, "the confirm page", browser)
        assert site.status("reader@example.org") == "pending"  # opening the link is not enough
        page.get_by_role("button", name="Confirm my subscription").click()
        expect(page.get_by_role("heading", name="You are subscribed")).to_be_visible()
        assert_accessible(page, "the subscribed page")
        assert site.status("reader@example.org") == "active"

        issue = site.send_issue(cli, monkeypatch)
        assert ledger(site, "reader@example.org") == "sent"
        html_part = issue.get_body(("html",))
        assert html_part is not None
        html = html_part.get_content()
        footer_link = re.search(r'href="([^"]*/unsubscribe\?token=[^"]+)"', html)
        assert footer_link and footer_link[1].startswith(site.url)

        # The reader opens the received email, then its unsubscribe link, and presses the button.
        page.set_content(html)
        expect(page.get_by_text("Who made this issue").first).to_be_visible()
        page.goto(footer_link[1].replace("&amp;", "&"))
        expect(page.get_by_role("button", name="Unsubscribe")).to_be_visible()
        check_page(page, "the unsubscribe page", browser)
        assert site.status("reader@example.org") == "active"
        page.get_by_role("button", name="Unsubscribe").click()
        expect(page.get_by_role("heading", name="You are unsubscribed")).to_be_visible()
        assert_accessible(page, "the unsubscribed page")
        assert page.url == footer_link[1].replace("&amp;", "&")  # no redirect
        assert_shows_content(screenshot(page, "journey-unsubscribed-600-light"))
    finally:
        page.context.close()

    person = site.store.get("reader@example.org")
    assert person is not None and person.status == "unsubscribed"
    assert [(e.kind, e.detail.split(",")[0]) for e in site.store.history(person.id)] == [
        ("requested", "web form"), ("confirmed", "double opt-in: web form"),
        ("unsubscribed", "unsubscribe page")]


def test_one_click_from_the_list_unsubscribe_header(site: Site, browser: Browser, cli: RunCli,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """What a mail provider does when the reader presses its own Unsubscribe button."""
    person, _ = site.store.request("inbox@example.org", None, "test", site.clock.now())
    site.store.confirm(person.id, "test", site.clock.now())
    message = site.send_issue(cli, monkeypatch)
    url = re.search(r"<(http[^>]+)>", message["List-Unsubscribe"])
    assert url and message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    page = new_page(browser, 600, "light")
    try:
        answer = page.request.post(url[1], form={"List-Unsubscribe": "One-Click"},
                                   max_redirects=0)
        assert answer.status == 200 and "You are unsubscribed" in answer.text()
    finally:
        page.context.close()
    assert site.status("inbox@example.org") == "unsubscribed"


@pytest.mark.parametrize("scheme", SCHEMES)
def test_the_message_and_error_pages_are_accessible(site: Site, browser: Browser,
                                                    scheme: str) -> None:
    page = new_page(browser, 375, scheme)  # type: ignore[arg-type]
    try:
        for path, heading in [("/confirm?token=forged", "This link does not work"),
                              ("/unsubscribe?token=forged", "This link does not work"),
                              ("/no-such-page", "Page not found")]:
            page.goto(site.url + path)
            expect(page.get_by_role("heading", name=heading)).to_be_visible()
            assert_accessible(page, f"{path} ({scheme})")
        page.goto(site.url + "/subscribe")
        shot = screenshot(page, f"subscribe-375-{scheme}")
        assert_shows_content(shot)
    finally:
        page.context.close()


def test_the_preview_reloads_the_open_page_when_a_piece_is_saved(
        scratch: Scratch, browser: Browser) -> None:
    scratch.piece("2026-12-solstice", "first", title="Before the edit")
    preview = Preview(scratch.root, "2026-12-solstice",
                      now=lambda: datetime(2026, 12, 1, tzinfo=UTC))
    assert preview.rebuild().error is None
    sock = bind("127.0.0.1", 0)
    url = f"http://127.0.0.1:{sock.getsockname()[1]}/2026-12-solstice/"
    with serving(create_preview_app(preview), sock):
        page = new_page(browser, 600, "light")
        try:
            page.goto(url)
            expect(page.get_by_role("heading", name="Before the edit")).to_be_visible()
            page.wait_for_function("() => document.readyState === 'complete'")
            page.evaluate("() => { window.notReloaded = true; }")
            page.wait_for_timeout(300)  # let the page's event stream connect
            scratch.piece("2026-12-solstice", "first", title="After the edit")
            expect(page.get_by_role("heading", name="After the edit")).to_be_visible(
                timeout=30_000)
            assert page.evaluate("() => window.notReloaded === undefined")  # a real reload
            scratch.piece("2026-12-solstice", "first", title="Broken", titel="x")
            expect(page.get_by_role("heading", name="The preview could not be built")
                   ).to_be_visible(timeout=30_000)
            expect(page.get_by_text("first.md:")).to_be_visible()
            scratch.piece("2026-12-solstice", "first", title="Mended")
            expect(page.get_by_role("heading", name="Mended")).to_be_visible(timeout=30_000)
        finally:
            page.context.close()


def test_a_rebuild_before_the_page_listens_still_reloads_it(
        scratch: Scratch, browser: Browser) -> None:
    """The page knows the build it came from: a rebuild that ends before its event stream
    connects (here: between serving the page and running its script) still reloads it."""
    scratch.piece("2026-12-solstice", "first", title="Before the edit")
    preview = Preview(scratch.root, "2026-12-solstice",
                      now=lambda: datetime(2026, 12, 1, tzinfo=UTC))
    assert preview.rebuild().error is None
    sock = bind("127.0.0.1", 0)
    url = f"http://127.0.0.1:{sock.getsockname()[1]}/2026-12-solstice/"
    with serving(create_preview_app(preview, watch=False), sock):
        page = new_page(browser, 600, "light")
        try:
            done: list[bool] = []

            def rebuild_first(route: Any) -> None:  # the script arrives after a rebuild
                if not done:
                    done.append(True)
                    scratch.piece("2026-12-solstice", "first", title="After the edit")
                    assert preview.rebuild().error is None
                route.continue_()

            page.route("**/__preview/reload.js", rebuild_first)
            page.goto(url)
            expect(page.get_by_role("heading", name="After the edit")).to_be_visible(
                timeout=30_000)
        finally:
            page.context.close()
