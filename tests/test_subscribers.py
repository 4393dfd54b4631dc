"""The subscriber store and ``newsletter subscribers``: add, list, export, import, remove,
normalisation, all-or-nothing CSV imports, the schema and its failures.

Every test that touches a store runs on SQLite and on PostgreSQL (the ``databases`` and
``database`` fixtures); those about the SQLite file itself (WAL, a corrupt file) on SQLite only.
"""

from __future__ import annotations

import csv
import io
import random
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from pipeline.databases import Database
from pipeline.errors import PipelineError
from pipeline.store import MIGRATIONS, NewSubscriber, Store, open_store
from pipeline.store.sqlite import SqliteStore
from pipeline.subscribers import AddressError, normalise

from .conftest import RunCli, Scratch
from .databases import Databases, configured, dump, rows, schema_version, set_schema_version, tables

NOW = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)


def sub(cli: RunCli, root: Path, *args: str) -> tuple[int, str, str]:
    """``newsletter subscribers ARGS --root ROOT``."""
    return cli("subscribers", *args, "--root", str(root))


def export_rows(cli: RunCli, root: Path, *args: str) -> list[dict[str, str]]:
    code, out, err = sub(cli, root, "export", *args)
    assert code == 0, err
    return list(csv.DictReader(io.StringIO(out)))


@pytest.fixture
def root(scratch: Scratch, databases: Databases) -> Path:
    """A scratch newsletter on each backend (its default SQLite file, or PostgreSQL)."""
    databases.attach(scratch.root)
    return scratch.root


@pytest.fixture
def stored(root: Path) -> Database:
    """The database the scratch newsletter is configured with."""
    return configured(root)


@pytest.fixture
def store(database: Database) -> Iterator[Store]:
    opened = open_store(database)
    yield opened
    opened.close()


# ---------------------------------------------------------------------- add, list, export, remove


def test_add_list_export_remove(cli: RunCli, root: Path) -> None:
    code, out, err = sub(cli, root, "add", "ada@example.org", "--name", "Ada Lovelace")
    assert code == 0, err
    assert out.strip() == "added: ada@example.org (active)"
    code, out, err = sub(cli, root, "add", "grace@example.org", "--status", "pending",
                         "--source", "signed up at the summer fair")
    assert code == 0, err

    code, out, err = sub(cli, root, "list")
    assert code == 0, err
    lines = out.splitlines()
    assert len(lines) == 2
    assert lines[0].split() == ["ada@example.org", "active", "Ada", "Lovelace"]
    assert lines[1].split() == ["grace@example.org", "pending"]
    assert "2 subscribers" in err

    code, out, _ = sub(cli, root, "list", "--status", "pending")
    assert [line.split()[0] for line in out.splitlines()] == ["grace@example.org"]

    rows = export_rows(cli, root)
    assert [r["email"] for r in rows] == ["ada@example.org", "grace@example.org"]
    assert rows[0]["name"] == "Ada Lovelace" and rows[0]["status"] == "active"
    assert rows[1]["consent_source"] == "signed up at the summer fair"
    assert rows[1]["consent_at"] and rows[1]["created_at"] and rows[1]["updated_at"]
    assert [r["email"] for r in export_rows(cli, root, "--status", "active")] == \
        ["ada@example.org"]

    code, out, err = sub(cli, root, "remove", "ADA@EXAMPLE.ORG")
    assert code == 0, err
    assert out.startswith("removed ") and "ada@example.org" in out.lower()
    assert [r["email"] for r in export_rows(cli, root)] == ["grace@example.org"]

    code, _, err = sub(cli, root, "remove", "ada@example.org")  # a problem of the run
    assert code == 1 and "not a subscriber" in err


def test_export_to_a_file(cli: RunCli, root: Path, tmp_path: Path) -> None:
    sub(cli, root, "add", "ada@example.org")
    target = tmp_path / "out.csv"
    code, out, err = sub(cli, root, "export", "--out", str(target))
    assert code == 0, err
    assert out == "" and "exported 1 subscribers" in err
    rows = list(csv.DictReader(io.StringIO(target.read_text(encoding="utf-8"))))
    assert [r["email"] for r in rows] == ["ada@example.org"]


