"""The HTML email renders right in every major client, with its images sized and weighed.

Checked on the built sample issue and on a scratch issue made of what breaks clients: a
3000 px JPEG photo, a wide PNG, an SVG chart, a 120-character line of code and a right-aligned
numeric table (the images made here with Pillow). Each test states its rule in its docstring.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote

import pytest
from PIL import Image

from pipeline.build import BuildResult, build_issue
from pipeline.cache import CACHE_DIR
from pipeline.config import load_config
from pipeline.email_html import LAYOUT, code_cell
from pipeline.errors import ContentError
from pipeline.render import sent_size
from pipeline.seasons import IssueId
from pipeline.send import KWH_PER_GB
from pipeline.store import NewSubscriber, open_store

from .conftest import RunCli, Scratch, copy_sample, piece_text

NOW = datetime(2027, 1, 1, tzinfo=UTC)
SAMPLE = "2026-12-solstice"
SCRATCH = "2026-12-solstice"
BASE = "https://news.example.org"
TYPOGRAPHY = ("font-family", "font-size", "line-height", "color")
#: Elements that hold text as blocks (the others, like <a> and <strong>, run inside them).
BLOCKS = {"p", "li", "h1", "h2", "h3", "h4", "h5", "h6", "td", "th", "dt", "dd", "blockquote",
          "figcaption", "div", "caption"}
VOID = {"br", "img", "hr", "meta", "link", "wbr", "input", "col", "source", "area"}


# --------------------------------------------------------------------------- reading the email


@dataclass
class Node:
    tag: str
    attrs: dict[str, str]
    parent: Node | None
    children: list[Node | str] = field(default_factory=list)

    def style(self) -> dict[str, str]:
        """The element's inline style, property by property (the last one wins)."""
        found = {}
        for declaration in self.attrs.get("style", "").split(";"):
            name, _, value = declaration.partition(":")
            if value.strip():
                found[name.strip().lower()] = value.strip()
        return found

    def ancestors(self) -> Iterator[Node]:
        node = self.parent
        while node is not None:
            yield node
            node = node.parent

    def iter(self) -> Iterator[Node]:
        yield self
        for child in self.children:
            if isinstance(child, Node):
                yield from child.iter()

    def text(self) -> str:
        return "".join(c if isinstance(c, str) else c.text() for c in self.children)


