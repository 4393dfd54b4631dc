"""``send`` and ``publish`` at the publication moment, against a real SMTP server (aiosmtpd on
127.0.0.1) and a real store (SQLite and PostgreSQL).

The clock is SOURCE_DATE_EPOCH where the command line runs (6 December 2026 is before the
December solstice, 21 December 2026 at 20:50 UTC; 23 December after it), and an injected
:class:`pipeline.publish.Clock` for ``--wait``, which is never tested by sleeping.
"""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from pipeline.commands.publish import _countdown
from pipeline.commands.send import confirmation
from pipeline.console import Console
from pipeline.errors import ContentError
from pipeline.publication import RECORD_NAME, load_record
from pipeline.publish import Clock, publish
from pipeline.seasons import IssueId
from pipeline.send import NotYet, SendOptions

from .conftest import RunCli
from .databases import Databases, configured
from .smtp_sink import SmtpSink
from .test_delivery import (
    ISSUE,
    SECRET,
    SECRET_ENV,
    SUBJECT,
    add_people,
    by_recipient,
    ledger_rows,
    many,
    parse,
)

BEFORE = "1796544000"  # 2026-12-06 08:00 UTC
AFTER = "1798016400"  # 2026-12-23 09:00 UTC
MOMENT = IssueId.parse(ISSUE).moment()


@pytest.fixture
def sample_copy(sample_copy: Path, databases: Databases) -> Path:
    """The sample newsletter, with its subscribers on each backend in turn."""
    databases.attach(sample_copy)
    return sample_copy


@pytest.fixture(autouse=True)
def _key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(SECRET_ENV, SECRET)


def site(root: Path) -> dict[str, bytes]:
    """Every file of the site folder, the feeds and the publication record."""
    found = {}
    for folder in ("public", "feeds"):
        for path in sorted((root / folder).rglob("*")):
            if path.is_file():
                found[path.relative_to(root).as_posix()] = path.read_bytes()
    if (root / RECORD_NAME).exists():
        found[RECORD_NAME] = (root / RECORD_NAME).read_bytes()
    return found


class Terminal(io.StringIO):
    """Someone at a terminal, who types what the StringIO holds."""

    def isatty(self) -> bool:
        return True


# ---------------------------------------------------------------------- send before the moment


def test_send_before_the_moment_refuses_and_changes_nothing(
    sample_copy: Path, cli: RunCli, sink: SmtpSink, monkeypatch: pytest.MonkeyPatch
) -> None:
    add_people(sample_copy, many(3))
    monkeypatch.setenv("SOURCE_DATE_EPOCH", BEFORE)
    assert cli("build", "--root", str(sample_copy), "-q")[0] == 0
    before = site(sample_copy)
    code, out, err = cli("send", ISSUE, "--root", str(sample_copy), "--smtp", sink.url, "--yes")
    assert code == 1 and out == ""
    assert "error: 2026-12-solstice is not published yet: its moment is Monday 21 December " \
           "2026 at 20:50 (Europe/London), in 15 days, so nothing was sent" in err
    assert "--early" in err and "Traceback" not in err
    assert sink.count() == 0 and ledger_rows(configured(sample_copy)) == 0
    assert site(sample_copy) == before


def test_send_early_sends_publishes_and_says_so(
    sample_copy: Path, cli: RunCli, sink: SmtpSink, monkeypatch: pytest.MonkeyPatch
) -> None:
    people = add_people(sample_copy, many(3))
    monkeypatch.setenv("SOURCE_DATE_EPOCH", BEFORE)
    code, out, err = cli("send", ISSUE, "--root", str(sample_copy), "--smtp", sink.url, "--yes",
                         "--early")
    assert code == 0, err
    assert "3 sent, 0 failed" in out
    assert Counter(r for m in sink.messages for r in m.rcpt_tos) == {p.email: 1 for p in people}
    assert load_record(sample_copy) == {IssueId.parse(ISSUE): datetime(2026, 12, 6, 8,
                                                                       tzinfo=UTC)}
    assert (sample_copy / "public" / ISSUE / "index.html").is_file()


