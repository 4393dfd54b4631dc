"""Nothing unsafe through the content boundary: hostile or broken input gets a located error
(or harmless output), never a traceback, a hang or a change to the previous outputs.

Each test states the rule it checks in its docstring; each attack failed before its fix.
"""

from __future__ import annotations

import html
import json

import feedparser
import pytest

from tests.conftest import RunCli, Scratch
from tests.test_content_errors import (
    ISSUE,
    PIECE_DIR,
    VALID,
    assert_failed,
    build,
    front,
    one_line,
    outputs,
    replacing,
)


@pytest.fixture
def here(scratch: Scratch, monkeypatch: pytest.MonkeyPatch) -> Scratch:
    """The scratch root as the working folder, with one valid piece."""
    monkeypatch.chdir(scratch.root)
    scratch.write(f"{PIECE_DIR}/good.md", front(*VALID))
    return scratch


def built_once(cli: RunCli, scratch: Scratch) -> dict[str, bytes]:
    """Build the valid newsletter once; its outputs, which a failed build must not touch."""
    code, _out, err = build(cli, scratch)
    assert code == 0, err
    before = outputs(scratch.root)
    assert before
    return before


# --------------------------------------------------------------------------- YAML values

UNHOLDABLE = {
    "impossible-date": ("title: 2026-02-30", 2, "'title' has the value '2026-02-30'"),
    "huge-integer": ("order: " + "9" * 5000, 8, "'order' has the value '9999"),
    "impossible-correction-date": ("corrections: [{date: 2027-02-30, text: Fixed.}]", 8,
                                   "'corrections' has the value '2027-02-30'"),
}


def _unholdable_piece(scratch: Scratch, case: str) -> str:
    line, _, _ = UNHOLDABLE[case]
    key = line.split(":", 1)[0]
    lines = replacing(key, line) if any(v.startswith(f"{key}:") for v in VALID) \
        else (*VALID, line)
    scratch.write(f"{PIECE_DIR}/bad.md", front(*lines))
    return f"{PIECE_DIR}/bad.md"


@pytest.mark.parametrize("case", sorted(UNHOLDABLE))
def test_a_yaml_value_python_cannot_hold_is_a_located_build_error(
    here: Scratch, cli: RunCli, case: str
) -> None:
    """A date that does not exist or an integer over Python's 4300-digit limit is an error at
    the line of its key in build-issue and build, never a traceback; nothing is written."""
    before = built_once(cli, here)
    path = _unholdable_piece(here, case)
    _, line, expected = UNHOLDABLE[case]
    for result in (build(cli, here), cli("build", "--root", str(here.root))):
        err = "\n".join(assert_failed(result, here.root, before))
        message = one_line(err, f"{path}:{line}: error: {expected}")
        assert "put it in quotes" in message
        assert len(message) < 400, "the value is shortened, not printed whole"


@pytest.mark.parametrize("case", sorted(UNHOLDABLE))
def test_a_yaml_value_python_cannot_hold_is_located_in_check_status_and_report(
    here: Scratch, cli: RunCli, case: str
) -> None:
    """check reports the value at its line; status counts the piece as failing with the
    message; report leaves it out with a warning: none of them shows a traceback."""
    path = _unholdable_piece(here, case)
    _, line, expected = UNHOLDABLE[case]
    code, out, err = cli("check", ISSUE, "--root", str(here.root))
    assert code == 1, err
    assert "Traceback" not in out + err
    assert f"{path}:{line}:1: error: {expected}" in out
    code, out, err = cli("status", ISSUE, "--root", str(here.root))
    assert "Traceback" not in out + err
    assert code == 0, err
    assert f"{path}: 1 error, first: {expected}" in out
    code, out, err = cli("report", "--root", str(here.root))
    assert "Traceback" not in out + err
    assert code == 0, err
    assert f"{path}: has errors, so it is not counted" in err


# --------------------------------------------------------------------------- terminal escapes


