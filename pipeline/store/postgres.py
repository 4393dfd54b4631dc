"""The subscriber store and ledger on PostgreSQL (psycopg 3), for a store shared by several
app servers and senders.

The queries are those of :mod:`~pipeline.store.sql` and :mod:`~pipeline.store.ledger`, as on
SQLite, but for the claim and the record of a send, each one statement here (one round trip);
what else differs is here too. Each thread gets its own connection (the sender's claims and
its commits run at once); a claim locks its rows with ``FOR UPDATE SKIP LOCKED`` so two
senders never take the same recipient; beside the lease row of
:meth:`~pipeline.store.ledger.LedgerStore.send_lock`, the process-bound lock is a session
advisory lock, held on a connection of its own for the whole send and released by the server
if the sender dies (the heartbeat checks that connection, so a sender whose session was ended
stops); schema versions are applied under a transaction-level advisory lock, so app servers
starting together migrate once. Addresses compare case-insensitively for ASCII only
(``lower(... COLLATE "C")``, unique index included), exactly as SQLite's ``NOCASE``.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import itertools
import os
import socket
import threading
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import psycopg
from psycopg.conninfo import conninfo_to_dict
from psycopg.rows import DictRow, TupleRow, dict_row, tuple_row

from ..errors import PipelineError
from . import Claimed, Outcome, StoreError
from .ledger import LedgerStore
from .schema import check_version, migrations, statements
from .sql import _iso

#: The first key of every advisory lock this pipeline takes ("NWSL"), so they do not collide
#: with other users of the database; the second names what is locked.
LOCK_NAMESPACE = 0x4E57534C
_MIGRATION_LOCK = 0

#: The schema of each version, in PostgreSQL's words (:mod:`pipeline.store.schema`).
MIGRATIONS = migrations("postgres")

#: :meth:`PostgresStore.claim`: the claim and the read of who was claimed in one statement.
_CLAIM = """
WITH claimed AS (
    UPDATE deliveries SET status = 'sending', attempts = attempts + 1, claimed_by = %s
    WHERE send_id = %s AND subscriber_id IN (
        SELECT subscriber_id FROM deliveries WHERE send_id = %s AND status = 'pending'
        AND subscriber_id > %s ORDER BY subscriber_id LIMIT %s FOR UPDATE SKIP LOCKED)
    RETURNING subscriber_id, attempts
)
SELECT c.subscriber_id, s.email, s.name, s.status = 'active', c.attempts
FROM claimed c JOIN subscribers s ON s.id = c.subscriber_id ORDER BY c.subscriber_id
"""

@functools.lru_cache(maxsize=256)
def _record_query(outcomes: int, check: int) -> str:
    """:meth:`PostgresStore.record` of so many outcomes and subscribers to check, in ONE
    statement: each outcome a row of a VALUES list (cheaper to send and plan than arrays),
    written to the ledger, the bounced subscribers marked, and the still-active ones read.
    Data-modifying WITH clauses always run to completion, whether or not the final SELECT
    reads them; one statement per size, prepared once."""
    active = f"id IN ({', '.join(['%s'] * check)}) AND status = 'active'" if check else "false"
    select = f"SELECT id FROM subscribers WHERE {active}"
    if not outcomes:
        return select
    rows = ", ".join(["(%s::bigint, %s::text, %s::text, %s::integer, %s::text, %s::boolean)"]
                     * outcomes)
    return f"""
WITH outcome (subscriber_id, status, message_id, size, detail, bounced) AS (VALUES {rows}),
written AS (
    UPDATE deliveries d SET status = o.status, message_id = o.message_id, size = o.size,
        detail = o.detail, updated_at = %s
    FROM outcome o WHERE d.send_id = %s AND d.subscriber_id = o.subscriber_id
    RETURNING 1
), bounced AS (
    UPDATE subscribers SET status = 'bounced', updated_at = %s
    WHERE id IN (SELECT subscriber_id FROM outcome WHERE bounced)
    RETURNING 1
)
{select}
"""


#: The common case of :func:`_record_query` (one worker's outcome, not a bounce, and the
#: recipient it sends to next), with no list to join: the same writes and read, cheaper to run.
_RECORD_ONE = """
WITH written AS (
    UPDATE deliveries SET status = %s, message_id = %s, size = %s, detail = %s, updated_at = %s
    WHERE send_id = %s AND subscriber_id = %s
    RETURNING 1
)
SELECT id FROM subscribers WHERE id = %s AND status = 'active'
"""

Connection = psycopg.Connection[DictRow]


class _PgDb:
    """A connection that takes the store's ``?`` placeholders."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def execute(self, query: str, args: Any = (), /) -> psycopg.Cursor[DictRow]:
        return self.conn.execute(_placeholders(query), args)


