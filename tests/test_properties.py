"""Property tests: whatever a contributor writes, the build never crashes.

Arbitrary front matter and arbitrary Markdown either build (exit 0) or fail with at least one
``error:`` line and nothing written (exit 1). :func:`pipeline.cli.main` is called directly and
nothing is caught: an exception escaping it is the failure. Exceptions swallowed inside a
callback (nh3 prints them as a traceback on stderr) count as failures too.

When a build succeeds, its feeds are well-formed XML that feedparser reads without complaint,
even with control characters in titles, summaries and tags.
"""

from __future__ import annotations

import json
import re
import shutil
import sys
import xml.etree.ElementTree as ET
from datetime import date
from pathlib import Path
from typing import Any

import feedparser
import pytest
import yaml
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from pipeline import markup
from pipeline.cli import main
from pipeline.content import PIECE_FIELDS
from pipeline.email_html import LAYOUT, _Email, email_body
from pipeline.engines import MarkdownOptions
from pipeline.errors import Problems
from pipeline.feeds import xml_safe
from pipeline.images import NO_IMAGES
from pipeline.links import Context
from tests.conftest import Scratch

ISSUE = "2026-12-solstice"
PIECE = f"issues/{ISSUE}/piece.md"
ERROR_LINE = re.compile(r"^\S.*?(:\d+)?: error: ", re.M)

PROPERTY = settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    report_multiple_bugs=False,  # one minimal failure per property keeps a red run short
)

# --------------------------------------------------------------------------- strategies

#: Every character a file may hold, control characters and non-BMP included (no surrogates).
ANY_CHAR = st.characters(exclude_categories=["Cs"])
CONTROL = st.characters(max_codepoint=0x1F) | st.characters(min_codepoint=0x7F,
                                                             max_codepoint=0x9F)
TEXT = st.text(alphabet=ANY_CHAR | CONTROL, max_size=30)

SCALARS: st.SearchStrategy[Any] = (
    st.none() | st.booleans() | st.integers() | st.floats() | TEXT
    | st.dates(min_value=date(1, 1, 1)) | st.binary(max_size=8)
)
VALUES: st.SearchStrategy[Any] = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3),
    max_leaves=8,
)
KEYS: st.SearchStrategy[Any] = (
    st.sampled_from([f.key for f in PIECE_FIELDS]) | TEXT | st.integers() | st.booleans()
)
VALID_META: dict[str, Any] = {
    "title": "A piece", "authors": ["Ada Example"], "team": "Policy",
    "summary": "A summary.", "status": "ready",
}

#: Markdown and HTML syntax, entities, URLs and the odd character, to be glued together.
MARKUP = st.sampled_from([
    "#", "## ", "######", "*", "**", "_", "__", "[", "]", "(", ")", "![", "](", "<", ">", "&",
    "`", "```", "~~~", "\n", "\n\n", "  \n", " ", "    ", "\t", "- ", "1. ", "3. ", "> ", "|",
    "|---|", ":", "---", "===", "[^1]", "[^1]: ", "{: #x }", "{: .y }", "&amp;", "&#x61;",
    "&#0;", "&#xD800;", "&nbsp", "<div>", "</div>", "<p>", "<b>", "</b>", "<script>",
    "</script>", "<a href=\"", "\">", "<img src=\"", "<ol start=\"", "<li>", "<table>", "<tr>",
    "<td>", "<!--", "-->", "<![CDATA[", "other.md", "piece.md", "images/", "../", "%20",
    "%2e", "#frag", "http://", "https://example.org/", "mailto:", "javascript:", "data:",
    "\\", "\x00", "\x0b", "\x0c", "\r", "\x85", "\u2028", "\ufeff", "\U0001f389", "\u0301",
])
#: An HTML start tag with attributes the sanitiser keeps (and some it drops), values arbitrary.
ATTRIBUTE_VALUE = st.text(alphabet=ANY_CHAR | CONTROL | st.sampled_from(list("%:/.#?&;-0123")),
                          max_size=12)
HTML_TAG = st.builds(
    lambda tag, attrs: f"<{tag}" + "".join(f' {k}="{v}"' for k, v in attrs) + ">",
    st.sampled_from(["a", "img", "ol", "ul", "li", "p", "div", "span", "sup", "abbr", "time",
                     "blockquote", "h1", "h6", "table", "tr", "td", "th", "pre", "code", "br"]),
    st.lists(st.tuples(st.sampled_from(["href", "src", "start", "id", "alt", "title", "align",
                                        "colspan", "cite", "datetime", "lang", "dir",
                                        "onclick", "style", "class"]), ATTRIBUTE_VALUE),
             max_size=3),
)
#: A link or image target: plain text, a path, or percent-encoded arbitrary bytes.
TARGET = (
    st.text(alphabet=ANY_CHAR | st.sampled_from(list("%/.:#?-_")), max_size=20)
    | st.binary(max_size=6).map(lambda b: "".join(f"%{x:02X}" for x in b))
    | st.sampled_from(["other.md", "piece.md", "images/x.png", "#top", "./", "..", "/abs"])
)
LINK = st.builds(lambda bang, text, target: f"{bang}[{text}]({target})",
                 st.sampled_from(["", "!"]), st.text(alphabet=ANY_CHAR, max_size=6), TARGET)
