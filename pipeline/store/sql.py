"""The queries every SQL backend of the subscriber store shares (:class:`SqlStore`): written
once with ``?`` placeholders, for subscribers, their consent and delivery reports; the send's
(the lease and the ledger) are in :mod:`pipeline.store.ledger`. SQLite
(:mod:`pipeline.store.sqlite`) and PostgreSQL (:mod:`pipeline.store.postgres`) add their
connections, transactions and locks.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar, Protocol

from ..databases import Status
from . import Event, Finding, NewSubscriber, Recorded, Subscriber, _most_within, _RollBack


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