class _Tree(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Node("#document", {}, None)
        self.current = self.root

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        node = Node(tag, {k: v or "" for k, v in attrs}, self.current)
        self.current.children.append(node)
        if tag not in VOID:
            self.current = node

    def handle_endtag(self, tag: str) -> None:
        for node in [self.current, *self.current.ancestors()]:
            if node.tag == tag:
                self.current = node.parent or self.root
                return

    def handle_data(self, data: str) -> None:
        self.current.children.append(data)


def parse(html: str) -> Node:
    tree = _Tree()
    tree.feed(html)
    tree.close()
    return tree.root


def body(html: str) -> Node:
    return next(n for n in parse(html).iter() if n.tag == "body")


def hidden(node: Node) -> bool:
    return any(a.attrs.get("aria-hidden") == "true" or "display:none" in
               a.attrs.get("style", "").replace(" ", "") for a in [node, *node.ancestors()])


# --------------------------------------------------------------------------- the rules


def assert_images_sized(html: str, out_dir: Path, base: str) -> list[Node]:
    """Every <img> has width and height attributes, the width at most the column and the
    height in the proportion of the file it loads (which the build wrote)."""
    images = [n for n in body(html).iter() if n.tag == "img"]
    assert images, "the email has no image to check"
    for img in images:
        src = img.attrs["src"]
        assert "width" in img.attrs and "height" in img.attrs, src
        width, height = int(img.attrs["width"]), int(img.attrs["height"])
        assert 0 < width <= LAYOUT.column, (src, width)
        assert src.startswith(base), src
        with Image.open(out_dir / unquote(src[len(base):])) as loaded:
            real_width, real_height = loaded.size
        assert real_width >= width, (src, real_width, width)
        assert abs(height - real_height * width / real_width) <= 1, (src, width, height)
        assert img.style().get("max-width") == "100%", "phones shrink it: " + src
    return images


def assert_no_white_space_wrapping(html: str) -> None:
    """No white-space anywhere (in a style attribute or the style block), no <pre>, and in
    every code cell no run of characters longer than fits the narrowest phone."""
    assert "white-space" not in html
    tree = body(html)
    assert not [n for n in tree.iter() if n.tag == "pre"]
    cells = [n for n in tree.iter() if n.tag == "td" and "code" in n.attrs.get("class", "")]
    for cell in cells:
        assert "monospace" in cell.style()["font-family"]
        for run in re.split(r"[ \n]", _text_with_breaks(cell)):
            assert len(run) <= LAYOUT.code_run, run


def _text_with_breaks(node: Node) -> str:
    """The text of a node, with a newline at every <br> and <wbr>."""
    parts = []
    for child in node.children:
        if isinstance(child, str):
            parts.append(child)
        elif child.tag in ("br", "wbr"):
            parts.append("\n")
        else:
            parts.append(_text_with_breaks(child))
    return "".join(parts)


def assert_typography_kept(html: str) -> int:
    """The block holding each piece of visible text has the font family, size, line height
    and colour in its own style, or its cell has; returns how many blocks were checked."""
    checked = 0
    for node in body(html).iter():
        if hidden(node) or not any(isinstance(c, str) and c.strip() for c in node.children):
            continue
        block = node if node.tag in BLOCKS else next(
            (a for a in node.ancestors() if a.tag in BLOCKS), None)
        assert block is not None, node.tag
        cell = block if block.tag in ("td", "th") else next(
            (a for a in block.ancestors() if a.tag in ("td", "th")), None)
        own = block.style()
        kept = all(p in own for p in TYPOGRAPHY) or (
            cell is not None and all(p in cell.style() for p in TYPOGRAPHY))
        assert kept, f"<{block.tag}> '{block.text().strip()[:60]}' has only {own}"
        checked += 1
    return checked


def assert_alignment_kept(html: str) -> list[Node]:
    """A cell of a data table (not a layout one) whose column the Markdown aligned says the
    same in its inlined style."""
    aligned = []
    for cell in body(html).iter():
        table = next((a for a in cell.ancestors() if a.tag == "table"), None)
        if cell.tag in ("td", "th") and "align" in cell.attrs and table is not None \
                and table.attrs.get("role") != "presentation":
            assert cell.style().get("text-align") == cell.attrs["align"], cell.attrs
            aligned.append(cell)
    return aligned


def right_aligned(html: str) -> list[Node]:
    return [n for n in body(html).iter() if n.tag in ("td", "th")
            and n.attrs.get("align") == "right"]


# --------------------------------------------------------------------------- the sample


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, BuildResult]:
    root = copy_sample(tmp_path_factory.mktemp("email") / "sample")
    return root, build_issue(load_config(root), IssueId.parse(SAMPLE), NOW)


def sample_email(sample: tuple[Path, BuildResult]) -> tuple[str, Path]:
    root, _ = sample
    out = root / "public" / SAMPLE
    return (out / "email.html").read_text(encoding="utf-8"), out


def test_sample_images_are_sized_within_the_column(sample: tuple[Path, BuildResult]) -> None:
    """Outlook for Windows ignores max-width on <img>: each image says its size, at most the
    column (the sample's 560 px chart is shown 536 px wide)."""
    html, out = sample_email(sample)
    images = assert_images_sized(html, out, f"https://ethics.example.org/{SAMPLE}/")
    assert [(i.attrs["width"], i.attrs["height"]) for i in images] == [("536", "230")]


def test_sample_code_wraps_without_white_space(sample: tuple[Path, BuildResult]) -> None:
    """The sample's 88-character line of code wraps on a phone without white-space."""
    html, _ = sample_email(sample)
    assert_no_white_space_wrapping(html)
    assert 'class="code"' in html


def test_sample_text_keeps_its_typography(sample: tuple[Path, BuildResult]) -> None:
    """Gmail, Outlook.com and Yahoo drop <body>'s styles: every text block carries its own."""
    html, _ = sample_email(sample)
    assert assert_typography_kept(html) > 100


