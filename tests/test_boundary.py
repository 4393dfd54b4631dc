"""Nothing unsafe through the content boundary: hostile or broken input gets a located error
(or harmless output), never a traceback, a hang or a change to the previous outputs.

Each test states the rule it checks in its docstring. Every attack here failed before its fix,
but the image linked from outside the root, which was refused already (kept as a guard); the
tests of what stays allowed (safe file types, links inside the root) passed before too.
"""

from __future__ import annotations

import html
import json
import os
import re
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import feedparser
import httpx
import pytest

from pipeline.preview import Preview, create_preview_app
from pipeline.serving import bind
from tests.conftest import RunCli, Scratch, png
from tests.smtp_sink import SmtpSink
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
from tests.test_delivery import add_people, parse, send
from tests.web_server import serving


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
    # the authors are known now that the other keys are read: "(by Ada Example)"
    assert re.search(rf"{re.escape(str(path))}( \(by [^)]*\))?: 1 error, first: "
                     rf"{re.escape(expected)}", out), out
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


# --------------------------------------------------------------------------- symlinks, devices

SECRET = "SECRET-OUTSIDE-THE-ROOT"


def run_cli(*argv: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """``newsletter ARGS`` in its own process, stopped (and the test failed) after 60 s: a
    build that reads a FIFO or /dev/zero hangs instead of returning."""
    env = {**os.environ, "SOURCE_DATE_EPOCH": "1798761600", "NO_COLOR": "1"}
    return subprocess.run([sys.executable, "-m", "pipeline.cli", *argv], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=60, check=False)


@pytest.fixture
def elsewhere(tmp_path: Path) -> Path:
    """A folder outside the newsletter root, holding a valid piece whose text is a secret."""
    folder = tmp_path / "elsewhere"
    folder.mkdir()
    (folder / "secret.md").write_text(front(*VALID, body=f"{SECRET}\n"), encoding="utf-8")
    (folder / "issue.md").write_text(f"---\ntitle: {SECRET}\n---\n{SECRET}\n",
                                     encoding="utf-8")
    (folder / "secret.png").write_bytes(b"\x89PNG\r\n\x1a\n" + SECRET.encode())
    return folder


def _published(root: Path) -> bytes:
    return b"".join(outputs(root).values())


@pytest.mark.parametrize("link", ["piece", "issue.md"])
def test_a_file_linked_from_outside_the_root_is_never_read(
    here: Scratch, cli: RunCli, elsewhere: Path, link: str
) -> None:
    """A piece or issue.md that is a symbolic link to a file outside the newsletter root is
    an error at its path; its text reaches no output and no message."""
    before = built_once(cli, here)
    name = "linked.md" if link == "piece" else "issue.md"
    target = elsewhere / ("secret.md" if link == "piece" else "issue.md")
    (here.root / PIECE_DIR / name).symlink_to(target)
    err = "\n".join(assert_failed(build(cli, here), here.root, before))
    message = one_line(err, f"{PIECE_DIR}/{name}: error: is a link to ")
    assert "outside the newsletter root" in message
    assert SECRET not in err
    code, out, err = cli("check", ISSUE, "--root", str(here.root))
    assert code == 1
    assert f"{PIECE_DIR}/{name}: error: is a link to " in out
    assert SECRET not in out + err


def test_a_piece_linked_inside_the_root_is_still_read(here: Scratch, cli: RunCli) -> None:
    """A link that stays inside the newsletter root is an ordinary piece."""
    here.write("shared/common.md", front(*replacing("title", "title: Shared piece")))
    (here.root / PIECE_DIR / "common.md").symlink_to(here.root / "shared" / "common.md")
    code, _out, err = build(cli, here)
    assert code == 0, err
    assert b"Shared piece" in outputs(here.root)[f"public/{ISSUE}/index.html"]


def test_an_issue_folder_linked_from_outside_the_root_is_never_read(
    here: Scratch, cli: RunCli, elsewhere: Path
) -> None:
    """An issue folder that links outside the root is an error at its path; none of its
    files is read or published."""
    before = built_once(cli, here)
    (here.root / "issues" / "2026-09-equinox").symlink_to(elsewhere, target_is_directory=True)
    for result in (build(cli, here), cli("build", "--root", str(here.root))):
        err = "\n".join(assert_failed(result, here.root, before))
        one_line(err, "issues/2026-09-equinox: error: is a link to ")
        assert SECRET not in err
    assert SECRET.encode() not in _published(here.root)


def test_an_image_linked_from_outside_the_root_is_never_published(
    here: Scratch, cli: RunCli, elsewhere: Path
) -> None:
    """An image that is a link to a file outside the root is an error; it is not copied."""
    before = built_once(cli, here)
    (here.root / PIECE_DIR / "chart.png").symlink_to(elsewhere / "secret.png")
    here.write(f"{PIECE_DIR}/good.md", front(*VALID, body="![A chart](chart.png)\n"))
    err = "\n".join(assert_failed(build(cli, here), here.root, before))
    assert "outside" in one_line(err, f"{PIECE_DIR}/good.md:")
    assert SECRET.encode() not in _published(here.root)


@pytest.mark.parametrize("kind", ["fifo", "device"])
def test_a_fifo_or_device_named_md_is_refused_not_read(
    here: Scratch, cli: RunCli, kind: str
) -> None:
    """A FIFO or a link to /dev/zero named like a piece is refused at its path without
    reading it: the build ends at once with the error, and the previous outputs stay."""
    before = built_once(cli, here)
    path = here.root / PIECE_DIR / "stream.md"
    if kind == "fifo":
        os.mkfifo(path)
        expected = "error: is not a regular file"
    else:
        path.symlink_to("/dev/zero")
        expected = "error: is a link to /dev/zero, outside the newsletter root"
    for argv in (["build-issue", ISSUE], ["build"], ["check", ISSUE], ["status", ISSUE]):
        done = run_cli(*argv, "--root", str(here.root), cwd=here.root)
        assert "Traceback" not in done.stderr, done.stderr
        assert f"{PIECE_DIR}/stream.md" in done.stdout + done.stderr
    done = run_cli("build-issue", ISSUE, "--root", str(here.root), cwd=here.root)
    assert done.returncode == 1, done.stderr
    one_line(done.stderr, f"{PIECE_DIR}/stream.md: {expected}")
    assert outputs(here.root) == before


def test_a_fifo_inside_the_root_linked_as_an_image_is_refused(
    here: Scratch, cli: RunCli
) -> None:
    """A FIFO linked from a piece is not a file that can be published: an error at the
    line of the link, and the build does not hang copying it."""
    os.mkfifo(here.root / PIECE_DIR / "chart.png")
    here.write(f"{PIECE_DIR}/good.md", front(*VALID, body="Text.\n\n![A chart](chart.png)\n"))
    done = run_cli("build-issue", ISSUE, "--root", str(here.root), cwd=here.root)
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr
    one_line(done.stderr, f"{PIECE_DIR}/good.md:11: error: 'chart.png' is not a regular file")


# --------------------------------------------------------------------------- size


def test_a_piece_over_the_size_limit_is_refused_before_parsing(
    here: Scratch, cli: RunCli
) -> None:
    """A piece over max_piece_kb (default 1 MB) is an error at its path, refused unread:
    even one whose front matter is broken gets only that error."""
    before = built_once(cli, here)
    big = "---\ntitle: [broken\n---\n" + "word " * 220_000  # 1.1 MB, bad YAML too
    here.write(f"{PIECE_DIR}/huge.md", big)
    err = "\n".join(assert_failed(build(cli, here), here.root, before))
    message = one_line(err, f"{PIECE_DIR}/huge.md: error: is 1,074 KB, over the limit of "
                            "1,024 KB")
    assert "max_piece_kb" in message
    assert "YAML" not in err


def test_the_size_limit_is_configurable(here: Scratch, cli: RunCli) -> None:
    """max_piece_kb in newsletter.toml sets the limit; a bad value is a located config error."""
    here.write(f"{PIECE_DIR}/long.md", front(*VALID, body="word " * 2_000))  # 10 KB
    config = (here.root / "newsletter.toml").read_text(encoding="utf-8")
    here.write("newsletter.toml", "max_piece_kb = 8\n" + config)
    err = "\n".join(assert_failed(build(cli, here), here.root))
    one_line(err, f"{PIECE_DIR}/long.md: error: is 10 KB, over the limit of 8 KB")
    here.write("newsletter.toml", "max_piece_kb = 16\n" + config)
    code, _out, err = build(cli, here)
    assert code == 0, err
    here.write("newsletter.toml", "max_piece_kb = 0\n" + config)
    err = "\n".join(assert_failed(build(cli, here), here.root, outputs(here.root)))
    one_line(err, "newsletter.toml:1: error: 'max_piece_kb' must be a positive number")


# --------------------------------------------------------------------------- linked files

SVG = '<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" ' \
      'width="10" height="10">{}</svg>\n'
CLEAN_SVG = ('<?xml version="1.0" encoding="UTF-8"?>\n'
             '<!DOCTYPE svg PUBLIC "-//W3C//DTD SVG 1.1//EN" '
             '"http://www.w3.org/Graphics/SVG/1.1/DTD/svg11.dtd">\n'
             + SVG.format('<defs><linearGradient id="g"><stop offset="0"/></linearGradient>'
                          '</defs><rect width="10" height="10" fill="url(#g)"/>'
                          '<use xlink:href="#g"/><title>A square</title>'))

#: name -> (file contents, what the error says the file holds)
UNSAFE_FILES: dict[str, tuple[str, str]] = {
    "appendix.html": ("<p>Hi</p><script>alert(document.cookie)</script>\n",
                      "is a .html file, which a browser could run"),
    "tool.js": ("alert(1)\n", "is a .js file"),
    "page.xhtml": ("<html xmlns='http://www.w3.org/1999/xhtml'/>\n", "is a .xhtml file"),
    "README": ("no type\n", "is a file without a type"),
    "script.svg": (SVG.format("<script>alert(1)</script>"), "a <script> element"),
    "namespaced.svg": (SVG.format('<svg:script xmlns:svg="http://www.w3.org/2000/svg">'
                                  "alert(1)</svg:script>"), "a <script> element"),
    "onload.svg": (SVG.format('<rect width="1" height="1" onload="alert(1)"/>'),
                   "an event handler (onload= on <rect>)"),
    "external.svg": (SVG.format('<image href="https://tracker.example/p.png"/>'),
                     "a reference to another file or site (href="),
    "xlink.svg": (SVG.format('<a xlink:href="javascript:alert(1)"><text>x</text></a>'),
                  "a reference to another file or site (href="),
    "foreign.svg": (SVG.format("<foreignObject><div xmlns='http://www.w3.org/1999/xhtml'>"
                               "x</div></foreignObject>"), "a <foreignObject> element"),
    "css.svg": (SVG.format("<style>@import url(https://tracker.example/a.css);</style>"),
                "a stylesheet that loads another file"),
    "filter.svg": (SVG.format('<rect filter="url(https://tracker.example/f.svg#f)"/>'),
                   "a reference to another file or site (filter="),
    "animate.svg": (SVG.format('<a><set attributeName="href" to="javascript:alert(1)"/>'
                               "<text>x</text></a>"), "an animation of href on <set>"),
    "pi.svg": ('<?xml-stylesheet href="https://tracker.example/a.css"?>\n' + SVG.format(""),
               "the processing instruction <?xml-stylesheet?>"),
    "entity.svg": ('<!DOCTYPE svg [<!ENTITY s "&#60;script&#62;alert(1)&#60;/script&#62;">]>'
                   "\n" + SVG.format("&s;"), "an entity declaration"),
    "broken.svg": ("<svg", "XML that cannot be read"),
}


@pytest.mark.parametrize("name", sorted(UNSAFE_FILES))
def test_a_linked_file_that_could_run_is_refused_at_the_line_of_its_link(
    here: Scratch, cli: RunCli, name: str
) -> None:
    """Only safe types are published with an issue: HTML, scripts, files without a type and
    SVG images with scripts, event handlers, foreign content or outside references are an
    error at the line of the link, and nothing is written."""
    before = built_once(cli, here)
    content, expected = UNSAFE_FILES[name]
    here.write(f"{PIECE_DIR}/{name}", content)
    link = f"![A chart]({name})" if name.endswith(".svg") else f"[the details]({name})"
    here.write(f"{PIECE_DIR}/good.md", front(*VALID, body=f"Intro.\n\nSee {link}.\n"))
    err = "\n".join(assert_failed(build(cli, here), here.root, before))
    message = one_line(err, f"{PIECE_DIR}/good.md:11: error: '{name}' ")
    assert expected in message, message
    assert not any(path.endswith(name) for path in outputs(here.root))


@pytest.mark.parametrize("name", ["chart.png", "report.pdf", "data.csv", "notes.txt",
                                  "square.svg"])
def test_a_linked_file_of_a_safe_type_is_published(
    here: Scratch, cli: RunCli, name: str
) -> None:
    """Images, PDF, CSV, plain text and an SVG that only refers to itself are published."""
    here.write(f"{PIECE_DIR}/{name}", CLEAN_SVG if name.endswith(".svg") else b"data\n")
    here.write(f"{PIECE_DIR}/good.md", front(*VALID, body=f"See [the file]({name}).\n"))
    code, _out, err = build(cli, here)
    assert code == 0, err
    assert f"public/{ISSUE}/{name}" in outputs(here.root)


def test_an_svg_changed_after_a_cached_build_is_judged_again(
    here: Scratch, cli: RunCli
) -> None:
    """The render cache never vouches for an SVG it judged before it changed: a script added
    later is refused, and removing it again lets the build through."""
    here.write(f"{PIECE_DIR}/square.svg", CLEAN_SVG)
    here.write(f"{PIECE_DIR}/good.md", front(*VALID, body="![A square](square.svg)\n"))
    before = built_once(cli, here)
    here.write(f"{PIECE_DIR}/square.svg", SVG.format("<script>alert(1)</script>"))
    err = "\n".join(assert_failed(build(cli, here), here.root, before))
    one_line(err, f"{PIECE_DIR}/good.md:9: error: 'square.svg' is an SVG image with a "
                  "<script> element")
    here.write(f"{PIECE_DIR}/square.svg", CLEAN_SVG)
    code, _out, err = build(cli, here)
    assert code == 0, err
    assert outputs(here.root) == before


def test_the_preview_serves_only_files_a_build_would_publish(here: Scratch) -> None:
    """Files left in the preview folder that a build would refuse (a page, a script, an SVG
    with a script) get 403 from the preview; its pages and safe files are served."""


    here.write(f"{PIECE_DIR}/chart.png", png())
    here.write(f"{PIECE_DIR}/good.md", front(*VALID, body="![A chart](chart.png)\n"))
    preview = Preview(here.root, ISSUE, now=lambda: datetime(2026, 12, 1, tzinfo=UTC))
    assert preview.rebuild().error is None
    folder = here.root / "preview" / ISSUE
    (folder / "appendix.html").write_text("<script src='tool.js'></script>", encoding="utf-8")
    (folder / "tool.js").write_text("alert(1)", encoding="utf-8")
    (folder / "evil.svg").write_text(SVG.format("<script>alert(1)</script>"), encoding="utf-8")
    sock = bind("127.0.0.1", 0)
    with serving(create_preview_app(preview, watch=False), sock):
        url = f"http://127.0.0.1:{sock.getsockname()[1]}/{ISSUE}/"
        for name in ("appendix.html", "tool.js", "evil.svg"):
            answer = httpx.get(url + name, timeout=10)
            assert answer.status_code == 403, name
            assert "alert" not in answer.text
        for name in ("", "email.html", "email.txt", "chart.png"):
            assert httpx.get(url + name, timeout=10).status_code == 200, name


# --------------------------------------------------------------------------- delivery


def test_the_unsubscribe_placeholder_in_a_piece_is_delivered_literally(
    sample_copy: Path,
) -> None:
    """Author content never reaches per-reader substitution: a piece (title, text and link)
    holding the placeholder the email files use is sent with it as written, and each
    reader's own unsubscribe link appears only where the template puts it."""
    placeholder = "%%unsubscribe_url%%"
    piece = sample_copy / "issues" / ISSUE / "datasheets-before-deployment.md"
    text = piece.read_text(encoding="utf-8").replace(
        "\ntitle: ", f"\ntitle: Keep {placeholder} safe, ", 1)
    piece.write_text(text + f"\nLiteral: {placeholder} and [a link]"
                     f"(https://evil.example/steal?t={placeholder}).\n", encoding="utf-8")
    people = add_people(sample_copy, [("ada@example.org", "Ada"), ("bob@example.org", None)])
    with SmtpSink() as sink:
        report = send(sample_copy, smtp_url=sink.url)
        assert report.sent == len(people)
        assert len(sink.messages) == len(people)
        for received in sink.messages:
            message = parse(received.data)
            url = str(message["List-Unsubscribe"]).split("<", 1)[1].split(">", 1)[0]
            assert "token=" in url
            plain, rich = (part.get_content() for part in message.iter_parts())
            for body in (plain, rich):
                assert body.count(url) == 1, "the reader's link is only the template's"
                assert "evil.example/steal?t=https" not in body
                assert f"Literal: {placeholder}" in body
                assert f"Keep {placeholder} safe, " in body
            assert f"https://evil.example/steal?t={placeholder}" in rich
    built = (sample_copy / "public" / ISSUE / "email.txt").read_text(encoding="utf-8")
    assert built.count(placeholder) >= 2  # the built file still marks the link as before
