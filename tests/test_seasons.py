"""Issue ids, equinox and solstice moments, publication days and the ``calendar`` command.

Every expected value is written out here. Nothing reads the machine's clock, locale or time
zone: each calendar call and each CLI run passes an explicit ``today`` / ``--from`` and zone.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from itertools import pairwise
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from pipeline.seasons import IssueId, IssueIdError, Naming, calendar, next_issue

from .conftest import RunCli, Scratch

TOLERANCE = timedelta(minutes=2)

# Published moments, in UT, rounded to the minute by the publisher.
#
# USNO: US Naval Observatory, Astronomical Applications Department, "Earth's Seasons:
# Equinoxes, Solstices, Perihelion, and Aphelion" (aa.usno.navy.mil/data/Earth_Seasons and
# its API, api/seasons?year=YYYY), times in UT. Read from the year-by-year USNO download
# kept in github.com/cosinekitty/astronomy, generate/seasons/seasons.txt (commit b3ff85df),
# which that project tests against. The 2024 rows and 2026-09 are the USNO values quoted in
# the specification of these tests; the 2000 rows agree, within a minute, with an independent
# UT list for 1992-2003 (astrologycom.com/solstinox.html).
# Future moments are predictions: a UT time needs a forecast of Delta T = TT - UT (USNO's
# 2100 rows imply about 100 s), so two sources with different forecasts drift apart by the
# difference, about a minute by the 2080s and two by 2100.
USNO = "USNO Earth's Seasons (UT)"
PUBLISHED_MOMENTS: list[tuple[str, str, str]] = [
    ("1950-03-equinox", "1950-03-21T04:35", USNO),
    ("1950-09-equinox", "1950-09-23T14:43", USNO),
    ("1955-12-solstice", "1955-12-22T15:11", USNO),
    ("1958-06-solstice", "1958-06-21T21:57", USNO),
    ("1971-03-equinox", "1971-03-21T06:38", USNO),
    ("1976-06-solstice", "1976-06-21T06:24", USNO),
    ("1977-12-solstice", "1977-12-21T23:23", USNO),
    ("1979-09-equinox", "1979-09-23T15:16", USNO),
    ("2000-03-equinox", "2000-03-20T07:35", USNO),
    ("2000-06-solstice", "2000-06-21T01:48", USNO),
    ("2000-09-equinox", "2000-09-22T17:28", USNO),
    ("2000-12-solstice", "2000-12-21T13:37", USNO),
    ("2024-03-equinox", "2024-03-20T03:06", USNO),
    ("2024-06-solstice", "2024-06-20T20:51", USNO),
    ("2024-09-equinox", "2024-09-22T12:44", USNO),
    ("2024-12-solstice", "2024-12-21T09:20", USNO),
    ("2026-03-equinox", "2026-03-20T14:46", USNO),
    ("2026-06-solstice", "2026-06-21T08:24", USNO),
    ("2026-09-equinox", "2026-09-23T00:05", USNO),
    ("2026-12-solstice", "2026-12-21T20:50", USNO),
    ("2052-03-equinox", "2052-03-19T21:56", USNO),
    ("2053-12-solstice", "2053-12-21T10:10", USNO),
    ("2056-06-solstice", "2056-06-20T14:28", USNO),
    ("2059-09-equinox", "2059-09-23T00:03", USNO),
    ("2080-12-solstice", "2080-12-20T23:33", USNO),
    ("2084-09-equinox", "2084-09-22T01:00", USNO),
    ("2088-03-equinox", "2088-03-19T15:18", USNO),
    ("2089-06-solstice", "2089-06-20T13:44", USNO),
    ("2100-03-equinox", "2100-03-20T13:05", USNO),
    ("2100-06-solstice", "2100-06-21T05:33", USNO),
    ("2100-09-equinox", "2100-09-22T22:02", USNO),
    ("2100-12-solstice", "2100-12-21T19:52", USNO),
]


def utc(text: str) -> datetime:
    """``2026-09-23T00:05`` as an aware UTC datetime."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


# --- 1. The moment of each equinox and solstice ------------------------------------------


