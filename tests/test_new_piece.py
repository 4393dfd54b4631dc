"""newsletter new-piece: a piece that loads as written, every field explained, the issue folder
created when missing, and never an overwritten file."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from pipeline.analysis import analyse_issue
from pipeline.config import load_config
from pipeline.content import load_piece
from pipeline.contributors import load_contributors
from pipeline.errors import Problems
from pipeline.front_matter import ISSUE_FIELDS, PIECE_FIELDS
from pipeline.seasons import IssueId

from .conftest import RunCli, Scratch

#: As of 1 January 2027 (conftest), the coming issue is the March 2027 equinox.
COMING = "2027-03-equinox"


def new_piece(cli: RunCli, root: Path, *argv: str) -> tuple[int, str, str]:
    code, out, err = cli("new-piece", "--root", str(root), *argv)
    assert "Traceback" not in err
    return code, out, err


def front_matter_lines(text: str) -> list[str]:
    assert text.startswith("---\n")
    return text.split("---\n")[1].splitlines()


def loads_cleanly(root: Path, path: Path) -> None:
    """The piece loads with no error (and the issue renders as a --drafts build would)."""
    config = load_config(root)
    problems = Problems()
    piece = load_piece(path, config, load_contributors(root, problems), problems)
    assert piece is not None
    assert [p for p in problems.items if p.level == "error"] == []
    analysis = analyse_issue(load_config(root), IssueId.parse(path.parent.name))
    assert [p for p in analysis.problems if p.level == "error"] == []


def test_a_new_piece_in_the_coming_issue_of_the_sample(sample_copy: Path, cli: RunCli) -> None:
    code, out, err = new_piece(cli, sample_copy, "--title", "Consent is not a checkbox, again",
                               "--author", "Amara Osei")
    assert code == 0, err
    folder = sample_copy / "issues" / COMING
    path = folder / "consent-is-not-a-checkbox-again.md"
    assert out.splitlines()[:3] == [
        f"wrote {folder / 'issue.md'} (the new issue folder of March Equinox 2027)",
        f"wrote {path}",
        "Next:",
    ]
    assert f"newsletter check {COMING}" in out
    assert "by the deadline, Saturday 6 March 2027 (in 64 days)" in out
    assert err == ""
    text = path.read_text(encoding="utf-8")
    lines = front_matter_lines(text)
    assert lines[:5] == [
        "title: Consent is not a checkbox, again  # the headline readers see",
        "authors: [Amara Osei]             # names or ids from contributors.toml",
        "team: Data Platform               # your team; optional when contributors.toml "
        "knows you",
        "section: Research                 # one of the sections in newsletter.toml (Research, "
        "Practice, Policy, Community)",
        "# summary: One or two sentences.  # one or two sentences: teaser, preheader and feed "
        "text (required once the piece is ready)",
    ]
    assert "status: draft" in lines[5]
    loads_cleanly(sample_copy, path)
    code, _, err = cli("build-issue", COMING, "--drafts", "--root", str(sample_copy),
                       "--out", str(sample_copy.parent / "preview"))
    assert code == 0, err


def test_every_field_is_present_in_order_with_its_help(scratch: Scratch, cli: RunCli) -> None:
    code, _, _ = new_piece(cli, scratch.root, "--title", "Fields", "--author", "Ada Example",
                           "--team", "Policy")
    assert code == 0
    lines = front_matter_lines((scratch.root / "issues" / COMING / "fields.md").read_text())
    assert len(lines) == len(PIECE_FIELDS)
    for line, field in zip(lines, PIECE_FIELDS, strict=True):
        assert re.match(rf"^(# )?{field.key}: ", line), line
        assert f"  # {field.help}" in line
    set_keys = [line.split(":")[0] for line in lines if not line.startswith("#")]
    assert set_keys == ["title", "authors", "team", "section", "status"]


def test_the_new_issue_md_has_its_fields_and_a_placeholder_letter(
    scratch: Scratch, cli: RunCli
) -> None:
    assert new_piece(cli, scratch.root, "--title", "One", "--author", "Ada")[0] == 0
    text = (scratch.root / "issues" / COMING / "issue.md").read_text(encoding="utf-8")
    lines = front_matter_lines(text)
    assert [line.split(":")[0] for line in lines] == [f"# {f.key}" for f in ISSUE_FIELDS]
    for line, field in zip(lines, ISSUE_FIELDS, strict=True):
        assert f"# {field.help}" in line
    assert "without it the title is 'March Equinox 2027'" in lines[0]
    assert text.rstrip().endswith("<!-- The editor's letter goes here, in Markdown, in place "
                                  "of this line; it opens the issue. -->")
    # The new issue checks with only the expected reminders: a letter and a summary to write.
    code, out, _ = cli("check", "--format", "json", "--root", str(scratch.root))
    assert code == 0
    assert sorted(f["rule"] for f in json.loads(out)) == ["empty-letter", "missing-summary",
                                                          "no-team"]


def test_an_existing_issue_folder_gets_no_issue_md(scratch: Scratch, cli: RunCli) -> None:
    scratch.piece("2026-12-solstice", "first")
    code, out, _ = new_piece(cli, scratch.root, "--title", "Second", "--author", "Ada",
                             "--issue", "2026-12-solstice", "--team", "Policy")
    assert code == 0
    folder = scratch.root / "issues" / "2026-12-solstice"
    assert sorted(p.name for p in folder.iterdir()) == ["first.md", "second.md"]
    assert "issue.md" not in out
    loads_cleanly(scratch.root, folder / "second.md")


def test_it_never_overwrites(scratch: Scratch, cli: RunCli) -> None:
    assert new_piece(cli, scratch.root, "--title", "A piece", "--author", "Ada")[0] == 0
    path = scratch.root / "issues" / COMING / "a-piece.md"
    path.write_text(path.read_text() + "\nMy words.\n", encoding="utf-8")
    before = path.read_bytes()
    for title in ("A piece", "a PIECE!"):
        code, out, err = new_piece(cli, scratch.root, "--title", title, "--author", "Ada")
        assert (code, out) == (1, "")
        assert f"error: {path} already exists; new-piece never overwrites a file: choose " \
               "another --title (or --slug)" in err
    assert path.read_bytes() == before
    # A file whose name gives the same anchor is a clash too.
    path.rename(path.with_name("A_Piece.md"))
    code, _, err = new_piece(cli, scratch.root, "--title", "A piece", "--author", "Ada")
    assert code == 1
    assert "A_Piece.md already exists" in err
    assert not path.exists()


def test_a_known_author_by_id_gets_name_and_team(scratch: Scratch, cli: RunCli) -> None:
    scratch.write("contributors.toml", '[ada]\nname = "Ada Example"\nteam = "Policy"\n')
    code, _, err = new_piece(cli, scratch.root, "--title", "By id", "--author", "ada")
    assert (code, err) == (0, "")
    text = (scratch.root / "issues" / COMING / "by-id.md").read_text()
    assert "\nauthors: [Ada Example]  " in text
    assert "\nteam: Policy  " in text


def test_an_unknown_author_is_a_warning(scratch: Scratch, cli: RunCli) -> None:
    scratch.write("contributors.toml", '[ada]\nname = "Ada Example"\nteam = "Policy"\n')
    code, _, err = new_piece(cli, scratch.root, "--title", "Who", "--author", "Ada Exampel")
    assert code == 0
    assert err == ("warning: 'Ada Exampel' is not in contributors.toml, so the piece has no "
                   "team — did you mean 'Ada Example'? Add Ada Exampel (name and team) to "
                   "contributors.toml so every issue can credit them, or give the piece "
                   "'team: ...' (new-piece --team)\n")
    text = (scratch.root / "issues" / COMING / "who.md").read_text()
    assert "\n# team: Policy  " in text  # left for the author to fill in
    loads_cleanly(scratch.root, scratch.root / "issues" / COMING / "who.md")


def test_without_contributors_toml_a_piece_without_team_is_a_warning(
    scratch: Scratch, cli: RunCli
) -> None:
    code, _, err = new_piece(cli, scratch.root, "--title", "Solo", "--author", "Ada")
    assert code == 0
    assert err.startswith("warning: there is no contributors.toml, so the piece has no team.")
    code, _, err = new_piece(cli, scratch.root, "--title", "Team", "--author", "Ada",
                             "--team", "Policy")
    assert (code, err) == (0, "")


def test_co_authors(scratch: Scratch, cli: RunCli) -> None:
    scratch.write("contributors.toml", '[ada]\nname = "Ada Example"\nteam = "Policy"\n')
    code, _, err = new_piece(cli, scratch.root, "--title", "Two", "--author", "Grace Other",
                             "--author", "ada")
    assert code == 0
    text = (scratch.root / "issues" / COMING / "two.md").read_text()
    assert "\nauthors: [Grace Other, Ada Example]  " in text
    assert "\nteam: Policy  " in text
    assert err == ("warning: 'Grace Other' is not in contributors.toml. Add Grace Other (name "
                   "and team) to contributors.toml so every issue can credit them\n")


@pytest.mark.parametrize("title", [
    "Consent: a #1 'test' — [draft]", "yes", "2027", "- a list?", "Ünïcödé & émoji 🌍",
    "@mention % and `code`",
])
def test_titles_that_need_yaml_quoting_load_back_unchanged(
    scratch: Scratch, cli: RunCli, title: str
) -> None:
    code, out, err = new_piece(cli, scratch.root, "--title", title, "--author", "Ada",
                               "--team", "Policy")
    assert code == 0, err
    path = Path(out.splitlines()[1].removeprefix("wrote "))
    config = load_config(scratch.root)
    problems = Problems()
    piece = load_piece(path, config, None, problems)
    assert piece is not None and piece.title == title
    assert [p for p in problems.items if p.level != "note"] == []


def test_section_is_validated(scratch: Scratch, cli: RunCli) -> None:
    code, out, err = new_piece(cli, scratch.root, "--title", "S", "--author", "Ada",
                               "--section", "Practise")
    assert (code, out) == (2, "")
    assert err == ("error: --section Practise: unknown section; did you mean 'Practice'? "
                   "The sections are: Research, Practice\n")
    assert not (scratch.root / "issues").exists()
    code, _, _ = new_piece(cli, scratch.root, "--title", "S", "--author", "Ada",
                           "--section", "practice")
    assert code == 0
    assert "\nsection: Practice  " in (scratch.root / "issues" / COMING / "s.md").read_text()


@pytest.mark.parametrize(("argv", "message"), [
    (["--issue", "2027-04-equinox"], "the nearest is '2027-03-equinox'"),
    (["--issue", "soon"], "'soon' is not an issue id"),
    (["--title", "   "], "--title is empty"),
    (["--title", "Two\nlines"], "--title: write it on one line"),
    (["--title", "倫理"], "give the file a name with --slug"),
    (["--slug", "Not A Slug"], "--slug Not A Slug: use lowercase letters, digits and '-', "
                               "e.g. --slug not-a-slug"),
])
def test_bad_usage_exits_2(scratch: Scratch, cli: RunCli, argv: list[str], message: str) -> None:
    code, out, err = new_piece(cli, scratch.root, "--title", "T", "--author", "Ada", *argv)
    assert (code, out) == (2, "")
    assert message in err
    assert not (scratch.root / "issues").exists()


def test_a_slug_for_a_title_without_latin_letters(scratch: Scratch, cli: RunCli) -> None:
    code, _, _ = new_piece(cli, scratch.root, "--title", "倫理", "--author", "Ada",
                           "--slug", "ethics", "--team", "Policy")
    assert code == 0
    loads_cleanly(scratch.root, scratch.root / "issues" / COMING / "ethics.md")


def test_a_published_issue_is_a_warning(scratch: Scratch, cli: RunCli) -> None:
    code, _, err = new_piece(cli, scratch.root, "--title", "Late", "--author", "Ada",
                             "--team", "Policy", "--issue", "2026-09-equinox")
    assert code == 0
    assert "warning: 2026-09-equinox was published on 23 September 2026; a piece added now " \
           "changes the archive (the coming issue is 2027-03-equinox)" in err


def test_a_missing_newsletter_toml_is_a_clear_error(tmp_path: Path, cli: RunCli) -> None:
    code, out, err = new_piece(cli, tmp_path, "--title", "T", "--author", "Ada")
    assert (code, out) == (1, "")
    assert "no newsletter.toml here" in err


def test_a_corrupt_contributors_file_is_reported(scratch: Scratch, cli: RunCli) -> None:
    scratch.write("contributors.toml", "[ada\nname = ")
    code, _, err = new_piece(cli, scratch.root, "--title", "T", "--author", "Ada")
    assert code == 0  # the piece is still written; the file's problem is reported
    assert "contributors.toml:1: error: TOML syntax error" in err
    assert (scratch.root / "issues" / COMING / "t.md").is_file()
