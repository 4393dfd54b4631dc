"""newsletter report: the numbers in the terminal tables, the HTML page and its SVG charts."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from pipeline.charts import PALETTE
from pipeline.plaintext import Node, parse

from .conftest import RunCli, Scratch

SVG = "{http://www.w3.org/2000/svg}"

CONTRIBUTORS = """\
[ada]
name = "Ada Example"
team = "Policy"

[lin]
name = "Lin Example"
team = "Research Ops"

[grace]
name = "Grace Example"
team = "Design"

[omar]
name = "Omar Example"
team = "Legal"
"""

ISSUES = ("2025-03-equinox", "2025-06-solstice", "2025-09-equinox", "2025-12-solstice",
          "2026-03-equinox")


def add(scratch: Scratch, issue: str, name: str, authors: str, reviewed_by: str | None = None,
        team: str | None = None, status: str = "ready") -> None:
    """A piece whose team comes from contributors.toml unless ``team`` is given."""
    fields = {"title": name.replace("-", " ").capitalize(), "authors": authors, "team": team,
              "section": "Research", "summary": "A summary.", "status": status,
              "reviewed_by": reviewed_by}
    front = "".join(f"{k}: {v}\n" for k, v in fields.items() if v is not None)
    scratch.write(f"issues/{issue}/{name}.md", f"---\n{front}---\nSome text.\n")


@pytest.fixture
def archive(scratch: Scratch) -> Scratch:
    """Five issues by four known people (one never writes) and one newcomer.

    2025-03  Grace writes (Design), Ada reviews
    2025-06  Ada writes (Policy), Lin reviews
    2025-09  Ada writes and reviews herself; Lin writes, Grace reviews
    2025-12  Lin writes unreviewed; Newcomer (not in contributors.toml, team Support) too
    2026-03  Ada writes unreviewed; Grace's piece is a draft
    """
    scratch.write("contributors.toml", CONTRIBUTORS)
    add(scratch, ISSUES[0], "patterns", "[Grace Example]", "[Ada Example]")
    add(scratch, ISSUES[1], "policy-one", "[ada]", "[Lin Example]")
    add(scratch, ISSUES[2], "policy-two", "[Ada Example]", "[Ada Example]")
    add(scratch, ISSUES[2], "ops-one", "[Lin Example]", "[Grace Example]")
    add(scratch, ISSUES[3], "ops-two", "[Lin Example]")
    add(scratch, ISSUES[3], "support", "[Newcomer]", team="Support")
    add(scratch, ISSUES[4], "policy-three", "[Ada Example]")
    add(scratch, ISSUES[4], "design-draft", "[Grace Example]", "[Ada Example]", status="draft")
    return scratch


def rows(out: str, heading: str) -> dict[str, list[str]]:
    """The rows of the terminal table under ``heading``, by their first cell."""
    block = out.split(heading + "\n", 1)[1].split("\n\n", 1)[0].splitlines()
    assert set(block[1]) <= {"-", " "}  # the rule under the header
    found = {}
    for line in block[2:]:
        cells = re.split(r"\s{2,}", line.strip())
        found[cells[0]] = cells[1:]
    return found


def summary_rows(out: str) -> dict[str, list[str]]:
    lines = out.split("\n\n", 1)[1].split("\n\n", 1)[0].splitlines()
    assert lines[0].split() == ["issue", "pieces", "contributors", "teams", "first-time",
                                "reviewed"]
    return {line.split()[0]: re.split(r"\s{2,}", line.strip())[1:] for line in lines[2:]
            if not line.startswith("*")}


# --------------------------------------------------------------------------- terminal


def test_report_on_the_sample_counts_ready_pieces_per_team(
    sample_copy: Path, cli: RunCli
) -> None:
    code, out, err = cli("report", "--root", str(sample_copy))
    assert code == 0, err
    assert out.startswith("Ethics & Society: who carries the work, 2026-09-equinox to "
                          "2026-12-solstice (ready pieces only)")
    summary = summary_rows(out)
    # September: 6 pieces; 10 people credited (authors, reviewers, editors) from 8 teams
    assert summary["2026-09-equinox"] == ["6", "10", "8", "10", "6/6 (100%)"]
    # December: the draft (Legal) is not counted; nobody is new
    assert summary["2026-12-solstice"] == ["6", "9", "7", "0", "6/6 (100%)"]
    pieces = rows(out, "Pieces per team (by the piece's team)")
    assert pieces["Machine Learning"] == ["1", "2", "3"]
    assert pieces["Legal"] == ["1", "0", "1"]
    # the repair evening names its team (Design Research), not its first author's
    assert pieces["Design Research"] == ["1", "1", "2"]
    assert pieces["Trust & Safety"] == ["1", "0", "1"]
    assert sum(int(v[-1]) for v in pieces.values()) == 12
    people = rows(out, "Contributors per team (authors, reviewers, editors)")
    assert people["Policy"] == ["2", "2", "4"]
    assert people["Legal"] == ["1", "0", "1"]
    assert "2026-12-solstice: none" in out
    assert "Teams that have not written for the last 2 issues (the whole archive): none" in out
    assert re.search(r"note: wrote \S*reports/index\.html", err)


def test_first_time_contributors_silent_teams_and_review_coverage(
    archive: Scratch, cli: RunCli
) -> None:
    code, out, err = cli("report", "--root", str(archive.root))
    assert code == 0, err
    summary = summary_rows(out)
    assert [summary[i][3] for i in ISSUES] == ["2", "1", "0", "1", "0"]  # first-time
    assert [summary[i][4] for i in ISSUES] == ["1/1 (100%)", "1/1 (100%)", "1/2 (50%)",
                                               "0/2 (0%)", "0/1 (0%)"]
    assert [summary[i][0] for i in ISSUES] == ["1", "1", "2", "2", "1"]  # drafts left out
    assert "  2025-03-equinox: Grace Example, Ada Example" in out
    assert "  2025-06-solstice: Lin Example" in out
    assert "  2025-12-solstice: Newcomer" in out
    pieces = rows(out, "Pieces per team (by the piece's team)")
    assert pieces["Design"] == ["1", "0", "0", "0", "0", "1"]
    assert pieces["Policy"] == ["0", "1", "1", "0", "1", "3"]
    assert pieces["Support"] == ["0", "0", "0", "1", "0", "1"]
    # Legal never wrote: it is listed (from contributors.toml) with zeros
    assert pieces["Legal"] == ["0", "0", "0", "0", "0", "0"]
    people = rows(out, "Contributors per team (authors, reviewers, editors)")
    assert people["Design"] == ["1", "0", "1", "0", "0", "2"]  # Grace reviewed in 2025-09
    # Design only reviewed in the last four issues; Legal never wrote
    assert "Teams that have not written for the last 4 issues: Design, Legal" in out


def test_since_limits_the_issues_shown_but_not_who_is_new(
    archive: Scratch, cli: RunCli
) -> None:
    code, out, err = cli("report", "--since", "2026", "--root", str(archive.root))
    assert code == 0, err
    summary = summary_rows(out)
    assert list(summary) == ["2026-03-equinox"]
    assert summary["2026-03-equinox"] == ["1", "1", "1", "0", "0/1 (0%)"]
    assert "2026-03-equinox: none" in out  # Ada has written before 2026
    assert "Teams that have not written for the last 4 issues: Design, Legal" in out


@pytest.mark.parametrize(("since", "message"), [
    ("abc", "'abc' is not a year"),
    ("1800", "1800 is not a year of the calendar: use a year from 1900 to 2200"),
    ("2.5", "'2.5' is not a year"),
])
def test_a_bad_since_is_a_usage_error(
    sample_copy: Path, cli: RunCli, since: str, message: str
) -> None:
    code, out, err = cli("report", "--since", since, "--root", str(sample_copy))
    assert code == 2
    assert message in err
    assert out == ""
    assert "Traceback" not in err
    assert not (sample_copy / "public").exists()


def test_a_since_after_the_archive_says_what_the_archive_holds(
    sample_copy: Path, cli: RunCli
) -> None:
    code, out, err = cli("report", "--since", "2030", "--root", str(sample_copy))
    assert code == 2
    assert ("--since 2030: no issue from 2030 on; the archive runs from 2026-09-equinox to "
            "2026-12-solstice") in err
    assert out == ""


def test_no_issues_yet_is_a_clear_error(scratch: Scratch, cli: RunCli) -> None:
    """No issue yet is a problem of the run (1), not bad usage (2)."""
    code, _, err = cli("report", "--root", str(scratch.root))
    assert code == 1
    assert "no issue folders in" in err and "nothing to report" in err


def test_a_corrupt_contributors_file_stops_the_report(
    sample_copy: Path, cli: RunCli
) -> None:
    (sample_copy / "contributors.toml").write_text('[ada]\nname = "Ada"\nteem = "X"\n',
                                                   encoding="utf-8")
    code, out, err = cli("report", "--root", str(sample_copy))
    assert code == 1
    assert re.search(r"contributors\.toml:3: error: unknown key 'teem'", err)
    assert out == ""
    assert not (sample_copy / "public").exists()
    assert "Traceback" not in err


def test_a_piece_with_errors_is_named_and_not_counted(
    archive: Scratch, cli: RunCli
) -> None:
    archive.write(f"issues/{ISSUES[4]}/broken.md", "---\ntitle: [unclosed\n---\nText\n")
    code, out, err = cli("report", "--root", str(archive.root))
    assert code == 0
    assert re.search(r"warning: \S*broken\.md: has errors, so it is not counted", err)
    assert summary_rows(out)[ISSUES[4]][0] == "1"
    html = (archive.root / "reports" / "index.html").read_text(encoding="utf-8")
    assert "broken.md" in html


# --------------------------------------------------------------------------- the HTML page


def by_id(tree: Node, value: str) -> Node:
    found = [n for n in _all(tree) if n.attrs.get("id") == value]
    assert len(found) == 1, value
    return found[0]


def _all(node: Node) -> list[Node]:
    out = [node]
    for child in node.children:
        if isinstance(child, Node):
            out.extend(_all(child))
    return out


def table_rows(section: Node) -> dict[str, list[str]]:
    table = section.iter("table")[0]
    found = {}
    for tr in table.iter("tbody")[0].iter("tr"):
        cells = [c for c in tr.children if isinstance(c, Node)]
        found[cells[0].text().strip()] = [c.text().strip() for c in cells[1:]]
    return found


def svg_of(section: Node, html: str) -> ET.Element:
    """The section's chart, parsed as XML (so it must be well-formed SVG)."""
    label = section.iter("svg")[0].attrs["aria-label"]
    for match in re.finditer(r"<svg\b.*?</svg>", html, re.S):
        element = ET.fromstring(match[0])
        if element.get("aria-label") == label:
            return element
    raise AssertionError(label)


