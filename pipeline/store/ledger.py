"""The send's queries, shared by every SQL backend (:class:`LedgerStore`): the lease that
keeps one sender per send, and the ledger of each recipient's delivery (begin, requeue,
claim, record, summary). Written once with ``?`` placeholders, as :mod:`pipeline.store.sql`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Collection, Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta

from ..errors import PipelineError
from . import (
    HEARTBEAT_SECONDS,
    LEASE_SECONDS,
    Claimed,
    Holder,
    Lease,
    Outcome,
    SendSummary,
    new_owner,
)
from .sql import SqlStore, _iso, _marks, _utc


class LedgerStore(SqlStore):
    """Every query of the store: :class:`SqlStore`'s, and the send lease and the ledger."""

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
