"""``newsletter remind`` and ``call-for-pieces --send``: reaching the contributors through a
real SMTP server on 127.0.0.1 (aiosmtpd) and the outbox, never twice for the same reminder."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser

import pytest

from .conftest import RunCli, Scratch, piece_text
from .smtp_sink import SmtpSink

ISSUE = "2026-12-solstice"
CONTRIBUTORS = """\
[ada]
name = "Ada Example"
team = "Policy"
email = "ada@example.org"

[grace]
name = "Grace Example"
team = "Design"
email = "grace@example.org"

[lin]
name = "Lin Example"
team = "Policy"

[tom]
name = "Tom Example"
team = "Legal"
email = "tom@example.org"
"""


def as_of(monkeypatch: pytest.MonkeyPatch, day: str) -> None:
    moment = datetime.fromisoformat(f"{day}T12:00:00").replace(tzinfo=UTC)
    monkeypatch.setenv("SOURCE_DATE_EPOCH", str(int(moment.timestamp())))


@pytest.fixture
def newsroom(scratch: Scratch, sink: SmtpSink, monkeypatch: pytest.MonkeyPatch) -> Scratch:
    """A newsletter with one earlier issue (Policy and Design wrote), and a coming one with a
    ready piece, a draft, a failing piece and a draft by someone without an address."""
    as_of(monkeypatch, "2026-12-01")  # the deadline is Monday 7 December (UTC)
    config = scratch.root / "newsletter.toml"
    config.write_text(config.read_text(encoding="utf-8")
                      + f'call_address = "all-staff@example.org"\n\n[delivery]\n'
                        f'smtp_url = "{sink.url}"\n\n[remind]\nsilent_issues = 1\n',
                      encoding="utf-8")
    scratch.write("contributors.toml", CONTRIBUTORS)
    scratch.write("issues/2026-09-equinox/earlier.md",
                  piece_text(title="Earlier", authors="[Ada Example, Grace Example]"))
    scratch.piece(ISSUE, "ready-one", title="Ready one", authors="[ada]")
    no_summary: dict[str, str] = {}
    scratch.write(f"issues/{ISSUE}/draft-one.md",
                  piece_text(title="Draft one", authors="[ada]", status="draft",
                             body="[click here](https://example.org/x)\n", **no_summary))
    scratch.write(f"issues/{ISSUE}/broken.md",
                  piece_text(title="Broken", authors="[Grace Example]", titel="typo"))
    scratch.piece(ISSUE, "lins", title="Lin's draft", authors="[Lin Example]", status="draft")
    return scratch


def parsed(data: bytes) -> EmailMessage:
    message = BytesParser(policy=policy.default).parsebytes(data)
    assert isinstance(message, EmailMessage)
    return message


def body(message: EmailMessage) -> str:
    part = message.get_body(("plain",))
    assert part is not None
    return str(part.get_content()).replace("\r\n", "\n")


def test_remind_emails_each_author_of_a_piece_not_ready_and_the_silent_team(
    newsroom: Scratch, sink: SmtpSink, cli: RunCli
) -> None:
    """Ada (a draft, with what check finds) and Grace (a failing piece) are reminded, and Tom,
    whose team (Legal) wrote nothing in the last issue; Lin has no address: a warning."""
    code, out, err = cli("remind", "--root", str(newsroom.root))
    assert code == 0, err
    assert "Lin Example has no email in contributors.toml" in err
    received = {m.rcpt_tos: parsed(m.data) for m in sink.messages}
    assert set(received) == {("ada@example.org",), ("grace@example.org",), ("tom@example.org",)}
    ada = received[("ada@example.org",)]
    assert ada["Subject"] == "December Solstice 2026: your piece is due Monday 7 December 2026"
    assert ada["From"] == "Scratch <news@example.org>"
    assert ada["To"] == "Ada Example <ada@example.org>"
    text = body(ada)
    assert "* Draft one (issues/2026-12-solstice/draft-one.md): a draft" in text
    assert "'newsletter check 2026-12-solstice' still finds:" in text
    assert "[link-text]" in text  # "click here"
    assert "Ready one" not in text  # ready: nothing to remind of
    assert "close on Monday 7 December 2026 (in 6 days)" in " ".join(text.split())
    grace = body(received[("grace@example.org",)])
    assert "* issues/2026-12-solstice/broken.md: failing the build's checks" in grace
    assert "unknown key 'titel'" in grace
    tom = received[("tom@example.org",)]
    assert tom["Subject"] == "December Solstice 2026: a piece from Legal?"
    assert "newsletter new-piece --issue 2026-12-solstice" in body(tom)
    assert "3 reminders sent, 0 failed, 0 sent before" in out
    ledger = json.loads((newsroom.root / "reminders.json").read_text(encoding="utf-8"))
    assert sorted(entry["to"] for entry in ledger["sent"]) == [
        "ada@example.org", "grace@example.org", "tom@example.org"]


def test_remind_never_sends_the_same_reminder_twice(
    newsroom: Scratch, sink: SmtpSink, cli: RunCli
) -> None:
    """Run again: nothing is sent. A new draft by Ada is a new reminder: only that is sent."""
    assert cli("remind", "--root", str(newsroom.root))[0] == 0
    assert len(sink.messages) == 3
    code, out, err = cli("remind", "--root", str(newsroom.root))
    assert code == 0, err
    assert len(sink.messages) == 3
    assert "nothing to send for 2026-12-solstice: 3 reminders sent before" in out
    newsroom.piece(ISSUE, "second-draft", title="Second draft", authors="[ada]",
                   status="draft")
    code, out, err = cli("remind", "--root", str(newsroom.root))
    assert code == 0, err
    assert [m.rcpt_tos for m in sink.messages[3:]] == [("ada@example.org",)]
    again = body(parsed(sink.messages[3].data))
    assert "Second draft" in again and "Draft one" in again
    # Grace's and Tom's are the same as before; Ada's earlier one is replaced by this one.
    assert "1 reminder sent, 0 failed, 2 sent before" in out


def test_a_failed_reminder_is_not_recorded_and_is_sent_next_time(
    newsroom: Scratch, sink: SmtpSink, cli: RunCli
) -> None:
    sink.reject("grace@example.org")
    code, out, err = cli("remind", "--root", str(newsroom.root))
    assert code == 1
    assert "grace@example.org: not sent:" in err
    assert "2 reminders sent, 1 failed" in out
    with sink.handler.lock:
        sink.handler.rejected.clear()  # the mailbox exists again
    code, out, err = cli("remind", "--root", str(newsroom.root))
    assert code == 0, err
    assert [m.rcpt_tos for m in sink.messages][-1] == ("grace@example.org",)
    assert "1 reminder sent, 0 failed, 2 sent before" in out


def test_dry_run_sends_and_records_nothing(newsroom: Scratch, sink: SmtpSink,
                                           cli: RunCli) -> None:
    code, out, err = cli("remind", "--dry-run", "--root", str(newsroom.root))
    assert code == 0, err
    assert "would remind Ada Example <ada@example.org>" in out
    assert "dry run: 3 to send, 0 sent before; nothing sent" in out
    assert sink.messages == []
    assert not (newsroom.root / "reminders.json").exists()


def test_after_the_deadline_nothing_is_sent(newsroom: Scratch, sink: SmtpSink, cli: RunCli,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    as_of(monkeypatch, "2026-12-08")
    code, out, err = cli("remind", ISSUE, "--root", str(newsroom.root))
    assert code == 1
    assert "the deadline of 2026-12-solstice was Monday 7 December 2026" in err
    assert sink.messages == [] and out == ""


def test_the_outbox_is_the_default_transport(newsroom: Scratch, cli: RunCli) -> None:
    config = newsroom.root / "newsletter.toml"
    config.write_text("\n".join(line for line in config.read_text().splitlines()
                                if not line.startswith("smtp_url")) + "\n", encoding="utf-8")
    code, _, err = cli("remind", "--root", str(newsroom.root))
    assert code == 0, err
    files = sorted((newsroom.root / "outbox").glob("*.eml"))
    assert len(files) == 3
    assert {parsed(f.read_bytes())["To"] for f in files} == {
        "Ada Example <ada@example.org>", "Grace Example <grace@example.org>",
        "Tom Example <tom@example.org>"}


def test_call_for_pieces_send_goes_to_the_configured_address(
    newsroom: Scratch, sink: SmtpSink, cli: RunCli
) -> None:
    code, out, err = cli("call-for-pieces", "--send", "--root", str(newsroom.root))
    assert code == 0, err
    assert f"sent the call for pieces for {ISSUE} to all-staff@example.org via smtp://" in out
    [message] = sink.messages
    assert message.rcpt_tos == ("all-staff@example.org",)
    call = parsed(message.data)
    assert call["Subject"] == "Call for pieces: December Solstice 2026"
    assert "Deadline: Monday 7 December 2026." in body(call)


def test_call_for_pieces_send_without_an_address_says_what_to_set(
    scratch: Scratch, cli: RunCli, monkeypatch: pytest.MonkeyPatch
) -> None:
    as_of(monkeypatch, "2026-12-01")
    code, out, err = cli("call-for-pieces", "--send", "--root", str(scratch.root))
    assert code == 1
    assert "set call_address in [email]" in err and out == ""
    assert not (scratch.root / "outbox").exists()
