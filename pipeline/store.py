"""Subscribers and the send ledger, behind one small interface (:class:`Store`).

Two implementations share every query (:class:`SqlStore`): :class:`SqliteStore`, the default
(one file, WAL mode, no server), and ``PostgresStore`` in :mod:`pipeline.store_postgres`, for
several app servers and senders sharing one database. :func:`open_store` picks one from the
``subscribers.database`` setting: a file path, or a ``postgresql://`` URL. Each keeps its schema
version in the database and applies the versions it lacks in order.

Every method that changes state takes ``now`` (never reads the clock) and is one transaction.
The ledger holds one row per recipient of a send; a row is claimed (``sending``) before its
message leaves and marked ``sent`` right after, so a send killed at any moment and started again
resumes with exactly the recipients not yet done.
"""

from __future__ import annotations

import fcntl
import itertools
import os
import socket
import sqlite3
import threading
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar, Literal, Protocol

from .databases import DEFAULT_PASSWORD_ENV, Database, Status, is_url
from .errors import PipelineError

DeliveryStatus = Literal["pending", "sending", "sent", "deferred", "failed", "skipped"]


@dataclass(frozen=True)
class Subscriber:
    id: int
    email: str
    name: str | None
    status: Status
    consent_at: str | None
    consent_source: str | None
    created_at: str
    updated_at: str


@dataclass(frozen=True)
class NewSubscriber:
    """A subscriber to add: an already normalised address and how consent was given."""

    email: str
    name: str | None
    status: Status
    consent_at: str | None
    consent_source: str


@dataclass(frozen=True)
class Claimed:
    """A ledger row handed to a sender: who, and whether they are still subscribed."""

    subscriber_id: int
    email: str
    name: str | None
    active: bool
    attempts: int


@dataclass(frozen=True)
class Outcome:
    subscriber_id: int
    status: DeliveryStatus
    message_id: str | None = None
    size: int = 0
    detail: str | None = None
    bounced: bool = False


@dataclass(frozen=True)
class SendSummary:
    send_id: int
    issue_id: str
    counts: dict[str, int]
    size: int


@dataclass(frozen=True)
class Event:
    """One step of a subscriber's consent history: when, what, and how."""

    at: str
    kind: Literal["requested", "confirmed", "unsubscribed"]
    detail: str


ReportKind = Literal["permanent", "temporary", "complaint"]


@dataclass(frozen=True)
class Finding:
    """What one delivery report says about one subscriber (see :mod:`pipeline.bounces`)."""

    key: str  # the report's own key and the subscriber: the same report read again is known
    subscriber_id: int
    kind: ReportKind
    at: datetime  # when the report was made
    detail: str


@dataclass(frozen=True)
class Recorded:
    """What recording a finding did: ``new`` is False for a report processed before."""

    finding: Finding
    new: bool
    effect: str
    changed: Status | None = None  # the subscriber's new status, if it changed


#: How long a sender's lease lasts without a heartbeat (seconds), and how often it beats.
LEASE_SECONDS = 60.0
HEARTBEAT_SECONDS = 10.0
_owners = itertools.count(1)


@dataclass(frozen=True)
class Holder:
    """Who holds a send's lease: the row of the ``leases`` table."""

    owner: str
    lock: str
    heartbeat_at: str
    expires_at: str


@dataclass
class Lease:
    """The lease a sender holds on the send of one issue, in the database itself.

    ``owner`` names this sender (host, process and a number unique in the process);
    ``lock`` names the process-bound lock it holds besides (a lock file's device and inode, or
    a PostgreSQL advisory lock), which the next sender finds free only when this one is gone.
    ``lost`` is set when a heartbeat finds the lease taken or cannot write it: the send stops.
    """

    name: str
    owner: str
    lock: str
    seconds: float = LEASE_SECONDS
    lost: threading.Event = field(default_factory=threading.Event)
    reason: str = ""


def new_owner() -> str:
    """A sender's name, unique among the processes of all machines sharing a database."""
    return f"{socket.gethostname()} pid {os.getpid()}.{next(_owners)}"


def _most_within(moments: list[datetime], window: timedelta) -> int:
    """The most of the sorted ``moments`` that fall within any span shorter than ``window``
    (reports may arrive out of order, so every span is looked at, not only the latest)."""
    most = start = 0
    for end, moment in enumerate(moments):
        while moment - moments[start] >= window:
            start += 1
        most = max(most, end - start + 1)
    return most


class _RollBack(Exception):
    """Ends a dry run's transaction without committing it."""


class StoreError(PipelineError):
    """The subscriber database cannot be used: damaged, incomplete, or failing."""


