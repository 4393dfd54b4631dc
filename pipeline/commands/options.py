"""The options several commands share (``--root``, ``-q``/``-v``, ISSUE, ``--no-cache``, the
delivery options) and the parsers of option values (dates, counts, rates, database and server URLs).

This module is imported whenever the command line starts, so it imports nothing heavy: the
checks of database, SMTP and IMAP URLs are imported when such an option is given.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    from ..databases import Database

T = TypeVar("T")


def common(parser: argparse.ArgumentParser, suppress: bool) -> None:
    """``--root``, ``-q`` and ``-v``: on ``newsletter`` itself, and (``suppress``: left unset
    unless given, so the top-level value stands) on each of its commands."""
    default: object = argparse.SUPPRESS if suppress else None
    parser.add_argument("--root", type=Path, default=default, metavar="DIR",
                        help="the newsletter's folder (default: the current folder)")
    parser.add_argument("-q", "--quiet", action="store_const", const=-1, dest="verbosity",
                        default=argparse.SUPPRESS if suppress else 0,
                        help="print only problems")
    parser.add_argument("-v", "--verbose", action="store_const", const=1, dest="verbosity",
                        default=argparse.SUPPRESS if suppress else 0,
                        help="also print unchanged files")


def issue_argument(parser: argparse.ArgumentParser, coming: bool = False, note: str = "") -> None:
    """The ISSUE every command that works on one issue takes (``content.resolve_issue``
    reads it); with ``coming``, it may be left out for the coming issue."""
    parser.add_argument("issue", metavar="ISSUE", nargs="?" if coming else None,
                        help="an issue id such as 2026-12-solstice, or the path of its folder"
                             + (" (default: the coming issue)" if coming else "") + note)


def yes(parser: argparse.ArgumentParser, command: str) -> None:
    """``--yes`` of the commands that mail every subscriber (``send``, ``publish``)."""
    parser.add_argument("--yes", action="store_true",
                        help="do not ask before mailing (for cron, systemd and CI); without it "
                             f"{command} asks on the terminal, and fails when there is none")


def no_cache(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--no-cache", dest="cache", action="store_false",
                        help="render everything again, without reading or writing the render "
                             "cache in <root>/.cache/newsletter/ (delete that folder to clear "
                             "it)")


def delivery_options(parser: argparse.ArgumentParser) -> None:
    """The delivery options of ``send`` and ``publish``."""
    parser.add_argument("--smtp", metavar="URL", type=smtp_url,
                        help="smtp://HOST:PORT, smtp+starttls://HOST:587 or smtps://HOST:465 "
                             "(default: delivery.smtp_url); no login in it: the login comes "
                             "from the environment variables delivery.username_env and "
                             "password_env name")
    parser.add_argument("--outbox", type=Path, metavar="DIR",
                        help="write .eml files here instead of sending over SMTP")
    parser.add_argument("--rate", type=rate, metavar="N",
                        help="messages per second at most (0: no limit)")
    parser.add_argument("--connections", type=positive, metavar="N",
                        help="parallel SMTP connections")
    database_option(parser, "the subscriber database: a SQLite file or a postgresql:// URL "
                            "(default: subscribers.database)")


def database_option(parser: argparse.ArgumentParser, help: str) -> None:
    parser.add_argument("--db", type=database, metavar="PATH_OR_URL", help=help)


def _read(text: str, convert: Callable[[str], T], what: str) -> T:
    """``convert(text)``, or the usage error that says what ``text`` should have been."""
    try:
        return convert(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not {what}") from None


def parse_date(text: str) -> date:
    return _read(text, date.fromisoformat, "a date: use YYYY-MM-DD")


def positive(text: str) -> int:
    value = _read(text, int, "a whole number")
    if not 1 <= value <= 1000:
        raise argparse.ArgumentTypeError("must be between 1 and 1000")
    return value


def rate(text: str) -> float:
    """``--rate``: messages per second, zero (no limit) or more, as delivery.rate is."""
    value = _read(text, float, "a number")
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"'{text}' must be zero (no limit) or more")
    return value


def seconds(text: str) -> float:
    """``--timeout``: more than 0 and at most 600 seconds."""
    value = _read(text, float, "a number of seconds")
    if not 0 < value <= 600:
        raise argparse.ArgumentTypeError("must be more than 0 and at most 600 seconds")
    return value


def year(text: str) -> int:
    """``--since YEAR``: a year the calendar covers."""
    from ..seasons import MAX_YEAR, MIN_YEAR

    value = _read(text, int, "a year: use e.g. 2026")
    if not MIN_YEAR <= value <= MAX_YEAR:
        raise argparse.ArgumentTypeError(f"{value} is not a year of the calendar: use a year "
                                         f"from {MIN_YEAR} to {MAX_YEAR}")
    return value


def port(text: str) -> int:
    if not text.isdigit() or not 0 <= int(text) <= 65535:
        raise argparse.ArgumentTypeError(f"'{text}' is not a port number (0-65535)")
    return int(text)


def database(text: str) -> Database:
    """``--db``: a SQLite file (relative to the current folder) or a postgresql:// URL."""
    from ..databases import database_problem, is_url

    problem = database_problem(text)
    if problem:
        raise argparse.ArgumentTypeError(problem.replace("subscribers.password_env",
                                                         "subscribers.password_env in "
                                                         "newsletter.toml"))
    return text if is_url(text) else Path(text)


def smtp_url(text: str) -> str:
    """``--smtp``: checked as ``delivery.smtp_url`` is in newsletter.toml."""
    from ..options import smtp_url_problem

    problem = smtp_url_problem(text)
    if problem:
        problem = problem.replace("variables username_env", "variables delivery.username_env")
        raise argparse.ArgumentTypeError(f"'{text}' {problem}")
    return text


def imap_url(text: str) -> str:
    from ..options import imap_url_problem

    problem = imap_url_problem(text)
    if problem:
        raise argparse.ArgumentTypeError(f"'{text}' {problem}")
    return text
