"""Email delivery against a real SMTP server (aiosmtpd on 127.0.0.1, :mod:`tests.smtp_sink`).

The MIME message parsed back with the standard library, unsubscribe tokens, header injection,
4xx/5xx replies and dropped connections, unsubscribing during a send, --test-to and --dry-run,
refusals (no signing key, an issue failing strict checks), a send killed with SIGKILL and run
again (exactly once), the rate limiter on a fake clock, and DKIM. Every test that touches
the store runs on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import base64
import itertools
import os
import random
import re
import shutil
import signal
import smtplib
import subprocess
import sys
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import parseaddr, parsedate_to_datetime
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipeline.databases import Database
from pipeline.delivery import Progress, RateLimiter, run_send
from pipeline.errors import ContentError
from pipeline.messages import IssueMessage, Recipient
from pipeline.render import UNSUBSCRIBE_PLACEHOLDER
from pipeline.send import SendOptions, SendReport, send_issue
from pipeline.store import NewSubscriber, Subscriber, open_store
from pipeline.subscribers import normalise
from pipeline.tokens import TokenError, Tokens, address_digest
from pipeline.transports import (
    OutboxTransport,
    SmtpSettings,
    SmtpTransport,
    Transport,
    quote_periods,
)

from .conftest import RunCli
from .databases import Databases, configured, rows, tables
from .smtp_sink import HOST, NO_SUCH_USER, TRY_AGAIN, Received, SmtpSink

ISSUE = "2026-12-solstice"
SUBJECT = "December Solstice 2026: The cost of computation"
SENDER = "ethics@example.org"
SECRET = "test-signing-key-0123456789abcdef"
SECRET_ENV = "NEWSLETTER_TOKEN_SECRET"
NOW = datetime(2026, 12, 22, 9, 0, tzinfo=UTC)
UNSUBSCRIBE_RE = re.compile(
    r"^<(?P<url>https://ethics\.example\.org/unsubscribe\?token=(?P<token>[A-Za-z0-9_.\-]+))>"
    r"(?:, <mailto:(?P<mailto>[^>]+)>)?$")
HEADERS = {"From", "To", "Subject", "Date", "Message-ID", "List-Id", "List-Unsubscribe",
           "List-Unsubscribe-Post", "MIME-Version", "Content-Type"}


# ---------------------------------------------------------------------- helpers


@pytest.fixture
def sample_copy(sample_copy: Path, databases: Databases) -> Path:
    """The sample newsletter, with its subscribers on each backend in turn."""
    databases.attach(sample_copy)
    return sample_copy


@dataclass
class FakeMonotonic:
    now: float = 1000.0

    def __call__(self) -> float:
        self.now += 0.5
        return self.now


def parse(data: bytes) -> EmailMessage:
    message = BytesParser(policy=policy.default).parsebytes(data)
    assert isinstance(message, EmailMessage)
    return message


def configure(root: Path, toml: str) -> None:
    """Append tables to the newsletter.toml of ``root``."""
    with open(root / "newsletter.toml", "a", encoding="utf-8") as handle:
        handle.write("\n" + toml)


def add_people(root: Path, people: list[tuple[str, str | None]]) -> list[Subscriber]:
    """Add active subscribers straight to the store of the newsletter at ``root``."""
    return add_to(configured(root), people)


def add_to(db: Database, people: list[tuple[str, str | None]]) -> list[Subscriber]:
    """Add active subscribers straight to a store (names as given, not cleaned)."""
    store = open_store(db)
    try:
        store.import_many([NewSubscriber(normalise(email), name, "active", None, "test")
                           for email, name in people], NOW)
        found = [store.get(normalise(email)) for email, _ in people]
    finally:
        store.close()
    assert all(found)
    return [s for s in found if s is not None]


def many(count: int) -> list[tuple[str, str | None]]:
    return [(f"reader{n:04d}@example.net", f"Reader {n}") for n in range(count)]


def send(root: Path, environ: dict[str, str] | None = None, **options: object) -> SendReport:
    """``send_issue`` with a fixed clock and the signing key in a private environment."""
    return send_issue(root, SendOptions(ISSUE, **options),  # type: ignore[arg-type]
                      now=lambda: NOW, monotonic=FakeMonotonic(),
                      environ={SECRET_ENV: SECRET} if environ is None else environ)


def ledger(db: Database) -> dict[str, tuple[str, str | None]]:
    """email -> (delivery status, detail) for every ledger row."""
    found = rows(db, "SELECT s.email, d.status, d.detail FROM deliveries d "
                     "JOIN subscribers s ON s.id = d.subscriber_id")
    return {email: (status, detail) for email, status, detail in found}


def ledger_rows(db: Database) -> int:
    if "sends" not in tables(db):
        return 0
    return int(rows(db, "SELECT (SELECT count(*) FROM sends) + "
                        "(SELECT count(*) FROM deliveries)")[0][0])


def status_of(db: Database, email: str) -> str:
    return str(rows(db, "SELECT status FROM subscribers WHERE email = ?", (email,))[0][0])


def by_recipient(messages: list[Received]) -> dict[str, list[Received]]:
    found: dict[str, list[Received]] = defaultdict(list)
    for received in messages:
        for rcpt in received.rcpt_tos:
            found[rcpt].append(received)
    return found


def unsubscribe_parts(message: EmailMessage) -> re.Match[str]:
    value = str(message["List-Unsubscribe"])
    match = UNSUBSCRIBE_RE.match(value)
    assert match, value
    return match


def normalised(text: str) -> str:
    return text.replace("\r\n", "\n")


# ---------------------------------------------------------------------- (1) the MIME message


@pytest.fixture
def sample_root(sample_copy: Path) -> Path:
    configure(sample_copy, '[delivery]\nunsubscribe_mailto = "unsubscribe@example.org"\n')
    return sample_copy


def test_message_structure_headers_and_bodies(sample_root: Path, sink: SmtpSink) -> None:
    people = add_people(sample_root, [("ada@example.org", "Ada Lovelace"),
                                      ("zoe@example.net", "Zoë Ünal, PhD"),
                                      ("bob@example.com", None)])
    report = send(sample_root, smtp_url=sink.url)
    assert (report.sent, report.failed, report.skipped, report.recipients) == (3, 0, 0, 3)

    built = sample_root / "public" / ISSUE
    html = (built / "email.html").read_text(encoding="utf-8")
    text = (built / "email.txt").read_text(encoding="utf-8")
    assert UNSUBSCRIBE_PLACEHOLDER in html and UNSUBSCRIBE_PLACEHOLDER in text
    tokens = Tokens(SECRET)
    received = by_recipient(sink.messages)
    assert set(received) == {p.email for p in people}
    message_ids = set()
    for person in people:
        [delivery] = received[person.email]
        assert delivery.mail_from == SENDER
        assert all(len(line) <= 998 for line in delivery.data.split(b"\r\n"))
        message = parse(delivery.data)
        assert set(message.keys()) == HEADERS
        assert all(len(message.get_all(name) or []) == 1 for name in HEADERS)

        assert message.get_content_type() == "multipart/alternative"
        parts = list(message.iter_parts())
        assert [p.get_content_type() for p in parts] == ["text/plain", "text/html"]
        assert all(p.get_content_charset() == "utf-8" for p in parts)

        assert str(message["From"]) == "Ethics & Society <ethics@example.org>"
        assert parseaddr(str(message["To"]))[1] == person.email
        assert message["To"].addresses[0].display_name == (person.name or "")
        assert str(message["Subject"]) == SUBJECT
        assert parsedate_to_datetime(str(message["Date"])) == NOW
        assert str(message["List-Id"]) == "Ethics & Society <ethics.example.org>"
        assert str(message["List-Unsubscribe-Post"]) == "List-Unsubscribe=One-Click"
        message_id = str(message["Message-ID"])
        assert re.fullmatch(r"<[^<>@\s]+@example\.org>", message_id), message_id
        message_ids.add(message_id)

        unsubscribe = unsubscribe_parts(message)
        assert unsubscribe["mailto"] == "unsubscribe@example.org?subject=unsubscribe"
        url = unsubscribe["url"]
        plain, rich = (p.get_content() for p in parts)
        assert isinstance(plain, str) and isinstance(rich, str)
        assert normalised(plain) == normalised(text.replace(UNSUBSCRIBE_PLACEHOLDER, url))
        assert normalised(rich) == normalised(html.replace(UNSUBSCRIBE_PLACEHOLDER, url))
        assert tokens.check_unsubscribe(unsubscribe["token"]) == \
            (person.id, address_digest(person.email))
    assert len(message_ids) == len(people)


def test_list_unsubscribe_without_mailto(sample_copy: Path, sink: SmtpSink) -> None:
    add_people(sample_copy, [("ada@example.org", "Ada")])
    send(sample_copy, smtp_url=sink.url)
    message = parse(sink.messages[0].data)
    assert unsubscribe_parts(message)["mailto"] is None
    assert str(message["List-Unsubscribe"]).count("<") == 1


def test_forged_altered_and_foreign_tokens_are_rejected(sample_root: Path,
                                                        sink: SmtpSink) -> None:
    ada, bob = add_people(sample_root, [("ada@example.org", None), ("bob@example.org", None)])
    send(sample_root, smtp_url=sink.url)
    tokens = {rcpt: unsubscribe_parts(parse(r[0].data))["token"]
              for rcpt, r in by_recipient(sink.messages).items()}
    checker = Tokens(SECRET)
    ada_token, bob_token = tokens[ada.email], tokens[bob.email]

    # a genuine token names its own subscriber, and only their address
    ada_id, ada_digest = checker.check_unsubscribe(ada_token)
    assert ada_id == ada.id and ada_digest == address_digest(ada.email)
    assert ada_digest != address_digest(bob.email)
    assert checker.check_unsubscribe(bob_token) == (bob.id, address_digest(bob.email))

    payload, signature = ada_token.rsplit(".", 1)
    bob_payload = bob_token.rsplit(".", 1)[0]
    flipped = signature[:-1] + ("A" if signature[-1] != "A" else "B")
    other_payload = base64.urlsafe_b64encode(
        f'[{bob.id},"{address_digest(ada.email)}"]'.encode()).decode().rstrip("=")
    forged = [
        f"{payload}.{flipped}",                    # altered signature
        f"{bob_payload}.{signature}",              # Bob's payload under Ada's signature
        f"{other_payload}.{signature}",            # hand-made payload
        Tokens("another-key-0123456789abcdef").unsubscribe(ada.id, ada.email),  # wrong key
        Tokens(SECRET).confirm(ada.id, ada.email),  # a token for another purpose
        "", "garbage", payload,
    ]
    for token in forged:
        with pytest.raises(TokenError):
            checker.check_unsubscribe(token)


LINE_PIECES = st.sampled_from([b".", b"..", b"\r", b"\n", b"\r\n", b"a", b" "])


@given(st.lists(LINE_PIECES, max_size=40).map(b"".join))
def test_quote_periods_quotes_exactly_as_smtplib_does(data: bytes) -> None:
    assert quote_periods(data) == smtplib._quote_periods(data)  # type: ignore[attr-defined]


def test_lines_starting_with_a_period_arrive_intact(sink: SmtpSink) -> None:
    """The transport's own DATA (faster quoting) against a real server, which undoes it."""
    data = (b"Subject: dots\r\n\r\n.first\r\n..second\r\nmid.dle\r\n.\r\n. \r\n"
            b"...\r\nend\r\n")
    transport = SmtpTransport(SmtpSettings(HOST, sink.port, "none", None, None, timeout=10))
    try:
        transport.send("news@example.org", "ada@example.org", "<dots@example.org>", data)
        transport.send("news@example.org", "bob@example.org", "<end@example.org>",
                       data.rstrip(b"\r\n"))
    finally:
        transport.close()
    first, second = sink.messages
    assert first.data == data
    assert second.data == data  # a message not ending with CRLF gets one, as with smtplib


