"""What a store shared by several senders and app servers must guarantee, on a real PostgreSQL
server: claims never overlap, two sends begun at once are one send, the send lock excludes a
second sender (on SQLite too), schema versions; and the PostgreSQL settings: URLs, passwords
from the environment, an unreachable server."""

from __future__ import annotations

import sqlite3
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

import psycopg
import pytest

from pipeline.databases import Database
from pipeline.errors import PipelineError
from pipeline.store import MIGRATIONS, NewSubscriber, Store, open_store

from .conftest import RunCli, Scratch
from .databases import rows, schema_version
from .postgres import PASSWORD, PASSWORD_ROLE, PostgresServer, free_port

NOW = datetime(2026, 12, 21, 8, 0, tzinfo=UTC)
T = TypeVar("T")


@pytest.fixture
def url(postgres_server: PostgresServer) -> Iterator[str]:
    made = postgres_server.new()
    yield made
    postgres_server.drop(made)


@pytest.fixture
def stores(url: str) -> Iterator[Callable[[], Store]]:
    """Open as many stores on one database as a test needs (each its own connections, as
    separate sender processes would have); all are closed at the end."""
    opened: list[Store] = []

    def open_one() -> Store:
        opened.append(open_store(url))
        return opened[-1]

    yield open_one
    for store in opened:
        store.close()


def fill(store: Store, count: int) -> list[int]:
    store.import_many([NewSubscriber(f"reader{n:04d}@example.net", None, "active", None, "t")
                       for n in range(count)], NOW)
    return [s.id for s in store.subscribers("active")]


def in_thread(call: Callable[[], T], seconds: float, on_timeout: Callable[[], None]) -> T:
    """Run ``call`` in a thread; if it is still blocked after ``seconds``, ``on_timeout``
    unblocks it and the test fails."""
    with ThreadPoolExecutor(1) as pool:
        future = pool.submit(call)
        try:
            return future.result(timeout=seconds)
        except TimeoutError:
            on_timeout()
            future.result(timeout=30)
            pytest.fail(f"still blocked after {seconds} s")


