"""What readers see: the sample issue's HTML email, web edition and archive in a real browser
(chromium), light and dark, on a 600 px and a 375 px wide screen.

axe-core checks WCAG 2.1 A and AA on every page; screenshots (kept in
test-artifacts/screenshots/) must show something, with the issue's title and its pieces'
titles visible; and the dark colour scheme must really change the colours.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from pipeline.build import BuildResult, build_issue
from pipeline.config import load_config
from pipeline.seasons import IssueId
from pipeline.serving import bind
from pipeline.store.sqlite import SqliteStore
from pipeline.tokens import Tokens
from pipeline.transports import OutboxTransport
from pipeline.web import WebParts, create_app

from .browser import (
    ColorScheme,
    assert_accessible,
    assert_shows_content,
    new_page,
    screenshot,
)
from .conftest import copy_sample
from .web_server import SECRET, Clock, serving

ISSUE = "2026-12-solstice"
NOW = datetime(2027, 1, 1, tzinfo=UTC)
WIDTHS = (600, 375)
SCHEMES: tuple[ColorScheme, ...] = ("light", "dark")
#: Each page, and a selector of its body text.
PAGES = {
    "email": (f"{ISSUE}/email.html", ".pad p"),
    "web": (f"{ISSUE}/index.html", "main p"),
    "archive": ("index.html", "main p"),
}

OpenPage = Callable[[str, int, ColorScheme], Page]


@pytest.fixture(scope="module")
def sample_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return copy_sample(tmp_path_factory.mktemp("browser") / "sample")


@pytest.fixture(scope="module")
def built(sample_root: Path) -> BuildResult:
    """The sample issue, built once for the module, as of 1 January 2027."""
    return build_issue(load_config(sample_root), IssueId.parse(ISSUE), NOW)


@pytest.fixture(scope="module")
def site_url(sample_root: Path, built: BuildResult) -> Iterator[str]:
    """The built sample, served by the newsletter's own app (``newsletter serve``), with its
    security headers; the base URL ends with "/"."""
    config = load_config(sample_root)
    store = SqliteStore(sample_root / "subscribers.sqlite3")
    clock = Clock()
    parts = WebParts(store=store, tokens=Tokens(SECRET, clock=clock.time),
                     transport=lambda: OutboxTransport(sample_root / "outbox"),
                     now=clock.now, monotonic=clock.time)
    sock = bind("127.0.0.1", 0)
    with serving(create_app(config, parts), sock):
        yield f"http://127.0.0.1:{sock.getsockname()[1]}/"
    store.close()


@pytest.fixture(scope="module")
def open_page(browser: Browser, site_url: str, sample_root: Path) -> Iterator[OpenPage]:
    """Open one of PAGES in the page of a (width, scheme): one browser context each, reused.

    The email's images are absolute URLs under base_url; the browser is given them from the
    local server, so the page looks as it will in an inbox, without any network.
    """
    hosts = {load_config(sample_root).base_url: site_url}
    pages: dict[tuple[int, ColorScheme], Page] = {}

    def open_(name: str, width: int, scheme: ColorScheme) -> Page:
        if (width, scheme) not in pages:
            pages[width, scheme] = new_page(browser, width, scheme, hosts=hosts)
        page = pages[width, scheme]
        response = page.goto(site_url + PAGES[name][0], wait_until="load")
        assert response is not None and response.ok, f"{name}: {response and response.status}"
        return page

    yield open_
    for page in pages.values():
        page.context.close()


@pytest.mark.parametrize("scheme", SCHEMES)
@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("name", PAGES)
def test_no_accessibility_violations(open_page: OpenPage, name: str, width: int,
                                     scheme: ColorScheme) -> None:
    page = open_page(name, width, scheme)
    assert_accessible(page, f"{name} at {width} px, {scheme}")


@pytest.mark.parametrize("scheme", SCHEMES)
@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("name", ["email", "web"])
def test_readers_see_the_issue(open_page: OpenPage, built: BuildResult, name: str, width: int,
                               scheme: ColorScheme) -> None:
    page = open_page(name, width, scheme)
    assert_shows_content(screenshot(page, f"{name}-{width}-{scheme}"))
    issue = built.issues[0]
    expect(page.get_by_role("heading", name=issue.title, exact=True, level=1)).to_be_visible()
    for piece in (issue.pieces[0], issue.pieces[-1]):
        expect(page.get_by_role("heading", name=piece.title, level=3)).to_be_visible()
    # Nobody has to scroll sideways to read it.
    scroll_width = page.evaluate("() => document.documentElement.scrollWidth")
    assert scroll_width <= width, f"{name} is {scroll_width} px wide on a {width} px screen"


#: The computed colour of an element's text, and the colour of the first ancestor (or itself)
#: that paints a background.
COLOURS_JS = """element => {
    let bg = 'rgba(0, 0, 0, 0)';
    for (let e = element; e && bg === 'rgba(0, 0, 0, 0)'; e = e.parentElement) {
        bg = getComputedStyle(e).backgroundColor;
    }
    return [getComputedStyle(element).color, bg];
}"""


def _luminance(css_colour: str) -> float:
    """Relative luminance (WCAG) of an ``rgb(r, g, b)`` colour."""
    channels = [int(c) / 255 for c in css_colour[css_colour.index("(") + 1:-1].split(",")[:3]]
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


@pytest.mark.parametrize("name", PAGES)
def test_dark_scheme_changes_the_colours(open_page: OpenPage, name: str) -> None:
    selector = PAGES[name][1]
    light_text, light_bg = open_page(name, 600, "light").locator(selector).first.evaluate(
        COLOURS_JS)
    dark_text, dark_bg = open_page(name, 600, "dark").locator(selector).first.evaluate(
        COLOURS_JS)
    assert dark_text != light_text, f"{name}: the body text is {light_text} in both schemes"
    assert dark_bg != light_bg, f"{name}: the background is {light_bg} in both schemes"
    assert _luminance(light_text) < _luminance(light_bg), (name, light_text, light_bg)
    assert _luminance(dark_text) > _luminance(dark_bg), (name, dark_text, dark_bg)
