"""One sender per send, whatever path reaches the database: the lease row in the database
(owner, heartbeat, expiry) beside the process-bound lock, on SQLite and on PostgreSQL, with
real sender processes and a real SMTP server on 127.0.0.1.

A second sender reaching the same database by another path (a symbolic link to the SQLite
file, a unix socket instead of TCP) is refused and requeues nothing; a sender killed while
holding the lease is resumed at once (its lock is gone with it); a lease whose holder cannot be
proven gone is waited for until it expires; a sender never requeues rows a live sender holds;
a sender whose lease was taken over stops before its next message.
"""

from __future__ import annotations

import subprocess
import threading
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from pipeline.databases import Database
from pipeline.delivery import RateLimiter, run_send
from pipeline.errors import PipelineError
from pipeline.store import LEASE_SECONDS, Lease, open_store
from pipeline.transports import SmtpSettings, SmtpTransport

from .conftest import AS_OF_EPOCH
from .databases import Databases, configured, rows
from .smtp_sink import HOST, Received, SmtpSink
from .test_delivery import (
    ISSUE,
    _environment,
    _finish,
    _kill_at,
    _send_command,
    add_people,
    add_to,
    by_recipient,
    ledger,
    many,
    small_message,
)

#: The moment the sender processes run at (SOURCE_DATE_EPOCH, set for every test).
AS_OF = datetime.fromtimestamp(int(AS_OF_EPOCH), UTC)
READERS = 40


@pytest.fixture
def sample_copy(sample_copy: Path, databases: Databases) -> Path:
    databases.attach(sample_copy)
    return sample_copy


def other_path(root: Path, databases: Databases, tmp_path: Path) -> str:
    """The same database reached another way: a symbolic link to the SQLite file from another
    folder, or the PostgreSQL server's unix socket instead of TCP on 127.0.0.1."""
    database = configured(root)
    if databases.server is None:
        link = tmp_path / "elsewhere" / "link.sqlite3"
        link.parent.mkdir()
        link.symlink_to(Path(database).resolve())
        return str(link)
    name = str(database).rsplit("/", 1)[1]
    return (f"postgresql://{databases.server.user}@/{name}?host={databases.server.folder}"
            f"&port={databases.server.port}")


def statuses(db: Database) -> Counter[str]:
    return Counter(status for status, _ in ledger(db).values())


