"""Placeholder while the iCalendar export is being written (replaced before this lands)."""

from __future__ import annotations

from datetime import datetime

from .seasons import CalendarEntry


def calendar_file(entries: list[CalendarEntry], *, newsletter_title: str, uid_domain: str,
                  stamp: datetime) -> bytes:
    raise NotImplementedError
