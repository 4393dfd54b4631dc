"""``newsletter bounces``: delivery reports read from an mbox file and a Maildir folder, on
SQLite and on PostgreSQL, after a real send of the sample issue.

The reports in ``tests/reports/`` are written for these tests in the shapes real servers send:
a Postfix DSN (user unknown), Exim's plain-text bounce (X-Failed-Recipients), a Gmail-style
delay notification (mailbox full, temporary), an ARF complaint with the recipient redacted,
an out-of-office reply (not a bounce), a DSN for an address that is nobody's, and a report
whose body a filtering service rewrote, which only its VERP address attributes. The same
reports are read from a real IMAP server too (pymap on 127.0.0.1, :mod:`tests.imap_server`).
``@@TOKEN@@`` and ``@@VERP@@`` are replaced by a real unsubscribe token and VERP address.
"""

from __future__ import annotations

import imaplib
import mailbox
import re
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import pytest

from pipeline.store import Subscriber, open_store
from pipeline.tokens import Tokens

from .conftest import AS_OF_EPOCH, REPO, RunCli
from .databases import Databases, configured, dump
from .imap_server import PASSWORD as IMAP_PASSWORD
from .imap_server import USER as IMAP_USER
from .imap_server import ImapServer
from .smtp_sink import SmtpSink
from .test_delivery import SECRET, SECRET_ENV, add_people, configure, many, send, status_of

REPORTS = REPO / "tests" / "reports"
AS_OF = datetime.fromtimestamp(int(AS_OF_EPOCH), UTC)
SHAPES = ("postfix-user-unknown", "exim-failed", "gmail-mailbox-full", "arf-complaint",
          "out-of-office", "stranger-unknown")


@pytest.fixture
def sample_copy(sample_copy: Path, databases: Databases, monkeypatch: pytest.MonkeyPatch,
                ) -> Path:
    databases.attach(sample_copy)
    monkeypatch.setenv(SECRET_ENV, SECRET)
    return sample_copy


@pytest.fixture
def people(sample_copy: Path) -> list[Subscriber]:
    """Eight readers (ids 1 to 8: reader0000 to reader0007), sent the issue into the outbox."""
    found = add_people(sample_copy, many(8))
    report = send(sample_copy, outbox=sample_copy / "sent")
    assert report.sent == 8
    return found


def report_bytes(name: str, **values: str) -> bytes:
    text = (REPORTS / f"{name}.eml").read_text(encoding="utf-8")
    for key, value in values.items():
        text = text.replace(f"@@{key}@@", value)
    assert "@@" not in text, f"{name}: a placeholder was left"
    return text.encode("utf-8")


def write_mbox(path: Path, messages: list[bytes]) -> Path:
    box = mailbox.mbox(path)
    try:
        for data in messages:
            box.add(data)
        box.flush()
    finally:
        box.close()
    return path


def write_maildir(path: Path, messages: list[bytes]) -> Path:
    box = mailbox.Maildir(path)
    for data in messages:
        box.add(data)
    return path


def the_shapes(people: list[Subscriber]) -> list[bytes]:
    complainer = people[4]  # reader0004, id 5, whose address the complaint redacts
    token = Tokens(SECRET).unsubscribe(complainer.id, complainer.email)
    return [report_bytes(name, TOKEN=token) for name in SHAPES]


@pytest.fixture(params=["mbox", "maildir"])
def mailbox_of_shapes(request: pytest.FixtureRequest, tmp_path: Path,
                      people: list[Subscriber]) -> Path:
    writer = write_mbox if request.param == "mbox" else write_maildir
    return writer(tmp_path / f"reports.{request.param}", the_shapes(people))


def bounces(cli: RunCli, root: Path, *args: str) -> tuple[int, str, str]:
    return cli("bounces", "--root", str(root), *args)


