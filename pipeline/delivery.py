"""Sending an issue: transports (SMTP, an outbox folder) and the send loop over the ledger.

One worker thread per transport (one SMTP connection each) takes the next claimed ledger row
(the worker that finds none left claims the next batch, in subscriber order), sends its
message, and hands the outcome to the recorder, which commits the outcomes of every worker
waiting at that moment in one transaction (group commit). A worker sends its next message only
once its own outcome is committed. A recipient's row is ``sending`` while its message is in
flight and ``sent`` right after the server accepted it, so a send killed at any moment resumes
with every recipient not yet sent. The one message that can be in flight on each connection at
the moment of a kill is sent again on resume with the same Message-ID (which receiving systems
use to drop duplicates); the outbox transport writes each message under its Message-ID
atomically, so there a resumed send is exactly once. Nothing grows with the number of
recipients: the rows are claimed a batch at a time and counted as they are recorded.
"""

from __future__ import annotations

import contextlib
import os
import re
import smtplib
import ssl
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from email.utils import parseaddr
from pathlib import Path
from typing import TYPE_CHECKING, Protocol
from urllib.parse import urlsplit

from .errors import PipelineError
from .messages import IssueMessage, Recipient
from .store import Claimed, Lease, Outcome, Store

if TYPE_CHECKING:
    from typing_extensions import Buffer  # typeshed's, for mypy: not needed at run time

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


#: ``.<name>.eml.<pid>.<thread>.tmp``: a message being written to the outbox.
_OUTBOX_TMP = re.compile(r"^\..+\.eml\.(?P<pid>\d+)\.\d+\.tmp$")


class OutboxTransport:
    """Writes each message as ``<outbox>/<message-id>.eml``, atomically.

    The folder is made (and proven writable) when the transport is made, so a folder that
    cannot be made is a clear error before anything is sent. Temporary files that a killed
    writer left (their process is gone) are removed then too, unless ``clean`` is False (the
    web app makes one for each confirmation email, and cleans once, at start-up).
    """

    def __init__(self, folder: Path, clean: bool = True) -> None:
        self.folder = folder
        try:
            folder.mkdir(parents=True, exist_ok=True)
            probe = folder / f".probe.{os.getpid()}.{threading.get_ident()}.tmp"
            probe.touch()
            probe.unlink()
        except OSError as exc:
            raise PipelineError(
                f"{folder}: cannot use this folder as the outbox: {exc.strerror or exc}"
                f"{' (a file is in the way)' if folder.exists() and not folder.is_dir() else ''}"
                "; nothing was sent. Choose another folder with --outbox or delivery.outbox "
                "in newsletter.toml, or make this one writable") from None
        self.cleaned = self._clean() if clean else 0

    def _clean(self) -> int:
        """Remove the temporary files of writers that are gone (killed mid-write); how many."""
        cleaned = 0
        for path in self.folder.iterdir():
            match = _OUTBOX_TMP.match(path.name)
            if not match or _alive(int(match["pid"])):
                continue
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
                cleaned += 1
        return cleaned

    def send(self, sender: str, recipient: str, message_id: str, data: bytes) -> None:
        name = re.sub(r"[^A-Za-z0-9.@_-]", "_", message_id.strip("<>")) + ".eml"
        tmp = self.folder / f".{name}.{os.getpid()}.{threading.get_ident()}.tmp"
        try:
            with open(tmp, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, self.folder / name)
        except OSError as exc:
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise PipelineError(f"{self.folder}: cannot write {name} to the outbox: "
                                f"{exc.strerror or exc}") from None

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
        problem = f"'{url}' is not an SMTP URL: use smtp://HOST:PORT, " \
                  "smtp+starttls://HOST:587 or smtps://HOST:465"
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError:  # an unclosed [, a port that is no number or out of range
            raise PipelineError(problem) from None
        security = {"smtp": "none", "smtp+starttls": "starttls", "smtps": "tls"}.get(parts.scheme)
        if security is None or not parts.hostname:
            raise PipelineError(problem)
        default_port = {"none": 25, "starttls": 587, "tls": 465}[security]
        return cls(parts.hostname, port or default_port, security, username, password)


_LINE_STARTING_WITH_A_PERIOD = re.compile(rb"\n\.")