def test_a_second_sender_by_another_path_is_refused_and_requeues_nothing(
        sample_copy: Path, sink: SmtpSink, databases: Databases, tmp_path: Path) -> None:
    people = add_people(sample_copy, many(READERS))
    db = configured(sample_copy)
    arrived, go_on = threading.Event(), threading.Event()

    def hold(received: Received) -> None:  # the first sender waits inside its 5th message
        if len(sink.messages) == 4:
            arrived.set()
            go_on.wait(60)

    sink.on_message = hold
    first = subprocess.Popen(_send_command(sample_copy, "--smtp", sink.url, "--connections",
                                           "2"), env=_environment(), stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    try:
        assert arrived.wait(60), "the first sender never got going"
        held = {email for email, (status, _) in ledger(db).items() if status == "sending"}
        assert held
        second = subprocess.run(
            _send_command(sample_copy, "--smtp", sink.url, "--db",
                          other_path(sample_copy, databases, tmp_path)),
            env=_environment(), capture_output=True, text=True, timeout=120, check=False)
        assert second.returncode == 1, second.stdout + second.stderr
        assert f"another send of {ISSUE} is running" in second.stderr, second.stderr
        assert "Traceback" not in second.stderr
        # The first sender may still record an outcome it had (sending -> sent): a row it
        # holds never goes back to pending.
        requeued = {email for email, (status, _) in ledger(db).items()
                    if email in held and status == "pending"}
        assert not requeued, "the second sender requeued rows in flight"
    finally:
        go_on.set()
        out, err = first.communicate(timeout=120)
    assert first.returncode == 0, err
    assert "every recipient is done" in out
    received = Counter(rcpt for m in sink.messages for rcpt in m.rcpt_tos)
    assert received == {p.email: 1 for p in people}, "someone got the issue twice or never"
    assert rows(db, "SELECT count(*) FROM leases") == [(0,)], "the lease was not released"


def test_a_sender_killed_holding_the_lease_is_resumed_at_once(sample_copy: Path,
                                                              sink: SmtpSink) -> None:
    """SIGKILL leaves the lease row behind, but its process-bound lock went with the process:
    the next run takes the lease over at the same moment, and sends everyone exactly once."""
    people = add_people(sample_copy, many(300))
    db = configured(sample_copy)
    args = ("--smtp", sink.url, "--connections", "2")
    _kill_at(sample_copy, sink, 100, args)
    [(owner, expires)] = rows(db, "SELECT owner, expires_at FROM leases")
    assert " pid " in owner
    assert datetime.fromisoformat(expires) > AS_OF, "the dead sender's lease has not expired"
    _finish(sample_copy, *args, recipients=300)
    received = by_recipient(sink.messages)
    assert set(received) == {p.email for p in people}
    assert all(len({m.message_id for m in got}) == 1 for got in received.values())
    assert sum(len(got) - 1 for got in received.values()) <= 2  # one in flight per connection
    assert rows(db, "SELECT count(*) FROM leases") == [(0,)]


def test_a_lease_held_elsewhere_is_waited_for_until_it_expires(
        sample_copy: Path, sink: SmtpSink, databases: Databases) -> None:
    """A sender on another machine (its lock is not one this machine can see) holds the lease
    and three rows: a send now is refused and leaves those rows alone; once the lease has
    expired with no heartbeat, the next send takes it over and sends them."""
    people = add_people(sample_copy, many(10))
    db = configured(sample_copy)
    store = open_store(db)
    try:
        send_id, _ = store.begin_send(ISSUE, AS_OF)
        other = Lease(f"send {ISSUE}", "db-host-2 pid 4242.1", "advisory on db-host-2")
        assert store.take_lease(other, AS_OF) is None
        held = store.claim(send_id, 3, owner=other.owner)
    finally:
        store.close()
    code = subprocess.run(_send_command(sample_copy, "--smtp", sink.url), env=_environment(),
                          capture_output=True, text=True, timeout=120, check=False)
    assert code.returncode == 1
    assert "db-host-2 pid 4242.1 holds its lease" in code.stderr, code.stderr
    assert "once its lease has expired" in code.stderr
    assert sink.count() == 0
    assert statuses(db)["sending"] == 3

    later = AS_OF + timedelta(seconds=LEASE_SECONDS + 1)
    environment = {**_environment(), "SOURCE_DATE_EPOCH": str(int(later.timestamp()))}
    done = subprocess.run(_send_command(sample_copy, "--smtp", sink.url), env=environment,
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    received = Counter(rcpt for m in sink.messages for rcpt in m.rcpt_tos)
    assert received == {p.email: 1 for p in people}
    assert {c.email for c in held} <= set(received)


def test_requeue_leaves_the_rows_of_a_live_sender(database: Database) -> None:
    add_to(database, many(8))
    first, second = open_store(database), open_store(database)
    try:
        with first.send_lock(ISSUE, lambda: AS_OF) as lease:
            send_id, _ = first.begin_send(ISSUE, AS_OF)
            claimed = first.claim(send_id, 5, owner=lease.owner)
            assert len(claimed) == 5
            assert second.requeue(send_id, AS_OF) == 0
            assert second.summary(send_id).counts == {"sending": 5, "pending": 3}
            expired = AS_OF + timedelta(seconds=LEASE_SECONDS)
            assert second.requeue(send_id, expired) == 5  # no heartbeat for a whole lease
            lease.lost.set()  # as its heartbeat would find: it no longer holds the lease
    finally:
        first.close()
        second.close()


def test_a_sender_whose_lease_is_taken_over_stops(database: Database, sink: SmtpSink) -> None:
    """The heartbeat finds another owner on the lease: no further message leaves."""
    add_to(database, many(30))
    clock = [AS_OF]
    first, second = open_store(database), open_store(database)
    try:
        with first.send_lock(ISSUE, lambda: clock[0], heartbeat=0.02) as lease:
            send_id, _ = first.begin_send(ISSUE, AS_OF)
            later = AS_OF + timedelta(seconds=LEASE_SECONDS + 1)
            thief = Lease(lease.name, "db-host-2 pid 1.1", "advisory on db-host-2")
            assert second.take_lease(thief, later) is None
            deadline = time.monotonic() + 10
            while not lease.lost.is_set() and time.monotonic() < deadline:
                time.sleep(0.01)
            assert lease.lost.is_set(), "the heartbeat never noticed the lease was taken"
            settings = SmtpSettings(HOST, sink.port, "none", None, None, timeout=10)
            with pytest.raises(PipelineError, match="another sender took over the send lease"):
                run_send(first, send_id, small_message(), "news@example.org",
                         [SmtpTransport(settings)], retries=1, limiter=RateLimiter(0),
                         now=lambda: AS_OF, lease=lease)
        assert sink.count() == 0
        holder = second.lease_holder(lease.name)
        assert holder is not None and holder.owner == thief.owner  # not released by the loser
    finally:
        first.close()
        second.close()


def test_the_heartbeat_pushes_the_expiry_on(database: Database) -> None:
    clock = [AS_OF]
    store = open_store(database)
    try:
        with store.send_lock(ISSUE, lambda: clock[0], heartbeat=0.02) as lease:
            clock[0] = AS_OF + timedelta(seconds=45)
            deadline = time.monotonic() + 10
            expected = (clock[0] + timedelta(seconds=LEASE_SECONDS)).isoformat()
            while time.monotonic() < deadline:
                holder = store.lease_holder(lease.name)
                if holder is not None and holder.expires_at == expected:
                    break
                time.sleep(0.01)
            else:
                pytest.fail(f"the lease was not renewed: {store.lease_holder(lease.name)}")
            assert not lease.lost.is_set()
        assert store.lease_holder(lease.name) is None  # released at the end
    finally:
        store.close()