def test_every_shape_is_read_attributed_and_acted_on(
        cli: RunCli, sample_copy: Path, people: list[Subscriber], mailbox_of_shapes: Path,
) -> None:
    db = configured(sample_copy)
    code, out, err = bounces(cli, sample_copy, str(mailbox_of_shapes))
    assert code == 0, err
    assert status_of(db, "reader0001@example.net") == "bounced"  # Postfix 5.1.1
    assert status_of(db, "reader0002@example.net") == "bounced"  # Exim, disabled account
    assert status_of(db, "reader0003@example.net") == "active"  # mailbox full: counted
    assert status_of(db, "reader0004@example.net") == "unsubscribed"  # the complaint
    assert status_of(db, "reader0005@example.net") == "active"  # out of office: no bounce
    assert {status_of(db, p.email) for p in people[5:] + people[:1]} == {"active"}
    assert re.search(r"reader0003@example\.net: counted: 1 of 3 temporary failures within "
                     r"30 days", out), out
    assert "reader0004@example.net: unsubscribed (complaint)" in out
    assert re.search(r"not attributed: permanent for someone-else@example\.com .*no "
                     r"subscriber matches it", out), out
    assert ("6 messages read: 2 permanent failures, 1 temporary, 1 complaint, 1 not "
            "attributed, 1 not a delivery failure (ignored); 2 readers marked bounced, 1 "
            "unsubscribed after a complaint; 0 already processed") in out, out

    store = open_store(db)
    try:
        [*_, left] = store.history(people[4].id)
        assert left.kind == "unsubscribed"
        assert left.detail.startswith("complaint: abuse report (ARF) from "
                                      "ExampleMail-Feedback/2.0 on 2026-12-23")
        assert "unsubscribe token of the original message" in left.detail
        assert left.at == "2026-12-23T07:41:12+00:00"
    finally:
        store.close()

    code, out, err = cli("subscribers", "list", "--root", str(sample_copy))
    assert code == 0
    assert re.search(r"reader0004@example\.net\s+unsubscribed \(complaint\)", out), out
    assert re.search(r"reader0001@example\.net\s+bounced ", out)
    assert "0 pending, 5 active, 1 unsubscribed, 2 bounced (1 after a complaint)" in err, err


def test_reading_the_same_reports_again_changes_nothing(
        cli: RunCli, sample_copy: Path, people: list[Subscriber], mailbox_of_shapes: Path,
) -> None:
    code, _, err = bounces(cli, sample_copy, str(mailbox_of_shapes))
    assert code == 0, err
    before = dump(configured(sample_copy))
    code, out, err = bounces(cli, sample_copy, str(mailbox_of_shapes))
    assert code == 0, err
    assert dump(configured(sample_copy)) == before
    assert out.count("already processed: nothing changed") == 4, out
    assert "0 readers marked bounced, 0 unsubscribed after a complaint; 4 already " \
           "processed" in out


def test_a_dry_run_says_what_would_change_and_changes_nothing(
        cli: RunCli, sample_copy: Path, people: list[Subscriber], tmp_path: Path) -> None:
    mbox = write_mbox(tmp_path / "r.mbox", the_shapes(people))
    before = dump(configured(sample_copy))
    code, out, err = bounces(cli, sample_copy, str(mbox), "--dry-run")
    assert code == 0, err
    assert "2 readers would be marked bounced, 1 would be unsubscribed" in out, out
    assert "dry run: nothing was changed" in out
    assert dump(configured(sample_copy)) == before


def _delay(day: datetime, number: int) -> bytes:
    """The Gmail delay notification for reader0003, made on ``day`` (its own Message-ID)."""
    text = report_bytes("gmail-mailbox-full").decode()
    text = text.replace("<6772f0a3.050a0220.1f2a3b.4c5dGMR@mx.google.com>",
                        f"<delay-{number}@mx.google.com>")
    text = re.sub(r"(?m)^Date: .*$", f"Date: {format_datetime(day)}", text, count=1)
    return text.encode()