def test_a_message_is_ended_only_once_ready_says_so(sink: SmtpSink) -> None:
    """``send_when`` asks ``ready`` after the body and before the end of the DATA: a no (the
    recipient left) or a failure (the ledger could not be written) leaves the message unended,
    and the server keeps nothing; the next message goes on a new connection."""
    data = b"Subject: gated\r\n\r\nbody\r\n"
    transport = SmtpTransport(SmtpSettings(HOST, sink.port, "none", None, None, timeout=10))
    asked: list[int] = []

    def ready(answer: bool) -> Callable[[], bool]:
        def ask() -> bool:
            asked.append(sink.count())  # the body went, and the server has kept nothing yet
            return answer
        return ask

    def fails() -> bool:
        raise RuntimeError("the ledger failed")

    try:
        assert not transport.send_when("news@example.org", "ada@example.org", "<a@x>", data,
                                       ready(False))
        with pytest.raises(RuntimeError, match="the ledger failed"):
            transport.send_when("news@example.org", "bob@example.org", "<b@x>", data, fails)
        assert transport.send_when("news@example.org", "cy@example.org", "<c@x>", data,
                                   ready(True))
    finally:
        transport.close()
    assert asked == [0, 0]
    assert [m.rcpt_tos for m in sink.messages] == [("cy@example.org",)]


