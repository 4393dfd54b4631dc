"""One issue's problems are that issue's: a broken old issue never blocks building a new one.

Each test states its rule in its docstring. The clock is the tests' (1 January 2027), so both
scratch issues are published.
"""

from __future__ import annotations

import json
from pathlib import Path

import feedparser

from tests.conftest import RunCli, Scratch, piece_text

OLD, NEW = "2026-09-equinox", "2026-12-solstice"


def two_issues(scratch: Scratch) -> None:
    scratch.piece(OLD, "old-piece", title="The old piece", body="Old text.\n")
    scratch.piece(NEW, "new-piece", title="The new piece", body="New text.\n")


def break_old(scratch: Scratch) -> Path:
    """Give the old issue an error that only rendering finds (a link to a missing file)."""
    return scratch.write(f"issues/{OLD}/old-piece.md", piece_text(
        title="The old piece, edited", body="Now with [a file](missing.pdf).\n"))


def feed_titles(root: Path) -> list[str]:
    parsed = feedparser.parse(str(root / "feeds/atom.xml"))
    assert not parsed.bozo
    return [entry.title for entry in parsed.entries]


def test_an_old_issue_with_errors_does_not_block_the_new_one(
    scratch: Scratch, cli: RunCli
) -> None:
    """build-issue NEW succeeds while OLD has an error; OLD's archive line and feed entry
    are kept from its last good build, and one note says so."""
    two_issues(scratch)
    root = str(scratch.root)
    assert cli("build-issue", OLD, "--root", root)[0] == 0
    assert cli("build-issue", NEW, "--root", root)[0] == 0
    before = feed_titles(scratch.root)
    break_old(scratch)
    code, _, err = cli("build-issue", NEW, "--root", root)
    assert code == 0, err
    assert f"note: {OLD} has 1 error; its archive and feed entries are kept from its last " \
           "good build" in err
    assert "missing.pdf" not in err  # the old issue's problem itself is its own
    assert feed_titles(scratch.root) == before
    archive = (scratch.root / "public/index.html").read_text("utf-8")
    assert f'href="{OLD}/"' in archive and f'href="{NEW}/"' in archive
    assert "edited" not in (scratch.root / "feeds/feed.json").read_text("utf-8")
    # building the broken issue itself still fails, naming the problem
    code, _, err = cli("build-issue", OLD, "--root", root)
    assert code == 1 and "missing.pdf" in err


def test_an_issue_that_never_built_is_left_out_with_a_note(
    scratch: Scratch, cli: RunCli
) -> None:
    """An issue with errors and no good build is left out of the archive and the feeds."""
    two_issues(scratch)
    break_old(scratch)
    code, _, err = cli("build-issue", NEW, "--root", str(scratch.root))
    assert code == 0, err
    assert f"note: {OLD} has 1 error; it is left out of the archive and the feeds" in err
    assert [t.split(":")[0] for t in feed_titles(scratch.root)] == ["December Solstice 2026"]
    assert f'href="{OLD}/"' not in (scratch.root / "public/index.html").read_text("utf-8")


def test_a_read_error_in_another_issue_is_its_own(scratch: Scratch, cli: RunCli) -> None:
    """Bad front matter in another issue (a reading error) does not block either."""
    two_issues(scratch)
    scratch.write(f"issues/{OLD}/bad.md", "---\ntitel: Oops\n---\nText.\n")
    code, _, err = cli("build-issue", NEW, "--root", str(scratch.root))
    assert code == 0, err
    assert f"note: {OLD} has " in err and "titel" not in err


def test_strict_judges_only_the_issue_built(scratch: Scratch, cli: RunCli) -> None:
    """--strict (as send uses it) turns this issue's warnings into errors, not another's."""
    two_issues(scratch)
    scratch.piece(OLD, "unteamed", title="No team", team=None,
                  authors="[Someone Unknown]")  # warnings: no team, unknown author
    code, _, err = cli("build-issue", NEW, "--root", str(scratch.root), "--strict")
    assert code == 0, err
    scratch.piece(NEW, "unteamed", title="No team", team=None, authors="[Someone Unknown]")
    code, _, err = cli("build-issue", NEW, "--root", str(scratch.root), "--strict")
    assert code == 1 and f"issues/{NEW}/unteamed.md" in err


def test_check_and_build_issue_report_the_same_problems(scratch: Scratch, cli: RunCli) -> None:
    """Every problem build-issue reports for an issue, check reports too, at the same place;
    neither reports another issue's."""
    two_issues(scratch)
    break_old(scratch)
    scratch.write(f"issues/{NEW}/links.md", piece_text(
        title="Links", body="Intro.\n\nSee [below](#nowhere).\n"))
    code, _, err = cli("build-issue", NEW, "--root", str(scratch.root))
    assert code == 0
    built = {line.split(": ", 2)[0] + ": " + line.split(": ", 2)[2]
             for line in err.splitlines() if ": warning: " in line or ": error: " in line}
    assert built and all(f"issues/{NEW}/" in line for line in built)
    code, out, _ = cli("check", NEW, "--format", "json", "--root", str(scratch.root))
    checked = {f"{f['path']}:{f['line']}: {f['message']}" for f in json.loads(out)}
    assert built <= checked
    assert not any(OLD in line for line in checked)
