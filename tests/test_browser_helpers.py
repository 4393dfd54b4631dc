"""The browser helpers can fail: axe finds what is wrong and says where, a blank screenshot is
refused, the colour scheme is emulated, and pages never reach the network."""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image, ImageDraw
from playwright.sync_api import Browser, Page
from playwright.sync_api import Error as PlaywrightError

from .browser import (
    ColorScheme,
    assert_accessible,
    assert_shows_content,
    axe_violations,
    new_page,
    screenshot,
    serve_folder,
)

#: A page with a strict Content-Security-Policy (no script may run) and three faults.
FAULTY = """<!DOCTYPE html>
<html><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy"
 content="default-src 'none'; script-src 'none'; style-src 'unsafe-inline'">
<title>Faulty</title></head>
<body><main>
<h1>Faulty</h1>
<p style="color: #999; background: #fff">Grey on white is too faint to read.</p>
<img src="data:image/gif;base64,R0lGODlhAQABAAAAACw=">
</main></body></html>
"""

GOOD = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Good</title></head>
<body><main><h1>Good</h1><p>Plain black text on white.</p></main></body></html>
"""


@pytest.fixture(scope="module")
def page(browser: Browser) -> Iterator[Page]:
    page = new_page(browser, 600, "light")
    yield page
    page.context.close()


def test_axe_finds_the_faults_even_under_a_strict_csp(page: Page) -> None:
    page.set_content(FAULTY)
    assert {v["id"] for v in axe_violations(page)} == {"html-has-lang", "color-contrast",
                                                        "image-alt"}
    with pytest.raises(AssertionError) as failure:
        assert_accessible(page, "the faulty page")
    message = str(failure.value)
    assert message.startswith("the faulty page (about:blank): 3 axe rules violated")
    assert "- color-contrast (serious, 1 element): Elements must meet minimum color contrast" \
        in message
    assert "at p: <p style=\"color: #999; background: #fff\">Grey on white" in message
    assert "- image-alt (critical, 1 element)" in message
    assert "at img: <img src=" in message


def test_a_good_page_passes(page: Page) -> None:
    page.set_content(GOOD)
    assert_accessible(page, "the good page")


def _png(path: Path, draw: int) -> Path:
    image = Image.new("RGB", (400, 600), "#ffffff")
    pen = ImageDraw.Draw(image)
    for i in range(draw):
        pen.text((10 + (i % 4) * 90, 10 + (i // 4) * 14), f"line {i} of text", fill="#202020")
    image.save(path)
    return path


def test_a_blank_or_nearly_blank_screenshot_is_refused(tmp_path: Path) -> None:
    with pytest.raises(AssertionError, match=r"looks blank: 0\.0% of its pixels"):
        assert_shows_content(_png(tmp_path / "blank.png", 0))
    with pytest.raises(AssertionError, match="looks blank"):
        assert_shows_content(_png(tmp_path / "a-line.png", 1))


def test_a_screenshot_of_a_page_shows_content(page: Page) -> None:
    page.set_content(GOOD.replace("<p>Plain", "<p>" + "Plain black text on white. " * 300
                                  + "Plain"))
    assert_shows_content(screenshot(page, "helpers-good-page"))


def test_the_colour_scheme_is_emulated(browser: Browser) -> None:
    query = "() => matchMedia('(prefers-color-scheme: dark)').matches"
    schemes: tuple[tuple[ColorScheme, bool], ...] = (("light", False), ("dark", True))
    for scheme, dark in schemes:
        page = new_page(browser, 375, scheme)
        try:
            assert page.evaluate(query) is dark
            assert page.evaluate("() => innerWidth") == 375
        finally:
            page.context.close()


def test_pages_reach_only_the_local_server(browser: Browser, tmp_path: Path) -> None:
    (tmp_path / "hello.txt").write_text("hello from the folder", encoding="utf-8")
    with serve_folder(tmp_path) as url:
        assert url.startswith("http://127.0.0.1:") and url.endswith("/")
        with urllib.request.urlopen(url + "hello.txt", timeout=5) as response:
            assert response.read() == b"hello from the folder"
        page = new_page(browser, 600, "light", hosts={"https://news.example.org": url})
        try:
            page.goto("https://news.example.org/hello.txt")
            assert page.locator("body").inner_text() == "hello from the folder"
            with pytest.raises(PlaywrightError, match="ERR_BLOCKED_BY_CLIENT"):
                page.goto("https://example.com/")
        finally:
            page.context.close()
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(url + "hello.txt", timeout=5)