@pytest.mark.parametrize(("gaps", "bounced"), [
    ((0, 9, 20), True),  # three within 30 days (read in any order)
    ((0, 20, 40), False),  # never three within 30 days
])
def test_temporary_failures_bounce_after_the_limit_within_the_window(
        cli: RunCli, sample_copy: Path, people: list[Subscriber], tmp_path: Path,
        gaps: tuple[int, ...], bounced: bool) -> None:
    start = datetime(2026, 11, 1, 8, 0, tzinfo=UTC)
    reports = [_delay(start + timedelta(days=gap), n) for n, gap in enumerate(gaps)]
    mbox = write_mbox(tmp_path / "delays.mbox", [reports[2], reports[0], reports[1]])
    code, out, err = bounces(cli, sample_copy, str(mbox))
    assert code == 0, err
    status = status_of(configured(sample_copy), "reader0003@example.net")
    assert status == ("bounced" if bounced else "active"), out
    if bounced:
        assert "bounced: 3 of 3 temporary failures within 30 days" in out


def test_the_limit_and_window_are_configurable(
        cli: RunCli, sample_copy: Path, people: list[Subscriber], tmp_path: Path) -> None:
    configure(sample_copy, "[delivery]\nsoft_bounce_limit = 2\nsoft_bounce_days = 7\n")
    start = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
    first = write_mbox(tmp_path / "a.mbox", [_delay(start, 1), _delay(start + timedelta(8), 2)])
    bounces(cli, sample_copy, str(first))
    assert status_of(configured(sample_copy), "reader0003@example.net") == "active"
    second = write_mbox(tmp_path / "b.mbox", [_delay(start + timedelta(days=12), 3)])
    code, out, _ = bounces(cli, sample_copy, str(second))
    assert code == 0
    assert "bounced: 2 of 2 temporary failures within 7 days" in out
    assert status_of(configured(sample_copy), "reader0003@example.net") == "bounced"


def test_verp_names_the_reader_when_the_report_does_not(
        cli: RunCli, sample_copy: Path, sink: SmtpSink, tmp_path: Path) -> None:
    configure(sample_copy, '[delivery]\nreturn_path = "bounces@example.org"\nverp = true\n')
    readers = add_people(sample_copy, many(4))
    code, _, err = cli("send", "2026-12-solstice", "--yes", "--root", str(sample_copy), "--smtp",
                       sink.url)
    assert code == 0, err
    envelope = {m.rcpt_tos[0]: m.mail_from for m in sink.messages}
    tokens = Tokens(SECRET)
    for person in readers:
        tag = tokens.verp_tag(person.id, person.email)
        assert envelope[person.email] == f"bounces+{tag}@example.org"
    target = readers[2]
    report = report_bytes("rewritten-for-verp", VERP=envelope[target.email].upper())
    mbox = write_mbox(tmp_path / "verp.mbox", [report])
    code, out, err = bounces(cli, sample_copy, str(mbox))
    assert code == 0, err
    assert f"{target.email}: bounced: permanent failure" in out, out
    assert status_of(configured(sample_copy), target.email) == "bounced"
    assert {status_of(configured(sample_copy), p.email) for p in readers
            if p is not target} == {"active"}

    forged = report_bytes("rewritten-for-verp",
                          VERP=f"bounces+{target.id}-0000000000000000@example.org")
    code, out, _ = bounces(cli, sample_copy, str(write_mbox(tmp_path / "f.mbox", [forged])))
    assert "not attributed" in out, "a VERP tag with a wrong signature was believed"


def test_a_path_that_is_no_mailbox_is_bad_usage(cli: RunCli, sample_copy: Path,
                                                tmp_path: Path) -> None:
    code, _, err = bounces(cli, sample_copy, str(tmp_path / "missing.mbox"))
    assert code == 2 and "missing.mbox: no such file or folder" in err
    (tmp_path / "folder").mkdir()
    code, _, err = bounces(cli, sample_copy, str(tmp_path / "folder"))
    assert code == 2 and "not a Maildir" in err and "Traceback" not in err


# ---------------------------------------------------------------------- IMAP


def _append(server: ImapServer, messages: list[bytes]) -> None:
    """Deliver ``messages`` to the server's INBOX, as a mail server would (IMAP APPEND)."""
    client = imaplib.IMAP4("127.0.0.1", server.port)
    try:
        client.login(IMAP_USER, IMAP_PASSWORD)
        for data in messages:
            status, _ = client.append("INBOX", None, None, data.replace(b"\n", b"\r\n"))
            assert status == "OK"
    finally:
        client.logout()