#: The same opener many times over: nesting deeper than any real piece.
NESTING = st.builds(lambda opener, depth: opener * depth,
                    st.sampled_from([">", "> ", "    * ", "<div>", "<blockquote>", "*", "["]),
                    st.integers(min_value=1, max_value=45))
MARKDOWN = st.lists(
    MARKUP | HTML_TAG | LINK | NESTING | st.text(alphabet=ANY_CHAR | CONTROL, max_size=6),
    max_size=30,
).map("".join)


@st.composite
def front_matter(draw: st.DrawFn) -> str:
    """YAML front matter dumped from a dictionary of arbitrary keys and values."""
    meta: dict[Any, Any] = dict(VALID_META) if draw(st.booleans()) else {}
    meta.update(draw(st.dictionaries(KEYS, VALUES, max_size=6)))
    dumped: str = yaml.safe_dump(
        meta, allow_unicode=draw(st.booleans()), sort_keys=False,
        default_flow_style=draw(st.sampled_from([None, False, True])),
    )
    return dumped


# --------------------------------------------------------------------------- harness


@pytest.fixture
def unraisable(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Exceptions a callback swallowed and printed (``Exception ignored in: ...``)."""
    seen: list[str] = []

    def hook(info: sys.UnraisableHookArgs) -> None:
        seen.append(f"{info.exc_type.__name__}: {info.exc_value} in {info.object!r}")

    monkeypatch.setattr(sys, "unraisablehook", hook)
    return seen


def write_piece(scratch: Scratch, data: str | bytes) -> None:
    """A fresh root: only ``newsletter.toml`` and the one piece (no outputs)."""
    for folder in ("issues", "public", "feeds"):
        shutil.rmtree(scratch.root / folder, ignore_errors=True)
    path = scratch.root / PIECE
    path.parent.mkdir(parents=True)
    path.write_bytes(data if isinstance(data, bytes) else data.encode("utf-8"))


def outputs_exist(root: Path) -> bool:
    return (root / "public").exists() or (root / "feeds").exists()


def build_and_check(
    scratch: Scratch, capsys: pytest.CaptureFixture[str], unraisable: list[str]
) -> int:
    """Build; check the outcome is a success or located errors, never a crash."""
    unraisable.clear()
    capsys.readouterr()
    code = main(["build-issue", ISSUE, "--root", str(scratch.root), "-q"])
    _out, err = capsys.readouterr()
    assert not unraisable, f"an exception was swallowed and printed: {unraisable}"
    assert "Traceback" not in err, err
    assert code in (0, 1), (code, err)
    event(f"exit {code}")
    if code == 0:
        assert (scratch.root / "public" / ISSUE / "email.html").is_file()
        assert (scratch.root / "feeds" / "rss.xml").is_file()
    else:
        assert ERROR_LINE.search(err), f"exit 1 without an error line:\n{err}"
        assert err.rstrip().endswith("nothing was written"), err
        assert not outputs_exist(scratch.root), "a failed build wrote files"
    return code


# --------------------------------------------------------------------------- properties


@PROPERTY
@given(front=front_matter(), body=st.text(alphabet=ANY_CHAR | CONTROL, max_size=40))
def test_arbitrary_front_matter_never_crashes(
    scratch: Scratch, capsys: pytest.CaptureFixture[str], unraisable: list[str],
    front: str, body: str,
) -> None:
    write_piece(scratch, f"---\n{front}---\n{body}")
    build_and_check(scratch, capsys, unraisable)


YAML_SYNTAX = st.sampled_from(list(":-[]{}'\"#&*!|>?%@`,\n\t "))


@PROPERTY
@given(between=st.text(alphabet=ANY_CHAR | CONTROL | YAML_SYNTAX, max_size=80),
       after_valid_keys=st.booleans(),
       body=st.text(alphabet=ANY_CHAR | CONTROL, max_size=40))
def test_arbitrary_text_between_the_dashes_never_crashes(
    scratch: Scratch, capsys: pytest.CaptureFixture[str], unraisable: list[str],
    between: str, after_valid_keys: bool, body: str,
) -> None:
    keys = yaml.safe_dump(VALID_META) if after_valid_keys else ""
    write_piece(scratch, f"---\n{keys}{between}\n---\n{body}")
    build_and_check(scratch, capsys, unraisable)


@PROPERTY
@given(data=st.binary(max_size=200), valid_start=st.booleans())
def test_arbitrary_bytes_never_crash(
    scratch: Scratch, capsys: pytest.CaptureFixture[str], unraisable: list[str],
    data: bytes, valid_start: bool,
) -> None:
    head = yaml.safe_dump(VALID_META).encode() if valid_start else b""
    write_piece(scratch, b"---\n" + head + b"---\n" + data if valid_start else data)
    build_and_check(scratch, capsys, unraisable)


@PROPERTY
@given(body=MARKDOWN)
def test_arbitrary_markdown_never_crashes(
    scratch: Scratch, capsys: pytest.CaptureFixture[str], unraisable: list[str], body: str
) -> None:
    write_piece(scratch, "---\n" + yaml.safe_dump(VALID_META) + "---\n" + body)
    code = build_and_check(scratch, capsys, unraisable)
    if code == 0:
        text = (scratch.root / "public" / ISSUE / "email.txt").read_text("utf-8")
        assert "A piece" in text


FORBIDDEN_IN_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def squash(text: str) -> str:
    return " ".join(text.split())


@PROPERTY
@given(issue_title=TEXT, title=TEXT, summary=TEXT, tag=TEXT, author=TEXT)
def test_feeds_are_well_formed_when_the_build_succeeds(
    scratch: Scratch, capsys: pytest.CaptureFixture[str], unraisable: list[str],
    issue_title: str, title: str, summary: str, tag: str, author: str,
) -> None:
    meta = {**VALID_META, "title": title, "summary": summary, "tags": [tag], "authors": [author]}
    write_piece(scratch, "---\n" + yaml.safe_dump(meta) + "---\nBody text.\n")
    issue_md = scratch.root / "issues" / ISSUE / "issue.md"
    issue_md.write_text("---\n" + yaml.safe_dump({"title": issue_title}) + "---\n",
                        encoding="utf-8")
    if build_and_check(scratch, capsys, unraisable) != 0:
        return
    feeds = scratch.root / "feeds"
    for name in ("rss.xml", "atom.xml"):
        data = (feeds / name).read_bytes()
        assert not FORBIDDEN_IN_XML.search(data.decode("utf-8")), name
        ET.fromstring(data)  # well-formed, or this raises
        parsed = feedparser.parse(data)
        assert not parsed.bozo, (name, parsed.get("bozo_exception"))
        assert len(parsed.entries) == 1, name
    feed = json.loads((feeds / "feed.json").read_text("utf-8"))
    assert len(feed["items"]) == 1
    # The entry's title is the issue's, without the characters XML cannot carry.
    # Titles are one line of printable text: other characters become spaces.
    shown = " ".join("".join(c if c.isprintable() else " " for c in issue_title).split())
    expected = "December Solstice 2026: " + shown
    if not shown or shown == "December Solstice 2026":
        expected = "December Solstice 2026"
    rss = ET.fromstring((feeds / "rss.xml").read_bytes())
    assert squash(rss.findtext("channel/item/title") or "") == squash(xml_safe(expected))
    assert squash(feed["items"][0]["title"]) == squash(expected)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(source=MARKDOWN, flavour=st.sampled_from(["gfm", "markdown"]))
def test_urls_made_absolute_without_nh3_are_what_nh3_writes(
    tmp_path_factory: pytest.TempPathFactory, source: str, flavour: str,
) -> None:
    """A body's URLs made absolute by :func:`pipeline.html_scan.rewrite` (reading nh3's
    own output) are byte for byte what nh3 makes with the same attribute filter, and the
    problems found are the same, whatever the Markdown."""
    folder = tmp_path_factory.mktemp("issue")
    options = MarkdownOptions(flavour)
    page = (("piece", markup.anchors(source, options)), ("other", ("top", "a-heading")))
    ctx = Context(folder, "https://news.example.org/2026-12-solstice/", "piece",
                  folder / "piece.md", 9, options, page)
    fast, found = Problems(), Problems()
    made = markup.render(source, ctx, fast)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(markup, "rewrite", lambda html, change: None)  # nh3 does it all
        assert markup.render(source, ctx, found) == made
    assert fast.items == found.items


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(source=MARKDOWN)
def test_a_body_the_email_does_not_change_is_copied_as_it_is(
    tmp_path_factory: pytest.TempPathFactory, source: str,
) -> None:
    """:func:`pipeline.email_html.email_body` returns a body with no code block, aligned
    cell or image to size as it is: what its rewriter, copying every token, writes."""
    folder = tmp_path_factory.mktemp("issue")
    url = "https://news.example.org/2026-12-solstice/"
    ctx = Context(folder, url, "piece", folder / "piece.md", 9, MarkdownOptions("gfm"), None)
    html = markup.render(source, ctx, Problems()).html_absolute
    assert email_body(html, url, NO_IMAGES) == _Email({}, url, LAYOUT).result(html)
