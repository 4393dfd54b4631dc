"""Markdown edge cases, hostile HTML and the plain-text edition.

Through :func:`pipeline.markup.render` where one body is enough, through the real build where
the outputs (email.html, email.txt, the web edition, the feeds) matter.
"""

from __future__ import annotations

import json
import re
import sys
import xml.etree.ElementTree as ET
from collections import Counter
from html.parser import HTMLParser
from pathlib import Path

import pytest

from pipeline.engines import MarkdownOptions
from pipeline.errors import Problems
from pipeline.links import Context
from pipeline.markup import Body, render
from tests.conftest import FLAVOURS, RunCli, Scratch, png

ISSUE = "2026-12-solstice"
PIECE_DIR = f"issues/{ISSUE}"
ISSUE_URL = f"https://news.example.org/{ISSUE}/"
WIDTH = 72

FRONT = (
    "title: {title}",
    "authors: [Ada Example]",
    "team: Policy",
    "section: Research",
    "summary: A summary.",
    "status: ready",
)
#: The first body line of a piece written by :func:`piece`: front matter is lines 1-8.
BODY_LINE = 9


def piece(body: str, title: str = "A piece") -> str:
    front = "".join(line.format(title=title) + "\n" for line in FRONT)
    return f"---\n{front}---\n{body}"


def md(source: str, tmp_path: Path, slug: str = "piece",
       flavour: str = "gfm") -> tuple[Body, Problems]:
    """Render ``source`` as the body of ``<tmp_path>/issue/<slug>.md`` (body on line 9)."""
    issue_dir = tmp_path / "issue"
    issue_dir.mkdir(exist_ok=True)
    problems = Problems()
    body = render(source, Context(issue_dir, ISSUE_URL, slug, issue_dir / f"{slug}.md",
                                  BODY_LINE, MarkdownOptions(flavour)), problems)
    return body, problems


def build(cli: RunCli, scratch: Scratch, *extra: str) -> tuple[int, str, str]:
    return cli("build-issue", ISSUE, "--root", str(scratch.root), *extra)


def read_outputs(root: Path) -> dict[str, str]:
    """Every text output under public/ and feeds/ by relative path."""
    found: dict[str, str] = {}
    for folder in ("public", "feeds"):
        for path in sorted((root / folder).rglob("*")):
            if path.is_file() and path.suffix in (".html", ".txt", ".xml", ".json"):
                found[path.relative_to(root).as_posix()] = path.read_text("utf-8")
    return found


def built(scratch: Scratch, cli: RunCli, *extra: str) -> dict[str, str]:
    """Build (which must succeed) and return every text output."""
    code, _out, err = build(cli, scratch, *extra)
    assert code == 0, err
    assert "Traceback" not in err
    return read_outputs(scratch.root)


def no_outputs(root: Path) -> bool:
    return not (root / "public").exists() and not (root / "feeds").exists()


