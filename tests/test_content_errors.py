"""Bad content and configuration: located messages, every problem in one run, nothing written.

The product's rule: bad input gets ``path:line: error: message`` on stderr (the line of the
offending key where there is one), all the problems of a build in one run, exit 1, never a
traceback, and no output file created or changed.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.conftest import MINIMAL_CONFIG, RunCli, Scratch

ISSUE = "2026-12-solstice"
PIECE_DIR = f"issues/{ISSUE}"

#: A valid piece's front matter, one key a line: ``title`` is on line 2 of the file, ``authors``
#: on line 3 and so on (line 1 is the opening ``---``).
VALID = (
    "title: A piece",
    "authors: [Ada Example]",
    "team: Policy",
    "section: Research",
    "summary: A summary.",
    "status: ready",
)


def front(*lines: str, body: str = "Some text.\n") -> str:
    """A piece whose front matter is exactly ``lines``: ``lines[i]`` is on file line ``i + 2``."""
    return "---\n" + "".join(f"{line}\n" for line in lines) + "---\n" + body


def replacing(key: str, line: str) -> tuple[str, ...]:
    """:data:`VALID` with the line of ``key`` replaced by ``line`` (same position)."""
    return tuple(line if v.startswith(f"{key}:") else v for v in VALID)


def outputs(root: Path) -> dict[str, bytes]:
    """Every file under ``public/`` and ``feeds/`` (hidden and temporary files included)."""
    found: dict[str, bytes] = {}
    for folder in ("public", "feeds"):
        base = root / folder
        if base.exists():
            for path in sorted(base.rglob("*")):
                if path.is_file():
                    found[path.relative_to(root).as_posix()] = path.read_bytes()
    return found


def build(cli: RunCli, scratch: Scratch, *extra: str, issue: str = ISSUE) -> tuple[int, str, str]:
    return cli("build-issue", issue, "--root", str(scratch.root), *extra)


def assert_failed(
    result: tuple[int, str, str], root: Path, before: dict[str, bytes] | None = None
) -> list[str]:
    """Exit 1, no traceback, the closing summary, and no output created or changed."""
    code, _out, err = result
    assert code == 1, err
    assert "Traceback" not in err
    assert err.rstrip().endswith("nothing was written"), err
    if before is None:
        assert not (root / "public").exists(), "a failed build created public/"
        assert not (root / "feeds").exists(), "a failed build created feeds/"
    else:
        assert outputs(root) == before, "a failed build changed the previous outputs"
    return err.splitlines()


def one_line(err: str, prefix: str) -> str:
    """The single stderr line starting with ``prefix``."""
    lines = [line for line in err.splitlines() if line.startswith(prefix)]
    assert len(lines) == 1, f"expected one line starting {prefix!r} in:\n{err}"
    return lines[0]


def error_lines(err: str) -> list[str]:
    return [line for line in err.splitlines() if re.match(r"^\S.*?(:\d+)?: error: ", line)]


@pytest.fixture
def here(scratch: Scratch, monkeypatch: pytest.MonkeyPatch) -> Scratch:
    """The scratch root as the working folder, so paths print relative to it."""
    monkeypatch.chdir(scratch.root)
    scratch.write(f"{PIECE_DIR}/good.md", front(*VALID))
    return scratch


# --------------------------------------------------------------------------- sanity


def test_the_valid_piece_builds(here: Scratch, cli: RunCli) -> None:
    """The baseline every other test breaks: it builds and writes every output."""
    code, _out, err = build(cli, here)
    assert code == 0, err
    assert "error:" not in err
    written = set(outputs(here.root))
    assert {f"public/{ISSUE}/email.html", f"public/{ISSUE}/email.txt",
            f"public/{ISSUE}/index.html", "public/index.html", "feeds/rss.xml",
            "feeds/atom.xml", "feeds/feed.json"} <= written


# --------------------------------------------------------------------------- YAML


@pytest.mark.parametrize(
    ("lines", "line"),
    [
        (("title: A piece: with a colon", *VALID[1:]), 2),
        ((*VALID[:3], "section: [Research", "summary: A summary.", "status: ready"), 6),
        ((*VALID[:4], "\tsummary: tab indented", "status: ready"), 6),
        ((*VALID, "tags: [a, b]]"), 8),
    ],
    ids=["colon-in-title", "unclosed-flow-list", "tab-indent", "stray-bracket"],
)
def test_yaml_syntax_error_points_at_its_line(
    here: Scratch, cli: RunCli, lines: tuple[str, ...], line: int
) -> None:
    here.write(f"{PIECE_DIR}/bad.md", front(*lines))
    err = "\n".join(assert_failed(build(cli, here), here.root))
    message = one_line(err, f"{PIECE_DIR}/bad.md:")
    assert message.startswith(f"{PIECE_DIR}/bad.md:{line}: error: YAML syntax error"), message


@pytest.mark.parametrize(
    ("lines", "line"),
    [
        (("title: 2027-02-30", *VALID[1:]), 2),
        ((*VALID, "corrections: [{date: 2027-13-01, text: The figure was wrong.}]"), 8),
    ],
    ids=["title", "correction-date"],
)
def test_an_impossible_date_is_located_not_a_traceback(
    here: Scratch, cli: RunCli, lines: tuple[str, ...], line: int
) -> None:
    """YAML reads 2027-02-30 as a date that cannot be: a located error saying how to fix it
    (a real day, or quotes for text), never a ValueError traceback."""
    here.write(f"{PIECE_DIR}/bad.md", front(*lines))
    err = "\n".join(assert_failed(build(cli, here), here.root))
    message = one_line(err, f"{PIECE_DIR}/bad.md:")
    assert message.startswith(f"{PIECE_DIR}/bad.md:{line}: error: "), message
    assert "cannot exist" in message and "YYYY-MM-DD" in message and "quotes" in message


def test_an_impossible_date_hides_no_other_problem(here: Scratch, cli: RunCli) -> None:
    """The other keys of a front matter with an impossible date are still checked, so one
    run reports every problem of the piece (and its body's too)."""
    here.write(f"{PIECE_DIR}/bad.md", front(
        "title: [a, b]", "authors: [Ada Example]", "summary: 5", "status: ready",
        "order: first", "corrections: [{date: 2027-13-01, text: x}]",
        body="A link with [no target]().\n"))
    err = "\n".join(assert_failed(build(cli, here), here.root))
    for line, text in ((2, "'title' must be text"), (4, "'summary' must be text"),
                       (6, "'order' must be a whole number"), (7, "cannot exist")):
        assert f"{PIECE_DIR}/bad.md:{line}: error: {text}" in err \
            or re.search(rf"{PIECE_DIR}/bad\.md:{line}: error: .*{re.escape(text)}", err), err


# --------------------------------------------------------------------------- keys and values


@pytest.mark.parametrize(
    ("key", "typo", "suggestion"),
    [("title", "titel", "title"), ("summary", "sumary", "summary"),
     ("authors", "author", "authors"), ("status", "stauts", "status")],
)
def test_unknown_key_is_reported_at_its_line_with_a_suggestion(
    here: Scratch, cli: RunCli, key: str, typo: str, suggestion: str
) -> None:
    lines = tuple(f"{typo}:{v.split(':', 1)[1]}" if v.startswith(f"{key}:") else v
                  for v in VALID)
    here.write(f"{PIECE_DIR}/bad.md", front(*lines))
    number = next(i for i, v in enumerate(VALID, start=2) if v.startswith(f"{key}:"))
    err = "\n".join(assert_failed(build(cli, here), here.root))
    message = one_line(err, f"{PIECE_DIR}/bad.md:{number}: error: unknown key '{typo}'")
    assert f"did you mean '{suggestion}'?" in message


@pytest.mark.parametrize("key", ["title", "authors"])
def test_missing_required_field(here: Scratch, cli: RunCli, key: str) -> None:
    here.write(f"{PIECE_DIR}/bad.md", front(*(v for v in VALID if not v.startswith(f"{key}:"))))
    err = "\n".join(assert_failed(build(cli, here), here.root))
    message = one_line(err, f"{PIECE_DIR}/bad.md:1: error: missing '{key}'")
    assert "required" in message
    assert len(error_lines(err)) == 1, err


def test_summary_is_required_once_the_piece_is_ready(here: Scratch, cli: RunCli) -> None:
    here.write(f"{PIECE_DIR}/bad.md", front(*(v for v in VALID if not v.startswith("summary"))))
    err = "\n".join(assert_failed(build(cli, here), here.root))
    message = one_line(err, f"{PIECE_DIR}/bad.md:1: error: missing 'summary'")
    assert "once the piece is ready" in message


def test_summary_is_optional_for_a_draft(here: Scratch, cli: RunCli) -> None:
    lines = [v for v in VALID if not v.startswith(("summary", "status"))] + ["status: draft"]
    here.write(f"{PIECE_DIR}/wip.md", front(*lines))
    code, _out, err = build(cli, here)
    assert code == 0, err
    assert "missing 'summary'" not in err
    assert "error:" not in err
    # Previewed with --drafts, the draft is still accepted without a summary.
    code, _out, err = build(cli, here, "--drafts")
    assert code == 0, err
    assert "missing 'summary'" not in err


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("title", "12", "'title' must be text"),
        ("title", "[a, b]", "'title' must be text"),
        ("authors", "{name: Ada Example}", "'authors' must be a list"),
        ("order", "ten", "'order' must be a whole number"),
        ("order", "1.5", "'order' must be a whole number"),
        ("tags", "5", "'tags' must be a list"),
        ("summary", "", "'summary' is empty"),
    ],
    ids=["title-number", "title-list", "authors-mapping", "order-text", "order-float",
         "tags-number", "summary-empty"],
)
def test_wrong_type_is_reported_at_the_key(
    here: Scratch, cli: RunCli, key: str, value: str, expected: str
) -> None:
    if any(v.startswith(f"{key}:") for v in VALID):
        lines = replacing(key, f"{key}: {value}".rstrip())
    else:
        lines = (*VALID, f"{key}: {value}")
    number = 2 + next(i for i, v in enumerate(lines) if v.startswith(f"{key}:"))
    here.write(f"{PIECE_DIR}/bad.md", front(*lines))
    err = "\n".join(assert_failed(build(cli, here), here.root))
    one_line(err, f"{PIECE_DIR}/bad.md:{number}: error: {expected}")


