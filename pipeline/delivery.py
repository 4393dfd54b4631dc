"""Sending an issue: transports (SMTP, an outbox folder) and the send loop over the ledger.

One worker thread per transport (one SMTP connection each) takes the next claimed ledger row
with its message already built (a thread of its own claims the rows, a batch at a time in
subscriber order, and builds their messages a few ahead), sends it, and hands the outcome to
the recorder, whose thread commits the outcomes of every worker waiting at that moment in one
transaction (group commit). A worker goes on with its next message at once, but ends it (the
``.`` that ends SMTP's DATA, or the outbox file) only once its previous outcome is committed.
A recipient's row is ``sending`` while its message is in flight and ``sent`` right after the
server accepted it, so a send killed at any moment resumes with every recipient not yet sent.
The one message that can be accepted and not yet recorded on each connection at the moment of
a kill is sent again on resume with the same Message-ID (which receiving systems use to drop
duplicates); the outbox transport writes each message under its Message-ID atomically, so
there a resumed send is exactly once. Nothing grows with the number of recipients: the rows
are claimed a batch at a time and counted as they are recorded.
"""

from __future__ import annotations

import contextlib
import functools
import queue
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
    """Group commit of outcomes to the ledger, in a thread of its own.

    A worker hands over the outcome of its message together with the recipient it will send
    to next (:meth:`submit`) and goes on with that next message at once; only before the end
    of its DATA does it wait (:meth:`wait`) until the outcome is committed. The recorder's
    thread commits every turn waiting at that moment in one transaction; those arriving
    meanwhile go together in the next one, in the order they came. The same transaction reads
    whether each upcoming recipient is still active, so that check is the last look at the
    store before their message leaves.

    As no message is ended before the outcome of the previous one on its connection is
    committed, each connection has at most one message the server accepted and the ledger
    does not know of yet.
    """

    def __init__(self, store: Store, send_id: int, now: Callable[[], datetime]) -> None:
        self.store, self.send_id, self.now = store, send_id, now
        self.progress = Progress()
        self.lock = threading.Lock()
        self.arrived = threading.Condition(self.lock)
        self.committed = threading.Condition(self.lock)
        self.waiting: list[_Turn] = []
        self.closing = False
        self.thread = threading.Thread(target=self._run, name="ledger commits", daemon=True)
        self.thread.start()

    def submit(self, outcome: Outcome | None, upcoming: Claimed | None) -> _Turn:
        """Queue ``outcome`` for the next commit (which also looks at ``upcoming``)."""
        turn = _Turn(outcome, upcoming)
        with self.lock:
            self.waiting.append(turn)
            self.arrived.notify()
        return turn

    def wait(self, turn: _Turn) -> bool:
        """Wait until ``turn`` is committed; whether its upcoming subscriber is still active."""
        with self.lock:
            while not turn.done:
                self.committed.wait()
        if turn.error is not None:
            raise turn.error
        return turn.active

    def close(self) -> None:
        """Commit what is still waiting, and end the thread."""
        with self.lock:
            self.closing = True
            self.arrived.notify()
        self.thread.join(timeout=120)

    def _run(self) -> None:
        while True:
            with self.lock:
                while not self.waiting and not self.closing:
                    self.arrived.wait()
                if not self.waiting:
                    return
                group, self.waiting = self.waiting, []
            self._commit(group)
            with self.lock:
                for each in group:
                    each.done = True
                    if each.error is None and each.outcome is not None:
                        _count(self.progress, each.outcome)
                self.committed.notify_all()

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
        with self.lock:
            return replace(self.progress)


class _Claims:
    """The rows a send has claimed and not handed out yet: taken one by one, and a new batch
    claimed when none is left."""

    def __init__(self, store: Store, send_id: int, stop: threading.Event,
                 lease: Lease | None = None) -> None:
        self.store, self.send_id, self.stop, self.lease = store, send_id, stop, lease
        self.owner = lease.owner if lease else None
        self.rows: deque[Claimed] = deque()
        self.after = 0  # the last subscriber id claimed, where the next claim starts
        self.exhausted = False

    def check(self) -> bool:
        """False once the send is to stop; raises once the lease is lost."""
        if self.lease is not None and self.lease.lost.is_set():
            raise PipelineError(f"{self.lease.reason}; the send stopped before its next "
                                "message, and resumes where it left off when run again")
        return not self.stop.is_set()

    def take(self) -> Claimed | None:
        if not self.check():
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


@dataclass(frozen=True)
class _Job:
    """A claimed row and its message, built."""

    claimed: Claimed
    message_id: str
    data: bytes


#: How many built messages wait for a connection, per connection.
AHEAD = 2


