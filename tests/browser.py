"""Real-browser testing: Debian's chromium driven by Playwright, axe-core for accessibility,
Pillow to check that a screenshot shows something.

Nothing is downloaded while the tests run: ``tests/install`` puts chromium in /usr/bin and
axe-core in ``tests/browser/node_modules``. When either is missing the tests fail (they never
skip) and say to run it.

The ``browser`` fixture is registered for every test module by ``tests/conftest.py``. Pages
are served by the project's own app (``tests/web_server.py``), with its Content-Security-Policy
enforced: axe-core is evaluated through the DevTools protocol, which the policy does not
govern, so what the screenshots show is what readers get under that policy.
"""

from __future__ import annotations

import functools
import http.server
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal, cast

import pytest
from PIL import Image
from playwright.sync_api import Browser, Page, Playwright, Route, sync_playwright

REPO = Path(__file__).resolve().parent.parent
CHROMIUM = Path("/usr/bin/chromium")
AXE = REPO / "tests" / "browser" / "node_modules" / "axe-core" / "axe.min.js"
SCREENSHOTS = REPO / "test-artifacts" / "screenshots"
INSTALL_HINT = "run tests/install (it installs Debian's chromium and axe-core from npm)"

#: Without the background-networking flags chromium keeps calling home on a closed network.
CHROMIUM_ARGS = (
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
)
WCAG_AA = ("wcag2a", "wcag2aa", "wcag21a", "wcag21aa")
VIEWPORT_HEIGHT = 800


ColorScheme = Literal["light", "dark"]


@pytest.fixture(scope="session")
def playwright_driver() -> Iterator[Playwright]:
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="session")
def browser(playwright_driver: Playwright) -> Iterator[Browser]:
    """One headless chromium for the whole session."""
    if not CHROMIUM.is_file():
        pytest.fail(f"{CHROMIUM} is missing: {INSTALL_HINT}", pytrace=False)
    chromium = playwright_driver.chromium.launch(executable_path=str(CHROMIUM),
                                          args=list(CHROMIUM_ARGS))
    yield chromium
    chromium.close()


def new_page(browser: Browser, width: int, color_scheme: ColorScheme,
             hosts: dict[str, str] | None = None) -> Page:
    """A page in a context of its own: ``width`` CSS pixels wide, ``prefers-color-scheme``
    set to ``color_scheme`` ("light" or "dark"), English, UTC, CSP bypassed (for axe).

    The page never reaches the network: a request to 127.0.0.1 goes through, one to an origin
    in ``hosts`` (e.g. ``{"https://news.example.org": "http://127.0.0.1:8123"}``) is answered
    by the local URL it maps to, and every other request is refused. Close it with
    ``page.context.close()``.
    """
    context = browser.new_context(
        viewport={"width": width, "height": VIEWPORT_HEIGHT}, color_scheme=color_scheme,
        locale="en-GB", timezone_id="UTC", bypass_csp=False, service_workers="block",
    )
    mapped = {origin.rstrip("/"): local.rstrip("/") for origin, local in (hosts or {}).items()}

    def route(request: Route) -> None:
        url = request.request.url
        if url.startswith(("http://127.0.0.1:", "http://127.0.0.1/")):
            request.continue_()
            return
        for origin, local in mapped.items():
            if url == origin or url.startswith(origin + "/"):
                request.fulfill(response=request.fetch(url=local + url[len(origin):]))
                return
        request.abort("blockedbyclient")

    context.route("**/*", route)
    return context.new_page()


@functools.cache
def _axe_source() -> str:
    if not AXE.is_file():
        pytest.fail(f"{AXE.relative_to(REPO)} is missing: {INSTALL_HINT}", pytrace=False)
    return AXE.read_text(encoding="utf-8")