class Store(Protocol):
    """What delivery and the CLI need from a subscriber database."""

    def add(self, subscriber: NewSubscriber, now: datetime) -> tuple[Subscriber, bool]: ...
    def import_many(self, rows: Iterable[NewSubscriber], now: datetime) -> tuple[int, int]: ...
    def get(self, email: str) -> Subscriber | None: ...
    def get_by_id(self, subscriber_id: int) -> Subscriber | None: ...
    def subscribers(self, status: Status | None = None) -> Iterator[Subscriber]: ...
    def set_status(self, subscriber_id: int, status: Status, now: datetime) -> None: ...
    def remove(self, email: str) -> bool: ...
    def count(self, status: Status | None = None) -> int: ...
    def has_send(self, issue_id: str) -> bool: ...
    def send_started(self, send_id: int) -> datetime: ...
    def begin_send(self, issue_id: str, now: datetime) -> tuple[int, bool]: ...
    def requeue(self, send_id: int, now: datetime) -> int: ...
    def claim(self, send_id: int, limit: int, after: int = 0,
              owner: str | None = None) -> list[Claimed]: ...
    def record(self, send_id: int, outcomes: Iterable[Outcome], now: datetime, *,
               check: Collection[int] = ()) -> set[int]: ...
    def summary(self, send_id: int) -> SendSummary: ...
    def request(self, email: str, name: str | None, source: str,
                now: datetime) -> tuple[Subscriber, Status | None]: ...
    def confirm(self, subscriber_id: int, source: str, now: datetime) -> bool: ...
    def unsubscribe(self, subscriber_id: int, source: str, now: datetime) -> bool: ...
    def history(self, subscriber_id: int) -> list[Event]: ...
    def record_findings(self, findings: Iterable[Finding], *, soft_limit: int, soft_days: int,
                        dry_run: bool = False) -> list[Recorded]: ...
    def complained(self) -> set[int]: ...
    def was_sent(self, issue_id: str, subscriber_id: int) -> bool: ...
    def send_lock(self, issue_id: str, now: Callable[[], datetime],
                  seconds: float = LEASE_SECONDS,
                  heartbeat: float = HEARTBEAT_SECONDS) -> AbstractContextManager[Lease]: ...
    def take_lease(self, lease: Lease, now: datetime) -> Holder | None: ...
    def renew_lease(self, lease: Lease, now: datetime) -> bool: ...
    def release_lease(self, lease: Lease) -> None: ...
    def lease_holder(self, name: str) -> Holder | None: ...
    def close(self) -> None: ...


MIGRATIONS: tuple[str, ...] = (
    # 1: subscribers, sends and the per-recipient ledger
    """
    CREATE TABLE subscribers (
        id INTEGER PRIMARY KEY,
        email TEXT NOT NULL UNIQUE COLLATE NOCASE,
        name TEXT,
        status TEXT NOT NULL CHECK (status IN ('pending', 'active', 'unsubscribed', 'bounced')),
        consent_at TEXT,
        consent_source TEXT,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
    );
    CREATE INDEX subscribers_status ON subscribers (status);
    CREATE TABLE sends (
        id INTEGER PRIMARY KEY,
        issue_id TEXT NOT NULL UNIQUE,
        started_at TEXT NOT NULL,
        recipients INTEGER NOT NULL
    );
    CREATE TABLE deliveries (
        send_id INTEGER NOT NULL REFERENCES sends (id),
        subscriber_id INTEGER NOT NULL REFERENCES subscribers (id),
        status TEXT NOT NULL DEFAULT 'pending' CHECK (status IN
            ('pending', 'sending', 'sent', 'deferred', 'failed', 'skipped')),
        attempts INTEGER NOT NULL DEFAULT 0,
        message_id TEXT,
        size INTEGER NOT NULL DEFAULT 0,
        detail TEXT,
        updated_at TEXT,
        PRIMARY KEY (send_id, subscriber_id)
    );
    CREATE INDEX deliveries_status ON deliveries (send_id, status);
    """,
    # 2: the consent history of each subscriber (sign-up requests, confirmations, leaving)
    """
    CREATE TABLE events (
        id INTEGER PRIMARY KEY,
        subscriber_id INTEGER NOT NULL REFERENCES subscribers (id) ON DELETE CASCADE,
        at TEXT NOT NULL,
        kind TEXT NOT NULL CHECK (kind IN ('requested', 'confirmed', 'unsubscribed')),
        detail TEXT NOT NULL
    );
    CREATE INDEX events_subscriber ON events (subscriber_id, id);
    """,
    # 3: one sender per send, whatever path or machine reaches the database: a lease row
    # (owner, heartbeat, expiry), and which sender claimed each ledger row
    """
    CREATE TABLE leases (
        name TEXT PRIMARY KEY,
        owner TEXT NOT NULL,
        lock TEXT NOT NULL,
        heartbeat_at TEXT NOT NULL,
        expires_at TEXT NOT NULL
    );
    ALTER TABLE deliveries ADD COLUMN claimed_by TEXT;
    """,
    # 4: delivery reports that arrived after the relay accepted a message (bounces,
    # complaints), one row per report and subscriber, so reading a report again changes nothing
    """
    CREATE TABLE reports (
        id INTEGER PRIMARY KEY,
        report_key TEXT NOT NULL UNIQUE,
        subscriber_id INTEGER NOT NULL REFERENCES subscribers (id) ON DELETE CASCADE,
        kind TEXT NOT NULL CHECK (kind IN ('permanent', 'temporary', 'complaint')),
        at TEXT NOT NULL,
        detail TEXT NOT NULL
    );
    CREATE INDEX reports_subscriber ON reports (subscriber_id, kind, at);
    """,
)