class Elements(HTMLParser):
    """Every start tag of an HTML document with its attributes (entities decoded)."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[tuple[str, dict[str, str]]] = []
        self.feed(html)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.found.append((tag, {k: v or "" for k, v in attrs}))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)

    def tags(self, name: str) -> list[dict[str, str]]:
        return [attrs for tag, attrs in self.found if tag == name]

    def ids(self) -> list[str]:
        return [attrs["id"] for _, attrs in self.found if "id" in attrs]


def feed_html(outputs: dict[str, str]) -> dict[str, str]:
    """The HTML fragments the three feeds carry, by a name for messages."""
    fragments: dict[str, str] = {}
    rss = ET.fromstring(outputs["feeds/rss.xml"].encode())
    content = "{http://purl.org/rss/1.0/modules/content/}encoded"
    for i, item in enumerate(rss.iter("item")):
        fragments[f"rss[{i}].content"] = item.findtext(content) or ""
        fragments[f"rss[{i}].description"] = item.findtext("description") or ""
    atom = ET.fromstring(outputs["feeds/atom.xml"].encode())
    ns = "{http://www.w3.org/2005/Atom}"
    for i, entry in enumerate(atom.iter(f"{ns}entry")):
        fragments[f"atom[{i}].content"] = entry.findtext(f"{ns}content") or ""
        fragments[f"atom[{i}].summary"] = entry.findtext(f"{ns}summary") or ""
    for i, item in enumerate(json.loads(outputs["feeds/feed.json"])["items"]):
        fragments[f"json[{i}].content_html"] = item["content_html"]
    assert fragments, "the feeds carry no entries"
    return fragments


def html_documents(outputs: dict[str, str]) -> dict[str, str]:
    docs = {name: text for name, text in outputs.items() if name.endswith(".html")}
    docs.update(feed_html(outputs))
    return docs


# --------------------------------------------------------------------------- headings


@pytest.mark.parametrize(
    ("source", "levels"),
    [
        ("# A\n\n## B\n\n### C\n\n#### D\n\n##### E\n\n###### F\n",
         ["h4", "h5", "h6", "h6", "h6", "h6"]),
        ("## A\n\n### B\n\n#### C\n", ["h4", "h5", "h6"]),
        ("### Only one\n", ["h4"]),
        ("#### A\n\n# B\n", ["h6", "h4"]),
        ("Setext top\n==========\n\nSetext next\n-----------\n", ["h4", "h5"]),
    ],
    ids=["every-level", "from-h2", "single-h3", "h1-later", "setext"],
)
def test_the_highest_heading_of_a_piece_becomes_h4(
    tmp_path: Path, source: str, levels: list[str]
) -> None:
    body, problems = md(source, tmp_path)
    assert re.findall(r"<(h[1-6])\b", body.html) == levels
    assert re.findall(r"<(h[1-6])\b", body.html_absolute) == levels
    assert not problems.items


def test_a_level_one_heading_in_a_built_piece_is_h4(scratch: Scratch, cli: RunCli) -> None:
    scratch.write(f"{PIECE_DIR}/first.md", piece("# Big heading\n\nText.\n\n## Smaller\n"))
    outputs = built(scratch, cli)
    for name in (f"public/{ISSUE}/index.html", f"public/{ISSUE}/email.html"):
        html = outputs[name]
        assert re.search(r'<h4 id="first--big-heading"[^>]*>Big heading</h4>', html), name
        assert re.search(r'<h5 id="first--smaller"[^>]*>Smaller</h5>', html), name
        assert not re.search(r"<h1[^>]*>\s*Big heading", html), name
    text = outputs[f"public/{ISSUE}/email.txt"]
    assert "Big heading\n~~~~~~~~~~~\n" in text


# --------------------------------------------------------------------------- syntax edge cases


def test_crlf_line_endings(scratch: Scratch, cli: RunCli) -> None:
    body = ("First line\nsecond line of the same paragraph.\n\n## A heading\n\n* one\n* two\n\n"
            "```\ncode line\n```\n\nHard  \nbreak.\n")
    scratch.write(f"{PIECE_DIR}/first.md", piece(body).replace("\n", "\r\n").encode())
    outputs = built(scratch, cli)
    for name, text in outputs.items():
        assert "\r" not in text, name
    web = outputs[f"public/{ISSUE}/index.html"]
    assert re.search(r"<h4 [^>]*>A heading</h4>", web)
    assert "<li>one</li>" in web and "<li>two</li>" in web
    assert "<pre><code>code line\n</code></pre>" in web
    assert re.search(r"Hard<br\s*/?>\s*break\.", web)
    text = outputs[f"public/{ISSUE}/email.txt"]
    assert "First line second line of the same paragraph." in text
    assert "* one\n* two" in text
    assert "    code line" in text
    assert "Hard\nbreak." in text


def test_raw_html_blocks_are_kept_when_safe(tmp_path: Path) -> None:
    source = ('<div>\n<p>Raw <b>bold</b> and <em>emphasis</em>.</p>\n</div>\n\n'
              "<table>\n<tr><th>Key</th><th>Value</th></tr>\n<tr><td>a</td><td>1</td></tr>\n"
              "</table>\n\nAfter the blocks.\n")
    body, problems = md(source, tmp_path)
    assert "<b>bold</b>" in body.html
    assert "<em>emphasis</em>" in body.html
    assert "<td>a</td>" in body.html
    assert "<p>After the blocks.</p>" in body.html
    assert "Raw *bold* and _emphasis_." in body.text
    assert re.search(r"^Key\s+Value$", body.text, re.M)
    assert re.search(r"^a\s+1$", body.text, re.M)
    assert not problems.items


def test_deeply_nested_lists(tmp_path: Path) -> None:
    levels = 7
    source = "".join("    " * i + f"* level {i + 1}\n" for i in range(levels))
    body, problems = md(source, tmp_path)
    assert body.html.count("<ul>") == levels
    assert body.html.count("</ul>") == levels
    elements = Elements(body.html)
    assert len(elements.tags("li")) == levels
    lines = body.text.splitlines()
    for i in range(levels):
        assert "  " * i + f"* level {i + 1}" in lines, body.text
    assert not problems.items


def test_deeply_nested_ordered_and_mixed_lists(tmp_path: Path) -> None:
    source = ("1. one\n    * a\n        1. i\n            * x\n                1. deep\n"
              "                    * deepest\n2. two\n")
    body, problems = md(source, tmp_path)
    assert body.html.count("<ol>") == 3
    assert body.html.count("<ul>") == 3
    assert re.search(r"^1\. one$", body.text, re.M)
    assert re.search(r"^2\. two$", body.text, re.M)
    assert re.search(r"^\s+\* deepest$", body.text, re.M)
    assert not problems.items


def test_emoji_survive_every_output(scratch: Scratch, cli: RunCli) -> None:
    scratch.write(f"{PIECE_DIR}/first.md", piece(
        "Repair night 🔧, family 👩‍👩‍👧, flag 🇺🇦, skin tone 👋🏽.\n",
        title="Fixing things 🔧"))
    outputs = built(scratch, cli)
    for name in (f"public/{ISSUE}/email.html", f"public/{ISSUE}/email.txt",
                 f"public/{ISSUE}/index.html"):
        assert "Fixing things 🔧" in outputs[name], name
        assert "family 👩‍👩‍👧, flag 🇺🇦, skin tone 👋🏽" in outputs[name], name
    for name, fragment in feed_html(outputs).items():
        if ".content" in name:
            assert "👩‍👩‍👧" in fragment, name


def test_a_body_without_a_final_newline(scratch: Scratch, cli: RunCli) -> None:
    scratch.write(f"{PIECE_DIR}/first.md", piece("First paragraph.\n\nThe very last words"))
    outputs = built(scratch, cli)
    assert "<p>The very last words</p>" in outputs[f"public/{ISSUE}/index.html"]
    assert "The very last words" in outputs[f"public/{ISSUE}/email.html"]
    assert "\nThe very last words\n" in outputs[f"public/{ISSUE}/email.txt"]


def test_front_matter_and_body_without_final_newline(scratch: Scratch, cli: RunCli) -> None:
    scratch.write(f"{PIECE_DIR}/first.md", piece("Only line, no newline"))
    scratch.write(f"{PIECE_DIR}/empty.md", piece("").rstrip("\n"))
    code, _out, err = build(cli, scratch)
    assert code == 0, err
    assert f"{PIECE_DIR}/empty.md" in err and "no text" in err


def test_tables(tmp_path: Path) -> None:
    source = ("| Configuration | GPU-hours | Energy (kWh) |\n|:---|---:|:---:|\n"
              "| Baseline | 960 | 1,200 |\n| Distilled small model | 120 | 150 |\n")
    body, problems = md(source, tmp_path)
    elements = Elements(body.html)
    assert [a.get("align") for a in elements.tags("th")] == ["left", "right", "center"]
    assert len(elements.tags("td")) == 6
    lines = body.text.splitlines()
    assert len(lines) == 4, body.text
    header, rule, *rows = lines
    assert header.split() == ["Configuration", "GPU-hours", "Energy", "(kWh)"]
    assert set(rule.replace(" ", "")) == {"-"}
    # Aligned: each column spans the same offsets on every row; a right-aligned column
    # (GPU-hours) ends at its rule's right edge, the others start at its left edge.
    spans = [m.span() for m in re.finditer(r"-+", rule)]
    assert len(spans) == 3
    for row in rows:
        assert row[spans[1][1] - 1] != " " and row[spans[1][0] - 1] == " ", row
        assert row[spans[2][0]] != " " and row[spans[2][0] - 1] == " ", row
    assert rows[1].startswith("Distilled small model")
    assert not problems.items


def test_fenced_code(tmp_path: Path) -> None:
    long_line = "    return compute(" + ", ".join(f"argument_{i}" for i in range(12)) + ")"
    assert len(long_line) > WIDTH + 40
    source = f"```python\ndef f():\n{long_line}\n\n# <b>not bold</b> & more\n```\n"
    body, problems = md(source, tmp_path)
    assert "<pre><code" in body.html
    assert "&lt;b&gt;not bold&lt;/b&gt; &amp; more" in body.html
    assert "<b>" not in body.html
    lines = body.text.splitlines()
    assert "    def f():" in lines
    assert "    " + long_line in lines  # indented by four, never wrapped
    assert "    # <b>not bold</b> & more" in lines
    assert not problems.items


#: How each flavour names a note's id and its reference's: fn:1 / fn-1.
NOTE_SEPARATOR = {"gfm": "-", "python-markdown": ":"}


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_footnotes(tmp_path: Path, flavour: str) -> None:
    body, problems = md("A claim.[^1] Another.[^note]\n\n[^1]: First.\n[^note]: Second.\n",
                        tmp_path, slug="first", flavour=flavour)
    elements = Elements(body.html)
    ids = elements.ids()
    sep = NOTE_SEPARATOR[flavour]
    assert f"first--fnref{sep}1" in ids and f"first--fn{sep}1" in ids
    for attrs in elements.tags("a"):
        href = attrs.get("href", "")
        if href.startswith("#"):
            assert href[1:] in ids, href
    assert "Notes\n~~~~~" in body.text
    assert "[^1] First." in body.text and "[^2] Second." in body.text
    assert not problems.items


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_footnote_ids_are_unique_per_piece_on_one_page(scratch: Scratch, cli: RunCli,
                                                       flavour: str) -> None:
    scratch.use_flavour(flavour)
    sep = NOTE_SEPARATOR[flavour]
    scratch.write(f"{PIECE_DIR}/first.md", piece("One.[^1]\n\n[^1]: Note of the first.\n",
                                                 title="First"))
    scratch.write(f"{PIECE_DIR}/second.md", piece("Two.[^1]\n\n[^1]: Note of the second.\n",
                                                  title="Second"))
    outputs = built(scratch, cli)
    for name in (f"public/{ISSUE}/index.html", f"public/{ISSUE}/email.html"):
        elements = Elements(outputs[name])
        ids = elements.ids()
        duplicates = [i for i, n in Counter(ids).items() if n > 1]
        assert not duplicates, (name, duplicates)
        fn_ids = [i for i in ids if "fn" in i]
        assert {f"first--fn{sep}1", f"second--fn{sep}1", f"first--fnref{sep}1",
                f"second--fnref{sep}1"} <= set(fn_ids)
        for attrs in elements.tags("a"):
            href = attrs.get("href", "")
            if href.startswith("#"):
                assert href[1:] in ids, (name, href)


def test_ids_stay_unique_when_a_heading_repeats_a_template_id(
    scratch: Scratch, cli: RunCli
) -> None:
    """A piece heading "Title" must not collide with the web edition's ``<slug>-title``."""
    scratch.write(f"{PIECE_DIR}/first.md", piece("## Title\n\nHow to write one.\n"))
    outputs = built(scratch, cli)
    ids = Elements(outputs[f"public/{ISSUE}/index.html"]).ids()
    duplicates = [i for i, n in Counter(ids).items() if n > 1]
    assert not duplicates


