"""``newsletter calendar``: the coming issues, their moments, publication days and deadlines."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ..config import CONFIG_NAME, load_config
from ..console import Console, newsletter_root, now
from ..errors import UsageError, plural
from ..seasons import MAX_YEAR, MIN_YEAR, NAMINGS, IssueId, Naming, calendar
from ..writer import Output, write_all
from .options import parse_date, positive

DESCRIPTION = ("List the coming issues with the moment of each equinox or solstice, its "
               "publication day in the newsletter's time zone and the submission "
               "deadline. Works without a newsletter.toml (UTC, 14 days' lead).")


def arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--from", dest="start", type=parse_date, metavar="DATE",
                        help="first day to consider, YYYY-MM-DD (default: today)")
    parser.add_argument("--count", type=positive, default=4, metavar="N",
                        help="how many issues (default: 4)")
    parser.add_argument("--tz", metavar="ZONE",
                        help="IANA time zone (default: the newsletter's)")
    parser.add_argument("--naming", choices=NAMINGS,
                        help="season names (default: the newsletter's)")
    parser.add_argument("--json", action="store_true", help="print a JSON list instead of a table")
    parser.add_argument("--ics", type=Path, metavar="FILE",
                        help="also write an iCalendar file of the publication moments and "
                             "submission deadlines, for calendar apps")


def run(args: argparse.Namespace, console: Console) -> int:
    root = newsletter_root(args)
    tz_name, lead = "UTC", 14
    naming: Naming = "neutral"
    config = None
    uid_domain = "newsletter.invalid"
    if (root / CONFIG_NAME).is_file():
        config = load_config(root)
        uid_domain = urlsplit(config.base_url).hostname or uid_domain
        tz_name, lead, naming = config.time_zone.key, config.submission_lead_days, \
            config.season_names
    if args.tz is not None:
        tz_name = args.tz
    try:
        tz = ZoneInfo(tz_name)
    except (ZoneInfoNotFoundError, ValueError):
        raise UsageError(f"--tz {tz_name}: unknown time zone; use an IANA name such as "
                         "Europe/London") from None
    chosen: Naming = args.naming or naming
    start = args.start or now().astimezone(tz).date()
    last = IssueId(MAX_YEAR, 12).publication_date(tz)
    if not start.year >= MIN_YEAR or start > last:
        raise UsageError(f"--from {start}: the calendar covers {MIN_YEAR} to {MAX_YEAR}")
    entries = calendar(start, args.count, tz, lead, chosen)
    entries = [e for e in entries if e.issue_id.year <= MAX_YEAR]
    if args.ics:
        from .. import ics

        title = config.title if config else "Newsletter"
        data = ics.calendar_file(entries, newsletter_title=title, uid_domain=uid_domain,
                                 stamp=now())
        target = args.ics.resolve()
        if not target.name or target.is_dir():
            raise UsageError(f"--ics {args.ics}: give the path of a file, e.g. calendar.ics")
        write_all([Output(target.parent, target.name, data)])
        console.message("note", f"wrote {args.ics} ({plural(len(entries), 'issue')})")
    if args.json:
        console.result(json.dumps([e.as_json() for e in entries], indent=2))
        return 0
    console.result(f"{'issue':<18} {'name':<26} {'moment (UTC)':<20} {'published':<11} deadline")
    for e in entries:
        console.result(f"{e.issue_id!s:<18} {e.name:<26} {e.moment_utc:%Y-%m-%d %H:%M:%S}  "
                       f"{e.publication_date.isoformat():<11} {e.deadline.isoformat()}")
    console.result(f"(publication days and deadlines in {tz.key})")
    return 0
