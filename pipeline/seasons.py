"""Issue ids, equinoxes and solstices, and the publication calendar.

An issue id is ``YYYY-MM-equinox`` or ``YYYY-MM-solstice``: March and September are equinoxes,
June and December solstices. The moment of each event comes from Astronomy Engine (the Sun's
apparent geocentric ecliptic longitude reaching 0, 90, 180 or 270 degrees, converted to UTC with
its Delta T model), never typed by hand; the publication day is that moment in the newsletter's
time zone.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from typing import Any, Literal
from zoneinfo import ZoneInfo

import astronomy

Naming = Literal["neutral", "northern", "southern"]
NAMINGS: tuple[Naming, ...] = ("neutral", "northern", "southern")

_KIND = {3: "equinox", 6: "solstice", 9: "equinox", 12: "solstice"}
_MONTH_NAME = {3: "March", 6: "June", 9: "September", 12: "December"}
_SEASON = {
    "northern": {3: "Spring", 6: "Summer", 9: "Autumn", 12: "Winter"},
    "southern": {3: "Autumn", 6: "Winter", 9: "Spring", 12: "Summer"},
}
_EVENT = {3: "mar_equinox", 6: "jun_solstice", 9: "sep_equinox", 12: "dec_solstice"}
_ID_RE = re.compile(r"^(\d{4})-(\d{1,2})-([A-Za-z]+)$")
MIN_YEAR, MAX_YEAR = 1900, 2200


class IssueIdError(ValueError):
    """A folder or argument is not a valid issue id; the message says the right one."""


@dataclass(frozen=True, order=True)
class IssueId:
    """One issue: a year and the month of its equinox or solstice."""

    year: int
    month: int

    def __post_init__(self) -> None:
        if self.month not in _KIND:
            raise IssueIdError(f"month {self.month} has no equinox or solstice")

    @property
    def kind(self) -> str:
        return _KIND[self.month]

    def __str__(self) -> str:
        return f"{self.year}-{self.month:02d}-{self.kind}"

    @classmethod
    def parse(cls, text: str) -> IssueId:
        """Parse an issue id, or raise :class:`IssueIdError` naming the id that was meant."""
        match = _ID_RE.match(text.strip())
        if not match:
            raise IssueIdError(
                f"'{text}' is not an issue id: use YYYY-MM-equinox (MM 03 or 09) or "
                "YYYY-MM-solstice (MM 06 or 12), e.g. 2026-12-solstice"
            )
        year, month, kind = int(match[1]), int(match[2]), match[3].lower()
        if not MIN_YEAR <= year <= MAX_YEAR:
            raise IssueIdError(f"'{text}': the year must be between {MIN_YEAR} and {MAX_YEAR}")
        if not 1 <= month <= 12:
            raise IssueIdError(f"'{text}': {month} is not a month; use 03, 06, 09 or 12")
        if month not in _KIND:
            # The nearest issue month, looking across the turn of the year too.
            candidates = [(year - 1, 12), *((year, m) for m in _KIND), (year + 1, 3)]
            near_year, near_month = min(
                candidates, key=lambda c: (abs((c[0] - year) * 12 + c[1] - month), c))
            raise IssueIdError(
                f"'{text}': issues come out in March, June, September and December; "
                f"the nearest is '{cls(near_year, near_month)}'"
            )
        right = cls(year, month)
        if kind not in ("equinox", "solstice"):
            raise IssueIdError(f"'{text}': the last part must be 'equinox' or 'solstice'; "
                               f"did you mean '{right}'?")
        if _KIND[month] != kind:
            raise IssueIdError(
                f"'{text}': {_MONTH_NAME[month]} has the {_KIND[month]}, not the {kind}; "
                f"did you mean '{right}'?"
            )
        if text.strip() != str(right):
            raise IssueIdError(f"'{text}': write it as '{right}'")
        return right

    def moment(self) -> datetime:
        """The astronomical moment of this issue's equinox or solstice, in UTC."""
        return _moment(self.year, self.month)

    def has_come(self, now: datetime) -> bool:
        """Whether the moment is at or before ``now``. An equinox or solstice falls in its
        month (in UTC), so once the next month has begun it has come, without the search
        for it (a build asks this of every issue of the archive)."""
        next_month = datetime(self.year + self.month // 12, self.month % 12 + 1, 1, tzinfo=UTC)
        return now >= next_month or self.moment() <= now

    def publication_date(self, tz: ZoneInfo) -> date:
        """The publication day: the moment, seen in the newsletter's time zone."""
        return self.moment().astimezone(tz).date()

    def name(self, naming: Naming = "neutral") -> str:
        """``December Solstice 2026`` (neutral) or ``Winter Solstice 2026`` (northern)."""
        first = _MONTH_NAME[self.month] if naming == "neutral" else _SEASON[naming][self.month]
        return f"{first} {self.kind.capitalize()} {self.year}"

    def following(self) -> IssueId:
        if self.month == 12:
            return IssueId(self.year + 1, 3)
        return IssueId(self.year, self.month + 3)

    def previous(self) -> IssueId:
        if self.month == 3:
            return IssueId(self.year - 1, 12)
        return IssueId(self.year, self.month - 3)


@lru_cache(maxsize=256)
def _seasons(year: int) -> Any:
    """Astronomy Engine's four events of a year: one search finds them all."""
    return astronomy.Seasons(year)


@lru_cache(maxsize=1024)
def _moment(year: int, month: int) -> datetime:
    """The search for a moment takes milliseconds and a build asks for each one many times."""
    found: datetime = getattr(_seasons(year), _EVENT[month]).Utc()
    return found.replace(tzinfo=UTC, microsecond=0) + timedelta(
        seconds=round(found.microsecond / 1_000_000)
    )


@dataclass(frozen=True)
class CalendarEntry:
    issue_id: IssueId
    name: str
    moment_utc: datetime
    publication_date: date
    deadline: date

    def as_json(self) -> dict[str, str]:
        return {
            "issue_id": str(self.issue_id),
            "name": self.name,
            "moment_utc": self.moment_utc.isoformat().replace("+00:00", "Z"),
            "publication_date": self.publication_date.isoformat(),
            "deadline": self.deadline.isoformat(),
        }


def entry(issue_id: IssueId, tz: ZoneInfo, lead_days: int, naming: Naming) -> CalendarEntry:
    """The calendar line of one issue: its moment, publication day and submission deadline."""
    published = issue_id.publication_date(tz)
    return CalendarEntry(
        issue_id=issue_id,
        name=issue_id.name(naming),
        moment_utc=issue_id.moment(),
        publication_date=published,
        deadline=published - timedelta(days=lead_days),
    )


def next_issue(today: date, tz: ZoneInfo) -> IssueId:
    """The first issue whose publication day is ``today`` or later."""
    candidate = IssueId(today.year, 3)
    while candidate.publication_date(tz) < today:
        candidate = candidate.following()
    return candidate


def calendar(
    today: date, count: int, tz: ZoneInfo, lead_days: int, naming: Naming
) -> list[CalendarEntry]:
    """The next ``count`` issues from ``today`` (inclusive), in order."""
    entries = []
    issue_id = next_issue(today, tz)
    for _ in range(count):
        entries.append(entry(issue_id, tz, lead_days, naming))
        issue_id = issue_id.following()
    return entries