def test_attribute_lists(tmp_path: Path) -> None:
    """Python-Markdown's attribute lists (MkDocs content) keep their ids and titles."""
    source = ('A paragraph.\n{: #custom title="Hello" .fancy }\n\n'
              "## A heading {: #chosen }\n\n[a link](https://example.org/){: title=\"Tip\" }\n")
    body, problems = md(source, tmp_path, flavour="python-markdown")
    elements = Elements(body.html)
    paragraph = elements.tags("p")[0]
    assert paragraph.get("id") == "piece--custom"
    assert paragraph.get("title") == "Hello"
    assert elements.tags("h4")[0].get("id") == "piece--chosen"
    assert elements.tags("a")[0].get("title") == "Tip"
    assert "{:" not in body.html and "{:" not in body.text
    assert not problems.items


# --------------------------------------------------------------------------- images and links


def test_image_without_alt_text_is_a_warning_at_its_line(scratch: Scratch, cli: RunCli,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(scratch.root)
    scratch.write(f"{PIECE_DIR}/images/chart.png", png())
    scratch.write(f"{PIECE_DIR}/first.md", piece("Intro.\n\n![](images/chart.png)\n"))
    code, _out, err = build(cli, scratch)
    assert code == 0, err
    warning = [line for line in err.splitlines() if "no alt text" in line]
    assert len(warning) == 1, err
    assert warning[0].startswith(f"{PIECE_DIR}/first.md:{BODY_LINE + 2}: warning: image "
                                 "'images/chart.png' has no alt text")
    assert "[Image]" in (scratch.root / "public" / ISSUE / "email.txt").read_text("utf-8")


def test_image_without_alt_text_fails_with_strict(scratch: Scratch, cli: RunCli,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(scratch.root)
    scratch.write(f"{PIECE_DIR}/images/chart.png", png())
    scratch.write(f"{PIECE_DIR}/first.md", piece("Intro.\n\nMore.\n\n![ ](images/chart.png)\n"))
    code, _out, err = build(cli, scratch, "--strict")
    assert code == 1, err
    assert f"{PIECE_DIR}/first.md:{BODY_LINE + 4}: error: image 'images/chart.png' has no alt" \
        in err
    assert no_outputs(scratch.root)


def test_link_to_another_piece_becomes_its_anchor(scratch: Scratch, cli: RunCli) -> None:
    scratch.write(f"{PIECE_DIR}/first.md", piece("See [the other one](other.md).\n",
                                                 title="First"))
    scratch.write(f"{PIECE_DIR}/other.md", piece("The other.\n", title="Other"))
    outputs = built(scratch, cli)
    web = Elements(outputs[f"public/{ISSUE}/index.html"])
    links = [a["href"] for a in web.tags("a") if "other" in a.get("href", "")]
    assert "#other" in links
    assert all(href == "#other" for href in links), links
    assert "other" in web.ids()
    email = Elements(outputs[f"public/{ISSUE}/email.html"])
    assert f"{ISSUE_URL}#other" in [a.get("href") for a in email.tags("a")]
    assert not any(a.get("href", "").endswith("other.md") for a in email.tags("a"))
    text = outputs[f"public/{ISSUE}/email.txt"]
    assert "See the other one [1]." in text
    assert f"[1] {ISSUE_URL}#other" in text


def test_relative_images_are_absolute_in_email_and_feeds_only(
    scratch: Scratch, cli: RunCli
) -> None:
    chart = png()
    scratch.write(f"{PIECE_DIR}/images/chart.png", chart)
    scratch.write(f"{PIECE_DIR}/first.md", piece("![A bar chart of energy](images/chart.png)\n"))
    outputs = built(scratch, cli)
    absolute = f"{ISSUE_URL}images/chart.png"
    web = Elements(outputs[f"public/{ISSUE}/index.html"]).tags("img")
    assert [i["src"] for i in web] == ["images/chart.png"]
    email = Elements(outputs[f"public/{ISSUE}/email.html"]).tags("img")
    assert [i["src"] for i in email] == [absolute]
    for name, fragment in feed_html(outputs).items():
        if ".content" in name:
            assert [i["src"] for i in Elements(fragment).tags("img")] == [absolute], name
    assert "[Image: A bar chart of energy]" in outputs[f"public/{ISSUE}/email.txt"]
    copied = scratch.root / "public" / ISSUE / "images" / "chart.png"
    assert copied.read_bytes() == chart


@pytest.mark.parametrize(
    ("body", "target", "offset"),
    [
        ("Intro.\n\nSee [the report](report.pdf) here.\n", "report.pdf", 2),
        ("One.\n\nTwo.\n\n![A chart](images/missing.png)\n", "images/missing.png", 4),
        ("Read [the next piece](next-piece.md).\n", "next-piece.md", 0),
    ],
    ids=["file", "image", "piece"],
)
def test_link_to_a_missing_file_is_an_error_at_its_line(
    scratch: Scratch, cli: RunCli, monkeypatch: pytest.MonkeyPatch,
    body: str, target: str, offset: int,
) -> None:
    monkeypatch.chdir(scratch.root)
    scratch.write(f"{PIECE_DIR}/first.md", piece(body))
    code, _out, err = build(cli, scratch)
    assert code == 1, err
    assert "Traceback" not in err
    assert f"{PIECE_DIR}/first.md:{BODY_LINE + offset}: error: '{target}' is not a file" in err
    assert no_outputs(scratch.root)


# --------------------------------------------------------------------------- pathological input


@pytest.fixture
def unraisable(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Exceptions swallowed by a callback (nh3 prints them as tracebacks on stderr)."""
    seen: list[str] = []

    def hook(info: sys.UnraisableHookArgs) -> None:
        seen.append(f"{info.exc_type.__name__}: {info.exc_value} in {info.object!r}")

    monkeypatch.setattr(sys, "unraisablehook", hook)
    return seen


#: Links whose target cannot be a file of the issue folder: a located error, never a traceback.
IMPOSSIBLE_LINKS = {
    "nul-byte": "[the file](a%00b.png)",
    "nul-byte-image": "![a chart](chart%00.png)",
    "name-too-long": "[the file](" + "a" * 300 + ".png)",
    "piece-name-too-long": "[the piece](" + "a" * 300 + ".md)",
    "path-too-long": "[the file](" + "a/" * 3000 + "b.png)",
}


@pytest.mark.parametrize("link", list(IMPOSSIBLE_LINKS.values()), ids=list(IMPOSSIBLE_LINKS))
def test_impossible_link_targets_are_located_errors(
    scratch: Scratch, cli: RunCli, monkeypatch: pytest.MonkeyPatch, unraisable: list[str],
    link: str,
) -> None:
    monkeypatch.chdir(scratch.root)
    scratch.write(f"{PIECE_DIR}/first.md", piece(f"Intro.\n\nSee {link}.\n"))
    code, _out, err = build(cli, scratch)
    assert not unraisable, unraisable
    assert "Traceback" not in err
    assert code == 1, err
    assert f"{PIECE_DIR}/first.md:{BODY_LINE + 2}: error: " in err
    assert "is not a file" in err or "control characters" in err
    assert no_outputs(scratch.root)


#: Odd but possible bodies: they build, or fail with located errors, and never crash.
PATHOLOGICAL = {
    "ol-start-text": '<ol start="x"><li>a</li></ol>',
    "ol-start-float": '<ol start="1.5"><li>a</li></ol>',
    "ol-start-huge": '<ol start="99999999999999999999999999"><li>a</li></ol>',
    "quotes-40-deep": ">" * 40 + " deep",
    "lists-100-deep": "".join("    " * i + "* x\n" for i in range(100)),
    "html-3000-deep": "<div>" * 3000 + "x" + "</div>" * 3000,
    "emphasis-5000-deep": "*" * 5000 + "x" + "*" * 5000,
    "brackets-1000-deep": "[" * 1000 + "x" + "]" * 1000,
    "table-ragged": "| a |\n|---|\n| 1 | 2 | 3 |\n| |\n",
    "table-empty-header": "|   |   |\n|---|---|\n| 1 | 2 |\n",
    "footnote-missing": "Text.[^nope]\n\n[^1]: Unused.\n",
    "heading-only-markup": "# *\n\n## []()\n\n### `",
    "control-characters": "".join(chr(c) for c in range(32) if chr(c) not in "\n") + " x",
}


@pytest.mark.parametrize("body", list(PATHOLOGICAL.values()), ids=list(PATHOLOGICAL))
def test_pathological_bodies_never_crash(
    scratch: Scratch, cli: RunCli, unraisable: list[str], body: str
) -> None:
    scratch.write(f"{PIECE_DIR}/first.md", piece(f"Intro.\n\n{body}\n\nOutro.\n"))
    code, _out, err = build(cli, scratch)  # an exception escaping main() fails the test
    assert not unraisable, unraisable
    assert "Traceback" not in err
    if code == 0:
        text = (scratch.root / "public" / ISSUE / "email.txt").read_text("utf-8")
        assert "Outro." in text
    else:
        assert code == 1
        assert re.search(r"^\S+?(:\d+)?: error: ", err, re.M), err
        assert no_outputs(scratch.root)


# --------------------------------------------------------------------------- hostile HTML

#: Each payload hides the marker PWNED in its dangerous part only: nothing of it may survive.
HOSTILE = {
    "script-block": '<script>alert("PWNED")</script>',
    "script-inline": 'Inline <script>alert("PWNED")</script> text.',
    "script-src": '<script src="https://evil.example/PWNED.js"></script>',
    "onerror": '<img src="https://example.org/a.png" alt="a picture" onerror="alert(\'PWNED\')">',
    "onclick": '<a href="https://example.org/" onclick="alert(\'PWNED\')">a link</a>',
    "onmouseover": '<p onmouseover="alert(\'PWNED\')">hover me</p>',
    "iframe": '<iframe src="https://evil.example/PWNED"></iframe>',
    "iframe-srcdoc": '<iframe srcdoc="&lt;script&gt;PWNED&lt;/script&gt;"></iframe>',
    "object": '<object data="https://evil.example/PWNED.swf"></object>',
    "embed": '<embed src="https://evil.example/PWNED.swf">',
    "form": '<form action="https://evil.example/PWNED"><input name="q" value="PWNED">'
            '<button formaction="https://evil.example/PWNED">Go</button></form>',
    "style-block": "<style>.PWNED { background: url(https://evil.example/x) }</style>",
    "style-attribute": '<p style="background:url(\'https://evil.example/PWNED\')">styled</p>',
    "js-url": "[click](javascript:alert(document.PWNED))",
    "js-url-mixed-case": "[click](JaVaScRiPt:alert(document.PWNED))",
    "js-url-entity": "[click](jav&#x61;script:alert(document.PWNED))",
    "js-url-entity-html": '<a href="jav&#x61;script:alert(\'PWNED\')">click</a>',
    "js-url-decimal-entity": '<a href="&#106;avascript:alert(\'PWNED\')">click</a>',
    "js-url-leading-space": '<a href="  javascript:alert(\'PWNED\')">click</a>',
    "js-url-tab-entity": '<a href="java&#9;script:alert(\'PWNED\')">click</a>',
    "js-url-newline-entity": '<a href="java&#10;script:alert(\'PWNED\')">click</a>',
    "js-url-angle": "[click](<javascript:alert('PWNED')>)",
    "js-reference-link": "[click][ref]\n\n[ref]: javascript:alert('PWNED')",
    "vbscript-url": '<a href="vbscript:msgbox(\'PWNED\')">click</a>',
    "data-url-link": "[click](data:text/html,PWNED)",
    "data-url-mixed-case": '<a href="DaTa:text/html,PWNED">click</a>',
    "data-url-image": '<img src="data:image/svg+xml,PWNED" alt="a data image">',
    "data-url-md-image": "![a data image](data:image/png;base64,PWNED)",
    "svg-onload": '<svg onload="alert(\'PWNED\')"><circle r="1"></circle></svg>',
    "svg-script": "<svg><script>alert('PWNED')</script></svg>",
    "math-mglyph": "<math><mtext><table><mglyph><style><img src=x onerror=alert('PWNED')>"
                   "</style></mglyph></table></mtext></math>",
    "details-ontoggle": '<details open ontoggle="alert(\'PWNED\')"><summary>More</summary>x'
                        "</details>",
    "base": '<base href="https://evil.example/PWNED/">',
    "meta-refresh": '<meta http-equiv="refresh" content="0;url=https://evil.example/PWNED">',
    "link-stylesheet": '<link rel="stylesheet" href="https://evil.example/PWNED.css">',
}
#: Payloads that only Python-Markdown's extensions turn into HTML (in GFM they are text).
HOSTILE_PYTHON_MARKDOWN = {
    "attr-list-handler": "A paragraph.\n{: onclick=\"alert('PWNED')\" }",
    "attr-list-style": "A paragraph.\n{: style=\"background:url(https://evil.example/PWNED)\" }",
    "md-in-html-handler": '<div markdown="1" onclick="alert(\'PWNED\')">\n*x*\n</div>',
}
HOSTILE_CASES = [(flavour, payload) for flavour in FLAVOURS for payload in HOSTILE.values()] + \
    [("python-markdown", payload) for payload in HOSTILE_PYTHON_MARKDOWN.values()]
HOSTILE_IDS = [f"{flavour}-{name}" for flavour in FLAVOURS for name in HOSTILE] + \
    [f"python-markdown-{name}" for name in HOSTILE_PYTHON_MARKDOWN]
FORBIDDEN_TAGS = {"script", "iframe", "object", "embed", "form", "input", "button", "svg",
                  "math", "base", "frame", "frameset", "applet", "textarea", "select"}
URL_ATTRIBUTES = {"href", "src", "action", "formaction", "data", "poster", "background",
                  "xlink:href", "srcset", "cite", "srcdoc"}
BAD_SCHEMES = ("javascript:", "data:", "vbscript:")


def assert_safe(name: str, html: str, baseline_styles: int | None = None) -> None:
    """No dangerous element, handler or URL in one HTML document or fragment."""
    elements = Elements(html)
    for tag, attrs in elements.found:
        assert tag not in FORBIDDEN_TAGS, (name, tag, attrs)
        for attr, value in attrs.items():
            assert not attr.startswith("on"), (name, tag, attr, value)
            if attr in URL_ATTRIBUTES:
                squashed = re.sub(r"[\x00-\x20\x7f]+", "", value).lower()
                assert not squashed.startswith(BAD_SCHEMES), (name, tag, attr, value)
    if baseline_styles is not None:
        assert len(elements.tags("style")) == baseline_styles, name


@pytest.fixture
def baseline_styles(cli: RunCli, tmp_path: Path) -> dict[str, int]:
    """How many ``<style>`` blocks the templates themselves put in each HTML output."""
    other = Scratch(tmp_path / "baseline")
    other.write(f"{PIECE_DIR}/first.md", piece("Harmless.\n"))
    outputs = built(other, cli)
    return {name: len(Elements(text).tags("style")) for name, text in outputs.items()
            if name.endswith(".html")}


@pytest.mark.parametrize(("flavour", "payload"), HOSTILE_CASES, ids=HOSTILE_IDS)
def test_hostile_html_never_reaches_an_output(
    scratch: Scratch, cli: RunCli, baseline_styles: dict[str, int], flavour: str, payload: str
) -> None:
    scratch.use_flavour(flavour)
    scratch.write(f"{PIECE_DIR}/first.md", piece(f"Before.\n\n{payload}\n\nAfter.\n"))
    outputs = built(scratch, cli)
    assert "After." in outputs[f"public/{ISSUE}/email.txt"]
    for name, text in outputs.items():
        assert "PWNED" not in text, f"{name} carries the payload"
    for name, html in html_documents(outputs).items():
        assert_safe(name, html, baseline_styles.get(name, 0))
    text = outputs[f"public/{ISSUE}/email.txt"].lower()
    for scheme in BAD_SCHEMES:
        assert scheme not in text


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_every_hostile_payload_at_once(
    scratch: Scratch, cli: RunCli, baseline_styles: dict[str, int], flavour: str
) -> None:
    scratch.use_flavour(flavour)
    payloads = {**HOSTILE, **(HOSTILE_PYTHON_MARKDOWN if flavour == "python-markdown" else {})}
    body = "\n\n".join(payloads.values()) + "\n\nThe end.\n"
    scratch.write(f"{PIECE_DIR}/first.md", piece(body))
    scratch.write(f"{PIECE_DIR}/issue.md", "---\ntitle: Letter\n---\n" + body)
    outputs = built(scratch, cli)
    for name, text in outputs.items():
        assert "PWNED" not in text, f"{name} carries a payload"
    for name, html in html_documents(outputs).items():
        assert_safe(name, html, baseline_styles.get(name, 0))


@pytest.mark.parametrize(
    ("link", "filename"),
    [
        ("[click](javascript%3Aalert(document.PWNED))", "javascript:alert(document.PWNED)"),
        ("[click](java%0Ascript:alert(document.PWNED))", "java\nscript:alert(document.PWNED)"),
        ("![x](data%3Atext/html,PWNED)", "data:text/html,PWNED"),
    ],
    ids=["percent-colon", "percent-newline", "percent-data"],
)
def test_percent_encoded_scheme_is_not_decoded_into_a_live_url(
    scratch: Scratch, cli: RunCli, link: str, filename: str
) -> None:
    """Decoding a relative URL must not turn it into a javascript:/data: URL.

    A file of that (odd but legal) name in the issue folder makes the link "resolve", so the
    build succeeds; the web edition must still not carry the decoded scheme.
    """
    scratch.write(f"{PIECE_DIR}/{filename}", b"harmless")
    scratch.write(f"{PIECE_DIR}/first.md", piece(f"Before.\n\n{link}\n\nAfter.\n"))
    code, _out, err = build(cli, scratch)
    assert "Traceback" not in err
    if code != 0:  # rejecting the link is fine too
        assert code == 1 and "error:" in err
        assert no_outputs(scratch.root)
        return
    for name, html in html_documents(read_outputs(scratch.root)).items():
        assert_safe(name, html)


# --------------------------------------------------------------------------- plain text


def test_plain_text_headings_are_underlined(tmp_path: Path) -> None:
    body, _ = md("# Main point\n\nText.\n\n## A longer sub-heading here\n\n### Ab\n", tmp_path)
    lines = body.text.splitlines()
    # h4, h5 and h6 (the piece's levels) each have their own underline character
    for title, char in (("Main point", "~"), ("A longer sub-heading here", "^"), ("Ab", ".")):
        index = lines.index(title)
        rule = lines[index + 1]
        assert rule == char * max(len(title), 3), rule


def test_plain_text_lists(tmp_path: Path) -> None:
    body, _ = md("* apple\n* pear\n\nText.\n\n1. first\n2. second\n\nMore.\n\n3. three\n4. four\n",
                 tmp_path)
    lines = body.text.splitlines()
    for expected in ("* apple", "* pear", "1. first", "2. second", "3. three", "4. four"):
        assert expected in lines, body.text


def test_plain_text_block_quotes(tmp_path: Path) -> None:
    quote = "Every cost is a choice about who pays, and we would rather count it. " * 3
    body, _ = md(f"Before.\n\n> {quote}\n>\n> Second paragraph.\n\nAfter.\n", tmp_path)
    quoted = [line for line in body.text.splitlines() if line.startswith(">")]
    assert len(quoted) >= 5, body.text
    assert all(line == ">" or line.startswith("> ") for line in quoted)
    assert all(len(line) <= WIDTH for line in quoted)
    joined = " ".join(line[2:] for line in quoted if line != ">")
    assert " ".join(quote.split()) in " ".join(joined.split())
    assert "> Second paragraph." in quoted


def test_plain_text_code_is_indented_and_not_wrapped(tmp_path: Path) -> None:
    code = "x = " + " + ".join(f"value_{i}" for i in range(20))
    body, _ = md(f"Text.\n\n    {code}\n    second()\n", tmp_path)
    assert f"    {code}" in body.text.splitlines()
    assert "    second()" in body.text.splitlines()


def test_plain_text_inline_code_is_never_broken(tmp_path: Path) -> None:
    span = "`load_config(root, strict = True, verbose = False)`"
    prefix = "A paragraph with words before the span: "
    assert len(prefix) + len("`load_config(root,") < WIDTH < len(prefix) + len(span)
    body, _ = md(f"{prefix}{span} and then a few more words after it.\n", tmp_path)
    assert any(span in line for line in body.text.splitlines()), body.text


def test_plain_text_images_and_links(tmp_path: Path) -> None:
    (tmp_path / "issue").mkdir()
    (tmp_path / "issue" / "chart.png").write_bytes(b"png")
    source = ("![A chart of energy](chart.png)\n\nRead [the guide](https://example.org/guide), "
              "[the policy](https://example.org/policy) and [the guide again]"
              "(https://example.org/guide). Write to [us](mailto:ethics@example.org). "
              "Bare: <https://example.org/bare>.\n")
    body, problems = md(source, tmp_path)
    assert "[Image: A chart of energy]" in body.text
    text = " ".join(body.text.split())
    assert "the guide [1]" in text and "the guide again [1]" in text
    assert "the policy [2]" in text
    assert "us [3]" in text
    assert "Bare: https://example.org/bare." in text
    assert body.links == ("https://example.org/guide", "https://example.org/policy",
                          "mailto:ethics@example.org")
    assert not problems.items


def test_plain_text_link_list_follows_each_piece(scratch: Scratch, cli: RunCli) -> None:
    scratch.write(f"{PIECE_DIR}/first.md", piece(
        "See [one](https://example.org/one) and [two](https://example.org/two).\n",
        title="First"))
    scratch.write(f"{PIECE_DIR}/second.md", piece(
        "See [three](https://example.org/three).\n", title="Second"))
    text = built(scratch, cli)[f"public/{ISSUE}/email.txt"]
    first_list = text.index("[1] https://example.org/one\n[2] https://example.org/two")
    assert text.index("See one [1] and two [2].") < first_list < text.index("Second\n------")
    assert text.index("See three [1].") < text.index("[1] https://example.org/three")
    assert "[3]" not in text


def test_plain_text_wraps_at_72_except_urls_and_code(scratch: Scratch, cli: RunCli) -> None:
    prose = ("Computation feels weightless, but every step draws power, runs on hardware "
             "that had to be made, and depends on people who document and test it. ") * 3
    url = "https://example.org/" + "a-very-long-path-segment/" * 4
    code = "result = " + " + ".join(f"measurement_{i}" for i in range(10))
    body = (f"{prose}\n\n* {prose}\n\n1. {prose}\n\n> {prose}\n\nLink: {url} inline.\n\n"
            f"```\n{code}\n```\n\n| Column | Text |\n|---|---|\n| a | {prose[:60]} |\n")
    scratch.write(f"{PIECE_DIR}/first.md", piece(body, title="Wrapping"))
    text = built(scratch, cli)[f"public/{ISSUE}/email.txt"]
    long_lines = [line for line in text.splitlines() if len(line) > WIDTH]
    for line in long_lines:
        assert "://" in line or line.startswith("    "), f"not wrapped: {line!r}"
    assert f"    {code}" in text.splitlines()
    assert any(url in line for line in text.splitlines())
    assert "Computation feels weightless, but every step draws power, runs on" in text