def quote_periods(data: bytes) -> bytes:
    r"""The DATA transparency of RFC 5321 (4.5.2): a period starting a line gets another one.

    The same bytes as smtplib's own ``_quote_periods``, whose pattern ``(?m)^\.`` is tried at
    every position of the message; a newline followed by a period, a literal, is found by a
    fast scan for the newline, several times faster on a message of 70 KB.
    """
    quoted = _LINE_STARTING_WITH_A_PERIOD.sub(b"\n..", data)
    return b"." + quoted if quoted.startswith(b".") else quoted


class _FastData(smtplib.SMTP):
    """``smtplib.SMTP.data`` as the standard library has it, with :func:`quote_periods`."""

    def data(self, msg: Buffer | str) -> tuple[int, bytes]:
        if not isinstance(msg, bytes):
            return super().data(msg)
        self.putcmd("data")
        code, reply = self.getreply()
        if code != 354:
            raise smtplib.SMTPDataError(code, reply)
        quoted = quote_periods(msg)
        if not quoted.endswith(b"\r\n"):
            quoted += b"\r\n"
        self.send(quoted + b".\r\n")
        return self.getreply()


class _Smtp(_FastData):
    pass


class _SmtpSsl(_FastData, smtplib.SMTP_SSL):
    pass


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
                client = _SmtpSsl(s.host, s.port, timeout=s.timeout, context=context)
            else:
                client = _Smtp(s.host, s.port, timeout=s.timeout)
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


#: How often the progress callback is called while a send runs (seconds).
PROGRESS_INTERVAL = 0.25


@dataclass
class _Turn:
    """One worker's visit to the recorder: the outcome of the message it just sent (if any),
    and the message it means to send next (if any)."""

    outcome: Outcome | None
    upcoming: Claimed | None
    done: bool = False
    active: bool = False
    error: BaseException | None = None


class _Recorder:
    """Group commit of outcomes to the ledger.

    A worker hands over the outcome of its message together with the recipient it will send
    to next, and waits until that outcome is committed. The first worker to arrive while no
    commit runs commits every turn waiting at that moment in one transaction; those arriving
    meanwhile wait for it and then go together in the next one. The same transaction reads
    whether each upcoming recipient is still active, so that check is the last look at the
    store before their message leaves.

    As no worker takes its next message before its own outcome is committed, each connection
    has at most one message the server accepted and the ledger does not know of yet.
    """

    def __init__(self, store: Store, send_id: int, now: Callable[[], datetime]) -> None:
        self.store, self.send_id, self.now = store, send_id, now
        self.progress = Progress()
        self.condition = threading.Condition()
        self.waiting: list[_Turn] = []
        self.committing = False

    def submit(self, outcome: Outcome | None, upcoming: Claimed | None) -> bool:
        """Commit ``outcome``; whether ``upcoming``'s subscriber is still active."""
        turn = _Turn(outcome, upcoming)
        with self.condition:
            self.waiting.append(turn)
            while not turn.done:
                if self.committing:
                    self.condition.wait()
                    continue
                self.committing = True
                group, self.waiting = self.waiting, []
                self.condition.release()
                try:
                    self._commit(group)
                finally:
                    self.condition.acquire()
                    self.committing = False
                    for each in group:
                        each.done = True
                        if each.error is None and each.outcome is not None:
                            _count(self.progress, each.outcome)
                    self.condition.notify_all()
        if turn.error is not None:
            raise turn.error
        return turn.active

    def _commit(self, group: list[_Turn]) -> None:
        outcomes = [t.outcome for t in group if t.outcome is not None]
        check = [t.upcoming.subscriber_id for t in group if t.upcoming is not None]
        try:
            active = self.store.record(self.send_id, outcomes, self.now(), check=check)
        except BaseException as exc:  # every worker of the group stops with it
            for turn in group:
                turn.error = exc
            return
        for turn in group:
            turn.active = turn.upcoming is not None and turn.upcoming.subscriber_id in active

    def snapshot(self) -> Progress:
        with self.condition:
            return replace(self.progress)


