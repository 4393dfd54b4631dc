"""The store backends under test: every test that takes ``databases`` (or ``database``) runs
once on SQLite and once on PostgreSQL (a private server, :mod:`tests.postgres`), and these
helpers read either database directly, to check what the store wrote."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pipeline.config import load_config
from pipeline.databases import Database, is_url

from .postgres import PostgresServer

BACKENDS = ("sqlite", "postgres")


class Databases:
    """Fresh, empty databases of one backend for one test."""

    def __init__(self, backend: str, folder: Path, server: PostgresServer | None) -> None:
        self.backend = backend
        self.folder = folder
        self.server = server
        self.made: list[str] = []

    def new(self, name: str = "subscribers") -> Database:
        """A SQLite file ``<tmp>/<name>.sqlite3`` (not created yet), or a new PostgreSQL
        database (its URL)."""
        if self.server is None:
            return self.folder / f"{name}.sqlite3"
        url = self.server.new()
        self.made.append(url)
        return url

    def attach(self, root: Path) -> Database:
        """The database of the newsletter at ``root``: its default SQLite file, or a new
        PostgreSQL database written into its newsletter.toml as ``subscribers.database``."""
        if self.server is None:
            return root / "subscribers.sqlite3"
        url = self.new()
        with open(root / "newsletter.toml", "a", encoding="utf-8") as handle:
            handle.write(f'\n[subscribers]\ndatabase = "{url}"\n')
        return url


@pytest.fixture(params=BACKENDS)
def databases(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Databases]:
    server = request.getfixturevalue("postgres_server") if request.param == "postgres" else None
    made = Databases(request.param, tmp_path, server)
    yield made
    if server is not None:
        for url in made.made:
            server.drop(url)


@pytest.fixture
def database(databases: Databases) -> Database:
    """A fresh, empty database of each backend."""
    return databases.new()


def configured(root: Path) -> Database:
    """The subscriber database the newsletter at ``root`` is configured with."""
    return load_config(root).delivery.database


def rows(database: Database, query: str, args: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Run one query (``?`` placeholders) on either backend, outside the store."""
    if is_url(database):
        import psycopg

        with psycopg.connect(str(database), autocommit=True) as conn:
            cursor = conn.execute(query.replace("?", "%s"), args)  # type: ignore[arg-type]
            return list(cursor.fetchall()) if cursor.description else []
    with sqlite3.connect(database) as db:
        return list(db.execute(query, args).fetchall())


def tables(database: Database) -> set[str]:
    if is_url(database):
        query = "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'"
    else:
        if not Path(database).exists():
            return set()
        query = "SELECT name FROM sqlite_master WHERE type = 'table'"
    return {name for (name,) in rows(database, query)}


def schema_version(database: Database) -> int:
    if is_url(database):
        return int(rows(database, "SELECT version FROM schema_version")[0][0])
    return int(rows(database, "PRAGMA user_version")[0][0])


def set_schema_version(database: Database, version: int) -> None:
    if is_url(database):
        rows(database, "UPDATE schema_version SET version = ?", (version,))
    else:
        rows(database, f"PRAGMA user_version = {int(version)}")


def dump(database: Database) -> list[tuple[Any, ...]]:
    """Every row of every table, to compare a database before and after."""
    found: list[tuple[Any, ...]] = []
    for table in sorted(tables(database)):
        found += [(table, *row) for row in rows(database, f"SELECT * FROM {table} ORDER BY 1")]
    return found