@pytest.mark.parametrize(
    ("issue", "published", "source"),
    PUBLISHED_MOMENTS,
    ids=[row[0] for row in PUBLISHED_MOMENTS],
)
def test_moment_matches_published_value(issue: str, published: str, source: str) -> None:
    moment = IssueId.parse(issue).moment()
    delta = moment - utc(published)
    assert abs(delta) <= TOLERANCE, (
        f"{issue}: computed {moment:%Y-%m-%d %H:%M:%S} UTC, {source} gives {published} UTC "
        f"({delta.total_seconds():+.0f} s)"
    )


def test_moment_is_whole_seconds_in_utc() -> None:
    moment = IssueId(2026, 9).moment()
    assert moment.utcoffset() == timedelta(0)
    assert moment.microsecond == 0


@pytest.mark.parametrize("issue", ["2026-03-equinox", "2026-12-solstice", "1999-12-solstice",
                                   "2100-06-solstice"])
def test_has_come_is_the_moment_compared(issue: str) -> None:
    """Around the moment, at the month's ends and long after: the same as comparing it."""
    issue_id = IssueId.parse(issue)
    moment = issue_id.moment()
    first = datetime(moment.year, moment.month, 1, tzinfo=UTC)
    after = (first + timedelta(days=32)).replace(day=1)
    for now in (moment - timedelta(seconds=1), moment, moment + timedelta(seconds=1),
                first, after - timedelta(seconds=1), after, after + timedelta(days=4000),
                first - timedelta(days=400)):
        assert issue_id.has_come(now) == (moment <= now), now


def test_every_moment_falls_in_its_own_month_and_in_order() -> None:
    """From 1900 to 2200 each event is in its issue's month, on a plausible day, in order."""
    days = {3: range(19, 22), 6: range(20, 23), 9: range(21, 25), 12: range(20, 24)}
    previous: datetime | None = None
    for year in range(1900, 2201):
        for month in (3, 6, 9, 12):
            moment = IssueId(year, month).moment()
            assert (moment.year, moment.month) == (year, month), f"{year}-{month:02d}"
            assert moment.day in days[month], f"{year}-{month:02d}: {moment}"
            if previous is not None:
                gap = moment - previous
                assert timedelta(days=88) < gap < timedelta(days=95), f"{year}-{month:02d}"
            previous = moment


# --- 2. The publication day in a time zone ----------------------------------------------

# (issue, zone, publication day, the published UTC moment seen in that zone)
PUBLICATION_DAYS: list[tuple[str, str, date, str]] = [
    # 2026-09-23 00:05 UTC
    ("2026-09-equinox", "UTC", date(2026, 9, 23), "00:05"),
    ("2026-09-equinox", "America/New_York", date(2026, 9, 22), "20:05 EDT"),
    ("2026-09-equinox", "Europe/London", date(2026, 9, 23), "01:05 BST"),
    ("2026-09-equinox", "Pacific/Pago_Pago", date(2026, 9, 22), "13:05 SST, UTC-11"),
    ("2026-09-equinox", "Pacific/Kiritimati", date(2026, 9, 23), "14:05, UTC+14"),
    # 2024-03-20 03:06 UTC
    ("2024-03-equinox", "Pacific/Pago_Pago", date(2024, 3, 19), "16:06 SST"),
    ("2024-03-equinox", "America/Los_Angeles", date(2024, 3, 19), "20:06 PDT"),
    ("2024-03-equinox", "Pacific/Kiritimati", date(2024, 3, 20), "17:06"),
    # 2024-06-20 20:51 UTC
    ("2024-06-solstice", "Pacific/Auckland", date(2024, 6, 21), "08:51 NZST"),
    ("2024-06-solstice", "Asia/Kolkata", date(2024, 6, 21), "02:21 IST, UTC+5:30"),
    ("2024-06-solstice", "Pacific/Pago_Pago", date(2024, 6, 20), "09:51 SST"),
    # 2024-12-21 09:20 UTC
    ("2024-12-solstice", "Pacific/Pago_Pago", date(2024, 12, 20), "22:20 SST"),
    ("2024-12-solstice", "Pacific/Auckland", date(2024, 12, 21), "22:20 NZDT"),
    ("2024-12-solstice", "Pacific/Kiritimati", date(2024, 12, 21), "23:20"),
    # 2014-06-21 10:51 UTC: three different days, 25 hours of offset apart
    ("2014-06-solstice", "Pacific/Pago_Pago", date(2014, 6, 20), "23:51 SST"),
    ("2014-06-solstice", "UTC", date(2014, 6, 21), "10:51"),
    ("2014-06-solstice", "Pacific/Kiritimati", date(2014, 6, 22), "00:51"),
    # 2026-12-21 20:50 UTC
    ("2026-12-solstice", "Pacific/Auckland", date(2026, 12, 22), "09:50 NZDT"),
    ("2026-12-solstice", "America/New_York", date(2026, 12, 21), "15:50 EST"),
    # Daylight saving decides the day. 2023-09-23 06:50 UTC: Denver keeps MDT (UTC-6), Phoenix
    # stays on MST (UTC-7) all year.
    ("2023-09-equinox", "America/Denver", date(2023, 9, 23), "00:50 MDT"),
    ("2023-09-equinox", "America/Phoenix", date(2023, 9, 22), "23:50 MST"),
    # 2012-12-21 11:12 UTC: New Zealand summer time (UTC+13) vs its standard offset UTC+12.
    ("2012-12-solstice", "Pacific/Auckland", date(2012, 12, 22), "00:12 NZDT"),
    ("2012-12-solstice", "Etc/GMT-12", date(2012, 12, 21), "23:12, UTC+12 all year"),
    # 2035-09-23 04:39 UTC: New York on EDT (UTC-4) vs Bogota, UTC-5 all year.
    ("2035-09-equinox", "America/New_York", date(2035, 9, 23), "00:39 EDT"),
    ("2035-09-equinox", "America/Bogota", date(2035, 9, 22), "23:39 COT"),
]