@pytest.mark.parametrize(
    ("value", "hint"),
    [("Ready", "did you mean 'ready'?"), ("DRAFT", "did you mean 'draft'?"),
     ("published", "'draft' or 'ready'")],
)
def test_bad_status(here: Scratch, cli: RunCli, value: str, hint: str) -> None:
    here.write(f"{PIECE_DIR}/bad.md", front(*replacing("status", f"status: {value}")))
    err = "\n".join(assert_failed(build(cli, here), here.root))
    message = one_line(err, f"{PIECE_DIR}/bad.md:7: error: 'status' must be 'draft' or 'ready'")
    assert repr(value) in message
    assert hint in message


def test_duplicate_key_names_both_lines(here: Scratch, cli: RunCli) -> None:
    here.write(f"{PIECE_DIR}/bad.md", front(*VALID, "title: Another title"))
    err = "\n".join(assert_failed(build(cli, here), here.root))
    message = one_line(err, f"{PIECE_DIR}/bad.md:8: error: 'title' is given twice")
    assert "first on line 2" in message


def test_no_front_matter(here: Scratch, cli: RunCli) -> None:
    here.write(f"{PIECE_DIR}/bad.md", "# Just a heading\n\nAnd some text, no front matter.\n")
    err = "\n".join(assert_failed(build(cli, here), here.root))
    one_line(err, f"{PIECE_DIR}/bad.md:1: error: no front matter")


