"""The publication calendar as an iCalendar file (RFC 5545), made with the icalendar library.

Per issue there are two events: the publication moment (the equinox or solstice itself, in
UTC, a short event that does not mark anyone busy) and the submission deadline (an all-day
event). Each has a UID made of the issue id and the kind of event, so importing a newer file
updates the events instead of doubling them.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from icalendar import Calendar, Event

from . import SOFTWARE, __version__
from .seasons import CalendarEntry

PRODID = f"-//{SOFTWARE}//publication calendar {__version__}//EN"
#: How long the publication event lasts in a calendar app: the moment is an instant, but an
#: event of no length is drawn poorly (or not at all) by some apps.
PUBLICATION_LENGTH = timedelta(minutes=15)


def uid(entry: CalendarEntry, kind: str, uid_domain: str) -> str:
    """``2026-12-solstice-publication@example.org``: stable for an issue and a kind of event."""
    return f"{entry.issue_id}-{kind}@{uid_domain}"


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def calendar_file(entries: Sequence[CalendarEntry], *, newsletter_title: str, uid_domain: str,
                  stamp: datetime) -> bytes:
    """The iCalendar file of these issues' publication moments and submission deadlines.

    ``stamp`` is the DTSTAMP of every event (when the file was made: the caller's now), so the
    same entries and stamp always give the same bytes.
    """
    stamp = _utc(stamp).replace(microsecond=0)
    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", "PUBLISH")
    cal.add("x-wr-calname", f"{newsletter_title}: publication calendar")
    cal.add("x-wr-caldesc", f"When each issue of {newsletter_title} is published (at the "
                            "equinox or solstice) and when submissions for it close.")
    for entry in entries:
        moment = _utc(entry.moment_utc)
        published = Event()
        published.add("uid", uid(entry, "publication", uid_domain))
        published.add("dtstamp", stamp)
        published.add("dtstart", moment)
        published.add("dtend", moment + PUBLICATION_LENGTH)
        published.add("summary", f"{newsletter_title}: {entry.name} published")
        published.add("description", (
            f"Issue {entry.issue_id} of {newsletter_title} ({entry.name}) is published at "
            f"the {entry.issue_id.kind}: {moment:%Y-%m-%d %H:%M:%S} UTC, publication day "
            f"{entry.publication_date.isoformat()}. Submissions close on "
            f"{entry.deadline.isoformat()}."))
        published.add("transp", "TRANSPARENT")
        published.add("categories", ["Publication"])
        cal.add_component(published)

        deadline = Event()
        deadline.add("uid", uid(entry, "deadline", uid_domain))
        deadline.add("dtstamp", stamp)
        deadline.add("dtstart", entry.deadline)
        deadline.add("dtend", entry.deadline + timedelta(days=1))
        deadline.add("summary", f"{newsletter_title}: {entry.name} submissions close")
        deadline.add("description", (
            f"Last day to add a piece to issue {entry.issue_id} of {newsletter_title} "
            f"({entry.name}, published on {entry.publication_date.isoformat()}). "
            f"Start one with: newsletter new-piece --issue {entry.issue_id} "
            "--title TEXT --author NAME"))
        deadline.add("transp", "TRANSPARENT")
        deadline.add("categories", ["Deadline"])
        cal.add_component(deadline)
    data: bytes = cal.to_ical()
    return data