@pytest.mark.parametrize(
    ("issue", "zone", "expected", "local_time"),
    PUBLICATION_DAYS,
    ids=[f"{row[0]}-{row[1]}" for row in PUBLICATION_DAYS],
)
def test_publication_day_in_zone(issue: str, zone: str, expected: date, local_time: str) -> None:
    published = IssueId.parse(issue).publication_date(ZoneInfo(zone))
    assert published == expected, f"{issue} in {zone} is at {local_time} on {expected}"
    assert type(published) is date


# --- 3. Parsing issue ids and naming issues --------------------------------------------

VALID_IDS: list[tuple[str, int, int, str]] = [
    ("2026-03-equinox", 2026, 3, "equinox"),
    ("2026-06-solstice", 2026, 6, "solstice"),
    ("2026-09-equinox", 2026, 9, "equinox"),
    ("2026-12-solstice", 2026, 12, "solstice"),
    ("1900-03-equinox", 1900, 3, "equinox"),
    ("2200-12-solstice", 2200, 12, "solstice"),
]


@pytest.mark.parametrize(("text", "year", "month", "kind"), VALID_IDS)
def test_valid_id_round_trips(text: str, year: int, month: int, kind: str) -> None:
    issue = IssueId.parse(text)
    assert (issue.year, issue.month, issue.kind) == (year, month, kind)
    assert issue == IssueId(year, month)
    assert str(issue) == text
    assert IssueId.parse(str(issue)) == issue


# (what was typed, the id the message must name or a phrase it must contain)
WRONG_IDS: list[tuple[str, str]] = [
    ("2026-12-equinox", "'2026-12-solstice'"),
    ("2026-06-equinox", "'2026-06-solstice'"),
    ("2026-03-solstice", "'2026-03-equinox'"),
    ("2026-09-solstice", "'2026-09-equinox'"),
    ("2026-11-solstice", "'2026-12-solstice'"),
    ("2026-10-equinox", "'2026-09-equinox'"),
    ("2026-04-equinox", "'2026-03-equinox'"),
    ("2026-05-solstice", "'2026-06-solstice'"),
    ("2026-6-solstice", "'2026-06-solstice'"),
    ("2026-3-equinox", "'2026-03-equinox'"),
    ("2026-12-Solstice", "'2026-12-solstice'"),
    ("2026-09-EQUINOX", "'2026-09-equinox'"),
    ("winter-2026", "YYYY-MM-solstice"),
    ("2026-12", "YYYY-MM-solstice"),
    ("", "YYYY-MM-equinox"),
    ("2026-12-solstise", "did you mean '2026-12-solstice'"),
    ("2026-01-solstice", "'2025-12-solstice'"),
    ("2026-02-equinox", "'2026-03-equinox'"),
    ("2026-13-solstice", "not a month"),
    ("1899-12-solstice", "between 1900 and 2200"),
    ("2201-03-equinox", "between 1900 and 2200"),
]