def test_unclosed_front_matter(here: Scratch, cli: RunCli) -> None:
    here.write(f"{PIECE_DIR}/bad.md", "---\n" + "".join(f"{v}\n" for v in VALID) + "\nBody.\n")
    err = "\n".join(assert_failed(build(cli, here), here.root))
    one_line(err, f"{PIECE_DIR}/bad.md:1: error: the front matter is not closed")


@pytest.mark.parametrize(
    ("data", "line"),
    [
        (front(*VALID, body="Fine.\n\nStill fine.\n").encode() + b"caf\xe9\n", 12),
        (b"---\ntitle: Caf\xe9 culture\nauthors: [Ada Example]\n---\nBody.\n", 2),
        (b"---\n" + "\n".join(VALID).encode() + b"\n---\n\xff\xfeBody.\n", 9),
    ],
    ids=["in-the-body", "in-the-front-matter", "utf16-bom-in-body"],
)
def test_non_utf8_bytes_are_reported_at_their_line(
    here: Scratch, cli: RunCli, data: bytes, line: int
) -> None:
    here.write(f"{PIECE_DIR}/bad.md", data)
    err = "\n".join(assert_failed(build(cli, here), here.root))
    message = one_line(err, f"{PIECE_DIR}/bad.md:{line}: error: not UTF-8")
    assert "save the file as UTF-8" in message


