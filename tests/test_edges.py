"""The edges of the command line: a closed pipe, control characters in newsletter.toml, and
the words the outputs use."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from tests.conftest import AS_OF_EPOCH, REPO, RunCli, Scratch


def _first_line_then_close(*argv: str, cwd: Path) -> tuple[int, str, str]:
    """Run ``newsletter ARGV`` into a pipe, read one line and close the pipe, as ``| head -1``
    does; (exit status, the line, stderr)."""
    env = {**os.environ, "SOURCE_DATE_EPOCH": AS_OF_EPOCH, "PYTHONPATH": str(REPO)}
    process = subprocess.Popen([sys.executable, "-m", "pipeline.cli", *argv], cwd=cwd, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert process.stdout is not None and process.stderr is not None
    line = process.stdout.readline().decode()
    process.stdout.close()
    err = process.stderr.read().decode()
    return process.wait(timeout=60), line, err


def test_a_closed_pipe_ends_the_command_quietly(tmp_path: Path) -> None:
    """``newsletter calendar --count 1000 | head -1`` and ``--json | head -1``: no traceback,
    nothing on stderr, and the status a shell reports for a tool SIGPIPE stopped."""
    for argv in (("calendar", "--count", "1000"), ("calendar", "--count", "1000", "--json")):
        code, line, err = _first_line_then_close(*argv, cwd=tmp_path)
        assert line.strip(), argv
        assert err == "", err
        # The table (85 KB) may fit in the pipe and the first read before the pipe closes;
        # the JSON (150 KB) cannot.
        assert code == 141 if "--json" in argv else code in (0, 141), (argv, code)


def test_check_json_into_a_closed_pipe(scratch: Scratch) -> None:
    """``check --format json | head -1`` over an issue with many findings stops quietly."""
    for n in range(300):
        scratch.piece("2027-03-equinox", f"piece-{n:03d}", title=f"Click here {n}",
                      body="[click here](https://example.org)\n\n![](missing.png)\n")
    code, line, err = _first_line_then_close("check", "2027-03-equinox", "--format", "json",
                                             cwd=scratch.root)
    assert line.startswith("[")
    assert "Traceback" not in err and "BrokenPipeError" not in err
    assert code == 141


def test_subscribers_export_into_a_closed_pipe(scratch: Scratch, cli: RunCli) -> None:
    """``subscribers export | head -1``: the store's half-read rows end quietly too (no
    "Exception ignored" from a cursor closed after its database)."""
    rows = "".join(f"reader{n}@example.org\n" for n in range(200))
    scratch.write("readers.csv", "email\n" + rows)
    assert cli("subscribers", "import", str(scratch.root / "readers.csv"),
               "--root", str(scratch.root), "-q")[0] == 0
    code, line, err = _first_line_then_close("subscribers", "export", cwd=scratch.root)
    assert line.startswith("email,")
    assert err == "", err
    assert code in (0, 141)


def test_a_line_break_in_a_text_value_is_refused_at_its_line(scratch: Scratch,
                                                             cli: RunCli) -> None:
    """A title with a line break would break the calendar, the email headers and the feeds:
    refused at the line of the key, with how to fix it, never a traceback."""
    config = scratch.root / "newsletter.toml"
    text = config.read_text(encoding="utf-8")
    config.write_text(text.replace('title = "Scratch Weekly"', 'title = "Scratch\\nWeekly"')
                      .replace('description = "A scratch newsletter for tests."',
                               'description = "A tab\\there"'), encoding="utf-8")
    code, out, err = cli("calendar", "--ics", str(scratch.root / "cal.ics"),
                         "--root", str(scratch.root))
    assert code == 1
    assert "newsletter.toml:1: error: 'title' has a control character (U+000A): write it on " \
           "one line" in err
    assert "newsletter.toml:2: error: 'description' has a control character (U+0009)" in err
    assert "Traceback" not in err and out == ""
    assert not (scratch.root / "cal.ics").exists()


def test_a_list_of_text_with_a_control_character_is_refused(scratch: Scratch,
                                                            cli: RunCli) -> None:
    config = scratch.root / "newsletter.toml"
    text = config.read_text(encoding="utf-8")
    config.write_text(text.replace('sections = ["Research", "Practice"]',
                                   'sections = ["Research", "Prac\\u0007tice"]'),
                      encoding="utf-8")
    code, _, err = cli("status", "--root", str(scratch.root))
    assert code == 1
    assert "newsletter.toml:6: error: 'sections' has a control character (U+0007)" in err


def test_the_text_email_names_each_feed_once(scratch: Scratch, cli: RunCli) -> None:
    """"RSS feed", "Atom feed", "JSON Feed": never "JSON Feed feed"."""
    scratch.piece("2026-12-solstice", "one")
    code, _, err = cli("build-issue", "2026-12-solstice", "--root", str(scratch.root), "-q")
    assert code == 0, err
    text = (scratch.root / "public" / "2026-12-solstice" / "email.txt").read_text()
    assert "JSON Feed feed" not in text
    assert "JSON Feed: https://news.example.org/feeds/feed.json" in text
    assert "RSS feed: https://news.example.org/feeds/rss.xml" in text


def test_the_install_scripts_ask_apt_for_the_least() -> None:
    """Every ``apt-get install`` of tests/install and tests/install_postgres leaves out the
    recommended packages (chromium alone recommends about a hundred: desktop services,
    printer tools, systemd upgrades)."""
    installs = []
    for name in ("install", "install_postgres"):
        text = (REPO / "tests" / name).read_text(encoding="utf-8").replace("\\\n", " ")
        installs += [line for line in text.splitlines()
                     if "apt-get install" in line and not line.lstrip().startswith("#")]
    assert len(installs) == 3, installs  # chromium, libcairo2, postgresql
    for line in installs:
        assert "--no-install-recommends" in line.split(), line
    assert any("chromium" in line.split() for line in installs)


def test_send_help_and_the_readme_agree_on_what_can_be_sent_twice(cli: RunCli) -> None:
    """The README says the message in flight on each connection at a kill can be sent again;
    the command's help says the same, and no longer "nobody gets it twice"."""
    code, out, _ = cli("send", "--help")
    assert code == 0
    help_text = " ".join(out.split())
    assert "nobody gets it twice" not in help_text
    assert "only the message in flight on each SMTP connection" in help_text
    readme = " ".join((REPO / "README.md").read_text(encoding="utf-8").split())
    assert "The only message that can be sent twice is the one in flight on each connection" \
        in readme