@pytest.mark.parametrize(("text", "named"), WRONG_IDS)
def test_wrong_id_names_the_right_one(text: str, named: str) -> None:
    with pytest.raises(IssueIdError) as caught:
        IssueId.parse(text)
    message = str(caught.value)
    assert named in message
    assert f"'{text}'" in message  # says what was typed


def test_format_message_explains_the_format() -> None:
    with pytest.raises(IssueIdError) as caught:
        IssueId.parse("winter-2026")
    message = str(caught.value)
    assert "YYYY-MM-equinox" in message
    assert "YYYY-MM-solstice" in message
    assert "2026-12-solstice" in message  # an example


def test_issue_id_error_is_a_value_error() -> None:
    assert issubclass(IssueIdError, ValueError)
    with pytest.raises(IssueIdError, match="month 11"):
        IssueId(2026, 11)


NAMES: list[tuple[int, Naming, str]] = [
    (3, "neutral", "March Equinox 2026"),
    (6, "neutral", "June Solstice 2026"),
    (9, "neutral", "September Equinox 2026"),
    (12, "neutral", "December Solstice 2026"),
    (3, "northern", "Spring Equinox 2026"),
    (6, "northern", "Summer Solstice 2026"),
    (9, "northern", "Autumn Equinox 2026"),
    (12, "northern", "Winter Solstice 2026"),
    (3, "southern", "Autumn Equinox 2026"),
    (6, "southern", "Winter Solstice 2026"),
    (9, "southern", "Spring Equinox 2026"),
    (12, "southern", "Summer Solstice 2026"),
]


@pytest.mark.parametrize(("month", "naming", "expected"), NAMES)
def test_name(month: int, naming: Naming, expected: str) -> None:
    assert IssueId(2026, month).name(naming) == expected


def test_name_defaults_to_neutral() -> None:
    assert IssueId(2026, 12).name() == "December Solstice 2026"


# --- 4. Following and previous issues, the next issue and the calendar ------------------

SEQUENCE = ["2026-09-equinox", "2026-12-solstice", "2027-03-equinox", "2027-06-solstice"]


@pytest.mark.parametrize(("before", "after"), list(pairwise(SEQUENCE)))
def test_following_and_previous(before: str, after: str) -> None:
    assert str(IssueId.parse(before).following()) == after
    assert str(IssueId.parse(after).previous()) == before


def test_issues_sort_by_date() -> None:
    shuffled = [IssueId.parse(text) for text in reversed(SEQUENCE)]
    assert [str(issue) for issue in sorted(shuffled)] == SEQUENCE


NEXT_ISSUES: list[tuple[date, str, str]] = [
    (date(2026, 9, 21), "America/New_York", "2026-09-equinox"),
    (date(2026, 9, 22), "America/New_York", "2026-09-equinox"),  # the publication day itself
    (date(2026, 9, 23), "America/New_York", "2026-12-solstice"),  # the day after
    (date(2026, 9, 23), "UTC", "2026-09-equinox"),  # in UTC the 23rd is the publication day
    (date(2026, 9, 24), "UTC", "2026-12-solstice"),
    (date(2026, 12, 21), "UTC", "2026-12-solstice"),
    (date(2026, 12, 22), "UTC", "2027-03-equinox"),  # across the new year
    (date(2026, 12, 22), "Pacific/Auckland", "2026-12-solstice"),  # 09:50 NZDT on the 22nd
    (date(2027, 1, 1), "UTC", "2027-03-equinox"),
    (date(2026, 1, 1), "UTC", "2026-03-equinox"),
]


@pytest.mark.parametrize(("today", "zone", "expected"), NEXT_ISSUES)
def test_next_issue(today: date, zone: str, expected: str) -> None:
    assert str(next_issue(today, ZoneInfo(zone))) == expected