def test_unknown_section_with_suggestion(here: Scratch, cli: RunCli) -> None:
    here.write(f"{PIECE_DIR}/bad.md", front(*replacing("section", "section: Reserch")))
    err = "\n".join(assert_failed(build(cli, here), here.root))
    message = one_line(err, f"{PIECE_DIR}/bad.md:5: error: unknown section 'Reserch'")
    assert "did you mean 'Research'?" in message


@pytest.mark.parametrize(
    ("before_front", "after_opening", "line"),
    [("", "", 2), ("\n\n", "", 4), ("", "\n", 3), ("", "\n\n", 4), ("\n", "\n", 4)],
    ids=["plain", "blank-lines-before", "blank-line-after-opening", "two-blank-lines-after",
         "both"],
)
def test_key_lines_count_blank_lines_around_the_opening_dashes(
    here: Scratch, cli: RunCli, before_front: str, after_opening: str, line: int
) -> None:
    text = front(*replacing("title", "titel: A piece"))
    here.write(f"{PIECE_DIR}/bad.md", before_front + "---\n" + after_opening + text[4:])
    err = "\n".join(assert_failed(build(cli, here), here.root))
    one_line(err, f"{PIECE_DIR}/bad.md:{line}: error: unknown key 'titel'")


def test_crlf_and_bom_files_report_the_same_lines(here: Scratch, cli: RunCli) -> None:
    text = front(*replacing("status", "status: Ready")).replace("\n", "\r\n")
    here.write(f"{PIECE_DIR}/bad.md", b"\xef\xbb\xbf" + text.encode())
    err = "\n".join(assert_failed(build(cli, here), here.root))
    one_line(err, f"{PIECE_DIR}/bad.md:7: error: 'status' must be 'draft' or 'ready'")


# --------------------------------------------------------------------------- one run


def test_every_problem_of_every_file_in_one_run(here: Scratch, cli: RunCli) -> None:
    here.write(f"{PIECE_DIR}/a.md", front(*replacing("title", "titel: A")))  # 2 errors
    here.write(f"{PIECE_DIR}/b.md", front(*replacing("status", "status: Ready"),
                                          "order: ten"))  # 2 errors
    here.write(f"{PIECE_DIR}/c.md", "no front matter here\n")  # 1 error
    here.write(f"{PIECE_DIR}/d.md", b"---\ntitle: \xff\n---\n")  # 1 error
    here.write("contributors.toml", '[ada]\nname = "Ada Example"\n')  # 1 error (no team)
    err = "\n".join(assert_failed(build(cli, here), here.root))
    errors = error_lines(err)
    assert len(errors) == 7, err
    assert err.rstrip().splitlines()[-1] == "error: 7 errors; nothing was written"
    expected = [
        f"{PIECE_DIR}/a.md:2: error: unknown key 'titel'",
        f"{PIECE_DIR}/a.md:1: error: missing 'title'",
        f"{PIECE_DIR}/b.md:7: error: 'status' must be",
        f"{PIECE_DIR}/b.md:8: error: 'order' must be a whole number",
        f"{PIECE_DIR}/c.md:1: error: no front matter",
        f"{PIECE_DIR}/d.md:2: error: not UTF-8",
        "contributors.toml:1: error: [ada] has no 'team'",
    ]
    for prefix in expected:
        one_line(err, prefix)


def test_a_failed_build_leaves_previous_outputs_untouched(here: Scratch, cli: RunCli) -> None:
    code, _out, err = build(cli, here)
    assert code == 0, err
    before = outputs(here.root)
    assert before
    breakages: list[tuple[str, str | bytes]] = [
        (f"{PIECE_DIR}/good.md", front(*replacing("title", "title: [broken"))),
        (f"{PIECE_DIR}/good.md", front(*VALID, body="See [the missing](missing.pdf).\n")),
        (f"{PIECE_DIR}/good.md", front(*VALID).encode() + b"\xff"),
        ("newsletter.toml", MINIMAL_CONFIG.replace("time_zone", "time_zoen")),
        ("contributors.toml", "[ada\n"),
    ]
    originals = {rel: (here.root / rel).read_bytes() if (here.root / rel).exists() else None
                 for rel, _ in breakages}
    for rel, broken in breakages:
        here.write(rel, broken)
        assert_failed(build(cli, here), here.root, before)
        original = originals[rel]
        if original is None:
            (here.root / rel).unlink()
        else:
            (here.root / rel).write_bytes(original)
    # And the untouched root still rebuilds to exactly the same bytes.
    code, _out, err = build(cli, here)
    assert code == 0, err
    assert outputs(here.root) == before


