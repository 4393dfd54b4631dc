"""The subscriber store on SQLite: one file, no server to start (the default).

The queries are the ones every backend shares (:mod:`pipeline.store.sql`,
:mod:`pipeline.store.ledger`); this module adds SQLite's connection, its transactions
(``BEGIN IMMEDIATE``), the per-send process lock beside the database's own lease, and the
schema migrations (``PRAGMA user_version``).
"""

from __future__ import annotations

import fcntl
import os
import socket
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from ..errors import PipelineError
from . import StoreError
from .ledger import LedgerStore
from .schema import TABLES, check_version, migrations, statements

#: The schema of each version, in SQLite's words.
MIGRATIONS = migrations("sqlite")


class SqliteStore(LedgerStore):
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
        # A plain loop, not "yield from": a reader that stops early (``export | head``)
        # leaves this generator to be closed after the store, and "yield from" would then
        # close the cursor of a closed database, an error nobody can catch.
        try:
            rows = self.db.execute(query, args)
            for row in rows:  # noqa: UP028 (see above)
                yield row
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
    check_version(version)
    for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
        db.execute("BEGIN IMMEDIATE")
        try:
            for statement in statements(script):
                db.execute(statement)
            db.execute(f"PRAGMA user_version = {number}")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")
    return len(MIGRATIONS)