def test_calendar_neutral_utc() -> None:
    entries = calendar(date(2026, 11, 23), 4, ZoneInfo("UTC"), 14, "neutral")
    # (id, name, publication day, deadline); USNO: 2026-12-21 20:50, 2027-03-20 20:25,
    # 2027-06-21 14:11 and 2027-09-23 06:02 UT.
    assert [
        (str(e.issue_id), e.name, e.publication_date, e.deadline) for e in entries
    ] == [
        ("2026-12-solstice", "December Solstice 2026", date(2026, 12, 21), date(2026, 12, 7)),
        ("2027-03-equinox", "March Equinox 2027", date(2027, 3, 20), date(2027, 3, 6)),
        ("2027-06-solstice", "June Solstice 2027", date(2027, 6, 21), date(2027, 6, 7)),
        ("2027-09-equinox", "September Equinox 2027", date(2027, 9, 23), date(2027, 9, 9)),
    ]
    for e in entries:
        assert e.moment_utc == e.issue_id.moment()
        assert e.deadline == e.publication_date - timedelta(days=14)


def test_calendar_counts_from_the_publication_day_in_its_zone() -> None:
    new_york = ZoneInfo("America/New_York")
    on_the_day = calendar(date(2026, 9, 22), 2, new_york, 21, "northern")
    assert [str(e.issue_id) for e in on_the_day] == ["2026-09-equinox", "2026-12-solstice"]
    assert [e.name for e in on_the_day] == ["Autumn Equinox 2026", "Winter Solstice 2026"]
    assert on_the_day[0].publication_date == date(2026, 9, 22)
    assert on_the_day[0].deadline == date(2026, 9, 1)  # 21 days before
    day_after = calendar(date(2026, 9, 23), 1, new_york, 21, "northern")
    assert [str(e.issue_id) for e in day_after] == ["2026-12-solstice"]


@pytest.mark.parametrize("lead_days", [0, 1, 14, 30, 100])
def test_deadline_is_lead_days_before_publication(lead_days: int) -> None:
    (entry,) = calendar(date(2026, 11, 23), 1, ZoneInfo("UTC"), lead_days, "neutral")
    assert entry.publication_date == date(2026, 12, 21)
    assert entry.deadline == date(2026, 12, 21) - timedelta(days=lead_days)


def test_calendar_as_json() -> None:
    (entry,) = calendar(date(2026, 9, 1), 1, ZoneInfo("America/New_York"), 14, "neutral")
    data = entry.as_json()
    assert set(data) == {"issue_id", "name", "moment_utc", "publication_date", "deadline"}
    assert data["issue_id"] == "2026-09-equinox"
    assert data["publication_date"] == "2026-09-22"
    assert data["deadline"] == "2026-09-08"
    assert abs(datetime.fromisoformat(data["moment_utc"]) - utc("2026-09-23T00:05")) <= TOLERANCE


# --- 5. The ``calendar`` command ---------------------------------------------------------

JSON_KEYS = {"issue_id", "name", "moment_utc", "publication_date", "deadline"}


def run_json(cli: RunCli, *argv: str) -> list[dict[str, str]]:
    code, out, err = cli("calendar", "--json", *argv)
    assert (code, err) == (0, "")
    data = json.loads(out)
    assert isinstance(data, list)
    for item in data:
        assert set(item) == JSON_KEYS
    return data


def check_moment(value: str, published: str) -> None:
    """``moment_utc`` is ISO 8601 in UTC and within the tolerance of the published moment."""
    moment = datetime.fromisoformat(value)
    assert moment.utcoffset() == timedelta(0), value
    assert abs(moment - utc(published)) <= TOLERANCE, value


def test_cli_json_without_config(cli: RunCli, tmp_path: Path) -> None:
    data = run_json(cli, "--from", "2026-09-01", "--count", "2", "--tz", "America/New_York",
                    "--root", str(tmp_path))
    assert [{k: v for k, v in item.items() if k != "moment_utc"} for item in data] == [
        {"issue_id": "2026-09-equinox", "name": "September Equinox 2026",
         "publication_date": "2026-09-22", "deadline": "2026-09-08"},
        {"issue_id": "2026-12-solstice", "name": "December Solstice 2026",
         "publication_date": "2026-12-21", "deadline": "2026-12-07"},
    ]
    check_moment(data[0]["moment_utc"], "2026-09-23T00:05")
    check_moment(data[1]["moment_utc"], "2026-12-21T20:50")


