"""The publication moment: when an issue becomes public, and the record of when it did.

An issue is published once its equinox or solstice has come, or earlier when the editor says
so explicitly (``--early``); teams also publish late, so the moment is the target and the
earliest publication, not a hard date. ``newsletter publish`` (and an ``--early`` build or
send) records the real publication time in ``published.toml`` at the newsletter root, a file
to keep in git beside the content::

    # When each issue was published (written by `newsletter publish`); keep it in git.
    2026-12-solstice = 2026-12-22T09:00:00Z

:func:`is_published` is the one rule every command asks: recorded, or its moment has come.
A reader sees the recorded time where an issue is dated (the moment when there is none).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from .config import read_toml
from .errors import ContentError, Problems, long_date
from .seasons import IssueId, IssueIdError
from .writer import Output

RECORD_NAME = "published.toml"
HEADER = ("# When each issue was published (written by `newsletter publish`, or an --early build\n"
          "# or send); keep it in git. Remove a line only to take an issue back to a preview.\n")

#: The publication record: issue id -> when it was published (UTC).
Record = Mapping[IssueId, datetime]


def load_record(root: Path) -> dict[IssueId, datetime]:
    """``published.toml`` of the newsletter at ``root`` (empty when there is none); every
    problem in it is reported at once as ``published.toml:LINE: error: ...``."""
    path = root / RECORD_NAME
    if not path.exists():
        return {}
    problems = Problems()
    parsed = read_toml(path, problems)
    if parsed is None:
        raise ContentError(problems.items)
    data, lines, columns = parsed
    record: dict[IssueId, datetime] = {}
    for key, value in data.items():
        line = lines.get(key)
        try:
            issue_id = IssueId.parse(key)
        except IssueIdError as exc:
            problems.error(path, line, f"{exc}; each line is ISSUE_ID = "
                           "2026-12-22T09:00:00Z", column=columns.get(key))
            continue
        if not isinstance(value, datetime) or value.tzinfo is None:
            problems.error(path, line, f"'{key}' must be a date and time with its offset, "
                           f"such as 2026-12-22T09:00:00Z, not {value!r}", column=columns.get(key))
            continue
        record[issue_id] = value.astimezone(UTC)
    problems.raise_if_errors()
    return record


def record_output(root: Path, record: Record) -> Output:
    """``published.toml`` holding ``record``, as an output of the build that publishes."""
    lines = [f"{issue_id} = {when.astimezone(UTC):%Y-%m-%dT%H:%M:%SZ}\n"
             for issue_id, when in sorted(record.items())]
    return Output(root, RECORD_NAME, (HEADER + "".join(lines)).encode("utf-8"))


def is_published(issue_id: IssueId, now: datetime, record: Record) -> bool:
    """The one rule: an issue is public once it is recorded as published (``publish``, or
    ``--early``) or its moment has come."""
    return issue_id in record or issue_id.has_come(now)


def published_at(issue_id: IssueId, record: Record) -> datetime:
    """When a reader is told the issue was published: the recorded time, else its moment."""
    return record.get(issue_id, issue_id.moment())


def when(moment: datetime, now: datetime, tz: ZoneInfo) -> str:
    """``Monday 21 December 2026 at 20:50 (Europe/London), in 15 days`` ."""
    local = moment.astimezone(tz)
    return (f"{long_date(local)} at {local:%H:%M} ({tz.key}), "
            f"{countdown(moment - now)}")


def countdown(left: timedelta) -> str:
    """``in 15 days``, ``in 3 h 20 min``, ``in 42 s``; ``now`` when nothing is left."""
    seconds = int(left.total_seconds())
    if seconds <= 0:
        return "now"
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days >= 2:
        return f"in {days} days"
    if days or hours:
        return f"in {days * 24 + hours} h {minutes:02d} min"
    if minutes:
        return f"in {minutes} min {secs:02d} s"
    return f"in {secs} s"


def latest_issue(site: Path, now: datetime, record: Record) -> IssueId | None:
    """The newest published issue whose web edition is in the site folder."""
    found = []
    for entry in site.iterdir() if site.is_dir() else []:
        try:
            issue_id = IssueId.parse(entry.name)
        except IssueIdError:
            continue
        if (entry / "index.html").is_file() and is_published(issue_id, now, record):
            found.append(issue_id)
    return max(found, default=None)