def test_escape_bytes_in_file_names_and_keys_are_printed_escaped(
    here: Scratch, cli: RunCli
) -> None:
    """ESC and BEL in a file name or a front-matter key reach the terminal as \\x1b and \\x07,
    in build-issue's and check's messages alike, never as the raw bytes."""
    name = "evil\x1b[2J\x07.md"
    here.write(f"{PIECE_DIR}/{name}", front(*VALID, '"ti\\e]0;owned\\atle": x'))
    here.write(f"{PIECE_DIR}/notes\x1b[31m.txt", "not a piece\n")
    code, out, err = build(cli, here)
    assert code == 1
    code2, out2, err2 = cli("check", ISSUE, "--root", str(here.root))
    assert code2 == 1
    for text in (out, err, out2, err2):
        assert "\x1b" not in text and "\x07" not in text, text
    one_line(err, f"{PIECE_DIR}/evil\\x1b[2J\\x07.md:8: error: unknown key "
                  "'ti\\x1b]0;owned\\x07tle'")
    one_line(err, f"{PIECE_DIR}/notes\\x1b[31m.txt: note: left out")
    assert f"{PIECE_DIR}/evil\\x1b[2J\\x07.md:8:1: error: unknown key" in out2


def test_a_raw_control_character_in_the_front_matter_is_located_and_escaped(
    here: Scratch, cli: RunCli
) -> None:
    """YAML refuses a raw ESC in the front matter: the error names its line, and the byte is
    printed escaped."""
    here.write(f"{PIECE_DIR}/good.md", front(*VALID, "ti\x1b]0;owned\x07tle: x"))
    code, _out, err = build(cli, here)
    assert code == 1
    assert "\x1b" not in err and "\x07" not in err, err
    one_line(err, f"{PIECE_DIR}/good.md:8: error: YAML error: unacceptable character")


def test_a_newline_in_a_key_cannot_forge_a_line_of_output(here: Scratch, cli: RunCli) -> None:
    """A quoted key holding a newline is printed on one line, so it cannot pass for a
    message of its own."""
    here.write(f"{PIECE_DIR}/good.md", front(*VALID, '"x\\nissues/fake.md:1: error: forged": 1'))
    code, _out, err = build(cli, here)
    assert code == 1
    assert not any(line.startswith("issues/fake.md") for line in err.splitlines()), err
    one_line(err, f"{PIECE_DIR}/good.md:8: error: unknown key 'x\\nissues/fake.md:1:")


# --------------------------------------------------------------------------- feeds

HOSTILE_SUMMARY = "Tags <b>stay</b> text & <img src=x onerror=alert(1)> too"


def test_summaries_are_plain_text_in_every_feed(scratch: Scratch, cli: RunCli) -> None:
    """A summary is plain text: feedparser reads it back as the same characters from RSS and
    Atom, never as markup (RSS's description is HTML, so it is escaped as text there), and
    JSON Feed's summary is the same text."""
    scratch.write(f"{PIECE_DIR}/good.md",
                  front(*replacing("summary", f"summary: '{HOSTILE_SUMMARY}'")))
    code, _out, err = build(cli, scratch)
    assert code == 0, err
    feeds = scratch.root / "feeds"
    rss = feedparser.parse((feeds / "rss.xml").read_bytes())
    assert not rss.bozo, rss.bozo_exception
    [item] = rss.entries
    assert item.summary_detail.type == "text/html"
    assert html.unescape(item.summary) == HOSTILE_SUMMARY
    assert "<b>" not in item.summary and "<img" not in item.summary
    atom = feedparser.parse((feeds / "atom.xml").read_bytes())
    assert not atom.bozo, atom.bozo_exception
    assert atom.entries[0].summary_detail.type == "text/plain"
    assert atom.entries[0].summary == HOSTILE_SUMMARY
    json_feed = json.loads((feeds / "feed.json").read_bytes())
    assert json_feed["items"][0]["summary"] == HOSTILE_SUMMARY


def test_the_channel_description_is_plain_text_too(scratch: Scratch, cli: RunCli) -> None:
    """newsletter.toml's description reaches RSS readers as the text it is."""
    config = (scratch.root / "newsletter.toml").read_text(encoding="utf-8")
    scratch.write("newsletter.toml", config.replace(
        'description = "A scratch newsletter for tests."',
        'description = "Research <i>and</i> practice & more"'))
    scratch.write(f"{PIECE_DIR}/good.md", front(*VALID))
    code, _out, err = build(cli, scratch)
    assert code == 0, err
    rss = feedparser.parse((scratch.root / "feeds" / "rss.xml").read_bytes())
    assert html.unescape(rss.feed.subtitle) == "Research <i>and</i> practice & more"
    assert "<i>" not in rss.feed.subtitle