def _placeholders(query: str) -> str:
    """``?`` to psycopg's ``%s`` (the store's queries contain neither ``%`` nor a literal ``?``)."""
    assert "%" not in query
    return query.replace("?", "%s")


def lock_key(issue_id: str) -> int:
    """The second key of the send lock of an issue: a stable 31-bit hash of its id."""
    return int.from_bytes(hashlib.blake2b(issue_id.encode(), digest_size=4).digest()) >> 1


class PostgresStore(LedgerStore):
    """The subscriber store and ledger in a PostgreSQL database."""

    _email = 'lower(email COLLATE "C") = lower(?::text COLLATE "C")'
    _skip_locked = " FOR UPDATE SKIP LOCKED"

    def __init__(self, url: str, password_env: str,
                 environ: Mapping[str, str] | None = None) -> None:
        env = os.environ if environ is None else environ
        self.url = url
        self.password_env = password_env
        self.password = env.get(password_env) or None  # None: libpq's PGPASSWORD or .pgpass
        try:
            info = conninfo_to_dict(url)
        except psycopg.ProgrammingError as exc:
            raise PipelineError(f"{url}: not a PostgreSQL URL: {_first_line(exc)}") from None
        self.host = str(info.get("host") or "localhost")
        self.port = str(info.get("port") or 5432)
        self.label = f"{self.host}:{self.port}/{info.get('dbname') or info.get('user') or ''}"
        self._local = threading.local()
        self._connections: list[Connection] = []
        self._guard = threading.Lock()
        self._cursor_names = itertools.count(1)
        try:
            with self._failures():
                migrate(self._conn())
        except BaseException:
            self.close()
            raise

    # ------------------------------------------------------------------ connections

    def _connect(self, application_name: str = "newsletter") -> Connection:
        try:
            return psycopg.connect(self.url, autocommit=True, row_factory=dict_row,
                                   connect_timeout=10, password=self.password,
                                   application_name=application_name[:63])
        except psycopg.OperationalError as exc:
            raise StoreError(
                f"cannot connect to the subscriber database {self.url}: {_first_line(exc)}; "
                f"check that PostgreSQL is running on {self.host} port {self.port} and "
                "accepts connections from here, that the database and user exist, and the "
                f"password (environment variable {self.password_env})") from None

    def _conn(self) -> Connection:
        """This thread's connection (a new one if it has none or it broke)."""
        conn: Connection | None = getattr(self._local, "conn", None)
        if conn is None or conn.closed or conn.broken:
            conn = self._connect()
            self._local.conn = conn
            with self._guard:
                self._connections.append(conn)
        return conn

    @contextmanager
    def _failures(self) -> Iterator[None]:
        try:
            yield
        except psycopg.OperationalError as exc:
            raise StoreError(f"the subscriber database {self.label} failed: "
                             f"{_first_line(exc)}") from None
        except (psycopg.errors.UndefinedTable, psycopg.errors.UndefinedColumn) as exc:
            raise StoreError(f"the subscriber database {self.label} is incomplete "
                             f"({_first_line(exc)}): it was changed by another program; "
                             "restore it from a backup") from None

    @contextmanager
    def _transaction(self) -> Iterator[_PgDb]:
        conn = self._conn()
        with self._failures(), conn.transaction():
            yield _PgDb(conn)

    @contextmanager
    def _reading(self) -> Iterator[_PgDb]:
        with self._failures():
            yield _PgDb(self._conn())

    def _stream(self, query: str, args: tuple[object, ...]) -> Iterator[DictRow]:
        conn = self._conn()
        name = f"stream_{next(self._cursor_names)}"
        with self._failures(), conn.transaction(), conn.cursor(name=name) as cursor:
            cursor.itersize = 500
            cursor.execute(_placeholders(query), args)
            yield from cursor

    def close(self) -> None:
        with self._guard:
            connections, self._connections = self._connections, []
        for conn in connections:
            conn.close()

    # ------------------------------------------------------------------ the ledger

    def record(self, send_id: int, outcomes: Iterable[Outcome], now: datetime, *,
               check: Collection[int] = ()) -> set[int]:
        """As :meth:`LedgerStore.record`, in ONE statement (so one round trip to the server,
        atomic on its own): the outcomes, the bounces and the still-active check together.
        The check reads the snapshot the statement starts with, as it would in a
        transaction of its own."""
        done, checked, at = list(outcomes), list(check), _iso(now)
        if len(done) == 1 and not done[0].bounced and len(checked) == 1:
            [o] = done
            one = (o.status, o.message_id, o.size, o.detail, at, send_id, o.subscriber_id,
                   checked[0])
            with self._failures():
                found = self._tuples().execute(_RECORD_ONE, one, prepare=True).fetchall()
            return {int(row[0]) for row in found}
        args: list[object] = [value for o in done for value in (
            o.subscriber_id, o.status, o.message_id, o.size, o.detail, o.bounced)]
        if done:
            args += [at, send_id, at]
        args += checked
        with self._failures():
            rows = self._tuples().execute(_record_query(len(done), len(checked)), args,
                                          prepare=True).fetchall()
        return {int(row[0]) for row in rows}

    def claim(self, send_id: int, limit: int, after: int = 0,
              owner: str | None = None) -> list[Claimed]:
        """As :meth:`LedgerStore.claim`, in ONE statement (one round trip, atomic on its own):
        the rows marked as being sent, and their subscribers read, together."""
        with self._failures():
            rows = self._tuples().execute(_CLAIM, (owner, send_id, send_id, after, limit),
                                          prepare=True).fetchall()
        return [Claimed(int(i), email, name, active, int(attempts))
                for i, email, name, active, attempts in rows]

    def _tuples(self) -> psycopg.Cursor[TupleRow]:
        """A cursor of this thread's connection whose rows are tuples (cheaper than dicts)."""
        return self._conn().cursor(row_factory=tuple_row)

    # ------------------------------------------------------------------ the send lock

    @contextmanager
    def _process_lock(self, issue_id: str) -> Iterator[tuple[str, Callable[[], None]]]:
        """A session advisory lock on a connection of its own, released when the send ends or
        its connection goes away; the check asks that connection whether it is still there."""
        holder = f"newsletter send {issue_id} ({socket.gethostname()} pid {os.getpid()})"
        conn = self._connect(holder)
        try:
            with self._failures():
                got = conn.execute("SELECT pg_try_advisory_lock(%s, %s) AS got",
                                   (LOCK_NAMESPACE, lock_key(issue_id))).fetchone()
                if not (got and got["got"]):
                    raise PipelineError(f"another send of {issue_id} is running on "
                                        f"{self.label}{self._holder(conn, issue_id)}; wait for "
                                        "it to finish")

            def check() -> None:
                with self._failures():
                    conn.execute("SELECT 1")

            yield f"advisory {LOCK_NAMESPACE}:{lock_key(issue_id)}", check
        finally:
            # Unlocked first, so the next sender finds it free at once: the server ends a
            # closed session (and its locks) a moment after the connection goes.
            with contextlib.suppress(psycopg.Error):
                if not (conn.closed or conn.broken):
                    conn.execute("SELECT pg_advisory_unlock_all()")
            conn.close()  # the session ends, and with it the lock

    @staticmethod
    def _holder(conn: Connection, issue_id: str) -> str:
        row = conn.execute(
            "SELECT a.application_name AS who, a.backend_start AS since FROM pg_locks l "
            "JOIN pg_stat_activity a ON a.pid = l.pid WHERE l.locktype = 'advisory' AND "
            "l.classid = %s AND l.objid = %s AND l.objsubid = 2 AND l.granted AND "
            "l.database = (SELECT oid FROM pg_database WHERE datname = current_database())",
            (LOCK_NAMESPACE, lock_key(issue_id))).fetchone()
        if not row or not row["who"]:
            return ""
        return f" ({row['who']}, since {row['since'].isoformat(timespec='seconds')})"


def migrate(conn: Connection) -> int:
    """Apply the schema versions this database does not have yet, in one transaction under an
    advisory lock (so concurrent starts migrate once); the version after."""
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s, %s)", (LOCK_NAMESPACE, _MIGRATION_LOCK))
        conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
        row = conn.execute("SELECT version FROM schema_version").fetchone()
        if row is None:
            conn.execute("INSERT INTO schema_version (version) VALUES (0)")
        version = int(row["version"]) if row else 0
        check_version(version)
        for script in MIGRATIONS[version:]:
            for statement in statements(script):
                conn.execute(statement)
        conn.execute("UPDATE schema_version SET version = %s", (len(MIGRATIONS),))
    return len(MIGRATIONS)


def _first_line(exc: Exception) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text.removeprefix("connection failed: ")