#: The tables every schema version since the last has.
TABLES = ("subscribers", "sends", "deliveries", "events", "leases", "reports")

class _Cursor(Protocol):
    @property
    def rowcount(self) -> int: ...
    def fetchone(self) -> Any: ...
    def fetchall(self) -> Sequence[Any]: ...
    def __iter__(self) -> Iterator[Any]: ...


class _Db(Protocol):
    """A connection as the queries see it: ``?`` placeholders, rows indexed by column name."""

    def execute(self, query: str, args: Any = (), /) -> _Cursor: ...


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds")


def _utc(moment: datetime) -> str:
    """A moment as UTC text that sorts as it compares (for the lease's times)."""
    return moment.astimezone(UTC).isoformat(timespec="seconds")


def _marks(values: Collection[object]) -> str:
    """The placeholders of an ``IN (...)`` list of ``values``."""
    return ", ".join("?" * len(values))


class SqlStore:
    """Every query of the store, written once for SQLite and PostgreSQL.

    A backend provides connections (:meth:`_transaction`, :meth:`_reading`, :meth:`_stream`),
    :meth:`_process_lock` and :meth:`close`, and two pieces of dialect: how an address is compared
    (case-insensitively for ASCII, as SQLite's ``NOCASE``) and the row locking of a claim
    (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so concurrent senders never claim one row).
    """

    _email: ClassVar[str] = "email = ?"
    _skip_locked: ClassVar[str] = ""

    def _transaction(self) -> AbstractContextManager[_Db]:
        raise NotImplementedError

    def _reading(self) -> AbstractContextManager[_Db]:
        raise NotImplementedError

    def _stream(self, query: str, args: tuple[object, ...]) -> Iterator[Any]:
        raise NotImplementedError

    def _process_lock(self, issue_id: str,
                      ) -> AbstractContextManager[tuple[str, Callable[[], None]]]:
        """A lock that goes with this process, or a clear error naming who holds it: yields
        the lock's name and a check that raises once the lock is lost."""
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    def _one(self, query: str, args: tuple[object, ...]) -> Any:
        with self._reading() as db:
            return db.execute(query, args).fetchone()

    # ------------------------------------------------------------------ subscribers

    def add(self, subscriber: NewSubscriber, now: datetime) -> tuple[Subscriber, bool]:
        """Add a subscriber, or return the one with that address; True when it is new."""
        with self._transaction() as db:
            exists = db.execute(f"SELECT 1 FROM subscribers WHERE {self._email}",
                                (subscriber.email,)).fetchone()
            if not exists:
                self._insert(db, subscriber, now)
        found = self.get(subscriber.email)
        assert found is not None
        return found, not exists

    @staticmethod
    def _insert(db: _Db, s: NewSubscriber, now: datetime) -> int:
        """Insert a subscriber; its id."""
        return int(db.execute(
            "INSERT INTO subscribers (email, name, status, consent_at, consent_source, "
            "created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id",
            (s.email, s.name, s.status, s.consent_at, s.consent_source, _iso(now),
             _iso(now))).fetchone()["id"])

    def import_many(self, rows: Iterable[NewSubscriber], now: datetime) -> tuple[int, int]:
        """Add many subscribers in one transaction: (added, already known)."""
        added = known = 0
        with self._transaction() as db:
            for row in rows:
                exists = db.execute(f"SELECT 1 FROM subscribers WHERE {self._email}",
                                    (row.email,)).fetchone()
                if exists:
                    known += 1
                    continue
                self._insert(db, row, now)
                added += 1
        return added, known

    def get(self, email: str) -> Subscriber | None:
        row = self._one(f"SELECT * FROM subscribers WHERE {self._email}", (email,))
        return Subscriber(**dict(row)) if row else None

    def get_by_id(self, subscriber_id: int) -> Subscriber | None:
        row = self._one("SELECT * FROM subscribers WHERE id = ?", (subscriber_id,))
        return Subscriber(**dict(row)) if row else None

    def subscribers(self, status: Status | None = None) -> Iterator[Subscriber]:
        """Every subscriber (or those with ``status``), oldest first, streamed."""
        query = "SELECT * FROM subscribers"
        args: tuple[str, ...] = ()
        if status:
            query, args = query + " WHERE status = ?", (status,)
        for row in self._stream(query + " ORDER BY id", args):
            yield Subscriber(**dict(row))

    def set_status(self, subscriber_id: int, status: Status, now: datetime) -> None:
        with self._transaction() as db:
            db.execute("UPDATE subscribers SET status = ?, updated_at = ? WHERE id = ?",
                       (status, _iso(now), subscriber_id))

    def remove(self, email: str) -> bool:
        """Delete a subscriber and their ledger rows (a right-to-erasure request)."""
        with self._transaction() as db:
            row = db.execute(f"SELECT id FROM subscribers WHERE {self._email}",
                             (email,)).fetchone()
            if row is None:
                return False
            db.execute("DELETE FROM deliveries WHERE subscriber_id = ?", (row["id"],))
            db.execute("DELETE FROM events WHERE subscriber_id = ?", (row["id"],))
            db.execute("DELETE FROM reports WHERE subscriber_id = ?", (row["id"],))
            db.execute("DELETE FROM subscribers WHERE id = ?", (row["id"],))
        return True

    def count(self, status: Status | None = None) -> int:
        if status is None:
            row = self._one("SELECT count(*) AS n FROM subscribers", ())
        else:
            row = self._one("SELECT count(*) AS n FROM subscribers WHERE status = ?", (status,))
        return int(row["n"]) if row else 0

    # ------------------------------------------------------------------ double opt-in

    def request(self, email: str, name: str | None, source: str,
                now: datetime) -> tuple[Subscriber, Status | None]:
        """A sign-up request: the subscriber (pending unless already active) and the status
        the address had before (None when it is new).

        A new address, or one that left or bounced, becomes ``pending`` until it confirms; an
        active subscriber stays as they are. Every request is kept in the history.
        """
        with self._transaction() as db:
            row = db.execute(f"SELECT id, status FROM subscribers WHERE {self._email}",
                             (email,)).fetchone()
            before: Status | None = row["status"] if row else None
            if row is None:
                subscriber_id = self._insert(
                    db, NewSubscriber(email, name, "pending", None, source), now)
            else:
                subscriber_id = row["id"]
                if before in ("unsubscribed", "bounced"):
                    db.execute("UPDATE subscribers SET status = 'pending', name = coalesce(?, "
                               "name), updated_at = ? WHERE id = ?",
                               (name, _iso(now), subscriber_id))
            self._event(db, subscriber_id, "requested", source, now)
        found = self.get_by_id(subscriber_id)
        assert found is not None
        return found, before

    def confirm(self, subscriber_id: int, source: str, now: datetime) -> bool:
        """A pending subscriber confirms: active, with consent given now; False if they
        were not pending (already confirmed, left, or unknown)."""
        with self._transaction() as db:
            changed = db.execute(
                "UPDATE subscribers SET status = 'active', consent_at = ?, consent_source = ?, "
                "updated_at = ? WHERE id = ? AND status = 'pending'",
                (_iso(now), source, _iso(now), subscriber_id)).rowcount
            if changed:
                self._event(db, subscriber_id, "confirmed", source, now)
        return bool(changed)

    def unsubscribe(self, subscriber_id: int, source: str, now: datetime) -> bool:
        """The subscriber leaves; False if they had already left (or are unknown)."""
        with self._transaction() as db:
            changed = db.execute(
                "UPDATE subscribers SET status = 'unsubscribed', updated_at = ? WHERE id = ? "
                "AND status IN ('pending', 'active')", (_iso(now), subscriber_id)).rowcount
            if changed:
                self._event(db, subscriber_id, "unsubscribed", source, now)
        return bool(changed)

    def history(self, subscriber_id: int) -> list[Event]:
        """The subscriber's consent history, oldest first."""
        with self._reading() as db:
            rows = db.execute("SELECT at, kind, detail FROM events WHERE subscriber_id = ? "
                              "ORDER BY id", (subscriber_id,)).fetchall()
        return [Event(row["at"], row["kind"], row["detail"]) for row in rows]

    # ------------------------------------------------------------------ delivery reports

    def record_findings(self, findings: Iterable[Finding], *, soft_limit: int, soft_days: int,
                        dry_run: bool = False) -> list[Recorded]:
        """Record what delivery reports say, in one transaction (rolled back with
        ``dry_run``): a permanent failure marks the subscriber bounced; a temporary one is
        counted, and the ``soft_limit``-th within ``soft_days`` days before it marks them
        bounced; a complaint unsubscribes them at once, with the complaint in their consent
        history. A finding recorded before (the same report and subscriber) changes nothing.
        """
        done: list[Recorded] = []
        try:
            with self._transaction() as db:
                for finding in findings:
                    done.append(self._finding(db, finding, soft_limit, soft_days))
                if dry_run:
                    raise _RollBack
        except _RollBack:
            pass
        return done

    def _finding(self, db: _Db, f: Finding, soft_limit: int, soft_days: int) -> Recorded:
        at = _utc(f.at)
        inserted = db.execute(
            "INSERT INTO reports (report_key, subscriber_id, kind, at, detail) VALUES "
            "(?, ?, ?, ?, ?) ON CONFLICT (report_key) DO NOTHING RETURNING id",
            (f.key, f.subscriber_id, f.kind, at, f.detail)).fetchone()
        if inserted is None:
            return Recorded(f, False, "already processed: nothing changed")
        row = db.execute("SELECT status FROM subscribers WHERE id = ?",
                         (f.subscriber_id,)).fetchone()
        status = row["status"] if row else None
        live = status in ("active", "pending")
        if f.kind == "complaint":
            if not live:
                return Recorded(f, True, f"complaint noted; already {status}")
            db.execute("UPDATE subscribers SET status = 'unsubscribed', updated_at = ? "
                       "WHERE id = ?", (at, f.subscriber_id))
            self._event(db, f.subscriber_id, "unsubscribed", f"complaint: {f.detail}", f.at)
            return Recorded(f, True, "unsubscribed (complaint)", "unsubscribed")
        if f.kind == "temporary":
            window = timedelta(days=soft_days)
            near = sorted(datetime.fromisoformat(row["at"]) for row in db.execute(
                "SELECT at FROM reports WHERE subscriber_id = ? AND kind = 'temporary' AND "
                "at > ? AND at < ?", (f.subscriber_id, _utc(f.at - window),
                                      _utc(f.at + window))))
            count = _most_within(near, window)
            counted = f"{count} of {soft_limit} temporary failures within {soft_days} days"
            if count < soft_limit or not live:
                return Recorded(f, True, f"counted: {counted}" + ("" if live else
                                                                  f"; already {status}"))
            effect = f"bounced: {counted}"
        elif not live:
            return Recorded(f, True, f"permanent failure noted; already {status}")
        else:
            effect = "bounced: permanent failure"
        db.execute("UPDATE subscribers SET status = 'bounced', updated_at = ? WHERE id = ?",
                   (at, f.subscriber_id))
        return Recorded(f, True, effect, "bounced")

    def was_sent(self, issue_id: str, subscriber_id: int) -> bool:
        """Whether the subscriber is a recipient of the send of ``issue_id``."""
        return self._one("SELECT 1 FROM deliveries d JOIN sends s ON s.id = d.send_id WHERE "
                         "s.issue_id = ? AND d.subscriber_id = ?",
                         (issue_id, subscriber_id)) is not None

    def complained(self) -> set[int]:
        """The subscribers a complaint report was recorded for."""
        with self._reading() as db:
            return {int(row["subscriber_id"]) for row in db.execute(
                "SELECT DISTINCT subscriber_id FROM reports WHERE kind = 'complaint'")}

    @staticmethod
    def _event(db: _Db, subscriber_id: int, kind: str, detail: str, now: datetime) -> None:
        db.execute("INSERT INTO events (subscriber_id, at, kind, detail) VALUES (?, ?, ?, ?)",
                   (subscriber_id, _iso(now), kind, detail))

    # ------------------------------------------------------------------ one sender per send

    @contextmanager
    def send_lock(self, issue_id: str, now: Callable[[], datetime],
                  seconds: float = LEASE_SECONDS,
                  heartbeat: float = HEARTBEAT_SECONDS) -> Iterator[Lease]:
        """Only one sender of an issue per database at a time, whatever path or machine
        reaches it: the process-bound lock of the backend, and a lease row in the database.

        The lease is taken in one write transaction when no one holds it, when its holder's
        lease has expired (no heartbeat for ``seconds``), or when its holder named the very
        process-bound lock this sender now holds (so the holder is gone: a killed sender is
        resumed at once). A thread renews it every ``heartbeat`` seconds; when a renewal finds
        the lease taken or cannot be written, ``lease.lost`` is set and the send stops.
        """
        with self._process_lock(issue_id) as (lock, check):
            lease = Lease(f"send {issue_id}", new_owner(), lock, seconds)
            holder = self.take_lease(lease, now())
            if holder is not None:
                raise PipelineError(
                    f"another send of {issue_id} is running: {holder.owner} holds its lease "
                    f"in the subscriber database (last heartbeat {holder.heartbeat_at}, "
                    f"expires {holder.expires_at}); wait for it to finish. If that sender "
                    f"died, the send can be resumed once its lease has expired")
            done = threading.Event()

            def beat() -> None:
                while not done.wait(heartbeat):
                    try:
                        check()
                        renewed = self.renew_lease(lease, now())
                    except Exception as exc:  # the send stops: it can no longer prove its hold
                        lease.reason = f"the send lease could not be renewed: {exc}"
                        lease.lost.set()
                        return
                    if not renewed:
                        lease.reason = "another sender took over the send lease"
                        lease.lost.set()
                        return

            thread = threading.Thread(target=beat, name="lease heartbeat", daemon=True)
            thread.start()
            try:
                yield lease
            finally:
                done.set()
                thread.join()
                if not lease.lost.is_set():
                    self.release_lease(lease)

    def take_lease(self, lease: Lease, now: datetime) -> Holder | None:
        """Take ``lease`` (see :meth:`send_lock`); None when taken, else who holds it."""
        expires = _utc(now + timedelta(seconds=lease.seconds))
        with self._transaction() as db:
            taken = db.execute(
                "INSERT INTO leases (name, owner, lock, heartbeat_at, expires_at) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, "
                "lock = excluded.lock, heartbeat_at = excluded.heartbeat_at, "
                "expires_at = excluded.expires_at WHERE leases.expires_at <= ? OR "
                "leases.owner = ? OR leases.lock = ? RETURNING owner",
                (lease.name, lease.owner, lease.lock, _utc(now), expires, _utc(now),
                 lease.owner, lease.lock)).fetchone()
            if taken is not None:
                return None
        return self.lease_holder(lease.name)

    def renew_lease(self, lease: Lease, now: datetime) -> bool:
        """The heartbeat: push the expiry on; False when the lease is no longer ours."""
        with self._transaction() as db:
            return db.execute(
                "UPDATE leases SET heartbeat_at = ?, expires_at = ? WHERE name = ? AND owner = ?",
                (_utc(now), _utc(now + timedelta(seconds=lease.seconds)), lease.name,
                 lease.owner)).rowcount == 1

    def release_lease(self, lease: Lease) -> None:
        with self._transaction() as db:
            db.execute("DELETE FROM leases WHERE name = ? AND owner = ?",
                       (lease.name, lease.owner))

    def lease_holder(self, name: str) -> Holder | None:
        row = self._one("SELECT owner, lock, heartbeat_at, expires_at FROM leases WHERE "
                        "name = ?", (name,))
        return Holder(row["owner"], row["lock"], row["heartbeat_at"], row["expires_at"]) \
            if row else None

    # ------------------------------------------------------------------ the ledger

    def has_send(self, issue_id: str) -> bool:
        return self._one("SELECT 1 FROM sends WHERE issue_id = ?", (issue_id,)) is not None

    def send_started(self, send_id: int) -> datetime:
        row = self._one("SELECT started_at FROM sends WHERE id = ?", (send_id,))
        assert row is not None
        return datetime.fromisoformat(row["started_at"])

    def begin_send(self, issue_id: str, now: datetime) -> tuple[int, bool]:
        """The send of an issue: (send id, True if it starts now with a fresh recipient list).

        The recipients are every active subscriber at the moment the send first starts; a
        resumed send keeps that list. Two senders beginning at once get the same send: the
        second insert waits for the first and then finds its row (``issue_id`` is unique).
        """
        with self._transaction() as db:
            row = db.execute(
                "INSERT INTO sends (issue_id, started_at, recipients) VALUES (?, ?, 0) "
                "ON CONFLICT (issue_id) DO NOTHING RETURNING id",
                (issue_id, _iso(now))).fetchone()
            if row is None:
                return int(db.execute("SELECT id FROM sends WHERE issue_id = ?",
                                      (issue_id,)).fetchone()["id"]), False
            send_id = int(row["id"])
            db.execute("INSERT INTO deliveries (send_id, subscriber_id) SELECT ?, id FROM "
                       "subscribers WHERE status = 'active' ORDER BY id", (send_id,))
            db.execute("UPDATE sends SET recipients = (SELECT count(*) FROM deliveries WHERE "
                       "send_id = ?) WHERE id = ?", (send_id, send_id))
        return send_id, True

    def requeue(self, send_id: int, now: datetime) -> int:
        """Put back rows a dead sender left in flight, and deferred ones; how many.

        Rows claimed by a sender whose lease is still live (not expired at ``now``) are left
        alone: that sender may be sending them at this moment.
        """
        with self._transaction() as db:
            return db.execute(
                "UPDATE deliveries SET status = 'pending' WHERE send_id = ? AND "
                "status IN ('sending', 'deferred') AND (claimed_by IS NULL OR claimed_by NOT "
                "IN (SELECT owner FROM leases WHERE expires_at > ?))",
                (send_id, _utc(now))).rowcount

    def claim(self, send_id: int, limit: int, after: int = 0,
              owner: str | None = None) -> list[Claimed]:
        """Mark up to ``limit`` pending rows as being sent, and return them, in the order of
        their subscriber ids, with whether each subscriber is still active.

        ``after`` skips the rows of subscriber ids up to it: a sender passes the last id it
        claimed, so each claim reads the index from there instead of stepping over every row
        already sent (a claim with ``after=0`` finds any pending row, wherever it is).
        ``owner`` (the sender's lease) is written on each row, so no other sender requeues it
        while that lease lives.
        """
        with self._transaction() as db:
            ids = [int(row["subscriber_id"]) for row in db.execute(
                "UPDATE deliveries SET status = 'sending', attempts = attempts + 1, "
                "claimed_by = ? WHERE send_id = ? AND subscriber_id IN (SELECT subscriber_id "
                "FROM deliveries WHERE send_id = ? AND status = 'pending' AND subscriber_id > ? "
                f"ORDER BY subscriber_id LIMIT ?{self._skip_locked}) RETURNING subscriber_id",
                (owner, send_id, send_id, after, limit)).fetchall()]
            if not ids:
                return []
            people = db.execute(
                "SELECT d.subscriber_id, d.attempts, s.email, s.name, s.status FROM deliveries "
                "d JOIN subscribers s ON s.id = d.subscriber_id WHERE d.send_id = ? AND "
                f"d.subscriber_id IN ({_marks(ids)}) ORDER BY d.subscriber_id",
                (send_id, *ids)).fetchall()
        return [Claimed(int(p["subscriber_id"]), p["email"], p["name"], p["status"] == "active",
                        int(p["attempts"])) for p in people]

    def record(self, send_id: int, outcomes: Iterable[Outcome], now: datetime, *,
               check: Collection[int] = ()) -> set[int]:
        """Write what happened to claimed rows, in one transaction; and, in the same
        transaction, which of the subscribers ``check`` names are still active (a sender asks
        about the messages it is about to send, so its commit is also the last look before
        they leave)."""
        at = _iso(now)
        with self._transaction() as db:
            for o in outcomes:
                db.execute("UPDATE deliveries SET status = ?, message_id = ?, size = ?, "
                           "detail = ?, updated_at = ? WHERE send_id = ? AND subscriber_id = ?",
                           (o.status, o.message_id, o.size, o.detail, at, send_id,
                            o.subscriber_id))
                if o.bounced:
                    db.execute("UPDATE subscribers SET status = 'bounced', updated_at = ? "
                               "WHERE id = ?", (at, o.subscriber_id))
            if not check:
                return set()
            return {int(row["id"]) for row in db.execute(
                f"SELECT id FROM subscribers WHERE id IN ({_marks(check)}) AND "
                "status = 'active'", tuple(check))}

    def summary(self, send_id: int) -> SendSummary:
        with self._reading() as db:
            issue_id = db.execute("SELECT issue_id FROM sends WHERE id = ?",
                                  (send_id,)).fetchone()["issue_id"]
            counts = {row["status"]: int(row["n"]) for row in db.execute(
                "SELECT status, count(*) AS n FROM deliveries WHERE send_id = ? GROUP BY status",
                (send_id,))}
            size = db.execute("SELECT coalesce(sum(size), 0) AS size FROM deliveries WHERE "
                              "send_id = ? AND status = 'sent'", (send_id,)).fetchone()["size"]
        return SendSummary(send_id, str(issue_id), counts, int(size))