def wait_for_a_lock_wait(url: str) -> None:
    """Until some session of this database is waiting for a row or table lock."""
    for _ in range(500):
        if rows(url, "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                     "AND datname = current_database()")[0][0]:
            return
        time.sleep(0.01)
    pytest.fail("the second transaction never waited for the first")


# ---------------------------------------------------------------------- claims


def test_claim_skips_rows_another_sender_holds(url: str, stores: Callable[[], Store]) -> None:
    store = stores()
    ids = fill(store, 10)
    send_id, _ = store.begin_send("2026-12-solstice", NOW)
    with psycopg.connect(url) as other:  # another sender, in the middle of its own claim
        other.execute("SELECT subscriber_id FROM deliveries WHERE send_id = %s ORDER BY "
                      "subscriber_id LIMIT 4 FOR UPDATE", (send_id,))
        claimed = in_thread(lambda: store.claim(send_id, 6), 10, other.rollback)
        other.rollback()
    assert [c.subscriber_id for c in claimed] == ids[4:]
    assert [c.subscriber_id for c in store.claim(send_id, 10)] == ids[:4]


def test_two_senders_claiming_at_once_never_get_the_same_row(
        url: str, stores: Callable[[], Store]) -> None:
    first, second = stores(), stores()
    ids = fill(first, 400)
    send_id, _ = first.begin_send("2026-12-solstice", NOW)
    start = threading.Barrier(2)

    def drain(store: Store) -> list[int]:
        start.wait()
        taken: list[int] = []
        while batch := store.claim(send_id, 7):
            taken += [c.subscriber_id for c in batch]
        return taken

    with ThreadPoolExecutor(2) as pool:
        a, b = pool.map(drain, (first, second))
    assert not set(a) & set(b), "two senders claimed the same recipient"
    assert sorted(a + b) == ids
    assert a and b, "one sender took every row: the claims did not run side by side"
    assert rows(url, "SELECT DISTINCT status, attempts FROM deliveries") == [
        ("sending", 1)]


# ---------------------------------------------------------------------- begin_send


def test_begin_send_waits_for_a_concurrent_begin_and_joins_it(
        url: str, stores: Callable[[], Store]) -> None:
    store = stores()
    fill(store, 3)
    with psycopg.connect(url) as other:  # another sender's begin_send, not committed yet
        [(theirs,)] = other.execute("INSERT INTO sends (issue_id, started_at, recipients) "
                                    "VALUES ('2026-12-solstice', '2026-12-21T07:00:00+00:00', 0) "
                                    "RETURNING id").fetchall()

        def commit_once_waited_for() -> None:
            wait_for_a_lock_wait(url)
            other.commit()

        committer = threading.Thread(target=commit_once_waited_for)
        committer.start()
        send_id, fresh = in_thread(lambda: store.begin_send("2026-12-solstice", NOW), 20,
                                   other.rollback)
        committer.join()
    assert (send_id, fresh) == (theirs, False)


def test_many_senders_beginning_at_once_get_one_send(stores: Callable[[], Store]) -> None:
    opened = [stores() for _ in range(6)]
    fill(opened[0], 25)
    start = threading.Barrier(len(opened))

    def begin(store: Store) -> tuple[int, bool]:
        start.wait()
        return store.begin_send("2026-12-solstice", NOW)

    with ThreadPoolExecutor(len(opened)) as pool:
        results = list(pool.map(begin, opened))
    assert len({send_id for send_id, _ in results}) == 1
    assert sum(fresh for _, fresh in results) == 1
    assert opened[0].summary(results[0][0]).counts == {"pending": 25}


# ---------------------------------------------------------------------- the send lock


def test_the_send_lock_excludes_a_second_sender(database: Database) -> None:
    first, second = open_store(database), open_store(database)
    try:
        with first.send_lock("2026-12-solstice", lambda: NOW):
            with pytest.raises(PipelineError, match="another send of 2026-12-solstice is "
                                                    "running") as caught:
                second.send_lock("2026-12-solstice", lambda: NOW).__enter__()
            assert "wait for it to finish" in str(caught.value)
            with second.send_lock("2027-03-equinox", lambda: NOW):  # another issue: not locked
                pass
        with second.send_lock("2026-12-solstice", lambda: NOW):  # released when the first ends
            pass
    finally:
        first.close()
        second.close()


def test_the_postgres_send_lock_goes_with_a_dead_sender(stores: Callable[[], Store],
                                                        url: str) -> None:
    first, second = stores(), stores()
    with first.send_lock("2026-12-solstice", lambda: NOW):
        with pytest.raises(PipelineError, match=r"newsletter send 2026-12-solstice \("):
            second.send_lock("2026-12-solstice", lambda: NOW).__enter__()
        # The sender's machine dies: the server ends its session, and the lock with it.
        rows(url, "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' "
                  "AND granted AND pid <> pg_backend_pid()")
        for _ in range(500):
            try:
                with second.send_lock("2026-12-solstice", lambda: NOW):
                    break
            except PipelineError:
                time.sleep(0.01)
        else:
            pytest.fail("the lock of a dead sender was never released")


# ---------------------------------------------------------------------- schema


def test_first_opens_at_once_migrate_once(url: str, stores: Callable[[], Store]) -> None:
    start = threading.Barrier(4)

    def first_open() -> Store:
        start.wait()
        return stores()

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda _: first_open(), range(4)))
    assert schema_version(url) == len(MIGRATIONS)
    assert rows(url, "SELECT count(*) FROM schema_version") == [(1,)]


def test_both_backends_have_the_same_tables_and_columns(url: str, tmp_path: Path) -> None:
    lite = tmp_path / "s.sqlite3"
    open_store(lite).close()
    open_store(url).close()
    for table in ("subscribers", "sends", "deliveries", "events", "leases", "reports"):
        with sqlite3.connect(lite) as db:
            sqlite_columns = [r[1] for r in db.execute(f"PRAGMA table_info({table})")]
        pg_columns = [r[0] for r in rows(url, "SELECT column_name FROM information_schema."
                                              "columns WHERE table_name = ? ORDER BY "
                                              "ordinal_position", (table,))]
        assert pg_columns == sqlite_columns, table


def test_a_newer_schema_is_refused_by_a_second_store(url: str,
                                                     stores: Callable[[], Store]) -> None:
    stores()
    rows(url, "UPDATE schema_version SET version = ?", (len(MIGRATIONS) + 1,))
    with pytest.raises(PipelineError, match=f"schema version {len(MIGRATIONS) + 1}, newer "
                                            "than this pipeline knows"):
        open_store(url)