def test_test_copies_go_to_every_address_marked_test_before_the_moment(
    sample_copy: Path, cli: RunCli, sink: SmtpSink, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Editors check the email before the moment: each --test-to address gets one copy with
    [TEST] in its subject; nothing reaches the site, the ledger or the record."""
    add_people(sample_copy, many(2))
    monkeypatch.setenv("SOURCE_DATE_EPOCH", BEFORE)
    code, out, err = cli("send", ISSUE, "--root", str(sample_copy), "--smtp", sink.url,
                         "--test-to", "Editor@Example.ORG", "--test-to", "lin@example.net")
    assert code == 0, err
    assert "[TEST]" in out and "nothing recorded" in out
    received = by_recipient(sink.messages)
    assert sorted(received) == ["Editor@example.org", "lin@example.net"]
    for [message] in received.values():
        assert parse(message.data)["Subject"] == f"[TEST] {SUBJECT}"
    assert len({m.message_id for m in sink.messages}) == 2
    assert ledger_rows(configured(sample_copy)) == 0
    assert site(sample_copy) == {}
    code, _, err = cli("send", ISSUE, "--root", str(sample_copy), "--smtp", sink.url,
                       "--test-to", "not an address")
    assert code == 2 and "--test-to not an address:" in err and sink.count() == 2


# ---------------------------------------------------------------------- asking before mailing


def test_no_terminal_and_no_yes_is_a_clear_error(sample_copy: Path, cli: RunCli,
                                                 sink: SmtpSink) -> None:
    add_people(sample_copy, many(2))
    for command in ("send", "publish"):
        code, _, err = cli(command, ISSUE, "--root", str(sample_copy), "--smtp", sink.url)
        assert code == 2, err
        assert f"error: {command} asks before mailing every subscriber, and there is no " \
               "terminal to ask on: pass --yes" in err
    assert sink.count() == 0 and ledger_rows(configured(sample_copy)) == 0


@pytest.mark.parametrize(("answer", "sent"), [("y\n", 3), ("yes\n", 3), ("n\n", 0), ("\n", 0)])
def test_on_a_terminal_send_asks_first(sample_copy: Path, cli: RunCli, sink: SmtpSink,
                                       monkeypatch: pytest.MonkeyPatch, answer: str,
                                       sent: int) -> None:
    add_people(sample_copy, many(3))
    monkeypatch.setattr(sys, "stdin", Terminal(answer))
    code, _, err = cli("send", ISSUE, "--root", str(sample_copy), "--smtp", sink.url)
    assert "Send 2026-12-solstice to 3 subscribers? [y/N] " in err
    assert sink.count() == sent
    if sent:
        assert code == 0, err
    else:
        assert code == 1 and "was not sent: the answer was not yes" in err
        assert ledger_rows(configured(sample_copy)) == 0


def test_the_question_counts_with_separators() -> None:
    err = io.StringIO()
    ask = confirmation(False, Console(0, out=io.StringIO(), err=err), "send", Terminal("y\n"))
    assert ask is not None

    @dataclass
    class Named:
        issue_id: str

    assert ask(Named(ISSUE), 1234) is True  # type: ignore[arg-type]
    assert err.getvalue() == "Send 2026-12-solstice to 1,234 subscribers? [y/N] "
    assert confirmation(True, Console(0), "send", Terminal("")) is None


# ---------------------------------------------------------------------- publish


def test_publish_before_the_moment_refuses(sample_copy: Path, cli: RunCli, sink: SmtpSink,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    add_people(sample_copy, many(2))
    monkeypatch.setenv("SOURCE_DATE_EPOCH", BEFORE)
    code, _, err = cli("publish", ISSUE, "--root", str(sample_copy), "--smtp", sink.url,
                       "--yes")
    assert code == 1 and "not published yet: its moment is Monday 21 December 2026" in err
    assert "--wait" in err and site(sample_copy) == {} and sink.count() == 0


def test_publish_after_the_moment_builds_and_sends_and_a_second_sends_nothing(
    sample_copy: Path, cli: RunCli, sink: SmtpSink, monkeypatch: pytest.MonkeyPatch
) -> None:
    people = add_people(sample_copy, many(5))
    monkeypatch.setenv("SOURCE_DATE_EPOCH", AFTER)
    code, out, err = cli("publish", ISSUE, "--root", str(sample_copy), "--smtp", sink.url,
                         "--yes")
    assert code == 0, err
    assert "published 2026-12-solstice on 2026-12-23 09:00 UTC, 36 h after its moment" in out
    assert "5 sent, 0 failed, 0 skipped, 0 deferred, of 5 recipients" in out
    assert load_record(sample_copy) == {IssueId.parse(ISSUE): datetime(2026, 12, 23, 9,
                                                                       tzinfo=UTC)}
    page = (sample_copy / "public" / ISSUE / "index.html").read_text(encoding="utf-8")
    assert "Wednesday 23 December 2026" in page
    assert b"Wed, 23 Dec 2026 09:00:00 GMT" in (sample_copy / "public/feeds/rss.xml").read_bytes()
    published = site(sample_copy)

    monkeypatch.setenv("SOURCE_DATE_EPOCH", str(int(AFTER) + 3600))  # an hour later
    code, out, err = cli("publish", ISSUE, "--root", str(sample_copy), "--smtp", sink.url,
                         "--yes")
    assert code == 0, err
    assert "0 files written" in out and "(0 sent in this run" in out
    assert site(sample_copy) == published  # the first publication time is kept
    assert Counter(r for m in sink.messages for r in m.rcpt_tos) == {p.email: 1 for p in people}


def test_a_missing_signing_key_is_found_before_anything_is_published(
    sample_copy: Path, cli: RunCli, sink: SmtpSink, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With subscribers to mail and no token signing key, publish stops before it builds or
    records anything: the issue is not left on the site unsent."""
    add_people(sample_copy, many(2))
    monkeypatch.setenv("SOURCE_DATE_EPOCH", AFTER)
    monkeypatch.delenv(SECRET_ENV)
    code, _, err = cli("publish", ISSUE, "--root", str(sample_copy), "--smtp", sink.url,
                       "--yes")
    assert code == 1 and f"set the environment variable {SECRET_ENV}" in err, err
    assert site(sample_copy) == {} and load_record(sample_copy) == {}
    assert sink.count() == 0


def test_publish_without_subscribers_publishes_the_site(sample_copy: Path, cli: RunCli,
                                                        sink: SmtpSink) -> None:
    code, out, err = cli("publish", ISSUE, "--root", str(sample_copy), "--smtp", sink.url,
                         "--yes")
    assert code == 0, err
    assert "no active email subscriber: nothing to send" in out
    assert (sample_copy / "public/feeds/atom.xml").is_file() and sink.count() == 0


def test_publish_refuses_an_issue_failing_strict_checks(sample_copy: Path, cli: RunCli,
                                                        sink: SmtpSink) -> None:
    add_people(sample_copy, many(2))
    piece = sample_copy / "issues" / ISSUE / "alt-text-is-documentation-too.md"
    piece.write_text(piece.read_text(encoding="utf-8").replace(
        "authors: [Yuki Tanabe]", "authors: [Nobody Known]", 1), encoding="utf-8")
    code, _, err = cli("publish", ISSUE, "--root", str(sample_copy), "--smtp", sink.url,
                       "--yes")
    assert code == 1 and "alt-text-is-documentation-too.md" in err and ": error: " in err
    assert site(sample_copy) == {} and sink.count() == 0


# ---------------------------------------------------------------------- --wait, on a fake clock


@dataclass
class FakeClock:
    """A clock that moves only when something sleeps on it."""

    at: datetime
    sleeps: list[float] = field(default_factory=list)

    def now(self) -> datetime:
        return self.at

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.at += timedelta(seconds=seconds)

    def monotonic(self) -> float:
        return self.at.timestamp()

    def clock(self) -> Clock:
        return Clock(self.now, self.sleep, self.monotonic)


def test_wait_checks_now_counts_down_and_publishes_at_the_moment(
    sample_copy: Path, sink: SmtpSink
) -> None:
    people = add_people(sample_copy, many(3))
    fake = FakeClock(datetime(2026, 12, 21, 14, 0, tzinfo=UTC))
    shown: list[timedelta] = []
    asked: list[int] = []
    result = publish(sample_copy, SendOptions(ISSUE, smtp_url=sink.url), fake.clock(),
                     wait=True, tick=60.0, on_wait=shown.append,
                     confirm=lambda issue, n: asked.append(n) is None,
                     environ={SECRET_ENV: SECRET})
    left = MOMENT - datetime(2026, 12, 21, 14, 0, tzinfo=UTC)
    assert result.waited and sum(fake.sleeps) == left.total_seconds()
    assert max(fake.sleeps) == 60.0 and shown[0] == left and shown[-1] <= timedelta(minutes=1)
    assert asked == [3]  # asked once, before the wait
    assert result.published == MOMENT == load_record(sample_copy)[IssueId.parse(ISSUE)]
    assert result.send is not None and result.send.sent == 3
    assert {r for m in sink.messages for r in m.rcpt_tos} == {p.email for p in people}


def test_a_log_gets_a_line_as_the_days_then_the_hours_go_down(sample_copy: Path,
                                                             sink: SmtpSink) -> None:
    """Without a terminal (cron, systemd, CI) the countdown is a few lines, not one a tick."""
    add_people(sample_copy, many(1))
    fake = FakeClock(MOMENT - timedelta(days=3, hours=2))
    err = io.StringIO()
    show = _countdown(Console(0, out=io.StringIO(), err=err), ISSUE, tty=False)
    publish(sample_copy, SendOptions(ISSUE, smtp_url=sink.url), fake.clock(), wait=True,
            tick=60.0, on_wait=show, environ={SECRET_ENV: SECRET})
    lines = err.getvalue().splitlines()
    assert len(fake.sleeps) > 4000 and len(lines) == 3 + 24, lines
    assert lines[0] == "note: waiting to publish 2026-12-solstice: in 3 days"
    assert lines[3] == "note: waiting to publish 2026-12-solstice: in 23 h 59 min"
    assert lines[-1].startswith("note: waiting to publish 2026-12-solstice: in ")
    assert sink.count() == 1


def test_on_a_terminal_the_countdown_is_one_line_rewritten() -> None:
    err = io.StringIO()
    show = _countdown(Console(0, out=io.StringIO(), err=err), ISSUE, tty=True)
    show(timedelta(days=2, hours=3, minutes=4, seconds=5))
    show(timedelta(seconds=42))
    assert err.getvalue() == ("\rpublishing 2026-12-solstice in 2 days (2 d 03:04:05) "
                              "\rpublishing 2026-12-solstice in 42 s (00:00:42) ")


def test_wait_after_the_moment_publishes_at_once(sample_copy: Path, sink: SmtpSink) -> None:
    add_people(sample_copy, many(1))
    fake = FakeClock(MOMENT + timedelta(days=3))
    result = publish(sample_copy, SendOptions(ISSUE, smtp_url=sink.url), fake.clock(),
                     wait=True, environ={SECRET_ENV: SECRET})
    assert not result.waited and fake.sleeps == [] and sink.count() == 1
    assert result.published == MOMENT + timedelta(days=3)


def test_wait_finds_a_mistake_before_waiting(sample_copy: Path, sink: SmtpSink) -> None:
    add_people(sample_copy, many(1))
    piece = sample_copy / "issues" / ISSUE / "what-a-training-run-really-costs.md"
    piece.write_text(piece.read_text(encoding="utf-8").replace("![", "![](images/x.png) ![",
                                                              1), encoding="utf-8")
    fake = FakeClock(datetime(2026, 12, 6, 8, tzinfo=UTC))
    with pytest.raises(ContentError):
        publish(sample_copy, SendOptions(ISSUE, smtp_url=sink.url), fake.clock(), wait=True,
                environ={SECRET_ENV: SECRET})
    assert fake.sleeps == [] and sink.count() == 0 and site(sample_copy) == {}


def test_without_wait_publish_before_the_moment_is_not_yet(sample_copy: Path) -> None:
    fake = FakeClock(datetime(2026, 12, 6, 8, tzinfo=UTC))
    with pytest.raises(NotYet, match="in 15 days"):
        publish(sample_copy, SendOptions(ISSUE), fake.clock(), environ={SECRET_ENV: SECRET})
    assert fake.sleeps == [] and site(sample_copy) == {}


# ---------------------------------------------------------------------- a kill, then a rerun


READERS = 400
KILL_AFTER = 120


def test_a_publish_killed_mid_send_then_run_again_mails_every_reader_once(
    sample_copy: Path, sink: SmtpSink
) -> None:
    people = add_people(sample_copy, many(READERS))
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("NEWSLETTER_")},
           SECRET_ENV: SECRET, "NO_COLOR": "1", "SOURCE_DATE_EPOCH": AFTER}
    command = [sys.executable, "-m", "pipeline.cli", "publish", ISSUE, "--root",
               str(sample_copy), "--yes", "--smtp", sink.url]
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    try:
        reached = sink.wait_for(KILL_AFTER, timeout=120, stop=lambda: process.poll() is not None)
        assert reached, f"publish ended (status {process.poll()}) before it could be killed"
        os.kill(process.pid, signal.SIGKILL)
    finally:
        if process.poll() is None:
            process.kill()
        process.wait()
    at_kill = sink.count()
    assert at_kill < READERS, "the send finished before the kill"
    assert (sample_copy / "public" / ISSUE / "index.html").is_file()  # built before sending

    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300,
                          check=False)
    assert done.returncode == 0, done.stderr
    assert f"{READERS} sent, 0 failed, 0 skipped, 0 deferred, of {READERS}" in done.stdout
    received = by_recipient(sink.messages)
    assert set(received) == {p.email for p in people}
    # one message per reader: a copy in flight at the kill is re-sent with its Message-ID
    assert all(len({m.message_id for m in got}) == 1 for got in received.values())
    assert sum(len(got) - 1 for got in received.values()) <= 1
