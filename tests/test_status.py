"""newsletter status and newsletter call-for-pieces, on the sample and on scratch newsletters."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import markdown
import pytest

from pipeline.plaintext import display_width

from .conftest import RunCli, Scratch, piece_text

SOLSTICE = "2026-12-solstice"


def as_of(monkeypatch: pytest.MonkeyPatch, day: str) -> None:
    """Run "as of" midday UTC on an ISO day (the clock every command reads)."""
    moment = datetime.fromisoformat(f"{day}T12:00:00").replace(tzinfo=UTC)
    monkeypatch.setenv("SOURCE_DATE_EPOCH", str(int(moment.timestamp())))


def status_json(cli: RunCli, *argv: str) -> Any:
    code, out, err = cli("status", "--json", *argv)
    assert code == 0, err
    return json.loads(out)


REVIEW_CONFIG = "\n[check]\nrequire_review = true\n"


# --------------------------------------------------------------------------- status


def test_status_of_the_coming_sample_issue(
    sample_copy: Path, cli: RunCli, monkeypatch: pytest.MonkeyPatch
) -> None:
    # 1 November 2026: the December solstice (Monday 21 December in London) is next; its
    # deadline is 14 days earlier, Monday 7 December.
    as_of(monkeypatch, "2026-11-01")
    code, out, err = cli("status", "--root", str(sample_copy))
    assert code == 0, err
    assert out.startswith("2026-12-solstice  December Solstice 2026: The cost of computation")
    assert "moment       2026-12-21 20:50 UTC" in out
    assert "deadline     Monday 7 December 2026: in 36 days" in out
    assert "publication  Monday 21 December 2026: in 50 days" in out
    assert "Pieces: 6 ready, 1 draft, 0 failing checks" in out
    assert re.search(r"draft +Policy +Water, heat and the data centre next door", out)
    assert "Sections (ready pieces): Research 1, Practice 3, Policy 1, Community 1" in out
    assert "Empty sections: none" in out
    # the draft's author (Legal) counts as a contributor to the coming issue
    assert "Contributors: 10 people from 8 teams" in out
    assert "  Machine Learning: Priya Raghunathan, Oleksandr Kovalenko" in out
    assert "Review coverage: 7 of 7 pieces have a reviewer who is not an author" in out
    assert err == ""


def test_status_counts_failing_pieces_with_the_builds_own_checks(
    sample_copy: Path, cli: RunCli, monkeypatch: pytest.MonkeyPatch
) -> None:
    as_of(monkeypatch, "2026-11-01")
    folder = sample_copy / "issues" / SOLSTICE
    # invalid front matter: the piece cannot even be loaded
    (folder / "broken.md").write_text(piece_text(title="Broken", titel="typo", status="Ready"),
                                      encoding="utf-8")
    # valid front matter, but the build stops on its link to a file that does not exist
    (folder / "dangling.md").write_text(
        piece_text(title="Dangling", body="See [the data](missing.csv).\n"), encoding="utf-8")
    # the only Community piece turns into a draft: that section is now empty
    repair = folder / "notes-from-our-first-repair-evening.md"
    repair.write_text(repair.read_text(encoding="utf-8").replace("status: ready",
                                                                 "status: draft"),
                      encoding="utf-8")
    (folder / "notes.txt").write_text("not a piece", encoding="utf-8")

    data = status_json(cli, SOLSTICE, "--root", str(sample_copy))
    assert data["counts"] == {"ready": 5, "draft": 2, "failing": 2}
    pieces = {Path(p["path"]).name: p for p in data["pieces"]}
    assert pieces["broken.md"]["state"] == "failing"
    assert pieces["broken.md"]["errors"] == 2  # the unknown key and the bad status
    assert pieces["dangling.md"]["state"] == "failing"
    assert pieces["dangling.md"]["errors"] == 1
    assert pieces["dangling.md"]["title"] == "Dangling"
    assert pieces["notes-from-our-first-repair-evening.md"]["state"] == "draft"
    assert data["empty_sections"] == ["Community"]
    assert data["sections"] == {"Research": 1, "Practice": 3, "Policy": 1, "Community": 0}
    assert data["days_to_deadline"] == 36 and data["days_to_publication"] == 50
    assert [Path(x["path"]).name for x in data["left_out"]] == ["notes.txt"]

    code, out, _ = cli("status", SOLSTICE, "--root", str(sample_copy))
    assert code == 0
    assert "Pieces: 5 ready, 2 draft, 2 failing checks" in out
    assert re.search(r"failing +Research +\S*dangling\.md \(by Ada Example\): 1 error, first: "
                     "'missing\\.csv' is not a file", out)
    assert "Empty sections: Community" in out
    assert f"newsletter check {SOLSTICE}" in out
    assert "notes.txt: not a .md file" in out


def test_review_coverage_counts_every_piece_and_fixing_one_does_not_change_it(
    sample_copy: Path, cli: RunCli, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A failing piece counts in the coverage, judged on its front matter as written: "8 of
    8" stays "8 of 8" once the piece is fixed (it used to be "7 of 7", then "8 of 8"), and an
    unreviewed one is "7 of 8" before and after. Each piece line says who wrote it."""
    as_of(monkeypatch, "2026-11-01")
    folder = sample_copy / "issues" / SOLSTICE
    broken = folder / "broken.md"
    for reviewer, expected in (("[Lin Example]", "8 of 8"), ("[Ada Example]", "7 of 8")):
        broken.write_text(piece_text(title="Broken", authors="[Ada Example]",
                                     reviewed_by=reviewer, titel="typo"), encoding="utf-8")
        code, out, _ = cli("status", SOLSTICE, "--root", str(sample_copy))
        assert code == 0
        assert "1 failing checks" in out
        assert re.search(r"failing +\S*broken\.md \(by Ada Example\): 1 error", out)
        assert f"Review coverage: {expected} pieces have a reviewer" in out, out
        data = status_json(cli, SOLSTICE, "--root", str(sample_copy))
        assert data["review"]["total"] == 8  # type: ignore[index]
        broken.write_text(piece_text(title="Broken", authors="[Ada Example]",
                                     reviewed_by=reviewer), encoding="utf-8")
        code, out, _ = cli("status", SOLSTICE, "--root", str(sample_copy))
        assert code == 0
        assert "0 failing checks" in out
        assert f"Review coverage: {expected} pieces have a reviewer" in out, out
    assert re.search(r"ready +Research +Broken \(by Ada Example\)", out)
    assert re.search(r"ready +\S+ +What a training run really costs \(by [A-Z]", out)