def test_db_option_overrides_the_configured_database(cli: RunCli, root: Path,
                                                     databases: Databases) -> None:
    other = databases.new("elsewhere/people")
    code, _, err = sub(cli, root, "add", "ada@example.org", "--db", str(other))
    assert code == 0, err
    if isinstance(other, Path):
        assert other.is_file()
        assert not (root / "subscribers.sqlite3").exists()
    assert export_rows(cli, root) == []
    assert [r["email"] for r in export_rows(cli, root, "--db", str(other))] == \
        ["ada@example.org"]


# ---------------------------------------------------------------------- normalisation


@pytest.mark.parametrize(("given", "expected"), [
    ("  Ada@EXAMPLE.ORG ", "Ada@example.org"),
    ("grace@Example.Com", "grace@example.com"),
    ("user@BÜCHER.example", "user@bücher.example"),
])
def test_normalise_lowercases_the_domain(given: str, expected: str) -> None:
    assert normalise(given) == expected


@pytest.mark.parametrize("bad", ["", "not-an-address", "a@b@example.org", "ada@",
                                 "ada@example.org\r\nBcc: eve@example.org", "ada @example.org"])
def test_normalise_rejects_bad_addresses(bad: str) -> None:
    with pytest.raises(AddressError):
        normalise(bad)


def test_duplicates_are_merged_case_insensitively(cli: RunCli, root: Path) -> None:
    assert sub(cli, root, "add", "Ada@EXAMPLE.org", "--name", "Ada")[0] == 0
    code, out, err = sub(cli, root, "add", "ada@example.ORG", "--name", "Someone Else")
    assert code == 0, err
    assert out.strip() == "already subscribed: Ada@example.org (active)"
    rows = export_rows(cli, root)
    assert [(r["email"], r["name"]) for r in rows] == [("Ada@example.org", "Ada")]


def test_add_rejects_an_invalid_address(cli: RunCli, root: Path) -> None:
    code, _, err = sub(cli, root, "add", "not-an-address")
    assert code == 2
    assert "not-an-address" in err and "Traceback" not in err
    assert export_rows(cli, root) == []


def test_add_strips_control_characters_from_names(cli: RunCli, root: Path) -> None:
    code, _, err = sub(cli, root, "add", "ada@example.org", "--name", "Ada\r\nBcc: x@y.org\t")
    assert code == 0, err
    assert export_rows(cli, root)[0]["name"] == "Ada Bcc: x@y.org"


# ---------------------------------------------------------------------- CSV import


def write_csv_file(folder: Path, name: str, text: str, bom: bool = False) -> Path:
    path = folder / name
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.encode("utf-8"))
    return path


