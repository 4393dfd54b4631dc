"""Sending an issue: transports (SMTP, an outbox folder) and the send loop over the ledger.

The loop claims a batch of ledger rows, hands each message to a worker thread (one SMTP
connection each), and records every outcome as soon as it is known. A recipient's row is
``sending`` while its message is in flight and ``sent`` right after the server accepted it, so
a send killed at any moment resumes with every recipient not yet sent. The one message that can
be in flight on each connection at the moment of a kill is sent again on resume with the same
Message-ID (which receiving systems use to drop duplicates); the outbox transport writes each
message under its Message-ID atomically, so there a resumed send is exactly once.
"""

from __future__ import annotations

import contextlib
import os
import queue
import re
import smtplib
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from email.utils import parseaddr
from pathlib import Path
from typing import Protocol
from urllib.parse import urlsplit

from .errors import PipelineError
from .messages import IssueMessage, Recipient
from .store import Claimed, Outcome, Store

BATCH = 200
_MAILBOX_GONE = re.compile(
    r"\b5\.1\.[0-3]\b|no such (user|mailbox)|user unknown|mailbox (unavailable|not found)|"
    r"does not exist|unknown (user|recipient)|recipient address rejected", re.IGNORECASE)


class TemporaryFailure(Exception):
    """A 4xx reply or a dropped connection: worth trying again."""


class ConnectFailure(TemporaryFailure):
    """The server cannot be reached at all."""


class PermanentFailure(Exception):
    """A 5xx reply: this message will not be delivered."""

    def __init__(self, message: str, mailbox_gone: bool) -> None:
        super().__init__(message)
        self.mailbox_gone = mailbox_gone


class Transport(Protocol):
    """Hands one message to its next hop."""

    def send(self, sender: str, recipient: str, message_id: str, data: bytes) -> None: ...
    def close(self) -> None: ...