# ---------------------------------------------------------------------- (2) header injection


INJECTED = "\r\nBcc: eve@evil.example\r\nX-Injected: yes"


def _inject_issue_title(root: Path) -> None:
    path = root / "issues" / ISSUE / "issue.md"
    text = path.read_text(encoding="utf-8")
    text = text.replace("title: The cost of computation",
                        'title: "The cost of computation\\r\\nBcc: eve@evil.example\\r\\n'
                        'X-Injected: yes"', 1)
    path.write_text(text, encoding="utf-8")


def _inject_newsletter_title(root: Path) -> None:
    path = root / "newsletter.toml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace('title = "Ethics & Society"',
                                 'title = "Ethics & Society\\r\\nX-Injected: yes"', 1),
                    encoding="utf-8")


def _inject_sender_name(root: Path) -> None:
    path = root / "newsletter.toml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace('sender = "Ethics & Society <ethics@example.org>"',
                                 'sender = "Ethics\\r\\nX-Injected: yes <ethics@example.org>"',
                                 1), encoding="utf-8")


@pytest.mark.parametrize("where", ["issue title", "subscriber name", "newsletter title",
                                   "sender name"])
def test_cr_lf_never_injects_a_header(sample_copy: Path, sink: SmtpSink, where: str) -> None:
    name = "Eve" + INJECTED if where == "subscriber name" else "Ada"
    if where == "issue title":
        _inject_issue_title(sample_copy)
    elif where in ("newsletter title", "sender name"):
        (_inject_newsletter_title if where == "newsletter title" else _inject_sender_name)(
            sample_copy)
        # The configuration refuses it outright, at its line: nothing is sent.
        key = "title" if where == "newsletter title" else "email.sender"
        with pytest.raises(ContentError) as caught:
            send(sample_copy, smtp_url=sink.url)
        assert any(f"'{key}'" in p.message and "control characters" in p.message
                   and p.line is not None for p in caught.value.problems)
        assert sink.messages == []
        return
    [person] = add_people(sample_copy, [("ada@example.org", name)])
    report = send(sample_copy, smtp_url=sink.url)
    assert report.sent == 1
    [delivery] = sink.messages
    assert delivery.rcpt_tos == ("ada@example.org",)
    head = delivery.data.split(b"\r\n\r\n", 1)[0]
    assert not re.search(rb"^(Bcc|X-Injected):", head, re.MULTILINE | re.IGNORECASE), head
    message = parse(delivery.data)
    assert set(message.keys()) == HEADERS
    assert message.defects == []
    carrier = {"issue title": "Subject", "subscriber name": "To", "newsletter title": "List-Id",
               "sender name": "From"}[where]
    assert "X-Injected: yes" in str(message[carrier])  # the text arrived, on one line
    for header in HEADERS:
        assert "\r" not in str(message[header]) and "\n" not in str(message[header])
    assert parseaddr(str(message["To"]))[1] == person.email