def test_status_after_the_deadline_says_how_long_ago(
    sample_copy: Path, cli: RunCli, monkeypatch: pytest.MonkeyPatch
) -> None:
    as_of(monkeypatch, "2026-12-10")
    code, out, _ = cli("status", "--root", str(sample_copy))
    assert code == 0
    assert "deadline     Monday 7 December 2026: closed 3 days ago" in out
    assert "publication  Monday 21 December 2026: in 11 days" in out
    data = status_json(cli, "--root", str(sample_copy))
    assert data["issue_id"] == SOLSTICE
    assert data["days_to_deadline"] == -3


def test_status_of_a_published_issue_by_its_folder_path(
    sample_copy: Path, cli: RunCli, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The conftest clock, 1 January 2027; the path finds the root by itself.
    monkeypatch.chdir(sample_copy.parent)
    code, out, err = cli("status", str(sample_copy / "issues" / "2026-09-equinox"))
    assert code == 0, err
    assert "Consent and the data we keep" in out
    assert "publication  Wednesday 23 September 2026: published 100 days ago" in out
    assert "deadline     Wednesday 9 September 2026: closed 114 days ago" in out
    assert "Pieces: 6 ready, 0 draft, 0 failing checks" in out


def test_the_coming_issue_without_a_folder_says_how_to_create_it(
    sample_copy: Path, cli: RunCli
) -> None:
    # 1 January 2027: the next issue is the March 2027 equinox (Saturday 20 March in London)
    code, out, err = cli("status", "--root", str(sample_copy))
    assert code == 0
    assert out.startswith("2027-03-equinox  March Equinox 2027")
    assert "deadline     Saturday 6 March 2027: in 64 days" in out
    assert "publication  Saturday 20 March 2027: in 78 days" in out
    assert re.search(r"No folder \S*issues/2027-03-equinox yet, so no pieces", out)
    assert '\n  newsletter new-piece --issue 2027-03-equinox --title "..." --author "..."\n' \
        in out
    assert "has no folder yet" in err
    data = status_json(cli, "--root", str(sample_copy))
    assert data["exists"] is False
    assert data["counts"] == {"ready": 0, "draft": 0, "failing": 0}
    assert data["empty_sections"] == ["Research", "Practice", "Policy", "Community"]


@pytest.mark.parametrize(("ref", "message"), [
    ("2027-06-solstice", "no issue folder"),
    ("2026-13-solstice", "not a month"),
    ("2026-12-equinox", "December has the solstice"),
    ("nonsense", "is not an issue id"),
])
def test_status_of_a_missing_or_misnamed_issue_is_a_usage_error(
    sample_copy: Path, cli: RunCli, ref: str, message: str
) -> None:
    code, out, err = cli("status", ref, "--root", str(sample_copy))
    assert code == 2
    assert message in err
    assert out == ""
    assert "Traceback" not in err


def test_missing_issue_error_says_how_to_create_it(sample_copy: Path, cli: RunCli) -> None:
    code, _, err = cli("status", "2027-06-solstice", "--root", str(sample_copy))
    assert code == 2
    assert "newsletter new-piece --issue 2027-06-solstice" in err
    assert "existing issues: 2026-09-equinox, 2026-12-solstice" in err


def test_review_coverage_names_the_pieces_without_a_reviewer(
    scratch: Scratch, cli: RunCli, monkeypatch: pytest.MonkeyPatch
) -> None:
    as_of(monkeypatch, "2026-12-01")  # UTC: the solstice is published on 21 December
    config = scratch.root / "newsletter.toml"
    config.write_text(config.read_text(encoding="utf-8") + REVIEW_CONFIG, encoding="utf-8")
    scratch.piece(SOLSTICE, "self-reviewed", title="Self reviewed", authors="[Ada Example]",
                  reviewed_by="[ada example]")  # an author reviewing themself does not count
    scratch.piece(SOLSTICE, "reviewed", title="Reviewed", authors="[Ada Example, Lin Example]",
                  reviewed_by="[Lin Example, Grace Example]")
    scratch.piece(SOLSTICE, "unreviewed-draft", title="Draft", authors="[Grace Example]",
                  team="Design", section="Practice", status="draft")

    data = status_json(cli, "--root", str(scratch.root))
    assert data["issue_id"] == SOLSTICE
    assert data["days_to_deadline"] == 6 and data["days_to_publication"] == 20
    assert data["counts"] == {"ready": 2, "draft": 1, "failing": 0}
    assert data["empty_sections"] == ["Practice"]  # only a draft there
    review = data["review"]
    assert isinstance(review, dict)
    assert (review["required"], review["reviewed"], review["total"]) == (True, 1, 3)
    assert sorted(Path(p).name for p in review["missing"]) == [
        "self-reviewed.md", "unreviewed-draft.md"]
    assert data["teams"] == ["Design", "Policy"]
    assert {c["name"] for c in data["contributors"]} == {
        "Ada Example", "Lin Example", "Grace Example"}

    code, out, _ = cli("status", "--root", str(scratch.root))
    assert code == 0
    assert "Review coverage: 1 of 3 pieces have a reviewer who is not an author (required)" in out
    assert re.search(r"needs a reviewer: .*self-reviewed\.md \(Self reviewed\)", out)
    assert re.search(r"needs a reviewer: .*unreviewed-draft\.md \(Draft\)", out)
    assert "Empty sections: Practice" in out


def test_without_require_review_the_pieces_are_only_counted(
    scratch: Scratch, cli: RunCli, monkeypatch: pytest.MonkeyPatch
) -> None:
    as_of(monkeypatch, "2026-12-01")
    scratch.piece(SOLSTICE, "one", title="One")
    code, out, _ = cli("status", "--root", str(scratch.root))
    assert code == 0
    assert "Review coverage: 0 of 1 piece has a reviewer who is not an author" in out
    assert "needs a reviewer" not in out


def test_a_corrupt_contributors_file_is_an_error_but_the_status_is_shown(
    sample_copy: Path, cli: RunCli, monkeypatch: pytest.MonkeyPatch
) -> None:
    as_of(monkeypatch, "2026-11-01")
    (sample_copy / "contributors.toml").write_text("[ada\nname = 1\n", encoding="utf-8")
    code, out, err = cli("status", "--root", str(sample_copy))
    assert code == 1
    assert re.search(r"contributors\.toml:\d+: error: TOML syntax error", err)
    assert "Pieces: 6 ready, 1 draft, 0 failing checks" in out
    assert "Traceback" not in err


def test_status_outside_a_newsletter_is_a_clear_error(tmp_path: Path, cli: RunCli) -> None:
    code, _, err = cli("status", "--root", str(tmp_path))
    assert code == 1
    assert "no newsletter.toml here" in err


# --------------------------------------------------------------------------- call for pieces


def test_call_for_pieces_in_markdown(
    sample_copy: Path, cli: RunCli, monkeypatch: pytest.MonkeyPatch
) -> None:
    as_of(monkeypatch, "2026-11-01")
    code, out, err = cli("call-for-pieces", "--root", str(sample_copy))
    assert code == 0, err
    assert out.startswith("# Call for pieces: December Solstice 2026\n")
    assert "**Ethics & Society** comes out on Monday 21 December 2026" in out
    assert "**Theme: The cost of computation.** The costs of our systems" in out
    assert "**Deadline: Monday 7 December 2026.**" in out
    assert "newsletter new-piece --issue 2026-12-solstice \\\n" in out
    assert '--title "Your title" --author "Your Name"' in out
    assert "`issues/2026-12-solstice/`" in out
    assert "up to 1,500 words" in out
    assert "- Practice: 3 pieces ready so far" in out
    assert "- Research: 1 piece ready so far" in out
    assert "Write to the editors at `ethics-editors@example.org`." in out
    for key in ("title:", "authors:", "summary:", "status: ready", "reviewed_by:"):
        assert f"\n{key}" in out
    # it is Markdown that renders: headings, the command as a code block, a list
    html = markdown.markdown(out, extensions=["fenced_code"])
    assert html.count("<h2>") == 4
    assert '<code class="language-sh">newsletter new-piece' in html
    assert html.count("<li>") == 4


def test_call_for_pieces_emphasises_empty_sections(
    scratch: Scratch, cli: RunCli, monkeypatch: pytest.MonkeyPatch
) -> None:
    as_of(monkeypatch, "2026-11-01")
    scratch.write(f"issues/{SOLSTICE}/issue.md",
                  "---\ntitle: Care *and* repair\nsummary: What [we] mend.\n"
                  "editors: [Ada Example, Lin Example]\n---\nHello.\n")
    scratch.piece(SOLSTICE, "one", title="One")  # Research, ready
    scratch.piece(SOLSTICE, "two", title="Two", section="Practice", status="draft")
    code, out, _ = cli("call-for-pieces", "--root", str(scratch.root))
    assert code == 0
    assert "- Research: 1 piece ready so far" in out
    assert "- **Practice: nothing yet**, we would especially like a piece here" in out
    # text from the content is escaped, so it cannot turn into formatting
    assert r"**Theme: Care \*and\* repair.** What \[we\] mend." in out
    # no editors_address: the issue's editors are the ones to ask
    assert "Ask the editors of this issue, Ada Example and Lin Example." in out
    html = markdown.markdown(out)
    assert "<strong>Practice: nothing yet</strong>" in html
    assert "<em>" not in html


def test_call_for_pieces_as_plain_text(
    sample_copy: Path, cli: RunCli, monkeypatch: pytest.MonkeyPatch
) -> None:
    as_of(monkeypatch, "2026-11-01")
    (sample_copy / "issues" / SOLSTICE / "alt-text-is-documentation-too.md").unlink()
    (sample_copy / "issues" / SOLSTICE / "datasheets-before-deployment.md").unlink()
    (sample_copy / "issues" / SOLSTICE / "the-smallest-model-that-works.md").unlink()
    code, out, _ = cli("call-for-pieces", "--format", "text", "--root", str(sample_copy))
    assert code == 0
    lines = out.split("\n")
    assert lines[0] == "Call for pieces: December Solstice 2026"
    assert lines[1] == "=" * len(lines[0])
    assert "How to add a piece\n------------------\n" in out
    assert max(display_width(line) for line in lines) <= 72
    assert "**" not in out and "```" not in out and "# " not in out.split("---")[0]
    assert "  * *Practice: nothing yet*, we would especially like a piece here" in out
    assert "    newsletter new-piece --issue 2026-12-solstice \\" in out
    assert "Deadline: Monday 7 December 2026." in out
    assert "ethics-editors@example.org" in out


def test_call_for_an_issue_without_a_folder_yet(
    sample_copy: Path, cli: RunCli
) -> None:
    code, out, err = cli("call-for-pieces", "2027-06-solstice", "--root", str(sample_copy))
    assert code == 0
    assert out.startswith("# Call for pieces: June Solstice 2027")
    assert "**Deadline: Monday 7 June 2027.**" in out
    assert "Theme" not in out
    assert out.count("nothing yet") == 4
    assert "does not exist yet" in err


def test_call_after_the_deadline_warns_and_names_the_next_issue(
    sample_copy: Path, cli: RunCli, monkeypatch: pytest.MonkeyPatch
) -> None:
    as_of(monkeypatch, "2026-12-10")
    code, out, err = cli("call-for-pieces", "--root", str(sample_copy))
    assert code == 0
    assert "December Solstice 2026" in out
    assert "warning: the deadline of 2026-12-solstice was Monday 7 December 2026, 3 days ago" \
        in err
    assert "newsletter call-for-pieces 2027-03-equinox" in err


def test_call_for_a_published_issue_is_a_problem_of_the_run(
    sample_copy: Path, cli: RunCli
) -> None:
    """An issue already out cannot be called for: exit 1 (a problem), not 2 (bad usage)."""
    code, out, err = cli("call-for-pieces", "2026-09-equinox", "--root", str(sample_copy))
    assert code == 1
    assert "was published on Wednesday 23 September 2026" in err
    assert out == "" and "Traceback" not in err


def test_status_in_an_empty_folder_says_how_to_start(tmp_path: Path, cli: RunCli) -> None:
    """A read-only command in a folder without newsletter.toml points at 'newsletter init'
    and does not claim that "nothing was written"."""
    code, out, err = cli("status", "--root", str(tmp_path))
    assert code == 1
    assert "run newsletter init" in err
    assert "nothing was written" not in err
    assert out == "" and "Traceback" not in err


@pytest.mark.parametrize(("argv", "message"), [
    (["2026-11-solstice"], "issues come out in March, June, September and December"),
    (["--format", "html"], "invalid choice"),
])
def test_call_for_pieces_bad_input(
    sample_copy: Path, cli: RunCli, argv: list[str], message: str
) -> None:
    code, out, err = cli("call-for-pieces", *argv, "--root", str(sample_copy))
    assert code == 2
    assert message in err
    assert out == ""
    assert "Traceback" not in err
