"""A private, throwaway PostgreSQL server for the tests (never a mock, never the machine's own).

:func:`postgres_server` (session scope) runs ``initdb`` into a temporary folder, starts the
server on a free TCP port of 127.0.0.1 (and a unix socket in that folder), with trust
authentication for the local test user ``postgres`` and password authentication for one
role (``newsletter_pw``) so the password setting is tested for real, and stops it at the end of
the session. PostgreSQL refuses to run as root, so as root the cluster belongs to the
``postgres`` user (``runuser``). Each test gets a fresh database (:meth:`PostgresServer.new`).

Without PostgreSQL installed the tests that need it FAIL, saying to run ``tests/install``.
"""

from __future__ import annotations

import contextlib
import glob
import itertools
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

#: A role that must log in with a password (scram-sha-256), for the password_env tests.
PASSWORD_ROLE = "newsletter_pw"
PASSWORD = "correct horse battery staple"


def find_binaries() -> Path | None:
    """The folder with initdb and pg_ctl: the newest /usr/lib/postgresql/*/bin, else PATH."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"),
                   key=lambda p: int(Path(p).parent.parent.name)
                   if Path(p).parent.parent.name.isdigit() else 0)
    if found:
        return Path(found[-1]).parent
    on_path = shutil.which("pg_ctl")
    return Path(on_path).parent if on_path and shutil.which("initdb") else None


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class PostgresServer:
    """One running throwaway cluster."""

    def __init__(self, binaries: Path) -> None:
        self.binaries = binaries
        self.as_postgres = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        self.folder = Path(tempfile.mkdtemp(prefix="newsletter-pg-"))
        self.data = self.folder / "data"
        self.port = 0
        self.user = "postgres"
        self._names = itertools.count(1)

    def _run(self, *argv: str) -> None:
        done = subprocess.run([*self.as_postgres, *argv], capture_output=True, text=True,
                              timeout=120, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(argv)} failed ({done.returncode}):\n{done.stdout}"
                               f"{done.stderr}")

    def start(self) -> None:
        if self.as_postgres:
            shutil.chown(self.folder, "postgres", "postgres")
        self._run(str(self.binaries / "initdb"), "-D", str(self.data), "-U", self.user,
                  "--auth=trust", "--encoding=UTF8", "--locale=C.UTF-8", "--no-sync")
        with open(self.data / "pg_hba.conf", "w", encoding="utf-8") as hba:
            hba.write(f"local all all trust\n"
                      f"host all {PASSWORD_ROLE} 127.0.0.1/32 scram-sha-256\n"
                      f"host all all 127.0.0.1/32 trust\n")
        for attempt in range(3):
            self.port = free_port()
            options = (f"-c listen_addresses=127.0.0.1 -p {self.port} "
                       f"-c unix_socket_directories={self.folder} -c fsync=off "
                       "-c synchronous_commit=off -c full_page_writes=off "
                       "-c max_connections=200")
            try:
                self._run(str(self.binaries / "pg_ctl"), "-D", str(self.data), "-w", "-t", "60",
                          "-l", str(self.folder / "server.log"), "-o", options, "start")
                break
            except RuntimeError:
                if attempt == 2:
                    log = (self.folder / "server.log")
                    raise RuntimeError("PostgreSQL did not start:\n" + (
                        log.read_text(encoding="utf-8") if log.exists() else "")) from None
                time.sleep(0.2)  # the free port was taken meanwhile: try another
        self.admin(f"CREATE ROLE {PASSWORD_ROLE} LOGIN SUPERUSER PASSWORD '{PASSWORD}'")

    def url(self, database: str, user: str | None = None) -> str:
        return f"postgresql://{user or self.user}@127.0.0.1:{self.port}/{database}"

    def admin(self, statement: str) -> None:
        import psycopg

        with psycopg.connect(self.url("postgres"), autocommit=True) as conn:
            conn.execute(statement)  # type: ignore[arg-type]  (test-made statements)

    def new(self) -> str:
        """A new, empty database; its URL."""
        name = f"test_{next(self._names)}"
        self.admin(f"CREATE DATABASE {name} TEMPLATE template0")
        return self.url(name)

    def drop(self, url: str) -> None:
        self.admin(f"DROP DATABASE IF EXISTS {url.rsplit('/', 1)[1]} WITH (FORCE)")

    def stop(self) -> None:
        with contextlib.suppress(RuntimeError, subprocess.TimeoutExpired):
            self._run(str(self.binaries / "pg_ctl"), "-D", str(self.data), "-m", "immediate",
                      "-w", "stop")
        shutil.rmtree(self.folder, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    binaries = find_binaries()
    if binaries is None:
        pytest.fail("PostgreSQL is not installed (no initdb/pg_ctl under "
                    "/usr/lib/postgresql/*/bin or on PATH): run tests/install (or "
                    "tests/install_postgres) first", pytrace=False)
    if os.geteuid() == 0 and shutil.which("runuser") is None:
        pytest.fail("running as root needs runuser to start PostgreSQL as the postgres user",
                    pytrace=False)
    server = PostgresServer(binaries)
    try:
        server.start()
    except (RuntimeError, KeyError, LookupError, OSError) as exc:
        server.stop()
        pytest.fail(f"cannot start a throwaway PostgreSQL server: {exc}", pytrace=False)
    try:
        yield server
    finally:
        server.stop()