def test_sample_table_alignment_survives_inlining(sample: tuple[Path, BuildResult]) -> None:
    """The sample's numeric columns stay right-aligned: the inlined style agrees."""
    html, _ = sample_email(sample)
    assert_alignment_kept(html)
    cells = right_aligned(html)
    assert len(cells) == 15  # three numeric columns: a heading and four rows each
    assert all(c.style()["text-align"] == "right" for c in cells)


def test_sample_has_outlooks_blocks(sample: tuple[Path, BuildResult]) -> None:
    """Outlook at 120 dpi scales fixed widths only with the PixelsPerInch block; its
    conditional table carries the typography; headings are spaced by cells, not padding."""
    html, _ = sample_email(sample)
    mso = re.findall(r"<!--\[if mso\]>(.*?)<!\[endif\]-->", html, re.DOTALL)
    assert any("<o:PixelsPerInch>96</o:PixelsPerInch>" in block for block in mso)
    assert any('width="600"' in b and "font-family: Georgia" in b for b in mso)
    headings = [n for n in body(html).iter() if n.tag == "h2"]
    assert headings
    for h2 in headings:
        assert not [p for p in h2.style() if p.startswith("padding")], h2.text()
    ruled = [h for h in headings if h.parent is not None and h.parent.tag == "td"
             and "heading" in h.parent.attrs.get("class", "")]
    assert len(ruled) == len(headings) - 1  # all but the colophon's
    assert all(h.parent is not None and h.parent.style()["padding"].startswith("8px")
               for h in ruled)


def test_sample_weight_is_reported(sample: tuple[Path, BuildResult], cli: RunCli) -> None:
    """The build says what opening the email downloads: its HTML and its images."""
    root, result = sample
    html, out = sample_email(sample)
    image = out / "images" / "training-run-energy.png"
    sent = sent_size(html, load_config(root))  # as a reader's client gets it
    assert result.email_sizes[SAMPLE] == sent > len(html.encode("utf-8"))
    assert result.image_weights[SAMPLE] == image.stat().st_size
    code, stdout, _ = cli("build-issue", SAMPLE, "--root", str(root))
    assert code == 0
    total = (sent + image.stat().st_size) / 1024
    assert f"its images {image.stat().st_size / 1024:.1f} KB (opening it downloads " \
           f"{total:.1f} KB)" in stdout


# --------------------------------------------------------------------------- a scratch issue