def test_a_config_error_stops_the_run_before_the_pieces_as_the_readme_shows(
    scratch: Scratch, cli: RunCli
) -> None:
    """A mistake in newsletter.toml is reported on its own (the pieces cannot be read without
    the configuration), and the README's examples never show the two in one run."""
    scratch.write("issues/2026-12-solstice/bad.md", "---\ntitel: x\n---\n")
    config = scratch.root / "newsletter.toml"
    config.write_text(config.read_text(encoding="utf-8").replace('"UTC"', '"Europe/Londn"'),
                      encoding="utf-8")
    code, _, err = cli("build-issue", "2026-12-solstice", "--root", str(scratch.root))
    assert code == 1
    assert "newsletter.toml:5: error: 'time_zone' unknown time zone 'Europe/Londn'" in err
    assert "bad.md" not in err
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    blocks = readme.split("```")[1::2]
    for block in blocks:
        located = [line for line in block.splitlines() if ": error: " in line]
        assert not (any(line.startswith("newsletter.toml:") for line in located)
                    and any(line.startswith("issues/") for line in located)), block


def test_one_issue_in_a_calendar_file_is_one_issue(tmp_path: Path, cli: RunCli) -> None:
    code, _, err = cli("calendar", "--count", "1", "--ics", str(tmp_path / "c.ics"),
                       "--root", str(tmp_path))
    assert code == 0, err
    assert "(1 issue)" in err


def test_an_impossible_rate_is_bad_usage(cli: RunCli, scratch: Scratch) -> None:
    """``--rate -1`` or ``nan`` is refused as delivery.rate is in newsletter.toml: exit 2."""
    for rate in ("-1", "nan", "inf", "fast"):
        code, _, err = cli("send", "2027-03-equinox", "--yes", "--rate", rate,
                           "--root", str(scratch.root))
        assert code == 2 and "--rate" in err, (rate, err)



def test_a_misspelled_table_gets_a_suggestion(cli: RunCli, scratch: Scratch) -> None:
    """``[remnd]`` in newsletter.toml is an unknown table at its line, with the one meant."""
    with (scratch.root / "newsletter.toml").open("a", encoding="utf-8") as config:
        config.write("\n[remnd]\nsilent_issues = 2\n")
    code, _, err = cli("status", "--root", str(scratch.root))
    assert code == 1
    assert re.search(r"newsletter\.toml:\d+: error: unknown table \[remnd\] — did you mean "
                     r"\[remind\]\?", err), err