class SqliteStore(SqlStore):
    """The subscriber store and ledger in one SQLite file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"{path}: cannot make the folder of the subscriber database: "
                             f"{exc.strerror or exc}") from None
        try:
            self.db = sqlite3.connect(path, isolation_level=None, check_same_thread=False,
                                      timeout=30)
        except sqlite3.Error as exc:
            raise StoreError(f"{path}: cannot open the subscriber database: {exc}") from None
        try:
            self.db.execute("PRAGMA journal_mode = WAL")
            self.db.execute("PRAGMA synchronous = NORMAL")  # durable against a killed process
            self.db.execute("PRAGMA foreign_keys = ON")
            migrate(self.db)
            found = {row[0] for row in self.db.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table'")}
        except sqlite3.Error as exc:
            self.db.close()
            raise self._failed(exc, "cannot open the subscriber database: ") from None
        missing = sorted(set(TABLES) - found)
        if missing:
            self.db.close()
            raise StoreError(
                f"{path}: the subscriber database is incomplete: it has no table "
                f"{', '.join(missing)} although its schema version says it should (the file "
                "was changed by another program, or it is not this pipeline's database); "
                "restore it from a backup")
        self.db.row_factory = sqlite3.Row
        self.lock = threading.RLock()

    def _failed(self, exc: sqlite3.Error, doing: str = "") -> StoreError:
        """What a SQLite error means for the user, naming the file."""
        text = str(exc)
        it = "it" if doing else "the subscriber database"
        if isinstance(exc, sqlite3.DatabaseError) and any(
                sign in text for sign in ("malformed", "not a database", "corrupt")):
            return StoreError(f"{self.path}: {doing}{it} is damaged ({text}); "
                              "restore it from a backup (a copy made with sqlite3 "
                              "'.backup', or an export imported into a new file)")
        if "no such table" in text or "no such column" in text:
            return StoreError(f"{self.path}: {doing}{it} is incomplete ({text}): the file was "
                              "changed by another program; restore it from a backup")
        return StoreError(f"{self.path}: {doing or 'the subscriber database failed: '}{text}")

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self.lock:  # one connection, shared by the sender's threads
            try:
                self.db.execute("BEGIN IMMEDIATE")
                try:
                    yield self.db
                except BaseException:
                    self.db.execute("ROLLBACK")
                    raise
                self.db.execute("COMMIT")
            except sqlite3.Error as exc:
                raise self._failed(exc) from None

    @contextmanager
    def _reading(self) -> Iterator[sqlite3.Connection]:
        with self.lock:
            try:
                yield self.db
            except sqlite3.Error as exc:
                raise self._failed(exc) from None

    def _stream(self, query: str, args: tuple[object, ...]) -> Iterator[sqlite3.Row]:
        try:
            yield from self.db.execute(query, args)
        except sqlite3.Error as exc:
            raise self._failed(exc) from None

    @contextmanager
    def _process_lock(self, issue_id: str) -> Iterator[tuple[str, Callable[[], None]]]:
        """A file lock next to the database file itself (its real path, symbolic links
        resolved), released if the process dies; named by the lock file's device and inode,
        the same whatever path reached it."""
        real = self.path.resolve()
        path = real.with_name(f"{real.name}.{issue_id}.send-lock")
        handle = open(path, "w")  # noqa: SIM115 (held for the whole send)
        try:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise PipelineError(f"another send of {issue_id} is running (lock {path}); "
                                    "wait for it to finish") from None
            info = os.fstat(handle.fileno())
            yield f"flock {socket.gethostname()} {info.st_dev}:{info.st_ino}", lambda: None
        finally:
            handle.close()

    def close(self) -> None:
        self.db.close()


def migrate(db: sqlite3.Connection) -> int:
    """Apply the schema versions this database does not have yet; its version after."""
    version = int(db.execute("PRAGMA user_version").fetchone()[0])
    check_version(version, len(MIGRATIONS))
    for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
        db.execute("BEGIN IMMEDIATE")
        try:
            for statement in script.split(";"):
                if statement.strip():
                    db.execute(statement)
            db.execute(f"PRAGMA user_version = {number}")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")
    return len(MIGRATIONS)


def check_version(version: int, known: int) -> None:
    if version > known:
        raise PipelineError(f"the subscriber database is at schema version {version}, newer "
                            f"than this pipeline knows ({known}); upgrade the pipeline")


def open_store(database: Database, password_env: str = DEFAULT_PASSWORD_ENV,
               environ: Mapping[str, str] | None = None) -> Store:
    """The store ``database`` names: a SQLite file, or a PostgreSQL database by its URL,
    whose password (if any) is in the environment variable ``password_env``."""
    if not is_url(database):
        return SqliteStore(Path(database))
    try:
        from .store_postgres import PostgresStore
    except ModuleNotFoundError as exc:
        if not (exc.name or "").startswith("psycopg"):
            raise
        raise PipelineError("subscribers.database is a PostgreSQL URL, but psycopg is not "
                            "installed: pip install 'ethics-society-pipeline[postgres]'") from None
    return PostgresStore(str(database), password_env, environ)