# --------------------------------------------------------------------------- issue ids


def test_wrong_issue_id_argument_is_bad_usage(here: Scratch, cli: RunCli) -> None:
    code, _out, err = build(cli, here, issue="2026-12-equinox")
    assert code == 2, err
    assert "Traceback" not in err
    assert "'2026-12-solstice'" in err
    assert err.startswith("error: ")
    assert outputs(here.root) == {}


def test_issue_id_without_a_folder_lists_the_existing_ones(here: Scratch, cli: RunCli) -> None:
    code, _out, err = build(cli, here, issue="2027-03-equinox")
    assert code == 2, err
    assert "2026-12-solstice" in err
    assert "Traceback" not in err
    assert outputs(here.root) == {}


def test_misnamed_issue_folder_is_a_warning_naming_the_right_id(
    here: Scratch, cli: RunCli
) -> None:
    here.write("issues/2026-12-equinox/lost.md", front(*VALID))
    code, _out, err = build(cli, here)
    assert code == 0, err
    message = one_line(err, "issues/2026-12-equinox: warning: ")
    assert "'2026-12-solstice'" in message


def test_misnamed_issue_folder_is_an_error_with_strict(here: Scratch, cli: RunCli) -> None:
    here.write("issues/2026-12-equinox/lost.md", front(*VALID))
    err = "\n".join(assert_failed(build(cli, here, "--strict"), here.root))
    message = one_line(err, "issues/2026-12-equinox: error: ")
    assert "'2026-12-solstice'" in message


# --------------------------------------------------------------------------- newsletter.toml

CONFIG_LINES = MINIMAL_CONFIG.splitlines()


def config_with(**changes: str | None) -> str:
    """MINIMAL_CONFIG with ``key = ...`` lines replaced (None removes the line)."""
    out = []
    for line in CONFIG_LINES:
        key = line.split("=", 1)[0].strip()
        if key in changes:
            new = changes[key]
            if new is not None:
                out.append(new)
        else:
            out.append(line)
    return "\n".join(out) + "\n"


def config_line(text: str, start: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if line.startswith(start))


@pytest.mark.parametrize(
    ("changes", "start", "expected"),
    [
        ({"base_url": 'bse_url = "https://news.example.org"'}, "bse_url",
         "unknown key 'bse_url' — did you mean 'base_url'?"),
        ({"language": "language = 5"}, "language", "'language' must be text"),
        ({"sections": 'sections = "Research"'}, "sections", "'sections' must be a list"),
        ({"time_zone": 'time_zone = "Europe/Londn"'}, "time_zone",
         "'time_zone' unknown time zone 'Europe/Londn'"),
        ({"base_url": 'base_url = "news.example.org"'}, "base_url",
         "'base_url' must be an absolute http(s) URL"),
        ({"base_url": 'base_url = "ftp://news.example.org"'}, "base_url",
         "'base_url' must be an absolute http(s) URL"),
        ({"base_url": 'base_url = "https://news.example.org/?x=1"'}, "base_url",
         "'base_url' must not have a query"),
        ({"sender": 'sender = "not an address"'}, "sender", "'email.sender'"),
        ({"sender": 'sendr = "news@example.org"'}, "sendr",
         "unknown key 'email.sendr' — did you mean 'email.sender'?"),
    ],
    ids=["unknown-key", "language-number", "sections-text", "time-zone", "base-url-no-scheme",
         "base-url-ftp", "base-url-query", "bad-sender", "unknown-table-key"],
)
def test_newsletter_toml_problem_at_its_line(
    here: Scratch, cli: RunCli, changes: dict[str, str], start: str, expected: str
) -> None:
    text = config_with(**changes)
    here.write("newsletter.toml", text)
    err = "\n".join(assert_failed(build(cli, here), here.root))
    line = config_line(text, start)
    one_line(err, f"newsletter.toml:{line}: error: {expected}")


@pytest.mark.parametrize("key", ["title", "base_url", "sections"])
def test_newsletter_toml_missing_required_key(here: Scratch, cli: RunCli, key: str) -> None:
    here.write("newsletter.toml", config_with(**{key: None}))
    err = "\n".join(assert_failed(build(cli, here), here.root))
    one_line(err, f"newsletter.toml: error: missing required key '{key}'")


