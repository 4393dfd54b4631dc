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

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from email.utils import parseaddr
from typing import TYPE_CHECKING

from .errors import PipelineError
from .messages import IssueMessage, Recipient
from .store import Claimed, Lease, Outcome, Store
from .transports import ConnectFailure, PermanentFailure, TemporaryFailure, Transport

if TYPE_CHECKING:
    pass  # typeshed's, for mypy: not needed at run time

BATCH = 200
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