def axe_results(page: Page, tags: Sequence[str] = WCAG_AA) -> dict[str, Any]:
    """Run axe-core on the page with the rules of ``tags``; its whole result object.

    axe is evaluated as a script through the DevTools protocol, so a page's
    Content-Security-Policy cannot block it.
    """
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.evaluate(_axe_source())
    result: dict[str, Any] = page.evaluate(
        "tags => axe.run(document, {runOnly: {type: 'tag', values: tags}})", list(tags))
    return result


def axe_violations(page: Page, tags: Sequence[str] = WCAG_AA) -> list[dict[str, Any]]:
    """The axe violations of the page for the rules of ``tags`` (WCAG 2.1 A and AA)."""
    violations: list[dict[str, Any]] = axe_results(page, tags)["violations"]
    return violations


def describe_violations(violations: list[dict[str, Any]], most_nodes: int = 4) -> str:
    """One paragraph per rule: id, impact, help, and for each element its selector, HTML and
    what axe says is wrong."""
    lines = []
    for v in violations:
        nodes = v["nodes"]
        lines.append(f"- {v['id']} ({v['impact']}, {len(nodes)} element"
                     f"{'s' if len(nodes) != 1 else ''}): {v['help']}  [{v['helpUrl']}]")
        for node in nodes[:most_nodes]:
            html = " ".join(node["html"].split())
            html = html if len(html) <= 160 else html[:157] + "..."
            summary = " ".join((node.get("failureSummary") or "").split())
            lines.append(f"    at {' '.join(map(str, node['target']))}: {html}")
            if summary:
                lines.append(f"       {summary}")
        if len(nodes) > most_nodes:
            lines.append(f"    ... and {len(nodes) - most_nodes} more")
    return "\n".join(lines)


def assert_accessible(page: Page, what: str, tags: Sequence[str] = WCAG_AA) -> None:
    """Fail, saying what is wrong and where, unless axe finds no violation on the page."""
    violations = axe_violations(page, tags)
    if violations:
        raise AssertionError(
            f"{what} ({page.url}): {len(violations)} axe rule"
            f"{'s' if len(violations) != 1 else ''} violated ({', '.join(tags)}):\n"
            + describe_violations(violations))


def screenshot(page: Page, name: str) -> Path:
    """A full-page PNG of the page, kept in test-artifacts/screenshots/NAME(.png)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / (name if name.endswith(".png") else f"{name}.png")
    page.screenshot(path=path, full_page=True, animations="disabled", caret="hide")
    return path


def content_measures(png: Path) -> tuple[float, int]:
    """The share of pixels that differ clearly from the dominant (background) colour, and the
    number of distinct colours."""
    with Image.open(png) as image:
        rgb = image.convert("RGB")
    total = rgb.width * rgb.height
    # (count, (r, g, b)) for every colour: an RGB image's colours are triples.
    counts = cast("list[tuple[int, tuple[int, int, int]]]", rgb.getcolors(maxcolors=total))
    _, background = max(counts)
    differing = sum(n for n, colour in counts
                    if max(abs(a - b) for a, b in zip(colour, background, strict=True)) > 24)
    return differing / total, len(counts)


def assert_shows_content(png: Path, min_share: float = 0.02, min_colours: int = 64) -> None:
    """Fail for a blank or near-uniform screenshot: at least ``min_share`` of its pixels must
    differ clearly from the background colour, in at least ``min_colours`` distinct colours
    (anti-aliased text alone gives hundreds)."""
    share, colours = content_measures(png)
    if share < min_share or colours < min_colours:
        raise AssertionError(
            f"{png} looks blank: {share:.1%} of its pixels differ from the background colour "
            f"(at least {min_share:.0%} expected) in {colours} distinct colours (at least "
            f"{min_colours} expected)")


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def serve_folder(folder: Path) -> Iterator[str]:
    """Serve ``folder`` over HTTP on 127.0.0.1 (a free port) in a thread; its base URL,
    ending with "/"."""
    handler = functools.partial(_QuietHandler, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, name="serve_folder", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()