class _Feed:
    """Claimed rows with their messages already built, a few ahead of the workers.

    A thread of its own claims the rows (a batch at a time, :class:`_Claims`) and builds their
    messages while the workers wait for their servers, so neither a claim nor a build is on a
    connection's path. It keeps at most ``depth`` messages ready; the workers take them one by
    one (:meth:`take`), each checking first that the send is to go on and its lease held.
    A failed claim is raised to every worker that takes after it.
    """

    def __init__(self, claims: _Claims, message: IssueMessage, depth: int) -> None:
        self.claims, self.message = claims, message
        self.ready: queue.Queue[_Job | BaseException | None] = queue.Queue(maxsize=depth)
        self.thread = threading.Thread(target=self._run, name="claims and builds", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        item: _Job | BaseException | None = None
        try:
            while (claimed := self.claims.take()) is not None:
                recipient = Recipient(claimed.subscriber_id, claimed.email, claimed.name)
                if not self._put(_Job(claimed, *self.message.build(recipient))):
                    return
        except BaseException as exc:  # handed to the workers, which stop the send
            item = exc
        self._put(item)

    def _put(self, item: _Job | BaseException | None) -> bool:
        """Queue ``item`` once there is room; False if the send stopped meanwhile."""
        while not self.claims.stop.is_set():
            try:
                self.ready.put(item, timeout=PROGRESS_INTERVAL)
                return True
            except queue.Full:
                continue
        return False

    def take(self) -> _Job | None:
        """The next job; None when every row is handed out or the send is to stop."""
        while True:
            if not self.claims.check():
                return None
            try:
                item = self.ready.get(timeout=PROGRESS_INTERVAL)
                break
            except queue.Empty:
                continue
        if item is None or isinstance(item, BaseException):
            self.ready.put(item)  # for the other workers
            if item is not None:
                raise item
            return None
        return item

    def close(self) -> None:
        self.claims.stop.set()
        with contextlib.suppress(queue.Empty):
            self.ready.get_nowait()  # room for the thread's last item
        self.thread.join(timeout=120)


def run_send(
    store: Store, send_id: int, message: IssueMessage, sender: str,
    transports: list[Transport], *, retries: int, limiter: RateLimiter,
    now: Callable[[], datetime], on_progress: Callable[[Progress], None] | None = None,
    backoff: Callable[[int], float] = lambda attempt: min(2.0 ** attempt, 60.0),
    sleep: Callable[[float], None] = time.sleep, lease: Lease | None = None,
    return_path: Callable[[Recipient], str] | None = None,
) -> Progress:
    """Send every pending recipient of ``send_id``; returns what happened in this run.

    Each worker (one per transport) takes a claimed row with its message built (:class:`_Feed`),
    sends it, and hands the outcome to the recorder (:class:`_Recorder`) together with the row
    it takes next; it goes on with that next message while the outcome is committed, but ends
    it only once the commit is done, so at most one accepted-but-unrecorded message per
    connection can exist at any instant. Whether a recipient is still subscribed is read in
    that same commit, before their message is ended; if not, it is left unended and skipped.
    ``on_progress`` is called from the calling thread every :data:`PROGRESS_INTERVAL` seconds
    and once at the end. With ``lease`` (the sender's, from ``store.send_lock``), each claimed
    row names its owner, and once the lease is lost no further message leaves.
    ``return_path`` gives each recipient's envelope sender (default: ``sender``'s address).
    """
    stop = threading.Event()
    recorder = _Recorder(store, send_id, now)
    feed = _Feed(_Claims(store, send_id, stop, lease), message, AHEAD * len(transports))
    fixed = _address(sender)
    envelope_from = return_path or (lambda recipient: fixed)
    errors: list[BaseException] = []

    def worker(transport: Transport) -> None:
        try:
            job = feed.take()
            turn = recorder.submit(None, job.claimed) if job is not None else None
            while job is not None and turn is not None:
                outcome = _deliver(job, envelope_from, transport,
                                   functools.partial(recorder.wait, turn), retries, limiter,
                                   backoff, sleep)
                recorder.wait(turn)  # the previous outcome is committed (or its failure raised)
                try:
                    job = feed.take()
                except BaseException:  # the claim failed: what was sent is recorded still
                    recorder.wait(recorder.submit(outcome, None))
                    raise
                turn = recorder.submit(outcome, job.claimed if job is not None else None)
            if turn is not None:
                recorder.wait(turn)
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
        feed.close()
        recorder.close()
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


def _skipped(claimed: Claimed) -> Outcome:
    return Outcome(claimed.subscriber_id, "skipped", detail="unsubscribed before the message left")


def _deliver(
    job: _Job, envelope_from: Callable[[Recipient], str], transport: Transport,
    ready: Callable[[], bool], retries: int, limiter: RateLimiter,
    backoff: Callable[[int], float], sleep: Callable[[float], None],
) -> Outcome:
    claimed, message_id, data = job.claimed, job.message_id, job.data
    recipient = Recipient(claimed.subscriber_id, claimed.email, claimed.name)
    last = ""
    for attempt in range(retries):
        limiter.wait()
        try:
            if not transport.send_when(envelope_from(recipient), claimed.email, message_id,
                                       data, ready):
                return _skipped(claimed)
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
