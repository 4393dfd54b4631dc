"""newsletter check: each rule on a minimal bad example (and not on a good one), the formats,
the exit codes, disabled rules, bad usage, and the sample newsletter."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from pipeline import check
from pipeline.check import Finding, github_command
from pipeline.check_body import useless_alt
from pipeline.check_rules import RULES

from .conftest import MINIMAL_CONFIG, REPO, RunCli, Scratch, piece_text, png

ISSUE = "2026-12-solstice"
FOLDER = f"issues/{ISSUE}"
#: piece_text() writes '---', six keys, '---': the body starts on line 9 of the file.
BODY = 9
PNG = png()
FIELDS = {"path", "line", "column", "rule", "severity", "message", "fix"}


def run_json(cli: RunCli, scratch: Scratch, *argv: str) -> tuple[int, list[dict[str, Any]]]:
    code, out, err = cli("check", ISSUE, "--format", "json", "--root", str(scratch.root), *argv)
    assert "Traceback" not in err
    findings = json.loads(out)
    assert isinstance(findings, list)
    for finding in findings:
        assert set(finding) == FIELDS
    return code, findings


def rules_of(findings: list[dict[str, Any]]) -> list[str]:
    return [f["rule"] for f in findings]


def with_images(scratch: Scratch) -> None:
    for name in ("chart.png", "energy.png"):
        scratch.write(f"{FOLDER}/images/{name}", PNG)


def configure(scratch: Scratch, extra: str) -> None:
    scratch.write("newsletter.toml", MINIMAL_CONFIG + extra)


# --------------------------------------------------------------------------- good examples


GOOD_BODY = """\
[TOC]