def test_newsletter_toml_missing_sender_table(here: Scratch, cli: RunCli) -> None:
    here.write("newsletter.toml", config_with(**{"[email]": None, "sender": None}))
    err = "\n".join(assert_failed(build(cli, here), here.root))
    one_line(err, "newsletter.toml: error: missing required key 'email.sender'")


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ('title = "Scratch"\nbase_url = https://news.example.org\n', 2),
        ('title = "Scratch\n', 1),
        ('title = "Scratch"\n\n\n[email\nsender = "a@example.org"\n', 4),
    ],
    ids=["bare-value", "unclosed-string", "unclosed-table"],
)
def test_newsletter_toml_syntax_error_line(
    here: Scratch, cli: RunCli, text: str, line: int
) -> None:
    here.write("newsletter.toml", text)
    err = "\n".join(assert_failed(build(cli, here), here.root))
    one_line(err, f"newsletter.toml:{line}: error: TOML syntax error")


def test_newsletter_toml_problems_all_at_once(here: Scratch, cli: RunCli) -> None:
    text = config_with(
        base_url='base_url = "ftp://news.example.org"',
        language="language = 5",
        time_zone='time_zone = "Mars/Olympus_Mons"',
        title='titel = "Scratch Weekly"',
    )
    here.write("newsletter.toml", text)
    err = "\n".join(assert_failed(build(cli, here), here.root))
    expected = [
        f"newsletter.toml:{config_line(text, 'titel')}: error: unknown key 'titel'",
        f"newsletter.toml:{config_line(text, 'base_url')}: error: 'base_url'",
        f"newsletter.toml:{config_line(text, 'language')}: error: 'language'",
        f"newsletter.toml:{config_line(text, 'time_zone')}: error: 'time_zone'",
        "newsletter.toml: error: missing required key 'title'",
    ]
    for prefix in expected:
        one_line(err, prefix)
    assert len(error_lines(err)) == len(expected), err
    assert "error: 5 errors; nothing was written" in err


def test_missing_newsletter_toml(scratch: Scratch, cli: RunCli) -> None:
    (scratch.root / "newsletter.toml").unlink()
    err = "\n".join(assert_failed(build(cli, scratch), scratch.root))
    assert "newsletter.toml: error: no newsletter.toml here" in err


# --------------------------------------------------------------------------- contributors.toml

PEOPLE = '[ada]\nname = "Ada Example"\nteam = "Policy"\n\n'


def test_contributors_unknown_key(here: Scratch, cli: RunCli) -> None:
    here.write("contributors.toml", PEOPLE + '[bob]\nname = "Bob Example"\nteem = "Legal"\n')
    err = "\n".join(assert_failed(build(cli, here), here.root))
    message = one_line(err, "contributors.toml:7: error: unknown key 'teem'")
    assert "did you mean 'team'?" in message


def test_contributors_missing_team(here: Scratch, cli: RunCli) -> None:
    here.write("contributors.toml", PEOPLE + '[bob]\nname = "Bob Example"\n')
    err = "\n".join(assert_failed(build(cli, here), here.root))
    one_line(err, "contributors.toml:5: error: [bob] has no 'team'")
    assert len(error_lines(err)) == 1, err


def test_contributors_wrong_type(here: Scratch, cli: RunCli) -> None:
    here.write("contributors.toml", PEOPLE + '[bob]\nname = "Bob Example"\nteam = 7\n')
    err = "\n".join(assert_failed(build(cli, here), here.root))
    one_line(err, "contributors.toml:7: error: 'team' of [bob] must be text")


def test_contributors_syntax_error(here: Scratch, cli: RunCli) -> None:
    here.write("contributors.toml", PEOPLE + '[bob\nname = "Bob Example"\n')
    err = "\n".join(assert_failed(build(cli, here), here.root))
    one_line(err, "contributors.toml:5: error: TOML syntax error")


# --------------------------------------------------------------------------- authors


def test_unknown_author_is_a_warning(here: Scratch, cli: RunCli) -> None:
    here.write("contributors.toml", PEOPLE)
    here.write(f"{PIECE_DIR}/good.md",
               front(*replacing("authors", "authors: [Ada Example, Ada Exampel]")))
    code, _out, err = build(cli, here)
    assert code == 0, err
    message = one_line(err, f"{PIECE_DIR}/good.md:3: warning: 'Ada Exampel' is not in "
                            "contributors.toml")
    assert "did you mean 'Ada Example'?" in message
    assert "'Ada Example' is not" not in err  # the known one is found
    assert (here.root / "public" / ISSUE / "email.html").is_file()