# ---------------------------------------------------------------------- settings and failures


def configure(scratch: Scratch, database: str, extra: str = "") -> None:
    with open(scratch.root / "newsletter.toml", "a", encoding="utf-8") as handle:
        handle.write(f'\n[subscribers]\ndatabase = "{database}"\n{extra}')


@pytest.mark.parametrize("database", [
    "postgresql://news:s3cret@db.example.org:5432/newsletter",
    "postgresql://news@db.example.org/newsletter?password=s3cret",
])
def test_a_password_in_the_url_is_a_config_error(cli: RunCli, scratch: Scratch,
                                                 database: str) -> None:
    configure(scratch, database)
    code, _, err = cli("subscribers", "list", "--root", str(scratch.root))
    assert code == 1
    assert "newsletter.toml:12: error: 'subscribers.database' must not carry a password" in err
    assert "NEWSLETTER_DB_PASSWORD" in err and "s3cret" not in err  # never echoed
    code, _, err = cli("subscribers", "list", "--root", str(scratch.root), "--db",
                       "postgresql://news:s3cret@localhost/newsletter")
    assert code == 2 and "must not carry a password" in err and "s3cret" not in err
    assert "Traceback" not in err


def test_an_unknown_database_scheme_is_a_config_error(cli: RunCli, scratch: Scratch) -> None:
    configure(scratch, "mysql://news@db.example.org/newsletter")
    code, _, err = cli("subscribers", "list", "--root", str(scratch.root))
    assert code == 1
    assert "'subscribers.database' 'mysql://' is not a database" in err
    assert "postgresql://" in err


def test_an_unreachable_server_is_one_clear_line(cli: RunCli, scratch: Scratch) -> None:
    port = free_port()  # nothing listens there
    configure(scratch, f"postgresql://news@127.0.0.1:{port}/newsletter")
    code, out, err = cli("subscribers", "list", "--root", str(scratch.root))
    assert code == 1 and out == ""
    assert "Traceback" not in err
    [line] = err.strip().splitlines()
    assert "cannot connect to the subscriber database" in line
    assert f"127.0.0.1 port {port}" in line and "Connection refused" in line
    assert "NEWSLETTER_DB_PASSWORD" in line


def test_the_password_comes_from_the_named_environment_variable(
    cli: RunCli, scratch: Scratch, postgres_server: PostgresServer, url: str,
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
) -> None:
    monkeypatch.delenv("PGPASSWORD", raising=False)
    monkeypatch.setenv("PGPASSFILE", str(tmp_path / "no-pgpass"))
    as_role = postgres_server.url(url.rsplit("/", 1)[1], user=PASSWORD_ROLE)
    configure(scratch, as_role, 'password_env = "ETHICS_DB_PASSWORD"\n')
    listing = ("subscribers", "list", "--root", str(scratch.root))

    monkeypatch.delenv("ETHICS_DB_PASSWORD", raising=False)
    code, _, err = cli(*listing)
    assert code == 1 and "no password supplied" in err and "ETHICS_DB_PASSWORD" in err

    monkeypatch.setenv("ETHICS_DB_PASSWORD", "wrong")
    code, _, err = cli(*listing)
    assert code == 1 and "password authentication failed" in err and "Traceback" not in err

    monkeypatch.setenv("ETHICS_DB_PASSWORD", PASSWORD)
    monkeypatch.setenv("NEWSLETTER_DB_PASSWORD", "the default name does not count")
    code, _, err = cli("subscribers", "add", "ada@example.org", "--root", str(scratch.root))
    assert code == 0, err
    code, out, err = cli(*listing)
    assert code == 0 and out.split() == ["ada@example.org", "active"]


def test_without_psycopg_a_url_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delitem(sys.modules, "pipeline.store.postgres", raising=False)
    monkeypatch.setitem(sys.modules, "psycopg", None)  # as if it were not installed
    with pytest.raises(PipelineError, match=r"psycopg is not installed: pip install "
                                            r"'ethics-society-pipeline\[postgres\]'"):
        open_store("postgresql://news@127.0.0.1:1/newsletter")