class _Claims:
    """The rows a send has claimed and not handed out yet: the workers take them one by one,
    and the one that finds none left claims the next batch."""

    def __init__(self, store: Store, send_id: int, stop: threading.Event,
                 lease: Lease | None = None) -> None:
        self.store, self.send_id, self.stop, self.lease = store, send_id, stop, lease
        self.owner = lease.owner if lease else None
        self.lock = threading.Lock()
        self.rows: deque[Claimed] = deque()
        self.after = 0  # the last subscriber id claimed, where the next claim starts
        self.exhausted = False

    def take(self) -> Claimed | None:
        with self.lock:
            if self.lease is not None and self.lease.lost.is_set():
                raise PipelineError(f"{self.lease.reason}; the send stopped before its next "
                                    "message, and resumes where it left off when run again")
            if self.stop.is_set():
                return None
            if not self.rows and not self.exhausted:
                batch = self.store.claim(self.send_id, BATCH, self.after, self.owner)
                if not batch and self.after:
                    # Rows before the cursor that another sender left pending (a claim of
                    # theirs rolled back): one last look from the start.
                    batch = self.store.claim(self.send_id, BATCH, owner=self.owner)
                if batch:
                    self.after = batch[-1].subscriber_id
                else:
                    self.exhausted = True
                self.rows.extend(batch)
            return self.rows.popleft() if self.rows else None


def run_send(
    store: Store, send_id: int, message: IssueMessage, sender: str,
    transports: list[Transport], *, retries: int, limiter: RateLimiter,
    now: Callable[[], datetime], on_progress: Callable[[Progress], None] | None = None,
    backoff: Callable[[int], float] = lambda attempt: min(2.0 ** attempt, 60.0),
    sleep: Callable[[float], None] = time.sleep, lease: Lease | None = None,
    return_path: Callable[[Recipient], str] | None = None,
) -> Progress:
    """Send every pending recipient of ``send_id``; returns what happened in this run.

    Each worker (one per transport) takes a claimed row, sends its message, and hands the
    outcome to the recorder (:class:`_Recorder`) together with the row it takes next; it sends
    that next message only once the outcome is committed, so at most one accepted-but-
    unrecorded message per connection can exist at any instant. Whether a recipient is still
    subscribed is read in that same commit, just before their message is built and leaves.
    ``on_progress`` is called from the calling thread every :data:`PROGRESS_INTERVAL` seconds
    and once at the end. With ``lease`` (the sender's, from ``store.send_lock``), each claimed
    row names its owner, and once the lease is lost no further message leaves.
    ``return_path`` gives each recipient's envelope sender (default: ``sender``'s address).
    """
    stop = threading.Event()
    recorder = _Recorder(store, send_id, now)
    claims = _Claims(store, send_id, stop, lease)
    fixed = _address(sender)
    envelope_from = return_path or (lambda recipient: fixed)
    errors: list[BaseException] = []

    def worker(transport: Transport) -> None:
        try:
            job = claims.take()
            active = recorder.submit(None, job) if job is not None else False
            while job is not None:
                if active:
                    outcome = _deliver(job, message, envelope_from, transport, retries,
                                       limiter, backoff, sleep)
                else:
                    outcome = Outcome(job.subscriber_id, "skipped",
                                      detail="unsubscribed before the message left")
                try:
                    job = claims.take()
                except BaseException:  # the claim failed: what was sent is recorded still
                    recorder.submit(outcome, None)
                    raise
                active = recorder.submit(outcome, job)
        except BaseException as exc:  # reported to the calling thread, which stops the send
            stop.set()
            errors.append(exc)
        finally:
            transport.close()

    threads = [threading.Thread(target=worker, args=(t,), daemon=True) for t in transports]
    for thread in threads:
        thread.start()
    try:
        for thread in threads:
            while thread.is_alive():
                thread.join(PROGRESS_INTERVAL)
                if on_progress:
                    on_progress(recorder.snapshot())
    finally:
        stop.set()  # an interrupt: the workers finish the message they have, and stop
        for thread in threads:
            thread.join(timeout=120)
    progress = recorder.snapshot()
    if on_progress:
        on_progress(progress)
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
    claimed: Claimed, message: IssueMessage, envelope_from: Callable[[Recipient], str],
    transport: Transport,
    retries: int, limiter: RateLimiter, backoff: Callable[[int], float],
    sleep: Callable[[float], None],
) -> Outcome:
    recipient = Recipient(claimed.subscriber_id, claimed.email, claimed.name)
    message_id, data = message.build(recipient)
    last = ""
    for attempt in range(retries):
        limiter.wait()
        try:
            transport.send(envelope_from(recipient), claimed.email, message_id, data)
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


def _alive(pid: int) -> bool:
    """Whether a process with this id runs on this machine."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True
