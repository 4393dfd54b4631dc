"""The iCalendar export: ``ics.calendar_file`` and ``newsletter calendar --ics FILE``."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from icalendar import Calendar, Component

from pipeline import ics
from pipeline.seasons import CalendarEntry, IssueId, calendar

from .conftest import AS_OF_EPOCH, RunCli

STAMP = datetime(2026, 10, 1, 12, 30, tzinfo=UTC)
LONDON = ZoneInfo("Europe/London")


def entries(start: date = date(2026, 11, 1), count: int = 4) -> list[CalendarEntry]:
    return calendar(start, count, LONDON, 14, "neutral")


def make(found: list[CalendarEntry], *, title: str = "Ethics & Society",
         domain: str = "ethics.example.org", stamp: datetime = STAMP) -> bytes:
    return ics.calendar_file(found, newsletter_title=title, uid_domain=domain, stamp=stamp)


def events(data: bytes) -> dict[str, Component]:
    """The events of an iCalendar file by UID, parsed back with the library."""
    cal = Calendar.from_ical(data)
    found = {str(e["UID"]): e for e in cal.walk("VEVENT")}
    assert len(found) == len(cal.walk("VEVENT")), "every UID is unique"
    return found


def test_calendar_has_its_name_version_and_product() -> None:
    cal = Calendar.from_ical(make(entries()))
    assert cal.name == "VCALENDAR"
    assert str(cal["VERSION"]) == "2.0"
    assert str(cal["PRODID"]) == ics.PRODID
    assert str(cal["X-WR-CALNAME"]) == "Ethics & Society: publication calendar"


def test_one_publication_and_one_deadline_event_per_issue() -> None:
    found = entries(count=4)
    parsed = events(make(found))
    assert len(parsed) == 8
    ids = ["2026-12-solstice", "2027-03-equinox", "2027-06-solstice", "2027-09-equinox"]
    assert [str(e.issue_id) for e in found] == ids
    assert set(parsed) == {f"{i}-{kind}@ethics.example.org"
                           for i in ids for kind in ("publication", "deadline")}


def test_publication_event_is_at_the_moment_in_utc() -> None:
    found = entries(count=1)[0]
    event = events(make([found]))["2026-12-solstice-publication@ethics.example.org"]
    start = event.decoded("DTSTART")
    assert isinstance(start, datetime)
    assert start == IssueId(2026, 12).moment()
    assert start.utcoffset() == timedelta(0)
    assert b"DTSTART:20261221T" in event.to_ical() and b"Z\r\n" in event.to_ical()
    assert timedelta(0) <= event.decoded("DTEND") - start <= timedelta(hours=1)
    assert str(event["SUMMARY"]) == "Ethics & Society: December Solstice 2026 published"
    assert "2026-12-solstice" in str(event["DESCRIPTION"])
    assert event.decoded("DTSTAMP") == STAMP


def test_deadline_is_an_all_day_event_on_the_deadline() -> None:
    found = entries(count=1)[0]
    assert found.deadline == date(2026, 12, 7)  # 14 days before the 21st
    event = events(make([found]))["2026-12-solstice-deadline@ethics.example.org"]
    start, end = event.decoded("DTSTART"), event.decoded("DTEND")
    assert type(start) is date and start == date(2026, 12, 7)
    assert type(end) is date and end == date(2026, 12, 8)
    assert str(event["SUMMARY"]) == "Ethics & Society: December Solstice 2026 submissions close"
    assert "2026-12-solstice" in str(event["DESCRIPTION"])


def test_the_same_input_gives_the_same_bytes() -> None:
    assert make(entries()) == make(entries())


def test_uids_are_stable_across_runs_stamps_and_ranges() -> None:
    early = events(make(entries(date(2026, 11, 1), 4), stamp=STAMP))
    later = events(make(entries(date(2027, 1, 1), 4), stamp=STAMP + timedelta(days=40)))
    shared = set(early) & set(later)
    # Three issues are in both ranges; the same issue and kind keeps its UID.
    assert {uid.split("@")[0].rsplit("-", 1)[0] for uid in shared} == {
        "2027-03-equinox", "2027-06-solstice", "2027-09-equinox"}
    for uid in shared:
        assert early[uid].decoded("DTSTART") == later[uid].decoded("DTSTART")
        assert early[uid].decoded("DTSTAMP") != later[uid].decoded("DTSTAMP")


def test_the_stamp_is_given_in_utc_whatever_its_zone() -> None:
    local = STAMP.astimezone(ZoneInfo("America/New_York"))
    data = make(entries(count=1), stamp=local)
    assert b"DTSTAMP:20261001T123000Z" in data


def test_special_characters_in_the_title_round_trip() -> None:
    title = "Ethics, Society; & more: a \"newsletter\"\\"
    parsed = events(make(entries(count=1), title=title))
    event = parsed["2026-12-solstice-publication@ethics.example.org"]
    assert str(event["SUMMARY"]) == f"{title}: December Solstice 2026 published"


def test_lines_are_crlf_and_folded() -> None:
    data = make(entries(count=4), title="A newsletter with a rather long name " * 3)
    lines = data.split(b"\r\n")
    assert data.endswith(b"END:VCALENDAR\r\n")
    assert all(len(line) <= 75 for line in lines)
    assert b"\n" not in data.replace(b"\r\n", b"")


def test_no_entries_gives_an_empty_but_valid_calendar() -> None:
    cal = Calendar.from_ical(make([]))
    assert cal.walk("VEVENT") == []
    assert str(cal["VERSION"]) == "2.0"


# --------------------------------------------------------------------------- the command


def test_cli_writes_an_ics_file_that_parses(cli: RunCli, sample_copy: Path,
                                            tmp_path: Path) -> None:
    target = tmp_path / "cal.ics"
    code, out, err = cli("calendar", "--from", "2026-11-01", "--count", "4", "--ics",
                         str(target), "--root", str(sample_copy))
    assert code == 0, err
    assert "2026-12-solstice" in out
    assert "wrote" in err and "4 issues" in err
    parsed = events(target.read_bytes())
    assert len(parsed) == 8
    # The UID domain is the host of base_url; the calendar is named after the newsletter.
    assert "2026-12-solstice-publication@ethics.example.org" in parsed
    assert "Ethics & Society" in str(Calendar.from_ical(target.read_bytes())["X-WR-CALNAME"])
    # DTSTAMP is the run's "now" (SOURCE_DATE_EPOCH in the tests), not the machine's clock.
    stamp = datetime.fromtimestamp(int(AS_OF_EPOCH), UTC)
    assert all(e.decoded("DTSTAMP") == stamp for e in parsed.values())


def test_cli_twice_gives_the_same_file(cli: RunCli, sample_copy: Path, tmp_path: Path) -> None:
    target = tmp_path / "cal.ics"
    args = ("calendar", "--from", "2026-11-01", "--count", "4", "--ics", str(target),
            "--root", str(sample_copy))
    assert cli(*args)[0] == 0
    first = target.read_bytes()
    assert cli(*args)[0] == 0
    assert target.read_bytes() == first


def test_cli_without_a_newsletter_uses_a_placeholder_domain(cli: RunCli,
                                                            tmp_path: Path) -> None:
    root = tmp_path / "empty"
    root.mkdir()
    target = tmp_path / "cal.ics"
    code, _, err = cli("calendar", "--from", "2026-11-01", "--count", "2", "--ics",
                       str(target), "--root", str(root))
    assert code == 0, err
    assert set(events(target.read_bytes())) == {
        "2026-12-solstice-publication@newsletter.invalid",
        "2026-12-solstice-deadline@newsletter.invalid",
        "2027-03-equinox-publication@newsletter.invalid",
        "2027-03-equinox-deadline@newsletter.invalid",
    }


def test_cli_creates_missing_folders(cli: RunCli, sample_copy: Path, tmp_path: Path) -> None:
    # The CLI writes through write_all, which creates the folders of the target.
    target = tmp_path / "not" / "yet" / "cal.ics"
    code, _, err = cli("calendar", "--count", "1", "--ics", str(target),
                       "--root", str(sample_copy))
    assert code == 0, err
    assert len(events(target.read_bytes())) == 2


@pytest.mark.parametrize("where", ["file-as-folder", "existing-folder"])
def test_cli_bad_ics_path_is_a_clear_error(cli: RunCli, sample_copy: Path, tmp_path: Path,
                                           where: str) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder", encoding="utf-8")
    target = blocker / "cal.ics" if where == "file-as-folder" else tmp_path
    code, out, err = cli("calendar", "--count", "1", "--ics", str(target),
                         "--root", str(sample_copy))
    if where == "existing-folder":  # bad usage: a folder given where a file is meant
        assert code == 2 and "give the path of a file" in err
    else:
        assert code == 1
        assert err.startswith("error: ") and "cannot write" in err
    assert "Traceback" not in err + out
    assert blocker.read_text(encoding="utf-8") == "not a folder"
