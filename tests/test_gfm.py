"""GitHub Flavored Markdown as staff write it, the Python-Markdown flavour, and links that land.

The pieces here are written the way people write in GitHub's editor and in chat tools: a list
right after a line of text, 2-space nesting, ``1)`` lists, bare URLs, task lists, headings with
emoji and ``&``, and in-page links to headings of their own piece and of other pieces of the
same issue. Each test states its rule in its docstring.
"""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path

import feedparser
import pytest

from pipeline.engines import MarkdownOptions
from pipeline.errors import Problems
from pipeline.links import Context
from pipeline.markup import Body, anchors, render
from pipeline.slugs import Slugger, github_slug
from tests.conftest import FLAVOURS, MINIMAL_CONFIG, RunCli, Scratch, piece_text

ISSUE = "2026-06-solstice"
FOLDER = f"issues/{ISSUE}"
URL = f"https://news.example.org/{ISSUE}/"


def md(source: str, tmp_path: Path, flavour: str = "gfm", slug: str = "piece",
       page: tuple[tuple[str, tuple[str, ...]], ...] | None = None) -> tuple[Body, Problems]:
    folder = tmp_path / "issue"
    folder.mkdir(exist_ok=True)
    problems = Problems()
    options = MarkdownOptions(flavour)
    here = ((slug, anchors(source, options)),)
    ctx = Context(folder, URL, slug, folder / f"{slug}.md", 9, options,
                  None if page is None else here + page)
    return render(source, ctx, problems), problems


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.found: list[tuple[str, dict[str, str]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.found.append((tag, {k: v or "" for k, v in attrs}))


def tags(html: str, name: str) -> list[dict[str, str]]:
    parser = _Tags()
    parser.feed(html)
    return [attrs for tag, attrs in parser.found if tag == name]


def ids(html: str) -> list[str]:
    parser = _Tags()
    parser.feed(html)
    return [attrs["id"] for _, attrs in parser.found if "id" in attrs]


# --------------------------------------------------------------------------- GitHub's syntax

STAFF_NOTES = """\
Our findings after three months:
- most requests came from two teams
  - Support, mostly about deletion
  - Sales, mostly about exports
- a few came from outside
   - three from journalists
- and one more
    - nested by four

What we will do next:
1) publish the numbers every quarter
2) answer within 14 days

The full log is at https://example.org/log/2026 and in the wiki.
"""


def test_a_list_right_after_a_line_of_text_is_a_list(tmp_path: Path) -> None:
    """GFM: "Our findings:" then "- item" is a paragraph and a list, as GitHub shows it."""
    body, problems = md(STAFF_NOTES, tmp_path)
    assert "<p>Our findings after three months:</p>\n<ul>" in body.html
    assert "- most requests" not in body.html
    assert "<li>most requests came from two teams" in body.html
    assert not problems.items


def test_two_three_and_four_space_nesting(tmp_path: Path) -> None:
    """Lists nested by 2, 3 or 4 spaces nest, as they do on GitHub; none is flattened."""
    body, _ = md(STAFF_NOTES, tmp_path)
    nested = re.findall(r"<li>([^<\n]+)\n<ul>", body.html)
    assert nested == ["most requests came from two teams", "a few came from outside",
                      "and one more"]
    assert "<li>nested by four</li>" in body.html


def test_parenthesis_lists_and_bare_urls(tmp_path: Path) -> None:
    """``1)`` starts an ordered list; a bare URL becomes a link, in the HTML and the text."""
    body, _ = md(STAFF_NOTES, tmp_path)
    assert "<ol>\n<li>publish the numbers every quarter</li>" in body.html
    assert '<a href="https://example.org/log/2026">https://example.org/log/2026</a>' in body.html
    assert re.search(r"^ *1\. publish the numbers every quarter$", body.text, re.M)
    assert "https://example.org/log/2026" in body.text


def test_python_markdown_flavour_keeps_its_own_rules(tmp_path: Path) -> None:
    """The second flavour is Python-Markdown as MkDocs users know it: a list needs a blank
    line before it there, which is why GFM is the default."""
    body, _ = md(STAFF_NOTES, tmp_path, flavour="python-markdown")
    assert "<p>Our findings after three months:\n- most requests" in body.html


def test_tables_strikethrough_task_lists_and_footnotes(tmp_path: Path) -> None:
    """GFM's extensions: aligned tables, ~~strikethrough~~, task lists, footnotes."""
    source = ("| Team | Pieces |\n|:-----|-------:|\n| Policy | 12 |\n\n"
              "~~Draft plan~~ Final plan.[^1]\n\n- [x] read the logs\n- [ ] publish\n\n"
              "[^1]: Agreed in June.\n")
    body, problems = md(source, tmp_path)
    assert '<td align="right">12</td>' in body.html
    assert "<del>Draft plan</del>" in body.html
    assert "<li>\u2611 read the logs</li>" in body.html and "<li>\u2610 publish</li>" in body.html
    assert "<input" not in body.html
    assert '<div class="footnote">' in body.html and 'id="piece--fn-1"' in body.html
    assert "[^1] Agreed in June." in body.text
    assert not problems.items


def test_raw_html_is_sanitised_the_same_in_both_flavours(tmp_path: Path) -> None:
    """Raw HTML passes the engine and is sanitised by the shared pass: a figure survives,
    a script and an event handler do not, whichever engine ran."""
    source = ('<figure>\n<img src="https://example.org/a.png" alt="A chart" onerror="x()">\n'
              "<figcaption>Energy</figcaption>\n</figure>\n\n<script>alert(1)</script>\n")
    for flavour in FLAVOURS:
        body, _ = md(source, tmp_path, flavour)
        assert "<figure>" in body.html and "<figcaption>Energy</figcaption>" in body.html
        assert "onerror" not in body.html and "script" not in body.html


# --------------------------------------------------------------------------- heading ids


@pytest.mark.parametrize(("text", "slug"), [
    ("What we measured", "what-we-measured"),
    ("Café & Co 🎉", "café--co-"),
    ("Q&A: who pays?", "qa-who-pays"),
    ("  Step 1 — the plan  ", "--step-1--the-plan--"),
    ("snake_case_names", "snake_case_names"),
    ("🎉", ""),
])
def test_heading_ids_follow_github(text: str, slug: str) -> None:
    """GitHub's slug: lower case, punctuation and emoji dropped, each space a hyphen."""
    assert github_slug(text) == slug


def test_repeated_headings_get_numbers(tmp_path: Path) -> None:
    """A repeated heading gets -1, -2, as on GitHub; an explicit id is never reused."""
    slugger = Slugger({"notes-1"})
    assert [slugger.slug("Notes") for _ in range(3)] == ["notes", "notes-2", "notes-3"]
    body, _ = md("## Method\n\nA.\n\n## Method\n\nB.\n\n## Café & Co 🎉\n", tmp_path)
    assert ids(body.html) == ["piece--method", "piece--method-1", "piece--café--co-"]


def test_in_page_links_written_against_github_land(tmp_path: Path) -> None:
    """``#café--co-`` (as GitHub's preview links it, raw or percent-encoded) lands on the
    heading, in the web edition (relative) and the email and feeds (absolute)."""
    source = ("See [the caf\u00e9](#café--co-) and [again](#caf%C3%A9--co-) and "
              "[the second](#method-1).\n\n## Method\n\n## Method\n\n## Café & Co 🎉\n")
    body, problems = md(source, tmp_path)
    hrefs = [a["href"] for a in tags(body.html, "a")]
    assert hrefs == ["#piece--café--co-", "#piece--café--co-", "#piece--method-1"]
    assert all(href[1:] in ids(body.html) for href in hrefs)
    absolute = [a["href"] for a in tags(body.html_absolute, "a")]
    assert absolute[2] == URL + "#piece--method-1"
    assert not problems.items


# --------------------------------------------------------------------------- links that land


def test_an_anchor_of_another_piece_lands_there(tmp_path: Path) -> None:
    """``#heading`` not in the piece lands on that heading of another piece of the issue;
    ``other.md#heading`` and ``#other`` land too; nothing is reported."""
    (tmp_path / "issue").mkdir()
    (tmp_path / "issue" / "costs.md").write_text("x", encoding="utf-8")
    page = (("costs", ("what-it-costs", "method")),)
    source = ("[cost](#what-it-costs), [its method](costs.md#method), [the piece](#costs), "
              "[the piece again](costs.md)\n")
    body, problems = md(source, tmp_path, page=page)
    assert [a["href"] for a in tags(body.html, "a")] == [
        "#costs--what-it-costs", "#costs--method", "#costs", "#costs"]
    assert not problems.items


def test_a_heading_in_several_pieces_is_ambiguous(tmp_path: Path) -> None:
    """``#method`` that two other pieces have goes to the first, with a warning."""
    page = (("a", ("method",)), ("b", ("method",)))
    body, problems = md("[how](#method)\n", tmp_path, page=page)
    assert [a["href"] for a in tags(body.html, "a")] == ["#a--method"]
    assert [(p.rule, p.line) for p in problems.items] == [("ambiguous-anchor", 9)]
    assert "a.md#method" in problems.items[0].message


def test_a_dangling_anchor_is_a_warning_at_its_line(tmp_path: Path) -> None:
    """A link to a heading nobody has is a warning at its line, with the close match."""
    page = (("costs", ("what-it-costs",)),)
    _body, problems = md("Intro.\n\nSee [this](#what-it-cost).\n", tmp_path, page=page)
    assert [(p.level, p.rule, p.line) for p in problems.items] == \
        [("warning", "dangling-anchor", 11)]
    assert "did you mean 'what-it-costs'" in problems.items[0].message


def test_empty_and_scheme_less_targets_are_located(tmp_path: Path) -> None:
    """``[text]()`` and ``[x](example.org/page)`` are errors at their lines; the second says
    which https:// URL was probably meant."""
    _body, problems = md("One [empty]() link.\n\nTwo [the site](example.org/page).\n\n"
                        "Three [a www](www.example.org).\n", tmp_path)
    found = [(p.rule, p.line) for p in problems.items]
    assert found == [("empty-target", 9), ("missing-file", 11), ("missing-file", 13)]
    assert "did you mean https://example.org/page?" in problems.items[1].message
    assert "did you mean https://www.example.org?" in problems.items[2].message


def test_a_missing_file_name_is_not_taken_for_a_host(tmp_path: Path) -> None:
    """``report.pdf`` that is not there is a missing file, with no https:// suggestion."""
    _, problems = md("[the report](report.pdf)\n", tmp_path)
    assert [p.rule for p in problems.items] == ["missing-file"]
    assert "https://" not in problems.items[0].message


def test_nested_links_never_make_an_empty_link(tmp_path: Path) -> None:
    """An ``<a>`` inside an ``<a>`` (raw HTML) leaves no link without text, and says so."""
    source = 'Intro.\n\n<a href="https://a.example/"><a href="https://b.example/">inner</a></a>\n'
    for flavour in FLAVOURS:
        body, problems = md(source, tmp_path, flavour)
        for link in re.findall(r"<a\b[^>]*>(.*?)</a>", body.html):
            assert link.strip()
        assert [(p.rule, p.line) for p in problems.items] == [("empty-link", 11)]


# --------------------------------------------------------------------------- through the build


def gfm_issue(scratch: Scratch) -> None:
    """Two pieces that link each other's headings, one draft that is linked, CRLF, emoji."""
    scratch.write(f"{FOLDER}/costs.md", piece_text(
        title="What it costs", body="## What it costs 💸\n\nA lot.\n\n## Method & data\n\n"
        "Counted by hand.\n").replace("\n", "\r\n"))
    scratch.write(f"{FOLDER}/findings.md", piece_text(
        title="Findings", body="We found:\n- see [the costs](#what-it-costs-)\n"
        "- and [the method](costs.md#method--data)\n  - nested by two\n"))


def test_cross_piece_links_land_in_every_output(scratch: Scratch, cli: RunCli) -> None:
    """In the web edition, the email and the feeds, a link to another piece's heading
    points at an id that is on the issue page."""
    gfm_issue(scratch)
    code, _, err = cli("build-issue", ISSUE, "--root", str(scratch.root))
    assert code == 0, err
    assert "warning" not in err
    page = (scratch.root / f"public/{ISSUE}/index.html").read_text("utf-8")
    on_page = set(ids(page))
    web = [a["href"] for a in tags(page, "a") if a.get("href", "").startswith("#costs--")]
    assert web == ["#costs--what-it-costs-", "#costs--method--data"]
    assert all(href[1:] in on_page for href in web)
    email = (scratch.root / f"public/{ISSUE}/email.html").read_text("utf-8")
    assert URL + "#costs--what-it-costs-" in email and URL + "#costs--method--data" in email
    feed = json.loads((scratch.root / "feeds/feed.json").read_text("utf-8"))
    assert URL + "#costs--method--data" in feed["items"][0]["content_html"]
    parsed = feedparser.parse(str(scratch.root / "feeds/atom.xml"))
    assert not parsed.bozo
    text = (scratch.root / f"public/{ISSUE}/email.txt").read_text("utf-8")
    assert URL + "#costs--what-it-costs-" in text
    assert "  * nested by two" in text


def test_a_dangling_anchor_fails_a_strict_build_and_names_its_line(
    scratch: Scratch, cli: RunCli
) -> None:
    """A dangling anchor is a warning at path:line; with --strict it stops the build."""
    gfm_issue(scratch)
    scratch.write(f"{FOLDER}/extra.md", piece_text(title="Extra",
                                                    body="Intro.\n\n[gone](#no-such-heading)\n"))
    code, _, err = cli("build-issue", ISSUE, "--root", str(scratch.root))
    assert code == 0
    assert f"{FOLDER}/extra.md:11: warning: the link '#no-such-heading' lands on no heading" \
        in err.replace(str(scratch.root) + "/", "")
    code, _, err = cli("build-issue", ISSUE, "--root", str(scratch.root), "--strict")
    assert code == 1 and "extra.md:11: error:" in err


def test_a_link_to_a_draft_is_a_located_error(scratch: Scratch, cli: RunCli) -> None:
    """A link to a .md of the issue that is not published (a draft) is an error at its
    line, not a silent broken anchor; a preview with --drafts says so too (the draft is on
    the preview's page, but would not be on the issue's)."""
    gfm_issue(scratch)
    scratch.write(f"{FOLDER}/later.md", piece_text(title="Later", status="draft"))
    scratch.write(f"{FOLDER}/extra.md", piece_text(title="Extra", body="See [later](later.md).\n"))
    code, _, err = cli("build-issue", ISSUE, "--root", str(scratch.root))
    assert code == 1
    assert re.search(r"extra\.md:9: error: 'later\.md' is not a piece of this issue", err)
    assert not (scratch.root / "public").exists()
    code, _, err = cli("build-issue", ISSUE, "--root", str(scratch.root), "--drafts")
    assert code == 1 and "extra.md:9: error: 'later.md' is not a piece of this issue" in err


def test_crlf_pieces_render_as_lf_ones(scratch: Scratch, cli: RunCli) -> None:
    """A piece saved with CRLF renders exactly as the same piece with LF."""
    gfm_issue(scratch)
    assert cli("build-issue", ISSUE, "--root", str(scratch.root)) [0] == 0
    crlf = (scratch.root / f"public/{ISSUE}/index.html").read_bytes()
    lf = (scratch.root / f"{FOLDER}/costs.md").read_bytes().replace(b"\r\n", b"\n")
    (scratch.root / f"{FOLDER}/costs.md").write_bytes(lf)
    assert cli("build-issue", ISSUE, "--root", str(scratch.root), "--no-cache")[0] == 0
    assert (scratch.root / f"public/{ISSUE}/index.html").read_bytes() == crlf


def test_an_issue_without_issue_md_names_its_season_once(scratch: Scratch, cli: RunCli) -> None:
    """No "June Solstice 2026: June Solstice 2026" on the archive or the issue page."""
    gfm_issue(scratch)
    assert cli("build-issue", ISSUE, "--root", str(scratch.root))[0] == 0
    for page in ("public/index.html", f"public/{ISSUE}/index.html"):
        html = (scratch.root / page).read_text("utf-8")
        assert "June Solstice 2026: June Solstice 2026" not in html
        body = html.split("<main", 1)[1]
        assert body.count("June Solstice 2026") == 1, page


# --------------------------------------------------------------------------- configuration


def configure(scratch: Scratch, markdown: str) -> None:
    scratch.write("newsletter.toml", MINIMAL_CONFIG + "\n[markdown]\n" + markdown)


def test_python_markdown_extensions_are_configured_like_mkdocs(
    scratch: Scratch, cli: RunCli
) -> None:
    """flavour = "python-markdown" with an extensions list, settings as one-key tables:
    admonitions, definition lists and abbreviations work as MkDocs users expect."""
    configure(scratch, 'flavour = "python-markdown"\n'
              'extensions = ["admonition", "def_list", "abbr", { toc = { permalink = false } }]\n')
    scratch.write(f"{FOLDER}/notes.md", piece_text(
        title="Notes", body='!!! note "Remember"\n    Keep the logs.\n\nTerm\n: Its meaning.\n\n'
        "The GDPR applies.\n\n*[GDPR]: General Data Protection Regulation\n"))
    code, _, err = cli("build-issue", ISSUE, "--root", str(scratch.root))
    assert code == 0, err
    page = (scratch.root / f"public/{ISSUE}/index.html").read_text("utf-8")
    assert '<div class="admonition note">' in page and "<dt>Term</dt>" in page
    assert "<abbr title=\"General Data Protection Regulation\">GDPR</abbr>" in page


@pytest.mark.parametrize(("markdown", "message"), [
    ('flavour = "python-markdown"\nextensions = ["abbr", "no_such_extension"]\n',
     "newsletter.toml:13: error: 'markdown.extensions' Python-Markdown has no extension "
     "'no_such_extension'"),
    ('flavour = "python-markdown"\nextensions = [{ toc = { no_such_setting = 1 } }]\n',
     "newsletter.toml:13: error: 'markdown.extensions' the extension 'toc' refuses its "
     "settings"),
    ('extensions = ["abbr"]\n',
     "newsletter.toml:12: error: 'markdown.extensions' applies to the python-markdown "
     "flavour only"),
    ('flavour = "github"\n',
     "newsletter.toml:12: error: 'markdown.flavour' must be one of gfm, python-markdown"),
])
def test_markdown_configuration_mistakes_are_located(
    scratch: Scratch, cli: RunCli, markdown: str, message: str
) -> None:
    """A wrong flavour or extension is an error at its line of newsletter.toml."""
    scratch.write(f"{FOLDER}/notes.md", piece_text(title="Notes"))
    configure(scratch, markdown)
    code, _, err = cli("build-issue", ISSUE, "--root", str(scratch.root))
    assert code == 1
    assert message in err.replace(str(scratch.root) + "/", "")
    assert "Traceback" not in err


# --------------------------------------------------------------------------- found in review


def test_a_list_inside_a_note_is_not_more_notes(tmp_path: Path) -> None:
    """The plain text numbers the notes, not the items of a list inside one."""
    body, _ = md("Claim.[^a] Other.[^b]\n\n[^a]: Two options:\n    - keep it\n    - delete it\n"
                 "[^b]: Second.\n", tmp_path)
    assert "[^1] Two options:" in body.text and "[^2] Second." in body.text
    assert "[^3]" not in body.text and "     * keep it" in body.text


def test_strikethrough_stays_visible_in_the_plain_text(tmp_path: Path) -> None:
    """``~~six years~~ ninety days`` must not read "six years ninety days" in text."""
    body, _ = md("We keep attachments for ~~six years~~ ninety days.\n", tmp_path)
    assert "for ~~six years~~ ninety days." in body.text


def test_a_link_to_the_top_of_the_page_is_kept(tmp_path: Path) -> None:
    """``[top](#)`` keeps its link (GitHub's too), to the issue page in the email."""
    body, problems = md("Back to [top](#).\n", tmp_path)
    assert '<a href="#">top</a>' in body.html
    assert f'<a href="{URL}">top</a>' in body.html_absolute
    assert not problems.items


def test_an_invisible_control_character_is_a_warning_at_its_line(
    scratch: Scratch, cli: RunCli
) -> None:
    """Word's quotes read as Latin-1 (U+0093) show as nothing: a warning says where."""
    scratch.write(f"{FOLDER}/quotes.md", piece_text(
        title="Quotes", body="Fine.\n\nShe said \u0093ask them\u0094 and left.\n"))
    code, _, err = cli("build-issue", ISSUE, "--root", str(scratch.root))
    assert code == 0, err
    assert re.search(r"quotes\.md:11: warning: an invisible control character U\+0093 \(it was "
                     r"probably '\u201c'", err), err


def test_a_repeated_note_reference_is_no_raw_html(scratch: Scratch, cli: RunCli) -> None:
    """Citing one note twice (plain GFM) gives check nothing to say about raw HTML."""
    scratch.write(f"{FOLDER}/notes.md", piece_text(
        title="Notes", body="First[^a] and again[^a].\n\n[^a]: One note.\n"))
    code, out, _ = cli("check", ISSUE, "--strict", "--root", str(scratch.root))
    assert code == 0, out
    assert "raw-html" not in out


def test_check_and_build_agree_on_a_link_to_a_draft(scratch: Scratch, cli: RunCli) -> None:
    """check (which reads drafts too) reports what build-issue refuses: a ready piece that
    links a draft, by file or by one of its headings; a draft may link a draft."""
    scratch.write(f"{FOLDER}/faq.md", piece_text(title="FAQ", status="draft",
                                                 body="## Retention\n\nText.\n"))
    scratch.write(f"{FOLDER}/plan.md", piece_text(title="Plan", status="draft",
                                                  body="See [the FAQ](faq.md).\n"))
    scratch.write(f"{FOLDER}/links.md", piece_text(
        title="Links", body="See [the FAQ](faq.md).\n\nAnd [its part](#retention).\n"))
    code, out, _ = cli("check", ISSUE, "--root", str(scratch.root))
    assert code == 1
    assert re.search(r"links\.md:9:\d+: error: 'faq\.md' is not a piece of this issue", out), out
    assert re.search(r"links\.md:11:\d+: error: the link '#retention' lands on faq\.md, a "
                     r"draft", out), out
    assert "plan.md" not in out
    code, _, err = cli("build-issue", ISSUE, "--root", str(scratch.root))
    assert code == 1 and "links.md:9: error: 'faq.md' is not a piece of this issue" in err


def test_links_to_other_issues_land_or_say_where_not(scratch: Scratch, cli: RunCli) -> None:
    """A link to a piece of another issue: fine when that issue is published and the piece
    ready (and its heading there); an error when the issue is not out yet or the piece is a
    draft; a warning for a heading it does not have. build-issue and check agree."""
    scratch.write("issues/2026-03-equinox/older.md", piece_text(
        title="Older", body="## What we kept\n\nText.\n"))
    scratch.write("issues/2026-03-equinox/unfinished.md", piece_text(title="Unfinished",
                                                                     status="draft"))
    scratch.write("issues/2027-06-solstice/later.md", piece_text(title="Later"))
    scratch.write(f"{FOLDER}/links.md", piece_text(title="Links", body=(
        "Good: [kept](../2026-03-equinox/older.md#what-we-kept).\n\n"
        "Future: [later](../2027-06-solstice/later.md).\n\n"
        "Draft: [unfinished](../2026-03-equinox/unfinished.md).\n\n"
        "Heading: [gone](../2026-03-equinox/older.md#what-we-lost).\n")))
    code, _, err = cli("build-issue", ISSUE, "--root", str(scratch.root))
    assert code == 1
    shown = err.replace(str(scratch.root) + "/", "")
    assert f"{FOLDER}/links.md:11: error: '../2027-06-solstice/later.md' links a piece of " \
           "2027-06-solstice, which is not published yet" in shown, shown
    assert f"{FOLDER}/links.md:13: error: '../2026-03-equinox/unfinished.md' is not a ready " \
           "piece of 2026-03-equinox" in shown, shown
    assert f"{FOLDER}/links.md:15: warning: the link '../2026-03-equinox/older.md#what-we-lost' " \
           "lands on no heading of older.md in 2026-03-equinox — did you mean 'what-we-kept'?" \
        in shown, shown
    assert "links.md:9:" not in shown
    code, out, _ = cli("check", ISSUE, "--root", str(scratch.root))
    assert code == 1
    for line in (11, 13, 15):
        assert f"links.md:{line}:" in out, out