def _inbox(server: ImapServer) -> list[tuple[bytes, bytes]]:
    """(flags, message bytes) of every message in the INBOX, read without marking it."""
    client = imaplib.IMAP4("127.0.0.1", server.port)
    try:
        client.login(IMAP_USER, IMAP_PASSWORD)
        client.select("INBOX", readonly=True)
        _, data = client.uid("SEARCH", "ALL")
        found = []
        for uid in data[0].split():
            _, fetched = client.uid("FETCH", uid.decode(), "(FLAGS BODY.PEEK[])")
            head, body = fetched[0]
            found.append((re.search(rb"FLAGS \(([^)]*)\)", head)[1], body))  # type: ignore[index]
        return found
    finally:
        client.logout()


@pytest.fixture
def imap_login(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEWSLETTER_IMAP_USERNAME", IMAP_USER)
    monkeypatch.setenv("NEWSLETTER_IMAP_PASSWORD", IMAP_PASSWORD)


def test_reports_are_read_from_an_imap_mailbox_which_is_left_as_it_was(
        cli: RunCli, sample_copy: Path, people: list[Subscriber], imap_server: ImapServer,
        imap_login: None) -> None:
    _append(imap_server, the_shapes(people))
    before = _inbox(imap_server)
    assert len(before) == len(SHAPES)
    code, out, err = bounces(cli, sample_copy, "--imap", imap_server.url())
    assert code == 0, err
    db = configured(sample_copy)
    assert [status_of(db, f"reader000{n}@example.net") for n in range(1, 6)] == \
        ["bounced", "bounced", "active", "unsubscribed", "active"]
    assert f"{imap_server.url()};UID=" in out
    assert "2 readers marked bounced, 1 unsubscribed after a complaint" in out, out
    assert _inbox(imap_server) == before, "the IMAP mailbox was changed"

    configure(sample_copy, f'[delivery]\nimap_url = "{imap_server.url()}"\n')
    code, out, err = bounces(cli, sample_copy)  # the configured mailbox, read again
    assert code == 0, err
    assert "4 already processed" in out


def test_imap_login_problems_are_clear(cli: RunCli, sample_copy: Path,
                                       people: list[Subscriber], imap_server: ImapServer,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NEWSLETTER_IMAP_USERNAME", raising=False)
    code, _, err = bounces(cli, sample_copy, "--imap", imap_server.url())
    assert code == 1 and "NEWSLETTER_IMAP_USERNAME" in err and "NEWSLETTER_IMAP_PASSWORD" in err
    monkeypatch.setenv("NEWSLETTER_IMAP_USERNAME", IMAP_USER)
    monkeypatch.setenv("NEWSLETTER_IMAP_PASSWORD", "wrong")
    code, _, err = bounces(cli, sample_copy, "--imap", imap_server.url())
    assert code == 1 and f"127.0.0.1:{imap_server.port} refused the login" in err, err
    assert "Traceback" not in err
    code, _, err = bounces(cli, sample_copy, "--imap", "imap://user:pw@127.0.0.1/INBOX")
    assert code == 2 and "must not carry a login" in err
    code, _, err = bounces(cli, sample_copy)
    assert code == 2 and "--imap URL" in err


@pytest.mark.parametrize("text", [
    b"From x Tue Dec 22 09:00:00 2026\nSubject: hello\nTo: news@example.org\n\nJust a note.\n",
    b"",
], ids=["no-from", "empty"])
def test_a_message_no_reader_can_parse_is_ignored_not_a_traceback(
        cli: RunCli, sample_copy: Path, tmp_path: Path, text: bytes) -> None:
    """A message without From: (which trips a detector of flufl.bounce) or an empty mbox is
    listed as ignored: no traceback, exit 0, and the next run reads the mailbox again."""
    mbox = tmp_path / "reports.mbox"
    mbox.write_bytes(text)
    code, out, err = cli("bounces", str(mbox), "--dry-run", "--root", str(sample_copy))
    assert code == 0, err
    assert "Traceback" not in err and "Exception" not in err, err
    assert "permanent failure" in out