def luminance(colour: str) -> float:
    def channel(value: int) -> float:
        c = value / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (int(colour[i:i + 2], 16) for i in (1, 3, 5))
    return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)


def contrast(a: str, b: str) -> float:
    high, low = sorted((luminance(a), luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


@pytest.fixture
def page(archive: Scratch, cli: RunCli) -> tuple[str, Node]:
    code, _, err = cli("report", "--root", str(archive.root))
    assert code == 0, err
    html = (archive.root / "reports" / "index.html").read_text(encoding="utf-8")
    assert (archive.root / "reports" / "style.css").is_file()
    return html, parse(html)


def test_the_page_has_an_accessible_svg_and_a_table_per_chart(page: tuple[str, Node]) -> None:
    html, tree = page
    assert "<script" not in html
    assert tree.iter("html")[0].attrs["lang"] == "en"
    assert tree.iter("h1")[0].text() == "Who carries the work"
    for chart in ("pieces", "contributors", "first-time", "review"):
        section = by_id(tree, chart)
        svgs = section.iter("svg")
        assert len(svgs) == 1
        svg = svgs[0]
        assert svg.attrs["role"] == "img"
        assert svg.attrs["aria-label"]
        first = next(c for c in svg.children if isinstance(c, Node))
        assert first.tag == "title" and first.text() == svg.attrs["aria-label"]
        assert svg.iter("desc")[0].text()
        assert len(section.iter("table")) == 1
        assert section.iter("caption")[0].text()
        element = svg_of(section, html)
        assert element.tag == f"{SVG}svg"
    assert len(tree.iter("svg")) == 4


def test_the_stacked_chart_and_its_table_carry_the_same_numbers(
    page: tuple[str, Node]
) -> None:
    html, tree = page
    section = by_id(tree, "pieces")
    table = table_rows(section)
    assert table["Policy"] == ["0", "1", "1", "0", "1", "3"]
    assert table["Support"] == ["0", "0", "0", "1", "0", "1"]
    svg = svg_of(section, html)
    drawn: dict[tuple[str, str], int] = {}
    for row in svg.iter(f"{SVG}g"):
        if row.get("class") != "row":
            continue
        issue = row.get("data-issue", "")
        for segment in row.iter(f"{SVG}g"):
            if segment.get("class") != "segment":
                continue
            value = int(segment.get("data-value", ""))
            team = segment.get("data-team", "")
            drawn[(issue, team)] = value
            # the label a reader sees, and the tooltip, say the same number ("1 piece")
            assert segment.findtext(f"{SVG}text") == str(value)
            noun = "piece" if value == 1 else "pieces"
            assert segment.findtext(f"{SVG}title") == f"{issue}, {team}: {value} {noun}"
        total = next(t for t in row.iter(f"{SVG}text") if t.get("class") == "total")
        assert total.text == str(sum(v for (i, _), v in drawn.items() if i == issue))
    teams = list(table)
    for team, values in table.items():
        for issue, cell in zip(ISSUES, values[:-1], strict=True):
            assert drawn.get((issue, team), 0) == int(cell), (issue, team)
        assert int(values[-1]) == sum(int(cell) for cell in values[:-1])
    assert "Legal" in teams and not any(t == "Legal" for _, t in drawn)



def segment_widths(svg: ET.Element) -> dict[int, set[float]]:
    """The widths of the drawn bar segments, by the value each one shows."""
    widths: dict[int, set[float]] = {}
    for segment in svg.iter(f"{SVG}g"):
        if segment.get("class") == "segment":
            rect = segment.find(f"{SVG}rect")
            assert rect is not None
            widths.setdefault(int(segment.get("data-value", "")), set()).add(
                float(rect.get("width", "")))
    return widths


def test_bar_lengths_are_proportional_to_the_values(sample_copy: Path, cli: RunCli) -> None:
    code, _, err = cli("report", "--root", str(sample_copy))
    assert code == 0, err
    html = (sample_copy / "reports" / "index.html").read_text(encoding="utf-8")
    widths = segment_widths(svg_of(by_id(parse(html), "pieces"), html))
    assert set(widths) == {1, 2}  # Machine Learning wrote two pieces in December
    (one,), (two,) = widths[1], widths[2]
    assert two == pytest.approx(2 * one, abs=0.2)


def test_review_and_first_time_charts_match_their_tables(page: tuple[str, Node]) -> None:
    html, tree = page
    review = by_id(tree, "review")
    table = table_rows(review)
    assert [table[i] for i in ISSUES] == [["1", "1", "100%"], ["1", "1", "100%"],
                                          ["1", "2", "50%"], ["0", "2", "0%"],
                                          ["0", "1", "0%"]]
    svg = svg_of(review, html)
    shown = {g.get("data-issue"): next(t.text for t in g.iter(f"{SVG}text")
                                       if t.get("class") == "value")
             for g in svg.iter(f"{SVG}g") if g.get("class") == "row"}
    assert shown == {ISSUES[0]: "1/1 (100%)", ISSUES[1]: "1/1 (100%)",
                     ISSUES[2]: "1/2 (50%)", ISSUES[3]: "0/2 (0%)", ISSUES[4]: "0/1 (0%)"}
    first = by_id(tree, "first-time")
    assert table_rows(first)[ISSUES[0]] == ["2", "Grace Example, Ada Example"]
    assert table_rows(first)[ISSUES[3]] == ["1", "Newcomer"]
    values = {g.get("data-issue"): g.get("data-value")
              for g in svg_of(first, html).iter(f"{SVG}g") if g.get("class") == "row"}
    assert values == {ISSUES[0]: "2", ISSUES[1]: "1", ISSUES[2]: "0", ISSUES[3]: "1",
                      ISSUES[4]: "0"}


def test_silent_teams_on_the_page(page: tuple[str, Node]) -> None:
    _, tree = page
    silent = by_id(tree, "silent")
    assert [li.text() for li in silent.iter("li")] == ["Design", "Legal"]
    assert "last 4 issues (2025-06-solstice to 2026-03-equinox)" in " ".join(
        silent.text().split())


def test_chart_colours_have_enough_contrast(page: tuple[str, Node]) -> None:
    html, _ = page
    # every bar colour carries white labels (4.5:1) on a white chart background
    for colour in PALETTE:
        assert contrast(colour, "#ffffff") >= 4.5, colour
    fills = set(re.findall(r'<rect [^>]*fill="(#[0-9a-f]{6})"', html))
    assert fills - {"#ffffff"} <= set(PALETTE)
    for colour in re.findall(r'<text [^>]*fill="(#[0-9a-f]{6})"', html):
        assert contrast(colour, "#ffffff") >= 4.5 or colour == "#ffffff"


def test_team_names_are_escaped_in_the_svg(sample_copy: Path, cli: RunCli) -> None:
    code, _, err = cli("report", "--root", str(sample_copy))
    assert code == 0, err
    html = (sample_copy / "reports" / "index.html").read_text(encoding="utf-8")
    assert "Trust &amp; Safety" in html and "Trust & Safety" not in html
    section = by_id(parse(html), "contributors")
    assert table_rows(section)["Trust & Safety"] == ["1", "1", "2"]


def test_out_writes_the_page_elsewhere_and_refuses_the_content(
    sample_copy: Path, cli: RunCli, tmp_path: Path
) -> None:
    target = tmp_path / "elsewhere"
    code, _, err = cli("report", "--out", str(target), "--root", str(sample_copy))
    assert code == 0, err
    page = (target / "index.html").read_text(encoding="utf-8")
    assert "Who carries the work" in page
    assert (target / "style.css").is_file()
    assert 'href="https://ethics.example.org/"' in page  # home: the published archive
    assert not (sample_copy / "public").exists()

    code, _, err = cli("report", "--out", str(sample_copy / "issues" / "x"), "--root",
                       str(sample_copy))
    assert code == 2
    assert "cannot go inside" in err
    assert not (sample_copy / "issues" / "x").exists()


def test_report_is_reproducible(sample_copy: Path, cli: RunCli) -> None:
    assert cli("report", "-q", "--root", str(sample_copy))[0] == 0
    page = sample_copy / "reports" / "index.html"
    first = page.read_bytes()
    assert b"as of <time datetime=\"2027-01-01\">1 January 2027</time>" in first
    code, out, err = cli("report", "-q", "--root", str(sample_copy))
    assert code == 0 and out == "" and err == ""
    assert page.read_bytes() == first


def test_an_archive_without_ready_pieces_still_reports(scratch: Scratch, cli: RunCli) -> None:
    add(scratch, "2026-12-solstice", "drafty", "[Ada Example]", status="draft")
    code, out, err = cli("report", "--root", str(scratch.root))
    assert code == 0, err
    assert summary_rows(out)["2026-12-solstice"] == ["0", "0", "0", "0", "-"]
    assert out.count("no ready pieces yet") == 2
    assert "Silent teams: none can be named until an issue has a ready piece" in out
    html = (scratch.root / "reports" / "index.html").read_text(encoding="utf-8")
    tree = parse(html)
    assert len(tree.iter("svg")) == 4
    assert "No issue has a ready piece yet." in by_id(tree, "silent").text()


def test_the_report_stays_out_of_the_site_and_asks_not_to_be_indexed(
    sample_copy: Path, cli: RunCli
) -> None:
    """The report names first-time contributors and silent teams: it is for the editors, so
    it is written outside the site folder, and a copy served anyway says noindex."""
    assert cli("build", "--root", str(sample_copy), "-q")[0] == 0
    site = sorted((sample_copy / "public").rglob("*"))
    code, _, err = cli("report", "--root", str(sample_copy))
    assert code == 0, err
    assert sorted((sample_copy / "public").rglob("*")) == site
    html = (sample_copy / "reports" / "index.html").read_text(encoding="utf-8")
    assert '<meta name="robots" content="noindex, nofollow">' in html
    assert '<a href="https://ethics.example.org/">' in html  # home is the site, not ../
    archive = (sample_copy / "public" / "index.html").read_text(encoding="utf-8")
    assert "noindex" not in archive