# ---------------------------------------------------------------------- (3) faults, via run_send


def small_message(key: str = "t1") -> IssueMessage:
    tokens = Tokens(SECRET)
    return IssueMessage(
        sender="Scratch <news@example.org>", subject="Scratch: a test", list_name="Scratch",
        list_id_domain="news.example.org",
        html=f'<p>Hello <a href="{UNSUBSCRIBE_PLACEHOLDER}">unsubscribe</a></p>\n',
        text=f"Hello. Unsubscribe: {UNSUBSCRIBE_PLACEHOLDER}\n", date=NOW, message_key=key,
        unsubscribe_url=lambda r: "https://news.example.org/unsubscribe?token="
        + tokens.unsubscribe(r.subscriber_id, r.email),
        unsubscribe_mailto=None)


@dataclass
class Sender:
    """A store with subscribers, one send of the small message, and a fake sleep."""

    db: Database
    port: int
    connections: int = 1
    retries: int = 3
    sleeps: list[float] = field(default_factory=list)

    def add(self, count: int) -> list[Subscriber]:
        return add_to(self.db, many(count))

    def run(self, message: IssueMessage | None = None) -> Progress:
        store = open_store(self.db)
        try:
            send_id, _ = store.begin_send("t1", NOW)
            store.requeue(send_id, NOW)
            settings = SmtpSettings(HOST, self.port, "none", None, None, timeout=10)
            return run_send(store, send_id, message or small_message(), "news@example.org",
                            [SmtpTransport(settings) for _ in range(self.connections)],
                            retries=self.retries, limiter=RateLimiter(0), now=lambda: NOW,
                            backoff=lambda attempt: 2.0 ** attempt, sleep=self.sleeps.append)
        finally:
            store.close()


@pytest.fixture
def sender(database: Database, sink: SmtpSink) -> Sender:
    return Sender(database, sink.port)


def test_451_is_retried_with_backoff_then_delivered(sender: Sender, sink: SmtpSink) -> None:
    people = sender.add(3)
    sink.defer(people[1].email, 2)
    progress = sender.run()
    assert (progress.sent, progress.deferred, progress.failed) == (3, 0, 0)
    assert sink.replies(TRY_AGAIN) == 2
    assert sender.sleeps == [1.0, 2.0]
    assert Counter(r for m in sink.messages for r in m.rcpt_tos) == {p.email: 1 for p in people}
    assert {status for status, _ in ledger(sender.db).values()} == {"sent"}


def test_persistent_451_is_deferred_and_a_rerun_sends_it(sender: Sender,
                                                         sink: SmtpSink) -> None:
    people = sender.add(3)
    stuck = people[2].email
    sink.defer(stuck, 1000)
    progress = sender.run()
    assert (progress.sent, progress.deferred) == (2, 1), \
        f"a message refused with 451 on every try was counted as {progress}"
    assert sink.replies(TRY_AGAIN) == sender.retries
    status, detail = ledger(sender.db)[stuck]
    assert status == "deferred" and detail is not None and "451" in detail
    assert stuck not in by_recipient(sink.messages)

    sink.defer(stuck, 0)
    progress = sender.run()
    assert (progress.sent, progress.deferred) == (1, 0)
    assert Counter(r for m in sink.messages for r in m.rcpt_tos) == {p.email: 1 for p in people}
    assert ledger(sender.db)[stuck][0] == "sent"


def test_550_no_such_user_fails_and_marks_the_address_bounced(sender: Sender,
                                                              sink: SmtpSink) -> None:
    people = sender.add(3)
    gone = people[0].email
    sink.reject(gone)
    progress = sender.run()
    assert (progress.sent, progress.failed) == (2, 1)
    assert sender.sleeps == []  # a permanent failure is not retried
    assert sink.replies(NO_SUCH_USER) == 1
    status, detail = ledger(sender.db)[gone]
    assert status == "failed" and detail is not None and detail.startswith("550")
    assert status_of(sender.db, gone) == "bounced"
    assert {p.email for p in people[1:]} == set(by_recipient(sink.messages))
    assert all(status_of(sender.db, p.email) == "active" for p in people[1:])


def test_other_5xx_fails_without_marking_the_address_bounced(sender: Sender,
                                                             sink: SmtpSink) -> None:
    [person] = sender.add(1)
    sink.reject(person.email, "554 5.7.1 message refused by policy")
    progress = sender.run()
    assert progress.failed == 1
    assert ledger(sender.db)[person.email][0] == "failed"
    assert status_of(sender.db, person.email) == "active"