class OutboxTransport:
    """Writes each message as ``<outbox>/<message-id>.eml``, atomically."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)

    def send(self, sender: str, recipient: str, message_id: str, data: bytes) -> None:
        name = re.sub(r"[^A-Za-z0-9.@_-]", "_", message_id.strip("<>")) + ".eml"
        tmp = self.folder / f".{name}.{os.getpid()}.{threading.get_ident()}.tmp"
        with open(tmp, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, self.folder / name)

    def close(self) -> None:
        pass


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int
    security: str  # "none", "starttls" or "tls"
    username: str | None
    password: str | None
    timeout: float = 30.0

    @classmethod
    def from_url(cls, url: str, username: str | None, password: str | None) -> SmtpSettings:
        parts = urlsplit(url)
        security = {"smtp": "none", "smtp+starttls": "starttls", "smtps": "tls"}.get(parts.scheme)
        if security is None or not parts.hostname:
            raise PipelineError(f"'{url}' is not an SMTP URL: use smtp://HOST:PORT, "
                                "smtp+starttls://HOST:587 or smtps://HOST:465")
        default_port = {"none": 25, "starttls": 587, "tls": 465}[security]
        return cls(parts.hostname, parts.port or default_port, security, username, password)


class SmtpTransport:
    """One SMTP connection, opened on first use and reopened after a drop."""

    def __init__(self, settings: SmtpSettings) -> None:
        self.settings = settings
        self.client: smtplib.SMTP | None = None

    def _connect(self) -> smtplib.SMTP:
        s = self.settings
        context = ssl.create_default_context()
        try:
            client: smtplib.SMTP
            if s.security == "tls":
                client = smtplib.SMTP_SSL(s.host, s.port, timeout=s.timeout, context=context)
            else:
                client = smtplib.SMTP(s.host, s.port, timeout=s.timeout)
                if s.security == "starttls":
                    client.starttls(context=context)
            if s.username:
                client.login(s.username, s.password or "")
        except smtplib.SMTPAuthenticationError as exc:
            reply = exc.smtp_error
            text = reply.decode(errors="replace") if isinstance(reply, bytes) else str(reply)
            raise PipelineError(f"the SMTP server {s.host} refused the login: {exc.smtp_code} "
                                f"{text}") from None
        except (OSError, smtplib.SMTPException) as exc:
            raise ConnectFailure(f"cannot connect to {s.host}:{s.port}: {exc}") from None
        return client

    def send(self, sender: str, recipient: str, message_id: str, data: bytes) -> None:
        if self.client is None:
            self.client = self._connect()
        try:
            options = [] if recipient.isascii() else ["SMTPUTF8"]
            refused = self.client.sendmail(sender, [recipient], data, mail_options=options)
        except smtplib.SMTPRecipientsRefused as exc:
            code, reply = exc.recipients[recipient]
            raise _classify(code, reply) from None
        except smtplib.SMTPResponseException as exc:
            if exc.smtp_code in (421,):
                self._drop()
            raise _classify(exc.smtp_code, exc.smtp_error) from None
        except (smtplib.SMTPServerDisconnected, OSError) as exc:
            self._drop()
            raise TemporaryFailure(f"connection lost: {exc}") from None
        if refused:
            code, reply = refused[recipient]
            raise _classify(code, reply)

    def _drop(self) -> None:
        if self.client is not None:
            try:
                self.client.close()
            finally:
                self.client = None

    def close(self) -> None:
        if self.client is not None:
            with contextlib.suppress(smtplib.SMTPException, OSError):
                self.client.quit()
            self._drop()


def _classify(code: int, reply: bytes | str) -> Exception:
    text = reply.decode(errors="replace") if isinstance(reply, bytes) else reply
    message = f"{code} {text}".strip()
    if 400 <= code < 500:
        return TemporaryFailure(message)
    return PermanentFailure(message, mailbox_gone=code in (550, 551, 553)
                            and bool(_MAILBOX_GONE.search(text)))


class RateLimiter:
    """At most ``rate`` messages per second across all workers (0: no limit)."""

    def __init__(self, rate: float, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.interval = 1.0 / rate if rate > 0 else 0.0
        self.clock, self.sleep = clock, sleep
        self.next_at = 0.0
        self.lock = threading.Lock()

    def wait(self) -> None:
        if not self.interval:
            return
        with self.lock:
            now = self.clock()
            at = max(self.next_at, now)
            self.next_at = at + self.interval
        if at > now:
            self.sleep(at - now)


@dataclass
class Progress:
    done: int = 0
    sent: int = 0
    failed: int = 0
    skipped: int = 0
    deferred: int = 0
    size: int = 0


def run_send(
    store: Store, send_id: int, message: IssueMessage, sender: str,
    transports: list[Transport], *, retries: int, limiter: RateLimiter,
    now: Callable[[], datetime], on_progress: Callable[[Progress], None] | None = None,
    backoff: Callable[[int], float] = lambda attempt: min(2.0 ** attempt, 60.0),
    sleep: Callable[[float], None] = time.sleep,
) -> Progress:
    """Send every pending recipient of ``send_id``; returns what happened in this run.

    Each worker records its outcome in the ledger as soon as the server has answered, before
    it takes the next message, so at most one accepted-but-unrecorded message per connection
    can exist at any instant. Whether a recipient is still subscribed is read just before
    their message leaves.
    """
    progress = Progress()
    jobs: queue.Queue[Claimed | None] = queue.Queue(maxsize=len(transports))
    results: queue.Queue[Outcome | BaseException] = queue.Queue()
    stop = threading.Event()
    envelope_from = _address(sender)

    def worker(transport: Transport) -> None:
        try:
            while (job := jobs.get()) is not None:
                if stop.is_set():
                    continue  # drain: the send is stopping; the row stays in flight
                try:
                    if store.is_active(job.subscriber_id):
                        outcome = _deliver(job, message, envelope_from, transport, retries,
                                           limiter, backoff, sleep)
                    else:
                        outcome = Outcome(job.subscriber_id, "skipped",
                                          detail="unsubscribed before the message left")
                    store.record(send_id, [outcome], now())
                    results.put(outcome)
                except BaseException as exc:  # reported to the main thread, which stops
                    stop.set()
                    results.put(exc)
        finally:
            transport.close()

    def drain(block: bool) -> None:
        while True:
            try:
                result = results.get(block=block, timeout=0.5 if block else None)
            except queue.Empty:
                return
            if isinstance(result, BaseException):
                errors.append(result)
            else:
                _count(progress, result)
                if on_progress:
                    on_progress(progress)
            block = False

    errors: list[BaseException] = []
    threads = [threading.Thread(target=worker, args=(t,), daemon=True) for t in transports]
    for thread in threads:
        thread.start()
    try:
        while not stop.is_set() and (batch := store.claim(send_id, BATCH)):
            for claimed in batch:
                while not stop.is_set():
                    try:
                        jobs.put(claimed, timeout=0.2)
                        break
                    except queue.Full:
                        drain(block=False)
                drain(block=False)
    finally:
        for _ in threads:
            jobs.put(None)
        for thread in threads:
            thread.join(timeout=120)
        drain(block=False)
    if errors:
        if isinstance(errors[0], PipelineError):
            raise errors[0]
        raise PipelineError(f"the send stopped: {errors[0]}") from errors[0]
    return progress


def _count(progress: Progress, outcome: Outcome) -> None:
    progress.done += 1
    if outcome.status == "sent":
        progress.sent += 1
        progress.size += outcome.size
    elif outcome.status == "failed":
        progress.failed += 1
    elif outcome.status == "deferred":
        progress.deferred += 1
    else:
        progress.skipped += 1


def _deliver(
    claimed: Claimed, message: IssueMessage, envelope_from: str, transport: Transport,
    retries: int, limiter: RateLimiter, backoff: Callable[[int], float],
    sleep: Callable[[float], None],
) -> Outcome:
    recipient = Recipient(claimed.subscriber_id, claimed.email, claimed.name)
    message_id, data = message.build(recipient)
    last = ""
    for attempt in range(retries):
        limiter.wait()
        try:
            transport.send(envelope_from, claimed.email, message_id, data)
        except TemporaryFailure as exc:
            last = str(exc)
            if attempt + 1 < retries:
                sleep(backoff(attempt))
                continue
            if isinstance(exc, ConnectFailure):
                raise PipelineError(f"{exc} (tried {retries} times); the send stopped and "
                                    "resumes where it left off when run again") from None
            continue
        except PermanentFailure as exc:
            return Outcome(claimed.subscriber_id, "failed", message_id, 0, str(exc),
                           bounced=exc.mailbox_gone)
        return Outcome(claimed.subscriber_id, "sent", message_id, len(data))
    return Outcome(claimed.subscriber_id, "deferred", message_id, 0,
                   f"temporary failure after {retries} tries: {last}")


def _address(sender: str) -> str:
    return parseaddr(sender)[1]