def test_import_mailchimp_export(cli: RunCli, root: Path, tmp_path: Path,
                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    path = write_csv_file(tmp_path, "members_export.csv", (
        "Email Address,First Name,Last Name,MEMBER_RATING,OPTIN_TIME,CONFIRM_TIME\r\n"
        "ada@example.org,Ada,Lovelace,2,2026-01-02 10:00:00,2026-01-02 10:05:00\r\n"
        "GRACE@Example.ORG,Grace,,1,2026-02-03 11:00:00,\r\n"
        '"alan@example.org","Alan ""Prof""",Turing,1,,\r\n'
        "\r\n"
    ), bom=True)
    code, out, err = sub(cli, root, "import", str(path))
    assert code == 0, err
    assert "imported 3 subscribers; 0 already known" in out
    rows = {r["email"]: r for r in export_rows(cli, root)}
    assert set(rows) == {"ada@example.org", "GRACE@example.org", "alan@example.org"}
    assert rows["ada@example.org"]["name"] == "Ada Lovelace"
    assert rows["GRACE@example.org"]["name"] == "Grace"
    assert rows["alan@example.org"]["name"] == 'Alan "Prof" Turing'
    assert rows["ada@example.org"]["consent_at"] == "2026-01-02 10:00:00"
    assert all(r["status"] == "active" for r in rows.values())
    assert rows["ada@example.org"]["consent_source"] == "import: members_export.csv"


def test_import_email_name_with_source_and_known_addresses(cli: RunCli, root: Path,
                                                           tmp_path: Path) -> None:
    sub(cli, root, "add", "ada@example.org", "--name", "Ada")
    path = write_csv_file(tmp_path, "people.csv",
                          "email,name\nADA@example.org,Ada Again\nbob@example.net,Bob\n")
    code, out, err = sub(cli, root, "import", str(path), "--source", "workshop sign-up sheet")
    assert code == 0, err
    assert "imported 1 subscriber; 1 already known were left as they were" in out
    rows = {r["email"]: r for r in export_rows(cli, root)}
    assert rows["ada@example.org"]["name"] == "Ada"  # left as it was
    assert rows["bob@example.net"]["consent_source"] == "workshop sign-up sheet"


def test_import_maps_status_words(cli: RunCli, root: Path, tmp_path: Path) -> None:
    path = write_csv_file(tmp_path, "s.csv", "email,status\na@example.org,subscribed\n"
                          "b@example.org,unsubscribed\nc@example.org,cleaned\n"
                          "d@example.org,pending\n")
    assert sub(cli, root, "import", str(path))[0] == 0
    rows = {r["email"]: r["status"] for r in export_rows(cli, root)}
    assert rows == {"a@example.org": "active", "b@example.org": "unsubscribed",
                    "c@example.org": "bounced", "d@example.org": "pending"}


def test_invalid_rows_are_reported_and_nothing_is_imported(
    cli: RunCli, root: Path, stored: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    sub(cli, root, "add", "kept@example.org")
    before = dump(stored)
    assert before
    path = write_csv_file(tmp_path, "bad.csv", (
        "email,name,status\n"
        "good@example.org,Good,active\n"       # 2
        "not-an-address,Bad,active\n"          # 3
        "also@good.example.org,Fine,\n"        # 4
        "two@@example.org,Bad too,\n"          # 5
        "status@example.org,Odd,maybe\n"       # 6
    ))
    code, out, err = sub(cli, root, "import", str(path))
    assert code == 1
    assert out == ""
    errors = [line for line in err.splitlines() if ": error: " in line]
    assert [line.split(": error: ")[0] for line in errors] == ["bad.csv:3", "bad.csv:5",
                                                               "bad.csv:6"]
    assert "not-an-address" in errors[0] and "maybe" in errors[2]
    assert "nothing was imported" in err
    assert "Traceback" not in err
    assert dump(stored) == before


def test_duplicates_in_the_file_are_merged_with_a_note(
    cli: RunCli, root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    path = write_csv_file(tmp_path, "dups.csv", "email,name\nada@example.org,First\n"
                          "bob@example.org,Bob\nADA@Example.org,Second\n")
    code, out, err = sub(cli, root, "import", str(path))
    assert code == 0, err
    assert "imported 2 subscribers" in out
    notes = [line for line in err.splitlines() if ": note: " in line]
    assert len(notes) == 1
    assert notes[0].startswith("dups.csv:4: note: ") and "twice" in notes[0]
    rows = export_rows(cli, root)
    assert [(r["email"], r["name"]) for r in rows] == [("ada@example.org", "First"),
                                                      ("bob@example.org", "Bob")]


@pytest.mark.parametrize(("content", "message"), [
    (b"", "empty"),
    (b"name,phone\nAda,123\n", "no email column"),
    (b"email\n\xff\xfeada@example.org\n", "not UTF-8"),
])
def test_unusable_files_are_refused(cli: RunCli, root: Path, tmp_path: Path, content: bytes,
                                    message: str) -> None:
    path = tmp_path / "broken.csv"
    path.write_bytes(content)
    code, _, err = sub(cli, root, "import", str(path))
    assert code == 1
    assert message in err and "Traceback" not in err
    assert export_rows(cli, root) == []


def test_import_of_a_missing_file_is_a_usage_error(cli: RunCli, root: Path,
                                                   tmp_path: Path) -> None:
    code, _, err = sub(cli, root, "import", str(tmp_path / "nope.csv"))
    assert code == 2 and "no such file" in err


def test_store_import_is_one_transaction(store: Store) -> None:
    def rows() -> Iterator[NewSubscriber]:
        yield NewSubscriber("a@example.org", None, "active", None, "test")
        yield NewSubscriber("b@example.org", None, "active", None, "test")
        raise RuntimeError("the disk went away")

    with pytest.raises(RuntimeError):
        store.import_many(rows(), NOW)
    assert store.count() == 0
    added, known = store.import_many(
        [NewSubscriber("a@example.org", None, "active", None, "test")], NOW)
    assert (added, known) == (1, 0)


# ---------------------------------------------------------------------- export round trip


ROUND_TRIP = (
    "email,name,status,consent_at\n"
    'ada@example.org,"Lovelace, Ada",active,2026-01-02T10:00:00+00:00\n'
    "björn@exämple.org,Björn Ünal,unsubscribed,\n"
    'q@example.org,"Quote ""Q"" Person",bounced,2025-05-05\n'
    "p@example.org,,pending,\n"
)


def test_export_round_trips(cli: RunCli, root: Path, tmp_path: Path,
                            databases: Databases) -> None:
    source = write_csv_file(tmp_path, "start.csv", ROUND_TRIP)
    assert sub(cli, root, "import", str(source))[0] == 0
    first = tmp_path / "first.csv"
    assert sub(cli, root, "export", "--out", str(first))[0] == 0

    other_db = databases.new("other")
    code, _, err = sub(cli, root, "import", str(first), "--db", str(other_db))
    assert code == 0, err
    second = tmp_path / "second.csv"
    assert sub(cli, root, "export", "--out", str(second), "--db", str(other_db))[0] == 0

    def people(path: Path) -> list[tuple[str, ...]]:
        rows = csv.DictReader(io.StringIO(path.read_text(encoding="utf-8")))
        return [(r["email"], r["name"], r["status"], r["consent_at"]) for r in rows]

    assert people(first) == people(second)
    assert people(first) == [
        ("ada@example.org", "Lovelace, Ada", "active", "2026-01-02T10:00:00+00:00"),
        ("björn@exämple.org", "Björn Ünal", "unsubscribed", ""),
        ("q@example.org", 'Quote "Q" Person', "bounced", "2025-05-05"),
        ("p@example.org", "", "pending", ""),
    ]


def test_export_round_trip_keeps_how_consent_was_given(cli: RunCli, root: Path, tmp_path: Path,
                                                       databases: Databases) -> None:
    """Moving subscribers to another database must not lose the record of their consent."""
    sub(cli, root, "add", "ada@example.org", "--source", "asked at the summer fair")
    first = tmp_path / "first.csv"
    assert sub(cli, root, "export", "--out", str(first))[0] == 0
    other_db = databases.new("other")
    assert sub(cli, root, "import", str(first), "--db", str(other_db))[0] == 0
    rows = export_rows(cli, root, "--db", str(other_db))
    assert rows[0]["consent_source"] == "asked at the summer fair"


# ---------------------------------------------------------------------- schema and failures


def test_fresh_database_is_migrated(database: Database) -> None:
    assert tables(database) <= {"schema_version"}
    open_store(database).close()
    assert schema_version(database) == len(MIGRATIONS)
    assert {"subscribers", "sends", "deliveries", "events"} <= tables(database)


def test_fresh_sqlite_database_is_in_wal_mode(tmp_path: Path) -> None:
    path = tmp_path / "new" / "subs.sqlite3"
    SqliteStore(path).close()
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_reopening_keeps_data_and_version(database: Database) -> None:
    first = open_store(database)
    first.add(NewSubscriber("ada@example.org", "Ada", "active", None, "test"), NOW)
    first.close()
    again = open_store(database)
    try:
        person = again.get("ADA@example.org")
        assert person is not None and person.name == "Ada"
        assert person.created_at == "2026-12-01T09:30:00+00:00"
    finally:
        again.close()
    assert schema_version(database) == len(MIGRATIONS)


def test_database_from_a_newer_version_is_a_clear_error(cli: RunCli, root: Path,
                                                        stored: Database) -> None:
    open_store(stored).close()
    set_schema_version(stored, len(MIGRATIONS) + 1)
    with pytest.raises(PipelineError, match="newer than this pipeline"):
        open_store(stored)
    code, _, err = sub(cli, root, "list")
    assert code == 1
    assert f"schema version {len(MIGRATIONS) + 1}" in err and "upgrade" in err
    assert "Traceback" not in err


def test_corrupt_database_is_a_clear_error(cli: RunCli, scratch: Scratch) -> None:
    root = scratch.root
    path = root / "subscribers.sqlite3"
    path.write_bytes(random.Random(4).randbytes(8192))
    with pytest.raises(PipelineError, match="cannot open the subscriber database"):
        SqliteStore(path)
    for args in (("list",), ("add", "ada@example.org"), ("export",)):
        code, _, err = sub(cli, root, *args)
        assert code == 1, args
        assert "subscribers.sqlite3: cannot open the subscriber database" in err
        assert "Traceback" not in err


def test_store_statuses_and_counts(store: Store) -> None:
    ada, created = store.add(NewSubscriber("ada@example.org", None, "active", None, "t"), NOW)
    assert created
    again, created = store.add(NewSubscriber("ADA@example.org", "X", "active", None, "t"), NOW)
    assert not created and again.id == ada.id
    store.add(NewSubscriber("bob@example.org", None, "pending", None, "t"), NOW)
    store.set_status(ada.id, "unsubscribed", NOW)
    assert store.count() == 2
    assert store.count("active") == 0
    assert store.count("unsubscribed") == 1
    assert [s.email for s in store.subscribers("pending")] == ["bob@example.org"]
    assert store.remove("ada@example.org")
    assert not store.remove("ada@example.org")
    assert store.get_by_id(ada.id) is None


# ---------------------------------------------------------------------- double opt-in in the store


def test_request_confirm_unsubscribe_and_the_consent_history(store: Store) -> None:
    later = NOW.replace(hour=10)
    person, before = store.request("ada@example.org", "Ada", "web form", NOW)
    assert before is None and person.status == "pending" and person.consent_at is None
    again, before = store.request("ada@example.org", None, "web form", NOW)
    assert (again.id, again.status, before) == (person.id, "pending", "pending")

    assert store.confirm(person.id, "confirmed by email link", later) is True
    active = store.get("ada@example.org")
    assert active is not None and active.status == "active"
    assert (active.consent_at, active.consent_source) == (later.isoformat(),
                                                          "confirmed by email link")
    assert store.confirm(person.id, "again", later) is False  # only a pending address confirms

    _, before = store.request("ada@example.org", None, "web form", later)
    assert before == "active" and store.get("ada@example.org").status == "active"  # type: ignore[union-attr]

    assert store.unsubscribe(person.id, "one-click", later) is True
    assert store.unsubscribe(person.id, "one-click", later) is False
    assert store.get("ada@example.org").status == "unsubscribed"  # type: ignore[union-attr]

    back, before = store.request("ada@example.org", None, "web form", later)
    assert (back.status, before) == ("pending", "unsubscribed")
    assert [(e.kind, e.detail) for e in store.history(person.id)] == [
        ("requested", "web form"), ("requested", "web form"),
        ("confirmed", "confirmed by email link"), ("requested", "web form"),
        ("unsubscribed", "one-click"), ("requested", "web form")]
    assert store.history(person.id)[0].at == NOW.isoformat()


def test_erasure_removes_the_consent_history(store: Store, database: Database) -> None:
    person, _ = store.request("ada@example.org", None, "web form", NOW)
    store.confirm(person.id, "link", NOW)
    assert rows(database, "SELECT count(*) FROM events") == [(2,)]
    assert store.remove("ada@example.org")
    assert store.history(person.id) == []
    assert rows(database, "SELECT count(*) FROM events") == [(0,)]


def test_unknown_subscribers_neither_confirm_nor_leave(store: Store) -> None:
    assert store.confirm(999, "x", NOW) is False
    assert store.unsubscribe(999, "x", NOW) is False


def test_addresses_fold_ascii_case_only_on_every_backend(store: Store) -> None:
    """SQLite's NOCASE folds A-Z only; PostgreSQL must match it, not fold more or less."""
    store.add(NewSubscriber("Björn@example.org", None, "active", None, "t"), NOW)
    assert store.get("BJöRN@example.org") is not None  # ASCII letters fold
    assert store.get("bJÖrn@example.org") is None  # Ö is not ö: a different address
    _, created = store.add(NewSubscriber("BJÖRN@example.org", None, "active", None, "t"), NOW)
    assert created and store.count() == 2
    assert store.remove("bjöRN@example.org")
    assert [s.email for s in store.subscribers()] == ["BJÖRN@example.org"]