def test_dropped_connection_reconnects_and_delivers_once(sender: Sender,
                                                         sink: SmtpSink) -> None:
    people = sender.add(4)
    sink.drop_on_data(2)
    progress = sender.run()
    assert progress.sent == 4
    assert len(sender.sleeps) == 1
    assert Counter(r for m in sink.messages for r in m.rcpt_tos) == {p.email: 1 for p in people}
    assert {status for status, _ in ledger(sender.db).values()} == {"sent"}


def test_unreachable_server_stops_the_send_and_a_rerun_resumes(
    sample_copy: Path, cli: RunCli, sink: SmtpSink, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(SECRET_ENV, SECRET)
    configure(sample_copy, "[delivery]\nretries = 1\n")
    people = add_people(sample_copy, many(5))
    with SmtpSink() as closed:
        dead_url = closed.url
    code, _, err = cli("send", ISSUE, "--root", str(sample_copy), "--smtp", dead_url, "--yes")
    assert code == 1
    assert "cannot connect" in err and "Traceback" not in err
    code, out, err = cli("send", ISSUE, "--root", str(sample_copy), "--smtp", sink.url, "--yes")
    assert code == 0, err
    assert "every recipient is done" in out
    assert Counter(r for m in sink.messages for r in m.rcpt_tos) == {p.email: 1 for p in people}


def test_one_recipient_is_counted_in_the_singular(sample_copy: Path, cli: RunCli,
                                                  monkeypatch: pytest.MonkeyPatch,
                                                  tmp_path: Path) -> None:
    """The summary says "of 1 recipient", and a dry run "built 1 message"."""
    monkeypatch.setenv(SECRET_ENV, SECRET)
    add_people(sample_copy, many(1))
    code, out, err = cli("send", ISSUE, "--root", str(sample_copy), "--dry-run")
    assert code == 0, err
    assert "dry run: built 1 message (" in out
    code, out, err = cli("send", ISSUE, "--root", str(sample_copy), "--yes", "--outbox",
                         str(tmp_path / "outbox"))
    assert code == 0, err
    assert "1 sent, 0 failed, 0 skipped, 0 deferred, of 1 recipient (" in out


# ---------------------------------------------------------------------- (4) unsubscribed mid-send


def test_unsubscribed_between_runs_is_skipped(sample_copy: Path, cli: RunCli, sink: SmtpSink,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """A run leaves two deferred; one of them unsubscribes; the next run skips them."""
    monkeypatch.setenv(SECRET_ENV, SECRET)
    configure(sample_copy, "[delivery]\nretries = 1\n")
    people = add_people(sample_copy, many(4))
    leaver, late = people[1], people[3]
    sink.defer(leaver.email, 1)
    sink.defer(late.email, 1)
    code, out, err = cli("send", ISSUE, "--root", str(sample_copy), "--smtp", sink.url, "--yes")
    assert "2 sent, 0 failed, 0 skipped, 2 deferred, of 4 recipients" in out, out
    assert code == 1
    assert "not done yet" in err

    store = open_store(configured(sample_copy))
    store.set_status(leaver.id, "unsubscribed", NOW)
    store.close()
    code, out, err = cli("send", ISSUE, "--root", str(sample_copy), "--smtp", sink.url, "--yes")
    assert code == 0, err
    assert "3 sent, 0 failed, 1 skipped, 0 deferred, of 4 recipients" in out
    assert "every recipient is done" in out
    received = Counter(r for m in sink.messages for r in m.rcpt_tos)
    assert received == {p.email: 1 for p in people if p is not leaver}
    assert ledger(configured(sample_copy))[leaver.email][0] == "skipped"


def test_unsubscribed_during_the_send_is_not_sent_to(sample_copy: Path, sink: SmtpSink) -> None:
    """The first message to arrive triggers an unsubscribe further down the list."""
    people = add_people(sample_copy, many(12))
    leaver = people[8]
    db = configured(sample_copy)

    def unsubscribe_once(received: Received) -> None:
        if received.rcpt_tos == (people[0].email,):
            other = open_store(db)
            other.set_status(leaver.id, "unsubscribed", NOW)
            other.close()

    sink.on_message = unsubscribe_once
    report = send(sample_copy, smtp_url=sink.url, connections=1)
    received = by_recipient(sink.messages)
    assert leaver.email not in received, \
        "a subscriber who unsubscribed during the send still got the issue"
    assert report.skipped == 1 and report.sent == 11


def test_unsubscribed_during_a_send_over_several_connections_is_not_sent_to(
        sample_copy: Path, sink: SmtpSink) -> None:
    """Whichever message arrives first unsubscribes someone the claim already took: every
    message after the first few is checked in the commit before it, so they are skipped."""
    people = add_people(sample_copy, many(40))
    leaver = people[30]
    db = configured(sample_copy)
    done = threading.Event()

    def unsubscribe_once(received: Received) -> None:
        if not done.is_set():
            done.set()
            other = open_store(db)
            other.set_status(leaver.id, "unsubscribed", NOW)
            other.close()

    sink.on_message = unsubscribe_once
    report = send(sample_copy, smtp_url=sink.url, connections=4)
    assert leaver.email not in by_recipient(sink.messages), \
        "a subscriber who unsubscribed during the send still got the issue"
    assert (report.skipped, report.sent) == (1, 39)
    assert ledger(db)[leaver.email] == ("skipped", "unsubscribed before the message left")


# ---------------------------------------------------------------------- (5) --test-to, --dry-run


def test_test_to_sends_one_copy_and_records_nothing(sample_copy: Path, cli: RunCli,
                                                    sink: SmtpSink,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(SECRET_ENV, SECRET)
    add_people(sample_copy, many(3))
    db = configured(sample_copy)
    code, out, err = cli("send", ISSUE, "--root", str(sample_copy), "--smtp", sink.url,
                         "--test-to", "Editor@Example.ORG")
    assert code == 0, err
    assert "nothing recorded" in out
    [delivery] = sink.messages
    assert delivery.rcpt_tos == ("Editor@example.org",)
    message = parse(delivery.data)
    assert parseaddr(str(message["To"]))[1] == "Editor@example.org"
    assert str(message["Subject"]) == f"[TEST] {SUBJECT}"
    assert ledger_rows(db) == 0


def test_dry_run_builds_everything_and_sends_nothing(sample_copy: Path, cli: RunCli,
                                                     sink: SmtpSink,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(SECRET_ENV, SECRET)
    add_people(sample_copy, many(3))
    code, out, err = cli("send", ISSUE, "--root", str(sample_copy), "--smtp", sink.url,
                         "--dry-run")
    assert code == 0, err
    assert "dry run: built 3 messages" in out and "nothing sent" in out
    code, out, err = cli("send", ISSUE, "--root", str(sample_copy), "--dry-run")
    assert code == 0, err
    assert sink.count() == 0
    assert not (sample_copy / "outbox").exists()
    assert ledger_rows(configured(sample_copy)) == 0


# ---------------------------------------------------------------------- (6), (7) refusals


@pytest.mark.parametrize("value", [None, "", "short"])
def test_no_signing_key_no_send(sample_copy: Path, cli: RunCli, sink: SmtpSink,
                                monkeypatch: pytest.MonkeyPatch, value: str | None) -> None:
    if value is None:
        monkeypatch.delenv(SECRET_ENV, raising=False)
    else:
        monkeypatch.setenv(SECRET_ENV, value)
    add_people(sample_copy, many(2))
    code, _, err = cli("send", ISSUE, "--root", str(sample_copy), "--smtp", sink.url, "--yes")
    assert code == 1
    assert SECRET_ENV in err and "Traceback" not in err
    assert sink.count() == 0
    assert ledger_rows(configured(sample_copy)) == 0


def test_the_configured_variable_is_the_one_named(sample_copy: Path, cli: RunCli,
                                                  sink: SmtpSink,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    configure(sample_copy, '[delivery]\ntoken_secret_env = "ETHICS_NEWS_KEY"\n')
    monkeypatch.setenv(SECRET_ENV, SECRET)  # the default name does not count
    monkeypatch.delenv("ETHICS_NEWS_KEY", raising=False)
    add_people(sample_copy, many(2))
    code, _, err = cli("send", ISSUE, "--root", str(sample_copy), "--smtp", sink.url, "--yes")
    assert code == 1 and "ETHICS_NEWS_KEY" in err
    assert sink.count() == 0


def _unknown_author(root: Path) -> None:
    path = root / "issues" / ISSUE / "alt-text-is-documentation-too.md"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("authors: [Yuki Tanabe]", "authors: [Nobody Known]", 1),
                    encoding="utf-8")


def _image_without_alt(root: Path) -> None:
    path = root / "issues" / ISSUE / "what-a-training-run-really-costs.md"
    text = path.read_text(encoding="utf-8")
    path.write_text(re.sub(r"!\[[^\]]*\]\(images/", "![](images/", text), encoding="utf-8")


@pytest.mark.parametrize("spoil", [_unknown_author, _image_without_alt])
def test_an_issue_failing_strict_checks_is_refused(sample_copy: Path, cli: RunCli,
                                                   sink: SmtpSink,
                                                   monkeypatch: pytest.MonkeyPatch,
                                                   spoil: Callable[[Path], None]) -> None:
    monkeypatch.setenv(SECRET_ENV, SECRET)
    spoil(sample_copy)
    add_people(sample_copy, many(2))
    code, _, err = cli("send", ISSUE, "--root", str(sample_copy), "--smtp", sink.url, "--yes")
    assert code == 1
    assert ": error: " in err and "Traceback" not in err
    assert sink.count() == 0
    assert ledger_rows(configured(sample_copy)) == 0


# ---------------------------------------------------------------------- (8) SIGKILL and resume


SUBSCRIBERS = 500
KILL_AFTER = 150


def _send_command(root: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "pipeline.cli", "send", ISSUE, "--root", str(root), "--yes",
            *extra]


def _environment() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSLETTER_")}
    return {**env, SECRET_ENV: SECRET, "NO_COLOR": "1"}


def _finish(root: Path, *extra: str, recipients: int = SUBSCRIBERS) -> str:
    done = subprocess.run(_send_command(root, *extra), env=_environment(), capture_output=True,
                          text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    assert "every recipient is done" in done.stdout, done.stdout
    assert (f"{recipients} sent, 0 failed, 0 skipped, 0 deferred, of {recipients} "
            "recipients") in done.stdout, done.stdout
    return done.stdout


def _kill_at(root: Path, sink: SmtpSink, count: int, args: tuple[str, ...],
             delay: float = 0.0) -> None:
    """Start a send and SIGKILL it once the sink has accepted ``count`` messages in all (and
    ``delay`` seconds more)."""
    process = subprocess.Popen(_send_command(root, *args), env=_environment(),
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        reached = sink.wait_for(count, timeout=120, stop=lambda: process.poll() is not None)
        assert reached, f"the send ended (status {process.poll()}) before it could be killed"
        time.sleep(delay)
        os.kill(process.pid, signal.SIGKILL)
    finally:
        if process.poll() is None:
            process.kill()
        process.wait()


@pytest.mark.parametrize("connections", [1, 4])
def test_killed_smtp_send_resumes_exactly_once(sample_copy: Path, sink: SmtpSink,
                                               connections: int) -> None:
    people = add_people(sample_copy, many(SUBSCRIBERS))
    args = ("--smtp", sink.url, "--connections", str(connections))
    _kill_at(sample_copy, sink, KILL_AFTER, args)
    at_kill = sink.count()
    assert at_kill < SUBSCRIBERS, "the send finished before the kill"

    _finish(sample_copy, *args)

    messages = sink.messages
    received = by_recipient(messages)
    missing = {p.email for p in people} - set(received)
    assert not missing, f"{len(missing)} subscribers never got the issue"
    assert set(received) == {p.email for p in people}
    distinct = {rcpt: {m.message_id for m in got} for rcpt, got in received.items()}
    doubled = {rcpt: ids for rcpt, ids in distinct.items() if len(ids) != 1}
    assert not doubled, f"{len(doubled)} subscribers got two distinct messages"
    copies = Counter(m.message_id for m in messages)
    resent = sum(n - 1 for n in copies.values())
    identical = sum(len({m.data for m in got}) == 1 for got in received.values()
                    if len(got) > 1)
    report = (f"{resent} messages were sent twice with the same Message-ID ({identical} of "
              f"them byte for byte identical) after a kill at {at_kill} of {SUBSCRIBERS} "
              f"messages with {connections} connection(s)")
    print(report)  # shown with pytest -rP
    assert resent <= connections, \
        f"{report}; at most one in flight per connection may be re-sent"


LARGE = 2000
KILLS = 3
LARGE_CONNECTIONS = 4


def test_a_large_send_killed_again_and_again_sends_each_message_once(
        sample_copy: Path, sink: SmtpSink) -> None:
    """Killed three times at moments a seeded generator picks, then run to the end: everyone
    gets the issue, and the only copies sent twice are the ones in flight at a kill, at most
    one per connection per kill, identical to the first."""
    people = add_people(sample_copy, many(LARGE))
    args = ("--smtp", sink.url, "--connections", str(LARGE_CONNECTIONS))
    chooser = random.Random(20261222)
    kills = []
    for n in range(1, KILLS + 1):
        mark = LARGE * n // (KILLS + 1) + chooser.randint(-150, 150)
        _kill_at(sample_copy, sink, mark, args, delay=chooser.uniform(0.0, 0.02))
        kills.append(sink.count())
    assert kills[-1] < LARGE, f"the send finished before the last kill ({kills})"

    _finish(sample_copy, *args, recipients=LARGE)

    messages = sink.messages
    received = by_recipient(messages)
    assert set(received) == {p.email for p in people}, "someone never got the issue"
    copies = {rcpt: [(m.message_id, m.data) for m in got] for rcpt, got in received.items()}
    twice = {rcpt: got for rcpt, got in copies.items() if len(got) > 1}
    for rcpt, got in twice.items():
        assert len(set(got)) == 1, f"{rcpt} got {len(got)} different messages"
    resent = sum(len(got) - 1 for got in twice.values())
    print(f"{resent} messages sent twice (the same bytes and Message-ID) after {KILLS} kills "
          f"at {kills} of {LARGE} with {LARGE_CONNECTIONS} connections")  # pytest -rP
    assert resent <= KILLS * LARGE_CONNECTIONS, \
        f"{resent} messages were sent twice: more than one per connection per kill"
    assert {status for status, _ in ledger(configured(sample_copy)).values()} == {"sent"}


def test_killed_outbox_send_resumes_exactly_once(sample_copy: Path) -> None:
    people = add_people(sample_copy, many(SUBSCRIBERS))
    outbox = sample_copy / "outbox"
    process = subprocess.Popen(_send_command(sample_copy, "--outbox", str(outbox)),
                               env=_environment(), stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while process.poll() is None and time.monotonic() < deadline:
            if outbox.is_dir() and sum(1 for _ in outbox.glob("*.eml")) >= KILL_AFTER:
                break
            time.sleep(0.002)
        assert process.poll() is None, "the send ended before it could be killed"
        os.kill(process.pid, signal.SIGKILL)
    finally:
        if process.poll() is None:
            process.kill()
        process.wait()
    at_kill = sum(1 for _ in outbox.glob("*.eml"))
    assert at_kill < SUBSCRIBERS

    _finish(sample_copy, "--outbox", str(outbox))

    files = sorted(outbox.glob("*.eml"))
    recipients = Counter(parseaddr(str(parse(f.read_bytes())["To"]))[1] for f in files)
    assert len(files) == SUBSCRIBERS
    assert recipients == {p.email: 1 for p in people}
    ids = {str(parse(f.read_bytes())["Message-ID"]) for f in files}
    assert len(ids) == SUBSCRIBERS


# ---------------------------------------------------------------------- (9) the rate limit


@dataclass
class FakeClock:
    now: float = 50.0
    sleeps: list[float] = field(default_factory=list)
    advance: bool = True

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        if self.advance:
            self.now += seconds


def test_rate_limiter_spaces_sends() -> None:
    fake = FakeClock()
    limiter = RateLimiter(4, clock=fake.clock, sleep=fake.sleep)
    moments = []
    for _ in range(5):
        limiter.wait()
        moments.append(fake.now)
    assert moments == pytest.approx([50.0, 50.25, 50.5, 50.75, 51.0])

    fake.now += 10  # idle: no debt is carried over, no burst allowed either
    limiter.wait()
    first = fake.now
    limiter.wait()
    assert fake.now - first == pytest.approx(0.25)

    fake.now += 0.1  # time spent sending counts towards the interval
    before = len(fake.sleeps)
    limiter.wait()
    assert fake.sleeps[before:] == pytest.approx([0.15])


def test_rate_limiter_gives_each_thread_its_own_slot() -> None:
    fake = FakeClock(advance=False)
    limiter = RateLimiter(10, clock=fake.clock, sleep=fake.sleep)
    threads = [threading.Thread(target=limiter.wait) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(fake.sleeps) == pytest.approx([0.1 * n for n in range(1, 8)])


def test_no_rate_means_no_waiting() -> None:
    fake = FakeClock()
    limiter = RateLimiter(0, clock=fake.clock, sleep=fake.sleep)
    for _ in range(100):
        limiter.wait()
    assert fake.sleeps == []


def test_run_send_respects_the_rate(tmp_path: Path, database: Database) -> None:
    fake = FakeClock()
    db = database
    add_to(db, many(6))
    moments: list[float] = []

    class Recording(OutboxTransport):
        def send(self, sender: str, recipient: str, message_id: str, data: bytes) -> None:
            moments.append(fake.now)
            super().send(sender, recipient, message_id, data)

    transport: Transport = Recording(tmp_path / "outbox")
    store = open_store(db)
    try:
        send_id, _ = store.begin_send("t1", NOW)
        progress = run_send(store, send_id, small_message(), "news@example.org", [transport],
                            retries=1, limiter=RateLimiter(5, fake.clock, fake.sleep),
                            now=lambda: NOW, sleep=fake.sleep)
    finally:
        store.close()
    assert progress.sent == 6
    gaps = [b - a for a, b in itertools.pairwise(moments)]
    assert gaps == pytest.approx([0.2] * 5)


# ---------------------------------------------------------------------- (10) DKIM


def test_dkim_signature_verifies_and_covers_the_headers(sample_copy: Path, sink: SmtpSink,
                                                        tmp_path: Path) -> None:
    import dkim

    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl is needed to make a test RSA key")
    key = sample_copy / "dkim.pem"
    subprocess.run([openssl, "genrsa", "-out", str(key), "2048"], check=True,
                   capture_output=True)
    public = subprocess.run([openssl, "rsa", "-in", str(key), "-pubout", "-outform", "DER"],
                            check=True, capture_output=True).stdout
    record = b"v=DKIM1; k=rsa; p=" + base64.b64encode(public)
    configure(sample_copy, '[delivery]\ndkim_key = "dkim.pem"\ndkim_selector = "news2026"\n'
                           'unsubscribe_mailto = "unsubscribe@example.org"\n')
    add_people(sample_copy, [("ada@example.org", "Ada Lovelace"), ("zoe@example.net", "Zoë")])
    asked: list[bytes] = []

    def dns(name: bytes, timeout: int = 5) -> bytes:
        asked.append(name)
        return record if name == b"news2026._domainkey.example.org." else b""

    send(sample_copy, smtp_url=sink.url)
    assert sink.count() == 2
    for delivery in sink.messages:
        assert dkim.verify(delivery.data, dnsfunc=dns), "the DKIM signature does not verify"
        message = parse(delivery.data)
        signature = re.sub(r"\s+", "", str(message["DKIM-Signature"]))
        tags = dict(tag.split("=", 1) for tag in signature.split(";") if tag)
        assert tags["d"] == "example.org" and tags["s"] == "news2026"
        signed = {h.lower() for h in tags["h"].split(":")}
        assert {"from", "subject", "date", "message-id", "list-unsubscribe",
                "list-unsubscribe-post"} <= signed
        tampered = delivery.data.replace(b"Subject: December", b"Subject: Xecember", 1)
        assert not dkim.verify(tampered, dnsfunc=dns)
    assert set(asked) == {b"news2026._domainkey.example.org."}


def test_message_build_is_stable_per_subscriber() -> None:
    """The same subscriber gets the same Message-ID and bytes on a resumed send."""
    message = small_message("issue-x")
    first = message.build(Recipient(7, "ada@example.org", "Ada"))
    again = message.build(Recipient(7, "ada@example.org", "Ada"))
    other = message.build(Recipient(8, "bob@example.org", "Bob"))
    assert first == again
    assert first[0] != other[0]
    assert first[0] == "<issue-x.7@example.org>"
