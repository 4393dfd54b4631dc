"""Subscribers and the send ledger, behind one small interface (:class:`Store`).

:class:`SqliteStore` is the default: one file, WAL mode, schema versions applied in order by
:func:`migrate`. Every method that changes state takes ``now`` (never reads the clock) and is
one transaction. The ledger holds one row per recipient of a send; a row is claimed
(``sending``) before its message leaves and marked ``sent`` right after, so a send killed at any
moment and started again resumes with exactly the recipients not yet done.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Literal, Protocol

from .errors import PipelineError

Status = Literal["pending", "active", "unsubscribed", "bounced"]
STATUSES: tuple[Status, ...] = ("pending", "active", "unsubscribed", "bounced")
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
    def is_active(self, subscriber_id: int) -> bool: ...
    def send_started(self, send_id: int) -> datetime: ...
    def begin_send(self, issue_id: str, now: datetime) -> tuple[int, bool]: ...
    def requeue(self, send_id: int) -> int: ...
    def claim(self, send_id: int, limit: int) -> list[Claimed]: ...
    def record(self, send_id: int, outcomes: Iterable[Outcome], now: datetime) -> None: ...
    def summary(self, send_id: int) -> SendSummary: ...
    def request(self, email: str, name: str | None, source: str,
                now: datetime) -> tuple[Subscriber, Status | None]: ...
    def confirm(self, subscriber_id: int, source: str, now: datetime) -> bool: ...
    def unsubscribe(self, subscriber_id: int, source: str, now: datetime) -> bool: ...
    def history(self, subscriber_id: int) -> list[Event]: ...
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
)


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds")


class SqliteStore:
    """The subscriber store and ledger in one SQLite file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self.db = sqlite3.connect(path, isolation_level=None, check_same_thread=False,
                                      timeout=30)
            self.db.execute("PRAGMA journal_mode = WAL")
            self.db.execute("PRAGMA synchronous = NORMAL")  # durable against a killed process
            self.db.execute("PRAGMA foreign_keys = ON")
            migrate(self.db)
        except sqlite3.DatabaseError as exc:
            raise PipelineError(f"{path}: cannot open the subscriber database: {exc}") from None
        self.db.row_factory = sqlite3.Row
        self.lock = threading.RLock()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self.lock:  # one connection, shared by the sender's threads
            self.db.execute("BEGIN IMMEDIATE")
            try:
                yield self.db
            except BaseException:
                self.db.execute("ROLLBACK")
                raise
            self.db.execute("COMMIT")

    def _one(self, query: str, args: tuple[object, ...]) -> sqlite3.Row | None:
        with self.lock:
            row: sqlite3.Row | None = self.db.execute(query, args).fetchone()
            return row

    def close(self) -> None:
        self.db.close()

    # ------------------------------------------------------------------ subscribers

    def add(self, subscriber: NewSubscriber, now: datetime) -> tuple[Subscriber, bool]:
        """Add a subscriber, or return the one with that address; True when it is new."""
        with self._transaction() as db:
            exists = db.execute("SELECT 1 FROM subscribers WHERE email = ?",
                                (subscriber.email,)).fetchone()
            if not exists:
                self._insert(db, subscriber, now)
        found = self.get(subscriber.email)
        assert found is not None
        return found, not exists

    @staticmethod
    def _insert(db: sqlite3.Connection, s: NewSubscriber, now: datetime) -> None:
        db.execute(
            "INSERT INTO subscribers (email, name, status, consent_at, consent_source, "
            "created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (s.email, s.name, s.status, s.consent_at, s.consent_source, _iso(now), _iso(now)))

    def import_many(self, rows: Iterable[NewSubscriber], now: datetime) -> tuple[int, int]:
        """Add many subscribers in one transaction: (added, already known)."""
        added = known = 0
        with self._transaction() as db:
            for row in rows:
                exists = db.execute("SELECT 1 FROM subscribers WHERE email = ?",
                                    (row.email,)).fetchone()
                if exists:
                    known += 1
                    continue
                self._insert(db, row, now)
                added += 1
        return added, known

    def get(self, email: str) -> Subscriber | None:
        row = self._one("SELECT * FROM subscribers WHERE email = ?", (email,))
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
        for row in self.db.execute(query + " ORDER BY id", args):
            yield Subscriber(**dict(row))

    def set_status(self, subscriber_id: int, status: Status, now: datetime) -> None:
        with self._transaction() as db:
            db.execute("UPDATE subscribers SET status = ?, updated_at = ? WHERE id = ?",
                       (status, _iso(now), subscriber_id))

    def remove(self, email: str) -> bool:
        """Delete a subscriber and their ledger rows (a right-to-erasure request)."""
        with self._transaction() as db:
            row = db.execute("SELECT id FROM subscribers WHERE email = ?", (email,)).fetchone()
            if row is None:
                return False
            db.execute("DELETE FROM deliveries WHERE subscriber_id = ?", (row[0],))
            db.execute("DELETE FROM events WHERE subscriber_id = ?", (row[0],))
            db.execute("DELETE FROM subscribers WHERE id = ?", (row[0],))
        return True

    def count(self, status: Status | None = None) -> int:
        if status is None:
            row = self._one("SELECT count(*) FROM subscribers", ())
        else:
            row = self._one("SELECT count(*) FROM subscribers WHERE status = ?", (status,))
        return int(row[0]) if row else 0

    # ------------------------------------------------------------------ double opt-in

    def request(self, email: str, name: str | None, source: str,
                now: datetime) -> tuple[Subscriber, Status | None]:
        """A sign-up request: the subscriber (pending unless already active) and the status
        the address had before (None when it is new).

        A new address, or one that left or bounced, becomes ``pending`` until it confirms; an
        active subscriber stays as they are. Every request is kept in the history.
        """
        with self._transaction() as db:
            row = db.execute("SELECT id, status FROM subscribers WHERE email = ?",
                             (email,)).fetchone()
            before: Status | None = row["status"] if row else None
            if row is None:
                self._insert(db, NewSubscriber(email, name, "pending", None, source), now)
                subscriber_id = db.execute("SELECT id FROM subscribers WHERE email = ?",
                                           (email,)).fetchone()[0]
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
        with self.lock:
            rows = self.db.execute("SELECT at, kind, detail FROM events WHERE subscriber_id = ? "
                                   "ORDER BY id", (subscriber_id,)).fetchall()
        return [Event(row["at"], row["kind"], row["detail"]) for row in rows]

    @staticmethod
    def _event(db: sqlite3.Connection, subscriber_id: int, kind: str, detail: str,
               now: datetime) -> None:
        db.execute("INSERT INTO events (subscriber_id, at, kind, detail) VALUES (?, ?, ?, ?)",
                   (subscriber_id, _iso(now), kind, detail))

    # ------------------------------------------------------------------ the ledger

    def has_send(self, issue_id: str) -> bool:
        return self._one("SELECT 1 FROM sends WHERE issue_id = ?", (issue_id,)) is not None

    def is_active(self, subscriber_id: int) -> bool:
        row = self._one("SELECT status FROM subscribers WHERE id = ?", (subscriber_id,))
        return row is not None and row[0] == "active"

    def send_started(self, send_id: int) -> datetime:
        row = self._one("SELECT started_at FROM sends WHERE id = ?", (send_id,))
        assert row is not None
        return datetime.fromisoformat(row[0])

    def begin_send(self, issue_id: str, now: datetime) -> tuple[int, bool]:
        """The send of an issue: (send id, True if it starts now with a fresh recipient list).

        The recipients are every active subscriber at the moment the send first starts; a
        resumed send keeps that list.
        """
        with self._transaction() as db:
            row = db.execute("SELECT id FROM sends WHERE issue_id = ?", (issue_id,)).fetchone()
            if row:
                return int(row[0]), False
            send_id = db.execute(
                "INSERT INTO sends (issue_id, started_at, recipients) VALUES (?, ?, 0) "
                "RETURNING id", (issue_id, _iso(now))).fetchone()[0]
            db.execute("INSERT INTO deliveries (send_id, subscriber_id) SELECT ?, id FROM "
                       "subscribers WHERE status = 'active' ORDER BY id", (send_id,))
            db.execute("UPDATE sends SET recipients = (SELECT count(*) FROM deliveries WHERE "
                       "send_id = ?) WHERE id = ?", (send_id, send_id))
        return int(send_id), True

    def requeue(self, send_id: int) -> int:
        """Put back rows a killed run left in flight, and deferred ones; how many."""
        with self._transaction() as db:
            return db.execute("UPDATE deliveries SET status = 'pending' WHERE send_id = ? AND "
                              "status IN ('sending', 'deferred')", (send_id,)).rowcount

    def claim(self, send_id: int, limit: int) -> list[Claimed]:
        """Mark up to ``limit`` pending rows as being sent, and return them."""
        with self._transaction() as db:
            rows = db.execute(
                "UPDATE deliveries SET status = 'sending', attempts = attempts + 1 "
                "WHERE send_id = ? AND subscriber_id IN (SELECT subscriber_id FROM deliveries "
                "WHERE send_id = ? AND status = 'pending' ORDER BY subscriber_id LIMIT ?) "
                "RETURNING subscriber_id, attempts", (send_id, send_id, limit)).fetchall()
            claimed = []
            for row in sorted(rows, key=lambda r: int(r[0])):
                person = db.execute("SELECT email, name, status FROM subscribers WHERE id = ?",
                                    (row[0],)).fetchone()
                claimed.append(Claimed(int(row[0]), person["email"], person["name"],
                                       person["status"] == "active", int(row[1])))
        return claimed

    def record(self, send_id: int, outcomes: Iterable[Outcome], now: datetime) -> None:
        """Write what happened to claimed rows, in one transaction."""
        with self._transaction() as db:
            for o in outcomes:
                db.execute("UPDATE deliveries SET status = ?, message_id = ?, size = ?, "
                           "detail = ?, updated_at = ? WHERE send_id = ? AND subscriber_id = ?",
                           (o.status, o.message_id, o.size, o.detail, _iso(now), send_id,
                            o.subscriber_id))
                if o.bounced:
                    db.execute("UPDATE subscribers SET status = 'bounced', updated_at = ? "
                               "WHERE id = ?", (_iso(now), o.subscriber_id))

    def summary(self, send_id: int) -> SendSummary:
        issue_id = self.db.execute("SELECT issue_id FROM sends WHERE id = ?",
                                   (send_id,)).fetchone()[0]
        counts = {row[0]: int(row[1]) for row in self.db.execute(
            "SELECT status, count(*) FROM deliveries WHERE send_id = ? GROUP BY status",
            (send_id,))}
        size = self.db.execute("SELECT coalesce(sum(size), 0) FROM deliveries WHERE send_id = ? "
                               "AND status = 'sent'", (send_id,)).fetchone()[0]
        return SendSummary(send_id, str(issue_id), counts, int(size))


def migrate(db: sqlite3.Connection) -> int:
    """Apply the schema versions this database does not have yet; its version after."""
    version = int(db.execute("PRAGMA user_version").fetchone()[0])
    if version > len(MIGRATIONS):
        raise PipelineError(f"the subscriber database is at schema version {version}, newer "
                            f"than this pipeline knows ({len(MIGRATIONS)}); upgrade the pipeline")
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


def open_store(path: Path) -> Store:
    """The store at ``path`` (SQLite)."""
    return SqliteStore(path)