def _photo(width: int, height: int) -> bytes:
    """A JPEG photo-like image: gradients in each channel (fresh for each test)."""
    image = Image.new("RGB", (width, height))
    image.putdata([((x * 255) // width, (y * 255) // height, ((x + y) * 7) % 256)
                   for y in range(height) for x in range(width)])
    out = io.BytesIO()
    image.save(out, "JPEG", quality=90)
    return out.getvalue()


def _banner() -> bytes:
    """A wide PNG with few colours (a diagram)."""
    image = Image.new("RGB", (2400, 600), "#ffffff")
    for i in range(12):
        image.paste((i * 20, 80, 160), (i * 200, 100 + i * 30, i * 200 + 150, 600))
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


CHART_SVG = b"""\
<svg xmlns="http://www.w3.org/2000/svg" width="800" height="400" viewBox="0 0 800 400">
<rect width="800" height="400" fill="#ffffff"/>
<rect x="40" y="80" width="120" height="300" fill="#2f5d50"/>
<rect x="220" y="180" width="120" height="200" fill="#2f5d50"/>
<rect x="400" y="260" width="120" height="120" fill="#2f5d50"/>
<rect x="580" y="340" width="120" height="40" fill="#2f5d50"/>
</svg>
"""
LONG_LINE = "curl --fail https://data.example.org/exports/" + "x" * 40 + \
    "?format=csv&columns=region,hour,kwh,carbon"
assert len(LONG_LINE) >= 120

BODY = f"""\
A photo from the repair evening.

![Volunteers repairing a laptop at a long table](images/photo.jpg)

The floor plan.

![A floor plan of the room with twelve repair stations](images/banner.png)

![A bar chart of energy per run: 1,200, 780, 540 and 150 kWh](images/chart.svg)

```sh
{LONG_LINE}
    indented   by four, then three spaces
```

| Region | Hour | kWh |
|:---|:---:|---:|
| North | 02:00 | 1,204.5 |
| South | 14:00 | 87.25 |
"""


def scratch_issue(scratch: Scratch) -> Scratch:
    scratch.write(f"issues/{SCRATCH}/images/photo.jpg", _photo(3000, 2000))
    scratch.write(f"issues/{SCRATCH}/images/banner.png", _banner())
    scratch.write(f"issues/{SCRATCH}/images/chart.svg", CHART_SVG)
    scratch.write(f"issues/{SCRATCH}/repair.md", piece_text(title="Repair evening", body=BODY))
    return scratch


def test_scratch_issue_renders_right(scratch: Scratch) -> None:
    """The 3000 px JPEG, the wide PNG and the SVG are shown within the column, from
    derivatives at twice its width (JPEG re-encoded, PNG lossless, SVG rasterised); the long
    line wraps; the numeric column stays right-aligned; every block keeps its typography."""
    scratch_issue(scratch)
    result = build_issue(load_config(scratch.root), IssueId.parse(SCRATCH), NOW)
    out = scratch.root / "public" / SCRATCH
    html = (out / "email.html").read_text(encoding="utf-8")
    images = assert_images_sized(html, out, f"{BASE}/{SCRATCH}/")
    loaded = {unquote(i.attrs["src"][len(f"{BASE}/{SCRATCH}/"):]): i for i in images}
    assert set(loaded) == {"resized/images/photo-1072w.jpg", "resized/images/banner-1072w.png",
                           "resized/images/chart.png"}
    sizes = {}
    for name in loaded:
        with Image.open(out / name) as image:
            sizes[name] = (image.format, image.size)
    assert sizes == {"resized/images/photo-1072w.jpg": ("JPEG", (1072, 715)),
                     "resized/images/banner-1072w.png": ("PNG", (1072, 268)),
                     "resized/images/chart.png": ("PNG", (1072, 536))}
    assert [(i.attrs["width"], i.attrs["height"]) for i in images] == [
        ("536", "357"), ("536", "134"), ("536", "268")]
    # The lossless PNG keeps the diagram's few colours exactly.
    with Image.open(out / "resized/images/banner-1072w.png") as image:
        assert image.getpixel((30, 200))[:3] == (0, 80, 160)
    assert_no_white_space_wrapping(html)
    assert "curl --fail" in html and "&nbsp;&nbsp;&nbsp;&nbsp;indented&nbsp;&nbsp; by" in html
    assert_typography_kept(html)
    assert_alignment_kept(html)
    assert [c.text().strip() for c in right_aligned(html)] == ["kWh", "1,204.5", "87.25"]
    # What opening the email downloads: the derivatives, not the originals.
    weight = sum((out / name).stat().st_size for name in loaded)
    assert result.image_weights[SCRATCH] == weight
    assert weight < (out / "images" / "photo.jpg").stat().st_size
    # The web edition shows the derivative and links the original; it keeps the SVG.
    web = (out / "index.html").read_text(encoding="utf-8")
    assert '<a class="original" href="images/photo.jpg"' in web
    assert 'src="resized/images/photo-1072w.jpg"' in web
    assert re.search(r'<img [^>]*src="images/chart.svg"[^>]*width="536" height="268"', web)
    assert "<pre>" in web  # the web edition keeps its code blocks
    # The plain text is unchanged: the long line whole.
    assert LONG_LINE in (out / "email.txt").read_text(encoding="utf-8")


def test_derivatives_follow_their_original(scratch: Scratch) -> None:
    """A derivative is made once and kept in the render cache; replacing the original (same
    name, new picture) makes a new one, and the email's height follows."""
    scratch_issue(scratch)
    build_issue(load_config(scratch.root), IssueId.parse(SCRATCH), NOW)
    cached = sorted((scratch.root / ".cache" / "newsletter" / "image").rglob("*.json"))
    assert len(cached) == 3  # the JPEG's and the PNG's derivatives, the SVG's PNG
    build_issue(load_config(scratch.root), IssueId.parse(SCRATCH), NOW)
    assert sorted((scratch.root / ".cache" / "newsletter" / "image").rglob("*.json")) == cached
    scratch.write(f"issues/{SCRATCH}/images/photo.jpg", _photo(3000, 1000))
    build_issue(load_config(scratch.root), IssueId.parse(SCRATCH), NOW)
    out = scratch.root / "public" / SCRATCH
    html = (out / "email.html").read_text(encoding="utf-8")
    assert 'width="536" height="179"' in html
    with Image.open(out / "resized/images/photo-1072w.jpg") as image:
        assert image.size == (1072, 357)


def test_heavy_images_are_a_located_warning(scratch: Scratch, cli: RunCli) -> None:
    """Images over email.image_budget_kb are a warning at the line of the largest, naming
    the largest images with their weights; --strict makes it an error."""
    scratch_issue(scratch)
    config = scratch.root / "newsletter.toml"
    config.write_text(config.read_text(encoding="utf-8") + "image_budget_kb = 20\n",
                      encoding="utf-8")
    code, _, err = cli("build-issue", SCRATCH, "--root", str(scratch.root))
    assert code == 0
    piece = scratch.root / "issues" / SCRATCH / "repair.md"
    line = piece.read_text(encoding="utf-8").split("\n").index(
        "![Volunteers repairing a laptop at a long table](images/photo.jpg)") + 1
    warning = next(w for w in err.splitlines() if "image-weight" in w or "budget" in w)
    assert re.match(rf".*repair\.md:{line}: warning: the email's images weigh \d+ KB, over "
                    r"the 20 KB budget \(email\.image_budget_kb\)", warning), warning
    assert "images/photo.jpg (" in warning and f"repair.md:{line})" in warning
    code, _, err = cli("build-issue", SCRATCH, "--root", str(scratch.root), "--strict")
    assert code == 1 and "over the 20 KB budget" in err


@pytest.mark.parametrize(("name", "data", "message"), [
    ("notes.png", b"not an image at all\n", "is not an image that can be read"),
    ("scan.bmp", None, "is a BMP image, which most email clients do not show"),
])
def test_unusable_images_are_located_errors(scratch: Scratch, cli: RunCli, name: str,
                                            data: bytes | None, message: str) -> None:
    """An image the email cannot show is an error at the line that shows it, saying what to
    do, never a traceback; nothing is written."""
    if data is None:
        out = io.BytesIO()
        Image.new("RGB", (40, 30), "#ff0000").save(out, "BMP")
        data = out.getvalue()
    scratch.write(f"issues/{SCRATCH}/images/{name}", data)
    piece = scratch.write(f"issues/{SCRATCH}/piece.md", piece_text(
        body=f"Text.\n\n![A picture of the thing](images/{name})\n"))
    line = piece.read_text(encoding="utf-8").split("\n").index(
        f"![A picture of the thing](images/{name})") + 1
    code, _, err = cli("build-issue", SCRATCH, "--root", str(scratch.root))
    assert code == 1
    assert "Traceback" not in err
    where = rf"piece\.md:{line}: error: image 'images/{re.escape(name)}': "
    assert re.search(where + message, err), err
    assert not (scratch.root / "public").exists()
    with pytest.raises(ContentError):
        build_issue(load_config(scratch.root), IssueId.parse(SCRATCH), NOW)
    code, out, _ = cli("check", SCRATCH, "--root", str(scratch.root))  # check finds it too
    assert code == 1 and re.search(rf"piece\.md:{line}:\d+: error: image .*\[image\]", out), out


def test_an_svg_that_cannot_be_read_is_a_located_error(scratch: Scratch, cli: RunCli) -> None:
    """A broken SVG is refused (it is not published, and the email cannot show it) at the
    line that shows it; nothing is written."""
    scratch.write(f"issues/{SCRATCH}/images/broken.svg",
                  b"<svg xmlns='http://www.w3.org/2000/svg'><rect")
    scratch.write(f"issues/{SCRATCH}/piece.md", piece_text(
        body="Text.\n\n![A picture of the thing](images/broken.svg)\n"))
    code, _, err = cli("build-issue", SCRATCH, "--root", str(scratch.root))
    assert code == 1 and "Traceback" not in err
    assert re.search(r"piece\.md:11: error: 'images/broken\.svg' is an SVG image with XML "
                     r"that cannot be read", err), err
    assert not (scratch.root / "public").exists()


def test_code_cell_keeps_markup_and_escapes_text() -> None:
    """Markup inside a code block stays markup; text that looks like a tag stays text."""
    cell = code_cell([("x = List&lt;b&gt;", False), ("<b>", True), ("bold", False),
                      ("</b>", True), ("\n  y\n", False)])
    assert "List&lt;b&gt;<b>bold</b><br>&nbsp;&nbsp;y</td>" in cell


def test_an_animated_gif_keeps_its_frames_and_its_first_one(scratch: Scratch) -> None:
    """A wide animated GIF is resized frame by frame: it still moves where clients animate,
    and Outlook for Windows, which shows only the first frame, shows the same first frame."""
    frames = [Image.new("RGB", (2400, 800), colour) for colour in ("#2f5d50", "#b42318",
                                                                    "#1d5e9e")]
    out = io.BytesIO()
    frames[0].save(out, "GIF", save_all=True, append_images=frames[1:], duration=400, loop=0)
    scratch.write(f"issues/{SCRATCH}/images/steps.gif", out.getvalue())
    scratch.write(f"issues/{SCRATCH}/piece.md", piece_text(
        body="![Three steps of the repair, one after another](images/steps.gif)\n"))
    build_issue(load_config(scratch.root), IssueId.parse(SCRATCH), NOW)
    built = scratch.root / "public" / SCRATCH
    assert_images_sized((built / "email.html").read_text(encoding="utf-8"), built,
                        f"{BASE}/{SCRATCH}/")
    with Image.open(built / "resized/images/steps-1072w.gif") as gif:
        assert gif.size == (1072, 357) and gif.n_frames == 3
        assert gif.convert("RGB").getpixel((500, 100)) == (0x2F, 0x5D, 0x50)


def test_no_cache_builds_the_same_derivatives(scratch: Scratch, tmp_path: Path) -> None:
    """--no-cache makes the same derivatives and email, and writes no render cache."""
    scratch_issue(scratch)
    build_issue(load_config(scratch.root), IssueId.parse(SCRATCH), NOW, cache=False)
    assert not (scratch.root / CACHE_DIR).exists()
    out = scratch.root / "public" / SCRATCH
    cold = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    build_issue(load_config(scratch.root), IssueId.parse(SCRATCH), NOW, out=tmp_path / "warm")
    warm_out = tmp_path / "warm" / SCRATCH
    warm = {p.relative_to(warm_out): p.read_bytes() for p in warm_out.rglob("*") if p.is_file()}
    assert Path("resized/images/photo-1072w.jpg") in cold
    assert warm == cold


def test_the_energy_line_counts_the_images_readers_download(
        sample_copy: Path, cli: RunCli, monkeypatch: pytest.MonkeyPatch) -> None:
    """`newsletter send` estimates the energy of the email's weight: the messages delivered,
    plus the images each recipient downloads on opening it."""
    store = open_store(sample_copy / "subscribers.sqlite3")
    try:
        store.import_many([NewSubscriber(f"reader{n}@example.net", None, "active", None,
                                         "test") for n in range(3)], NOW)
    finally:
        store.close()
    monkeypatch.setenv("NEWSLETTER_TOKEN_SECRET", "test-signing-key-0123456789abcdef")
    code, out, err = cli("send", SAMPLE, "--yes", "--root", str(sample_copy), "--outbox",
                         str(sample_copy / "outbox"))
    assert code == 0, err
    delivered = sum(p.stat().st_size for p in (sample_copy / "outbox").rglob("*.eml"))
    image = sample_copy / "public" / SAMPLE / "images" / "training-run-energy.png"
    images = 3 * image.stat().st_size
    wh = (delivered + images) / 1e9 * KWH_PER_GB * 1000
    assert f"delivered {delivered / 1e6:.2f} MB, and {images / 1e6:.2f} MB of images if " \
           f"every reader opens it: about {wh:.2f} Wh and" in out, out
