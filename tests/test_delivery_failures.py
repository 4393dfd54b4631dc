"""Clean failures of ``newsletter send`` and ``newsletter serve``: each a user's mistake or a
damaged file, each answered with one clear line (which option or file, what is wrong, what to
do) and the right exit status, never a traceback, and nothing sent or half-written."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import RunCli
from .databases import Databases, configured, rows
from .smtp_sink import SmtpSink
from .test_delivery import (
    ISSUE,
    SECRET,
    SECRET_ENV,
    add_people,
    configure,
    ledger_rows,
    many,
)


@pytest.fixture
def secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(SECRET_ENV, SECRET)


# ---------------------------------------------------------------------- --smtp


@pytest.mark.parametrize(("url", "says"), [
    ("smtp://127.0.0.1:99999", "port that is not a number from 1 to 65535"),
    ("smtp://h:abc", "port that is not a number from 1 to 65535"),
    ("smtp://[::1", "an unclosed '['"),
    ("smtp://user:pw@host", "must not carry a login"),
    ("http://host:25", "must look like smtp://HOST:PORT"),
])
def test_a_bad_smtp_url_is_bad_usage(cli: RunCli, sample_copy: Path, secret: None, url: str,
                                     says: str) -> None:
    add_people(sample_copy, many(2))
    code, _, err = cli("send", ISSUE, "--yes", "--root", str(sample_copy), "--smtp", url)
    assert code == 2, err
    assert f"argument --smtp: '{url}'" in err and says in err, err
    assert "Traceback" not in err and "ValueError" not in err
    assert ledger_rows(configured(sample_copy)) == 0


def test_a_login_in_smtp_url_is_refused_in_the_file_as_on_the_command_line(
        cli: RunCli, sample_copy: Path, secret: None) -> None:
    configure(sample_copy, '[delivery]\nsmtp_url = "smtp://user:pw@host"\n')
    code, _, err = cli("send", ISSUE, "--yes", "--root", str(sample_copy))
    assert code == 1
    assert "newsletter.toml:" in err and "must not carry a login" in err, err


# ---------------------------------------------------------------------- the outbox


def test_an_outbox_with_a_file_in_the_way_is_a_clear_error(cli: RunCli, sample_copy: Path,
                                                           secret: None) -> None:
    add_people(sample_copy, many(3))
    in_the_way = sample_copy / "outbox"
    in_the_way.write_text("not a folder\n", encoding="utf-8")
    for folder in (in_the_way, in_the_way / "inside"):
        code, _, err = cli("send", ISSUE, "--yes", "--root", str(sample_copy), "--outbox",
                           str(folder))
        assert code == 1, err
        assert f"{folder}: cannot use this folder as the outbox" in err, err
        assert "nothing was sent" in err and "Traceback" not in err
    assert in_the_way.read_text(encoding="utf-8") == "not a folder\n"
    assert ledger_rows(configured(sample_copy)) == 0


def test_serve_with_an_outbox_that_cannot_be_made_is_a_clear_error(
        cli: RunCli, sample_copy: Path, secret: None) -> None:
    (sample_copy / "mail").write_text("in the way\n", encoding="utf-8")
    configure(sample_copy, '[delivery]\noutbox = "mail"\n')
    code, out, err = cli("serve", "--root", str(sample_copy), "--port", "0")
    assert code == 1, out + err
    assert "mail: cannot use this folder as the outbox" in err and "(a file is in the way)" in err
    assert "Traceback" not in err and "serving" not in out


def test_temporary_files_of_a_killed_writer_are_cleaned_on_the_next_run(
        cli: RunCli, sample_copy: Path, secret: None) -> None:
    people = add_people(sample_copy, many(3))
    outbox = sample_copy / "outbox"
    outbox.mkdir()
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    dead_pid = int(gone.stdout)
    left = outbox / f".abc@example.org.eml.{dead_pid}.140000.tmp"
    left.write_bytes(b"From: half a message")
    alive = outbox / ".def@example.org.eml.1.1.tmp"  # process 1 (init) always runs
    alive.write_bytes(b"being written")
    code, _, err = cli("send", ISSUE, "--yes", "--root", str(sample_copy), "--outbox", str(outbox))
    assert code == 0, err
    assert not left.exists(), "the killed writer's temporary file was left behind"
    assert alive.exists(), "a temporary file of a running process was removed"
    assert len(list(outbox.glob("*.eml"))) == len(people)


# ---------------------------------------------------------------------- a damaged database


def _garble(path: Path, start: int, end: int) -> None:
    data = bytearray(path.read_bytes())
    data[start:end] = b"Z" * (end - start)
    path.write_bytes(bytes(data))


@pytest.fixture
def sqlite_copy(sample_copy: Path) -> Path:
    """The sample newsletter with 500 subscribers in its SQLite file (checkpointed, closed)."""
    add_people(sample_copy, many(500))
    with sqlite3.connect(sample_copy / "subscribers.sqlite3") as db:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return sample_copy


@pytest.mark.parametrize("where", [(100, 4096), (3 * 4096, 6 * 4096)],
                         ids=["schema page", "data pages"])
def test_a_damaged_sqlite_file_says_which_file_and_that_nothing_was_sent(
        cli: RunCli, sqlite_copy: Path, sink: SmtpSink, secret: None,
        where: tuple[int, int]) -> None:
    database = sqlite_copy / "subscribers.sqlite3"
    _garble(database, *where)
    code, _, err = cli("send", ISSUE, "--yes", "--root", str(sqlite_copy), "--smtp", sink.url)
    assert code == 1, err
    assert f"{database}: " in err and "is damaged" in err, err
    assert "malformed" in err and "nothing was sent" in err and "restore it" in err
    assert "Traceback" not in err and "sqlite3." not in err
    assert sink.count() == 0


def test_a_sqlite_file_missing_a_table_says_so(cli: RunCli, sqlite_copy: Path, sink: SmtpSink,
                                               secret: None) -> None:
    database = sqlite_copy / "subscribers.sqlite3"
    with sqlite3.connect(database) as db:
        db.execute("DROP TABLE deliveries")
    code, _, err = cli("send", ISSUE, "--yes", "--root", str(sqlite_copy), "--smtp", sink.url)
    assert code == 1, err
    assert f"{database}: the subscriber database is incomplete: it has no table deliveries" \
        in err, err
    assert "nothing was sent" in err and "Traceback" not in err
    assert sink.count() == 0
    code, _, err = cli("subscribers", "list", "--root", str(sqlite_copy))
    assert code == 1 and "no table deliveries" in err and "Traceback" not in err


def test_a_file_that_is_not_a_database_says_so(cli: RunCli, sample_copy: Path,
                                               secret: None) -> None:
    (sample_copy / "subscribers.sqlite3").write_bytes(b"name,email\nAda,ada@example.org\n" * 200)
    code, _, err = cli("send", ISSUE, "--yes", "--root", str(sample_copy), "--outbox",
                       str(sample_copy / "out"))
    assert code == 1, err
    assert "subscribers.sqlite3: " in err and "not a database" in err, err
    assert "nothing was sent" in err and "Traceback" not in err
    assert not (sample_copy / "out").exists()


def test_a_database_missing_a_table_says_so_on_either_backend(
        cli: RunCli, sample_copy: Path, databases: Databases, sink: SmtpSink,
        secret: None) -> None:
    db = databases.attach(sample_copy)
    add_people(sample_copy, many(5))
    rows(db, "DROP TABLE deliveries")
    code, _, err = cli("send", ISSUE, "--yes", "--root", str(sample_copy), "--smtp", sink.url)
    assert code == 1, err
    assert "is incomplete" in err and "deliveries" in err, err
    assert "nothing was sent" in err and "Traceback" not in err
    assert sink.count() == 0