Opening paragraph with [the retention schedule](https://example.org/retention), a
footnote[^1] and `http://localhost:8000` as inline code.

## What we did

### The details

Text under a subheading, with an image:

![A bar chart of energy per training run: the baseline used 1,200 kWh](images/chart.png)

```python
# a comment, not a heading
print("<script>not HTML</script>", "http://localhost")
```

| Run | kWh |
|-----|----:|
| one | 150 |

Term
: Its definition, with an abbreviation: HTML.

<div markdown="1">
Markdown *inside* a block of HTML.
</div>

<details><summary>More</summary>Hidden text.</details>

~~~~
```
a fence inside a fence
```
~~~~

## What we learned {#learned}

Write to [the editors](mailto:editors@example.org).

*[HTML]: Hyper Text Markup Language

[^1]: A note with [its source](https://example.org/source).
"""


#: What staff write in GitHub's editor: a list right after a line of text, 2-space nesting,
#: ``1)`` lists, a task list, a bare URL, a link to a heading, a raw HTML figure, a note.
GFM_GOOD_BODY = """\
What we looked at this quarter:
- the retention schedule, which https://example.org/retention describes
  - and its exceptions, see [what we did](#what-we-did)
- the footnote[^1]

## What we did

1) Read every log.
2) Wrote down what we kept:
   - [x] names
   - [ ] addresses

<figure>
  <img src="images/chart.png" alt="A bar chart of energy per training run: 1,200 kWh">
  <figcaption>Energy per run.</figcaption>
</figure>

| Run | kWh |
|-----|----:|
| one | 150 |

~~Old plan~~ new plan, with `http://localhost:8000` as inline code.

[^1]: A note with [its source](https://example.org/source).
"""


@pytest.mark.parametrize(("flavour", "body"), [("python-markdown", GOOD_BODY),
                                                ("gfm", GFM_GOOD_BODY)],
                         ids=["python-markdown", "gfm"])
def test_a_good_piece_has_no_findings(scratch: Scratch, cli: RunCli, flavour: str,
                                      body: str) -> None:
    scratch.use_flavour(flavour)
    with_images(scratch)
    scratch.piece(ISSUE, "good", body=body)
    code, findings = run_json(cli, scratch)
    assert findings == []
    assert code == 0


def test_the_sample_issues_are_clean(sample_copy: Path, cli: RunCli) -> None:
    # Looked at: both sample issues, drafts included, have no findings at all.
    for issue, pieces in (("2026-09-equinox", 6), ("2026-12-solstice", 7)):
        code, out, err = cli("check", issue, "--root", str(sample_copy))
        assert code == 0, out + err
        assert out == f"{issue}: no problems found in {pieces} pieces\n"
        code, out, _ = cli("check", issue, "--strict", "--format", "json",
                           "--root", str(sample_copy))
        assert (code, json.loads(out)) == (0, [])
    # an issue folder's path works as well as its id
    code, out, _ = cli("check", str(sample_copy / "issues" / "2026-12-solstice"))
    assert (code, out) == (0, "2026-12-solstice: no problems found in 7 pieces\n")


# --------------------------------------------------------------------------- each rule

CASES = [
    # (id, body, rule, body line (1-based), column, part of the message)
    ("alt-word", "![image](images/chart.png)\n", "image-alt", 1, 1,
     "only says that there is an image"),
    ("alt-article", "![A chart.](images/chart.png)\n", "image-alt", 1, 1,
     "only says that there is an image"),
    ("alt-file-name", "Intro.\n\n![energy.png](images/energy.png)\n", "image-alt", 3, 1,
     "is a file name"),
    ("alt-stem", "![Energy](images/energy.png)\n", "image-alt", 1, 1, "is a file name"),
    ("alt-short", "See ![ab](images/chart.png)\n", "image-alt", 1, 5, "too short"),
    ("alt-missing", "Text ![](images/chart.png)\n", "image-alt", 1, 10, "has no alt text"),
    ("missing-file", "![A chart of energy use](images/nope.png)\n", "missing-file", 1, 26,
     "'images/nope.png' is not a file"),
    ("heading-jump", "## Start\n\nText.\n\n#### Detail\n\nMore.\n", "heading-jump", 5, 1,
     "the heading 'Detail' skips 1 level below the heading before it, 'Start'"),
    ("heading-jump-title", "### First\n\nText.\n\n## Second\n", "heading-jump", 1, 1,
     "'First' skips 1 level below the piece's title"),
    ("empty-link", "See [](https://example.org/x) now.\n", "empty-link", 1, 5,
     "the link to 'https://example.org/x' has no text"),
    ("link-here", "Read the report [here](https://example.org/r).\n", "link-text", 1, 17,
     "the link text 'here'"),
    ("link-click-here", "To learn more, [Click here!](https://example.org/r)\n", "link-text",
     1, 16, "'Click here!'"),
    ("link-read-more", "Text.\n\n[Read more](https://example.org/r)\n", "link-text", 3, 1,
     "'Read more'"),
    ("link-link", "A [link](https://example.org/r).\n", "link-text", 1, 3, "'link'"),
    ("localhost", "Try [the demo](http://localhost:8000/demo).\n", "local-link", 1, 16,
     "points to localhost"),
    ("loopback", "<http://127.0.0.1/x>\n", "local-link", 1, 2, "points to 127.0.0.1"),
    ("any-address", "[the app](http://0.0.0.0:5000)\n", "local-link", 1, 11,
     "points to 0.0.0.0"),
    ("dot-local", "[printer](https://printer.office.local/queue)\n", "local-link", 1, 11,
     "only works on a local network"),
    ("file-url", "[notes](file:///home/ada/notes.pdf)\n", "local-link", 1, 9,
     "a file: URL"),
    ("file-image", "![A scan of the form](file:///C:/scan.png)\n", "local-link", 1, 23,
     "the image 'file:///C:/scan.png'"),
    ("script", "Text.\n\n<script>alert(1)</script>\n", "raw-html", 3, 1,
     "<script> will be removed, with everything inside it"),
    ("onclick", '<a href="https://example.org" onclick="steal()">the site</a>\n', "raw-html",
     1, 31, "the onclick attribute of <a> will be removed"),
    ("style", '<p style="color: red">Red.</p>\n', "raw-html", 1, 4,
     "the style attribute of <p> will be removed"),
    ("iframe", 'Text.\n<iframe src="https://example.org/embed"></iframe>\n', "raw-html", 2, 1,
     "<iframe> will be removed"),
    ("javascript", "[the site](javascript:alert(1))\n", "raw-html", 1, 12,
     "the href 'javascript:alert(1)' of <a> will be removed"),
    ("bad-url", '<a href="http://[oops/">the site</a>\n', "raw-html", 1, 10,
     "the href 'http://[oops/' of <a> will be removed: it is not a valid URL"),
    ("class", 'Shout: <span class="big shout">Hey</span> you.\n', "raw-html", 1, 14,
     "the class big shout of <span> will be removed"),
    ("dangling-anchor", "Intro.\n\nSee [the method](#metod).\n\n## Method\n", "dangling-anchor",
     3, 18, "lands on no heading of this piece or the issue — did you mean 'method'?"),
    ("empty-target", "Intro.\n\nSee [the method]() here.\n", "empty-target", 3, 16,
     "a link with no target"),
]


@pytest.mark.parametrize(("body", "rule", "line", "column", "message"),
                         [case[1:] for case in CASES], ids=[case[0] for case in CASES])
def test_each_rule_fires_at_its_place(
    scratch: Scratch, cli: RunCli, body: str, rule: str, line: int, column: int, message: str
) -> None:
    with_images(scratch)
    path = scratch.piece(ISSUE, "bad", body=body)
    _, findings = run_json(cli, scratch)
    assert [(f["rule"], f["line"], f["column"]) for f in findings] == \
        [(rule, BODY + line - 1, column)], findings
    finding = findings[0]
    assert message in finding["message"]
    assert finding["path"] == str(path)
    assert finding["fix"] == RULES[rule].fix
    assert finding["severity"] == RULES[rule].severity


@pytest.mark.parametrize("alt", [
    "A bar chart of energy per training run",
    "Two people repairing a laptop at a long table",
    "Chart of energy use by month, 2026",
    "Map",
])
def test_useful_alt_text_is_accepted(alt: str) -> None:
    assert useless_alt(alt, "images/chart.png") is None


@pytest.mark.parametrize(("alt", "src"), [
    ("photo", "images/x.png"), ("The picture", "images/x.png"), ("IMG_2041.JPG", "IMG_2041.JPG"),
    ("training run energy", "images/training-run-energy.png"), ("x", "images/x.png"),
    ("Graphic.", "images/x.png"),
])
def test_useless_alt_text_is_caught(alt: str, src: str) -> None:
    assert useless_alt(alt, src) is not None


def test_several_images_are_located_in_order(scratch: Scratch, cli: RunCli) -> None:
    with_images(scratch)
    scratch.piece(ISSUE, "bad", body=(
        "![A bar chart of energy use](images/chart.png) and ![image](images/chart.png)\n\n"
        "![image](images/chart.png)\n"))
    _, findings = run_json(cli, scratch)
    assert [(f["rule"], f["line"], f["column"]) for f in findings] == [
        ("image-alt", BODY, 52), ("image-alt", BODY + 2, 1)]


def test_headings_in_code_blocks_do_not_count(scratch: Scratch, cli: RunCli) -> None:
    scratch.piece(ISSUE, "code", body=(
        "## One\n\n```\n#### not a heading\n```\n\n~~~\n###### nor this\n~~~\n\n### Two\n"))
    assert run_json(cli, scratch) == (0, [])


def test_a_setext_heading_is_located(scratch: Scratch, cli: RunCli) -> None:
    scratch.piece(ISSUE, "setext", body="Top\n===\n\nText.\n\n### Deep\n")
    _, findings = run_json(cli, scratch)
    assert [(f["rule"], f["line"]) for f in findings] == [("heading-jump", BODY + 5)]


def test_missing_summary_is_a_warning_for_drafts(scratch: Scratch, cli: RunCli) -> None:
    text = piece_text(status="draft").replace("summary: A summary.\n", "")
    scratch.write(f"{FOLDER}/draft.md", text)
    code, findings = run_json(cli, scratch)
    assert [(f["rule"], f["severity"], f["line"]) for f in findings] == [
        ("missing-summary", "warning", 2)]  # at the title, where a summary would go
    assert code == 0
    code, _ = run_json(cli, scratch, "--strict")
    assert code == 1


def test_missing_summary_points_at_a_commented_out_summary(
    scratch: Scratch, cli: RunCli
) -> None:
    text = piece_text(status="draft").replace("summary: A summary.\n",
                                              "# summary: One or two sentences.\n")
    scratch.write(f"{FOLDER}/draft.md", text)
    _, findings = run_json(cli, scratch)
    assert [(f["rule"], f["line"]) for f in findings] == [("missing-summary", 6)]


def test_a_ready_piece_without_summary_is_the_builds_error(
    scratch: Scratch, cli: RunCli
) -> None:
    scratch.write(f"{FOLDER}/ready.md", piece_text().replace("summary: A summary.\n", ""))
    code, findings = run_json(cli, scratch)
    assert [(f["rule"], f["severity"]) for f in findings] == [("missing-field", "error")]
    assert code == 1


def test_duplicate_titles(scratch: Scratch, cli: RunCli) -> None:
    scratch.piece(ISSUE, "first", title="'Consent: a test'")
    scratch.piece(ISSUE, "second", title="'Consent — a TEST'")
    scratch.piece(ISSUE, "third", title="Something else")
    code, findings = run_json(cli, scratch)
    assert [(f["rule"], f["line"]) for f in findings] == [("duplicate-title", 2)]
    assert findings[0]["path"].endswith("second.md")
    assert "first.md" in findings[0]["message"]
    assert code == 0


def test_duplicate_slugs_come_from_the_build(scratch: Scratch, cli: RunCli) -> None:
    scratch.piece(ISSUE, "a-piece", title="One")
    scratch.piece(ISSUE, "A_Piece", title="Two")
    code, findings = run_json(cli, scratch)
    assert rules_of(findings) == ["duplicate-slug"]
    assert code == 1


def test_word_limit(scratch: Scratch, cli: RunCli) -> None:
    configure(scratch, "\n[check]\nword_limit = 10\n")
    scratch.piece(ISSUE, "short", body="One two three four five six seven eight nine ten.\n")
    assert run_json(cli, scratch) == (0, [])
    scratch.piece(ISSUE, "long", title="Long",
                  body="\nOne two three four five six seven eight nine ten eleven.\n")
    _, findings = run_json(cli, scratch)
    assert [(f["rule"], f["line"]) for f in findings] == [("word-limit", BODY + 1)]
    assert "11 words, over the limit of 10" in findings[0]["message"]


def test_email_size_budget(scratch: Scratch, cli: RunCli) -> None:
    scratch.write("newsletter.toml", MINIMAL_CONFIG + "size_budget_kb = 1\n")
    scratch.piece(ISSUE, "piece")
    code, findings = run_json(cli, scratch)
    assert [(f["rule"], f["severity"], f["line"]) for f in findings] == [
        ("email-size", "error", None)]
    assert findings[0]["path"].endswith(FOLDER)
    assert code == 1


REVIEW = "\n[check]\nrequire_review = true\n"


@pytest.mark.parametrize(("extra", "status", "expected"), [
    ({}, "ready", [("review", "error", 2)]),
    ({"reviewed_by": "[Ada Example]"}, "ready", [("review", "error", 8)]),
    ({}, "draft", [("review", "warning", 2)]),
    ({"reviewed_by": "[Lin Example]"}, "ready", []),
    ({"reviewed_by": "[Ada Example, Lin Example]"}, "ready", []),
])
def test_review_sign_off(
    scratch: Scratch, cli: RunCli, extra: dict[str, str], status: str,
    expected: list[tuple[str, str, int]],
) -> None:
    configure(scratch, REVIEW)
    scratch.write(f"{FOLDER}/piece.md", piece_text(status=status, **extra))
    code, findings = run_json(cli, scratch)
    assert [(f["rule"], f["severity"], f["line"]) for f in findings] == expected
    assert code == (1 if any(e[1] == "error" for e in expected) else 0)


def test_review_is_not_checked_unless_required(scratch: Scratch, cli: RunCli) -> None:
    scratch.piece(ISSUE, "piece")
    assert run_json(cli, scratch) == (0, [])


def test_unknown_author_is_located_at_the_name(scratch: Scratch, cli: RunCli) -> None:
    scratch.write("contributors.toml", '[ada]\nname = "Ada Example"\nteam = "Policy"\n')
    scratch.piece(ISSUE, "piece", authors="[Ada Example, Bob Nobody]")
    _, findings = run_json(cli, scratch)
    assert [(f["rule"], f["severity"], f["line"], f["column"]) for f in findings] == [
        ("unknown-author", "warning", 3, 24)]


def test_front_matter_problems_keep_the_builds_rule_ids(scratch: Scratch, cli: RunCli) -> None:
    scratch.piece(ISSUE, "unknown", colour="blue")
    scratch.write(f"{FOLDER}/broken.md", "---\ntitle: a: b\n---\nText.\n")
    scratch.write(f"{FOLDER}/latin1.md", "---\ntitle: caf\xe9\n---\n".encode("latin-1"))
    code, findings = run_json(cli, scratch)
    assert {(Path(f["path"]).name, f["rule"], f["line"]) for f in findings} == {
        ("unknown.md", "unknown-key", 8), ("broken.md", "yaml-syntax", 2),
        ("latin1.md", "not-utf8", 2)}
    assert code == 1


#: (id, the piece's file, contributors.toml, (rule, line, column)): a column the problem now
#: carries from its producer, where check used to guess it from the first quoted text of the
#: message found on the line (the column guessed before is in the comment).
EXACT_COLUMNS = [
    # the YAML parser's mark; the hint "text with ': '" used to put it at the first ": " (6)
    ("yaml-syntax", "---\ntitle: a: b\n---\nText.\n", None, ("yaml-syntax", 2, 9)),
    # the link's own target, not the same text earlier on the line (5)
    ("link-target", piece_text(body="See images/nope.png: ![A chart of it](images/nope.png)\n"),
     None, ("missing-file", BODY, 39)),
    # the unknown name in the list, not the known name it is a part of (19)
    ("list-item", piece_text(reviewed_by="[Ada Example, Example]"),
     '[ada]\nname = "Ada Example"\nteam = "Policy"\n', ("unknown-author", 8, 28)),
    # the invisible character, not the curly quote the message suggests (3)
    ("control-character", piece_text(body="It\u2019s a \u0092test.\n"), None,
     ("control-character", BODY, 8)),
    # the value that is wrong, not its key (1)
    ("wrong-value", piece_text(order="ten"), None, ("wrong-type", 8, 8)),
]


@pytest.mark.parametrize(("text", "people", "expected"), [case[1:] for case in EXACT_COLUMNS],
                         ids=[case[0] for case in EXACT_COLUMNS])
def test_a_build_problem_carries_its_exact_column(
    scratch: Scratch, cli: RunCli, text: str, people: str | None,
    expected: tuple[str, int, int],
) -> None:
    if people is not None:
        scratch.write("contributors.toml", people)
    scratch.write(f"{FOLDER}/piece.md", text)
    _, findings = run_json(cli, scratch)
    assert (expected[0], expected[1], expected[2]) in [
        (f["rule"], f["line"], f["column"]) for f in findings], findings


@pytest.mark.parametrize(("extra", "line", "column", "message"), [
    # tomllib says where the syntax breaks (the column used to be 1)
    ("\n[feeds]\nissues = = 3\n", 12, 10, "TOML syntax error: Invalid value"),
    # the key where it is written, indented in its table (13: the value 'x' the message quotes)
    ('\n[feeds]\n  issues = "x"\n', 12, 3, "'feeds.issues' must be a whole number"),
])
def test_a_newsletter_toml_problem_carries_its_column(
    scratch: Scratch, cli: RunCli, extra: str, line: int, column: int, message: str
) -> None:
    configure(scratch, extra)
    scratch.piece(ISSUE, "piece")
    code, findings = run_json(cli, scratch)
    assert code == 1
    assert [(f["rule"], f["line"], f["column"]) for f in findings] == [
        ("config", line, column)], findings
    assert findings[0]["message"].startswith(message)


def test_files_left_out_are_noted(scratch: Scratch, cli: RunCli) -> None:
    scratch.piece(ISSUE, "piece")
    scratch.write(f"{FOLDER}/notes.markdown", "not a piece")
    code, findings = run_json(cli, scratch)
    assert [(f["rule"], f["severity"]) for f in findings] == [("left-out", "note")]
    assert "rename it to .md" in findings[0]["message"]
    code, _ = run_json(cli, scratch, "--strict")
    assert code == 0  # notes never fail a check


def test_the_editors_letter_is_checked_too(scratch: Scratch, cli: RunCli) -> None:
    scratch.piece(ISSUE, "piece")
    scratch.write(f"{FOLDER}/issue.md",
                  "---\ntitle: Theme\n---\nWelcome.\n\nSee [here](https://example.org).\n")
    _, findings = run_json(cli, scratch)
    assert [(Path(f["path"]).name, f["rule"], f["line"], f["column"]) for f in findings] == [
        ("issue.md", "link-text", 6, 5)]


def test_a_letter_that_is_only_a_comment(scratch: Scratch, cli: RunCli) -> None:
    scratch.piece(ISSUE, "piece")
    scratch.write(f"{FOLDER}/issue.md", "---\n# title: Theme\n---\n\n<!-- letter -->\n")
    _, findings = run_json(cli, scratch)
    assert [(f["rule"], f["line"]) for f in findings] == [("empty-letter", 5)]


# --------------------------------------------------------------------------- formats


def test_text_format(scratch: Scratch, cli: RunCli) -> None:
    scratch.piece(ISSUE, "piece", body="Read [here](https://example.org).\n")
    code, out, err = cli("check", ISSUE, "--root", str(scratch.root))
    path = scratch.root / FOLDER / "piece.md"
    assert out.splitlines() == [
        f"{path}:{BODY}:6: warning: the link text 'here' does not say where the link goes "
        "[link-text]",
        f"    fix: {RULES['link-text'].fix}",
        f"{ISSUE}: 1 warning in 1 piece",
    ]
    assert (code, err) == (0, "")


def test_quiet_text_format_prints_only_the_findings(scratch: Scratch, cli: RunCli) -> None:
    scratch.piece(ISSUE, "piece", body="Read [here](https://example.org).\n")
    code, out, _ = cli("check", ISSUE, "-q", "--root", str(scratch.root))
    assert code == 0
    assert len(out.splitlines()) == 1
    assert out.endswith("[link-text]\n")


GITHUB_LINE = re.compile(
    r"^::(error|warning|notice) file=[^,:]+,line=\d+,col=\d+,title=[a-z0-9-]+::[^\r\n]+$")


def test_github_format(scratch: Scratch, cli: RunCli) -> None:
    with_images(scratch)
    scratch.piece(ISSUE, "piece", body=(
        "Read [here](https://example.org).\n\n![A chart of 100% growth](images/100%.png)\n"))
    code, out, _ = cli("check", ISSUE, "--format", "github", "--root", str(scratch.root))
    lines = out.splitlines()
    assert len(lines) == 2
    for line in lines:
        assert GITHUB_LINE.match(line), line
    warning, error = lines
    assert error.startswith(f"::error file={scratch.root / FOLDER / 'piece.md'},line={BODY + 2},"
                            "col=27,title=missing-file::'images/100%25.png' is not a file")
    assert "%0AFix: " in error
    assert warning.startswith("::warning ") and "title=link-text" in warning
    assert code == 1


def test_github_escaping() -> None:
    finding = Finding(Path("a,b:c.md"), 3, 2, "raw-html", "note", "50% done\r\nnext", "fix it")
    assert github_command(finding) == (
        "::notice file=a%2Cb%3Ac.md,line=3,col=2,title=raw-html::50%25 done%0D%0Anext%0AFix: "
        "fix it")
    folder = Finding(Path("issues/x"), None, 1, "email-size", "error", "too big", "cut")
    assert github_command(folder) == "::error file=issues/x,title=email-size::too big%0AFix: cut"


def test_json_format_fields(scratch: Scratch, cli: RunCli) -> None:
    scratch.piece(ISSUE, "piece", body="<script>x()</script>\n")
    code, findings = run_json(cli, scratch)
    assert findings == [{
        "path": str(scratch.root / FOLDER / "piece.md"), "line": BODY, "column": 1,
        "rule": "raw-html", "severity": "warning",
        "message": "<script> will be removed, with everything inside it",
        "fix": RULES["raw-html"].fix,
    }]
    assert code == 0


# --------------------------------------------------------------------------- exit status


def test_strict_fails_on_warnings(scratch: Scratch, cli: RunCli) -> None:
    scratch.piece(ISSUE, "piece", body="Read [here](https://example.org).\n")
    assert cli("check", ISSUE, "--root", str(scratch.root))[0] == 0
    assert cli("check", ISSUE, "--strict", "--root", str(scratch.root))[0] == 1


def test_errors_fail(scratch: Scratch, cli: RunCli) -> None:
    scratch.piece(ISSUE, "piece", body="[demo](http://localhost/)\n")
    code, out, _ = cli("check", ISSUE, "--root", str(scratch.root))
    assert code == 1
    assert f"{ISSUE}: 1 error in 1 piece" in out


def test_disabled_rules_are_skipped(scratch: Scratch, cli: RunCli) -> None:
    configure(scratch, '\n[check]\ndisabled = ["link-text", "raw-html"]\n')
    scratch.piece(ISSUE, "piece", body=(
        "Read [here](https://example.org).\n\n<b style='x'>b</b>\n\n[demo](http://localhost/)\n"))
    code, findings = run_json(cli, scratch)
    assert rules_of(findings) == ["local-link"]
    assert code == 1


def test_disabling_a_build_error_is_noted(scratch: Scratch, cli: RunCli) -> None:
    configure(scratch, '\n[check]\ndisabled = ["missing-file"]\n')
    scratch.piece(ISSUE, "piece", body="![A chart](images/none.png)\n")
    code, out, err = cli("check", ISSUE, "--root", str(scratch.root))
    assert code == 0
    assert "missing-file" not in out
    assert "note: 'missing-file' is disabled in newsletter.toml, so check does not report " \
           "it; build-issue still fails on it" in err


def test_an_unknown_rule_id_is_bad_usage(scratch: Scratch, cli: RunCli) -> None:
    scratch.write("newsletter.toml", MINIMAL_CONFIG + (
        "\n"               # line 10
        "[check]\n"        # 11
        "disabled = [\n"   # 12
        '  "link-text",\n'  # 13
        '  "imgae-alt",\n'  # 14
        "]\n"))
    scratch.piece(ISSUE, "piece")
    code, out, err = cli("check", ISSUE, "--root", str(scratch.root))
    assert code == 2
    assert out == ""
    config = scratch.root / "newsletter.toml"
    assert err == (f"{config}:14: error: [check] disabled: unknown rule 'imgae-alt' — did you "
                   "mean 'image-alt'? ('newsletter check --list-rules' lists the rules)\n")


def test_an_unknown_issue_is_bad_usage(scratch: Scratch, cli: RunCli) -> None:
    scratch.piece(ISSUE, "piece")
    code, out, err = cli("check", "2027-06-solstice", "--root", str(scratch.root))
    assert (code, out) == (2, "")
    assert "error: no issue folder" in err and f"existing issues: {ISSUE}" in err
    code, _, err = cli("check", "2027-05-solstice", "--root", str(scratch.root))
    assert code == 2
    assert "the nearest is '2027-06-solstice'" in err


def test_the_coming_issue_is_the_default(scratch: Scratch, cli: RunCli) -> None:
    # As of 1 January 2027 (conftest) the coming issue is the March 2027 equinox.
    code, out, err = cli("check", "--root", str(scratch.root))
    assert (code, out) == (0, "")
    assert "the coming issue is 2027-03-equinox and it has no folder yet" in err
    scratch.piece("2027-03-equinox", "piece", body="Read [here](https://example.org).\n")
    code, out, err = cli("check", "--root", str(scratch.root))
    assert code == 0
    assert out.endswith("2027-03-equinox: 1 warning in 1 piece\n")


def test_a_broken_configuration_is_reported_as_findings(scratch: Scratch, cli: RunCli) -> None:
    scratch.write("newsletter.toml", MINIMAL_CONFIG + "colour = 'blue'\n")
    code, out, err = cli("check", ISSUE, "--format", "json", "--root", str(scratch.root))
    findings = json.loads(out)
    assert code == 1
    assert "Traceback" not in err
    assert [(Path(f["path"]).name, f["rule"], f["line"]) for f in findings] == [
        ("newsletter.toml", "config", 10)]
    assert "unknown key 'email.colour'" in findings[0]["message"]


def test_a_folder_without_newsletter_toml(tmp_path: Path, cli: RunCli) -> None:
    code, out, err = cli("check", "--root", str(tmp_path))
    assert (code, out) == (1, "")
    assert "no newsletter.toml here" in err


def test_no_traceback_on_hostile_content(scratch: Scratch, cli: RunCli) -> None:
    scratch.write(f"{FOLDER}/binary.md", bytes(range(256)))
    scratch.write(f"{FOLDER}/folder.md/inner.md", "x")
    scratch.write(f"{FOLDER}/deep.md", piece_text(body="> " * 400 + "deep\n"))
    scratch.write(f"{FOLDER}/html.md", piece_text(body="<div><p><a href='%6a%61vascript:x'>"
                                                       "<img src=x onerror=y></a>\n" * 3))
    scratch.write(f"{FOLDER}/empty.md", "")
    code, out, err = cli("check", ISSUE, "--format", "json", "--root", str(scratch.root))
    assert code == 1
    rules = set(rules_of(json.loads(out)))
    assert {"not-utf8", "no-front-matter", "too-deep", "unsafe-link"} <= rules
    assert "Traceback" not in err


# --------------------------------------------------------------------------- the rule table


def test_list_rules(cli: RunCli) -> None:
    code, out, _ = cli("check", "--list-rules")
    assert code == 0
    listed = [line.split()[0] for line in out.splitlines()]
    assert listed == sorted(RULES)
    code, out, _ = cli("check", "--list-rules", "--format", "json")
    assert [r["rule"] for r in json.loads(out)] == sorted(RULES)


def test_every_rule_has_a_severity_description_and_fix() -> None:
    for rule_id, rule in RULES.items():
        assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", rule_id)
        assert rule.severity in ("error", "warning", "note")
        assert rule.description and rule.fix.endswith("."), rule_id


def test_every_rule_id_of_the_pipeline_is_in_the_table() -> None:
    used = set()
    for path in (REPO / "pipeline").glob("*.py"):
        used |= set(re.findall(r'\brule="([a-z0-9-]+)"', path.read_text(encoding="utf-8")))
    assert used, "no rule ids found"
    assert used - set(RULES) - check.BUILD_ONLY_RULES == set()