def test_cli_defaults_without_config_are_utc_and_14_days(cli: RunCli, tmp_path: Path) -> None:
    data = run_json(cli, "--from", "2026-09-01", "--count", "1", "--root", str(tmp_path))
    assert [(d["issue_id"], d["publication_date"], d["deadline"]) for d in data] == [
        ("2026-09-equinox", "2026-09-23", "2026-09-09"),
    ]


def test_cli_naming_option(cli: RunCli, tmp_path: Path) -> None:
    data = run_json(cli, "--from", "2026-09-01", "--count", "2", "--naming", "southern",
                    "--root", str(tmp_path))
    assert [d["name"] for d in data] == ["Spring Equinox 2026", "Summer Solstice 2026"]


def test_cli_table(cli: RunCli, tmp_path: Path) -> None:
    code, out, err = cli("calendar", "--from", "2026-09-01", "--count", "2",
                         "--tz", "America/New_York", "--root", str(tmp_path))
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert len(lines) == 4  # header, two issues, the zone
    assert lines[1].split()[:3] == ["2026-09-equinox", "September", "Equinox"]
    assert "2026-09-22" in lines[1] and "2026-09-08" in lines[1]
    assert lines[2].split()[:3] == ["2026-12-solstice", "December", "Solstice"]
    assert "2026-12-21" in lines[2] and "2026-12-07" in lines[2]
    assert "America/New_York" in lines[3]


BAD_USAGE: list[tuple[list[str], str]] = [
    (["--tz", "Nowhere/Zone"], "Nowhere/Zone"),
    (["--from", "2026-13-45"], "2026-13-45"),
    (["--from", "23/11/2026"], "23/11/2026"),
    (["--count", "0"], "--count"),
    (["--count", "-3"], "--count"),
    (["--count", "two"], "--count"),
    (["--naming", "eastern"], "--naming"),
]


@pytest.mark.parametrize(("argv", "mentions"), BAD_USAGE, ids=[" ".join(a) for a, _ in BAD_USAGE])
def test_cli_bad_usage(cli: RunCli, tmp_path: Path, argv: list[str], mentions: str) -> None:
    code, out, err = cli("calendar", "--from", "2026-09-01", *argv, "--root", str(tmp_path))
    assert code == 2
    assert out == ""
    assert mentions in err
    assert "Traceback" not in err


def test_cli_unknown_zone_message(cli: RunCli, tmp_path: Path) -> None:
    code, _, err = cli("calendar", "--from", "2026-09-01", "--tz", "Nowhere/Zone",
                       "--root", str(tmp_path))
    assert code == 2
    assert err.strip().splitlines() == [
        "error: --tz Nowhere/Zone: unknown time zone; use an IANA name such as Europe/London"
    ]


def test_cli_bad_date_message(cli: RunCli, tmp_path: Path) -> None:
    code, _, err = cli("calendar", "--from", "2026-13-45", "--root", str(tmp_path))
    assert code == 2
    assert "'2026-13-45' is not a date: use YYYY-MM-DD" in err


def test_cli_uses_the_newsletter_config(cli: RunCli, scratch: Scratch) -> None:
    config = scratch.root / "newsletter.toml"
    text = config.read_text(encoding="utf-8")
    assert 'time_zone = "UTC"' in text
    config.write_text(
        text.replace('time_zone = "UTC"',
                     'time_zone = "America/New_York"\nsubmission_lead_days = 21'),
        encoding="utf-8",
    )
    data = run_json(cli, "--from", "2026-09-01", "--count", "2", "--root", str(scratch.root))
    assert [(d["issue_id"], d["publication_date"], d["deadline"]) for d in data] == [
        ("2026-09-equinox", "2026-09-22", "2026-09-01"),
        ("2026-12-solstice", "2026-12-21", "2026-11-30"),
    ]
    # --tz overrides the configured zone; the configured lead time still applies.
    data = run_json(cli, "--from", "2026-09-01", "--count", "1", "--tz", "UTC",
                    "--root", str(scratch.root))
    assert [(d["issue_id"], d["publication_date"], d["deadline"]) for d in data] == [
        ("2026-09-equinox", "2026-09-23", "2026-09-02"),
    ]
    # The table names the configured zone.
    code, out, err = cli("calendar", "--from", "2026-09-01", "--count", "1",
                         "--root", str(scratch.root))
    assert (code, err) == (0, "")
    assert "2026-09-22" in out and "2026-09-01" in out
    assert "America/New_York" in out
