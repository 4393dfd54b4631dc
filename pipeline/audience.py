"""Subscribers at a glance (``newsletter subscribers stats``, and a chart in the report).

How many subscribers are in each state, and per season (the months leading up to an issue's
moment, after the previous one's) how many signed up, unsubscribed and bounced. A sign-up is
dated when the subscriber consented (or, for one added without that date, when they were
added); an unsubscribe or a bounce when the subscriber's state last changed. Counted from the
store's subscribers as they stream by, in constant memory.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from .databases import STATUSES
from .seasons import IssueId
from .store import Subscriber


@dataclass(frozen=True)
class Season:
    """The season leading up to ``issue_id``'s moment."""

    issue_id: IssueId
    signups: int = 0
    unsubscribes: int = 0
    bounces: int = 0


@dataclass(frozen=True)
class Audience:
    by_status: dict[str, int]
    seasons: tuple[Season, ...]  # oldest first, every season from the first to the last

    @property
    def total(self) -> int:
        return sum(self.by_status.values())


def season_of(moment: datetime) -> IssueId:
    """The issue whose season ``moment`` falls in: the first whose moment is at or after it."""
    issue_id = IssueId(moment.year, 3)
    while issue_id.moment() < moment:
        issue_id = issue_id.following()
    return issue_id


def _when(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def audience(subscribers: Iterable[Subscriber]) -> Audience:
    """Count ``subscribers`` by state and, per season, their sign-ups, unsubscribes and bounces."""
    by_status: dict[str, int] = dict.fromkeys(STATUSES, 0)
    counts: dict[IssueId, list[int]] = {}
    for person in subscribers:
        by_status[person.status] = by_status.get(person.status, 0) + 1
        events = []
        if person.status != "pending":
            events.append((0, _when(person.consent_at) or _when(person.created_at)))
        if person.status in ("unsubscribed", "bounced"):
            events.append((1 if person.status == "unsubscribed" else 2,
                           _when(person.updated_at)))
        for column, moment in events:
            if moment is not None:
                counts.setdefault(season_of(moment), [0, 0, 0])[column] += 1
    seasons = []
    if counts:
        issue_id, last = min(counts), max(counts)
        while issue_id <= last:
            seasons.append(Season(issue_id, *counts.get(issue_id, [0, 0, 0])))
            issue_id = issue_id.following()
    return Audience(by_status, tuple(seasons))


def audience_text(found: Audience) -> list[str]:
    """The numbers as lines of text: the states, then a table of the seasons."""
    states = ", ".join(f"{n:,} {status}" for status, n in found.by_status.items())
    lines = [f"subscribers: {states} ({found.total:,} in all)"]
    if not found.seasons:
        return [*lines, "no sign-up, unsubscribe or bounce yet"]
    header = ("season up to", "sign-ups", "unsubscribes", "bounces")
    rows = [(str(s.issue_id), f"{s.signups:,}", f"{s.unsubscribes:,}", f"{s.bounces:,}")
            for s in found.seasons]
    widths = [max(len(row[i]) for row in (header, *rows)) for i in range(len(header))]
    for row in (header, *rows):
        lines.append("  ".join([row[0].ljust(widths[0]),
                                *(cell.rjust(w) for cell, w in zip(row[1:], widths[1:],
                                                                  strict=True))]))
    return lines