def test_unknown_author_is_an_error_with_strict(here: Scratch, cli: RunCli) -> None:
    here.write("contributors.toml", PEOPLE)
    here.write(f"{PIECE_DIR}/good.md", front(*replacing("authors", "authors: [Bob Nobody]")))
    err = "\n".join(assert_failed(build(cli, here, "--strict"), here.root))
    one_line(err, f"{PIECE_DIR}/good.md:3: error: 'Bob Nobody' is not in contributors.toml")


def test_no_contributors_file_means_no_author_warning(here: Scratch, cli: RunCli) -> None:
    here.write(f"{PIECE_DIR}/good.md", front(*replacing("authors", "authors: [Bob Nobody]")))
    code, _out, err = build(cli, here, "--strict")
    assert code == 0, err
    assert "Bob Nobody" not in err


# --------------------------------------------------------------------------- drafts

DRAFT_TITLE = "Work in progress on heat"


def _with_draft(scratch: Scratch) -> None:
    lines = [*replacing("title", f"title: {DRAFT_TITLE}")]
    lines = [v for v in lines if not v.startswith("status")] + ["status: draft"]
    scratch.write(f"{PIECE_DIR}/wip.md", front(*lines, body="Half-written thoughts.\n"))


def test_draft_is_left_out_and_listed(here: Scratch, cli: RunCli) -> None:
    _with_draft(here)
    code, _out, err = build(cli, here)
    assert code == 0, err
    message = one_line(err, f"{PIECE_DIR}/wip.md: note: left out: ")
    assert "draft" in message
    built = outputs(here.root)
    for name in (f"public/{ISSUE}/email.html", f"public/{ISSUE}/email.txt",
                 f"public/{ISSUE}/index.html", "feeds/rss.xml", "feeds/atom.xml",
                 "feeds/feed.json"):
        assert DRAFT_TITLE.encode() not in built[name], name
        assert b"Half-written" not in built[name], name


def test_a_piece_without_status_is_a_draft(here: Scratch, cli: RunCli) -> None:
    lines = [v for v in replacing("title", f"title: {DRAFT_TITLE}") if not v.startswith("status")]
    here.write(f"{PIECE_DIR}/wip.md", front(*lines))
    code, _out, err = build(cli, here)
    assert code == 0, err
    one_line(err, f"{PIECE_DIR}/wip.md: note: left out: ")
    assert DRAFT_TITLE.encode() not in outputs(here.root)[f"public/{ISSUE}/email.html"]


def test_drafts_preview_marks_the_draft_and_writes_no_feeds(here: Scratch, cli: RunCli) -> None:
    _with_draft(here)
    code, out, err = build(cli, here, "--drafts")
    assert code == 0, err
    assert "feeds not written" in out
    assert not (here.root / "feeds").exists()
    folder = here.root / "preview" / ISSUE
    email_html = (folder / "email.html").read_text(encoding="utf-8")
    email_txt = (folder / "email.txt").read_text(encoding="utf-8")
    web = (folder / "index.html").read_text(encoding="utf-8")
    assert re.search(r">\s*DRAFT\s*</span>\s*" + re.escape(DRAFT_TITLE), email_html)
    assert f"[DRAFT] {DRAFT_TITLE}" in email_txt
    assert re.search(r">\s*DRAFT\s*</span>\s*" + re.escape(DRAFT_TITLE), web)
    assert "Half-written thoughts." in email_txt
    # The ready piece is not marked.
    assert "[DRAFT] A piece" not in email_txt


def test_drafts_preview_leaves_existing_feeds_unchanged(here: Scratch, cli: RunCli) -> None:
    code, _out, err = build(cli, here)
    assert code == 0, err
    feeds = {k: v for k, v in outputs(here.root).items() if k.startswith("feeds/")}
    assert len(feeds) == 3
    _with_draft(here)
    code, _out, err = build(cli, here, "--drafts")
    assert code == 0, err
    after = {k: v for k, v in outputs(here.root).items() if k.startswith("feeds/")}
    assert after == feeds
    for data in after.values():
        assert DRAFT_TITLE.encode() not in data
