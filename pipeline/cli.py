"""The ``newsletter`` command (and ``build-issue``, the same as ``newsletter build-issue``).

Exit status: 0 success, 1 a problem with the content or the run, 2 bad usage. Problems go to
stderr as ``path:line: level: message``; what a command made goes to stdout.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import select
import sys
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from . import __version__, uptodate
from .config import CONFIG_NAME, Config, load_config
from .console import Console, newsletter_root, now
from .databases import STATUSES, Database, database_problem, is_url
from .errors import ContentError, PipelineError, UsageError, display_path, plural
from .options import imap_url_problem, smtp_url_problem
from .publication import RECORD_NAME, load_record, when
from .seasons import MAX_YEAR, MIN_YEAR, NAMINGS, IssueId, Naming, calendar
from .writer import Output, write_all

if TYPE_CHECKING:  # the build is imported when a command builds (and the last build is stale)
    from .build import BuildResult


def _common(parser: argparse.ArgumentParser, suppress: bool) -> None:
    default: object = argparse.SUPPRESS if suppress else None
    parser.add_argument("--root", type=Path, default=default, metavar="DIR",
                        help="the newsletter's folder (default: the current folder)")
    parser.add_argument("-q", "--quiet", action="store_const", const=-1, dest="verbosity",
                        default=argparse.SUPPRESS if suppress else 0,
                        help="print only problems")
    parser.add_argument("-v", "--verbose", action="store_const", const=1, dest="verbosity",
                        default=argparse.SUPPRESS if suppress else 0,
                        help="also print unchanged files")


def _build_issue_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("issue", metavar="ISSUE",
                        help="an issue id such as 2026-12-solstice, or the path of its folder")
    parser.add_argument("--out", type=Path, metavar="DIR",
                        help="where to write the issue and the archive (default: output_dir "
                             "of newsletter.toml, usually <root>/public)")
    parser.add_argument("--drafts", action="store_true",
                        help="include draft pieces, marked DRAFT: a preview, written to "
                             "<root>/preview unless --out is given; feeds are not written")
    parser.add_argument("--early", action="store_true",
                        help="publish the issue now although its moment has not come: build "
                             "it into the site and the feeds, and record the publication in "
                             "published.toml (without it, an issue before its moment is "
                             "built as a preview)")
    parser.add_argument("--strict", action="store_true",
                        help="treat warnings (unknown authors, images without alt text, ...) "
                             "as errors")
    _no_cache(parser)


def _no_cache(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--no-cache", dest="cache", action="store_false",
                        help="render everything again, without reading or writing the render "
                             "cache in <root>/.cache/newsletter/ (delete that folder to clear "
                             "it)")


#: The commands that never write a file: a stop is not news of "nothing was written".
READ_ONLY = ("check", "status", "call-for-pieces")

#: The commands whose parser does not need the editorial workflow's subcommands.
BUILD_COMMANDS = ("build-issue", "build")


def make_parser(editorial: bool = True) -> argparse.ArgumentParser:
    """The command line. Without ``editorial`` the workflow's subcommands (new-piece, check,
    status, gather, report, serve, ...) are left out: they import what a build never needs,
    and :func:`main` leaves them out when it runs a build."""
    parser = argparse.ArgumentParser(
        prog="newsletter",
        description="Build and publish a newsletter: four issues a year, at each equinox "
                    "and solstice, written by people from every team. Start one with "
                    "'newsletter init'.",
        epilog="Run 'newsletter COMMAND --help' for a command's options. Exit status: 0 "
               "success, 1 a problem with the content, 2 bad usage.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    _common(parser, suppress=False)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    build = commands.add_parser(
        "build-issue", help="build one issue: HTML and text email, web edition, archive, feeds",
        description="Build one issue into <out>/<issue_id>/email.html, email.txt and "
                    "index.html, the archive <out>/index.html, and the feeds in "
                    "<root>/feeds/ and <out>/feeds/. Before the issue's moment (its equinox "
                    "or solstice) it is a preview, written to <root>/preview/ without feeds, "
                    "unless --early. Nothing is written unless the whole build succeeds.")
    _common(build, suppress=True)
    _build_issue_parser(build)
    build.set_defaults(run=_run_build_issue)

    everything = commands.add_parser(
        "build", help="rebuild every issue of the archive, the archive page and the feeds",
        description="Rebuild every published issue that has a ready piece (its moment has "
                    "come, or published.toml records it), the archive and the feeds; the "
                    "site keeps no folder of an issue that is not published.")
    _common(everything, suppress=True)
    everything.add_argument("--out", type=Path, metavar="DIR",
                            help="where to write (default: output_dir of newsletter.toml)")
    everything.add_argument("--strict", action="store_true", help="treat warnings as errors")
    _no_cache(everything)
    everything.set_defaults(run=_run_build_all)

    cal = commands.add_parser(
        "calendar", help="the coming issues: ids, names, moments, publication days, deadlines",
        description="List the coming issues with the moment of each equinox or solstice, its "
                    "publication day in the newsletter's time zone and the submission "
                    "deadline. Works without a newsletter.toml (UTC, 14 days' lead).")
    _common(cal, suppress=True)
    cal.add_argument("--from", dest="start", type=_parse_date, metavar="DATE",
                     help="first day to consider, YYYY-MM-DD (default: today)")
    cal.add_argument("--count", type=_positive, default=4, metavar="N",
                     help="how many issues (default: 4)")
    cal.add_argument("--tz", metavar="ZONE", help="IANA time zone (default: the newsletter's)")
    cal.add_argument("--naming", choices=NAMINGS, help="season names (default: the newsletter's)")
    cal.add_argument("--json", action="store_true", help="print a JSON list instead of a table")
    cal.add_argument("--ics", type=Path, metavar="FILE",
                     help="also write an iCalendar file of the publication moments and "
                          "submission deadlines, for calendar apps")
    cal.set_defaults(run=_run_calendar)

    subs = commands.add_parser(
        "subscribers", help="add, import, export, list or remove email subscribers; stats",
        description="Manage the subscriber database (a SQLite file or a PostgreSQL URL; "
                    "subscribers.database in newsletter.toml, or --db).")
    _common(subs, suppress=True)
    actions = subs.add_subparsers(dest="action", metavar="ACTION", required=True)
    add = actions.add_parser("add", help="add one subscriber (active: they asked you directly)")
    add.add_argument("email")
    add.add_argument("--name")
    add.add_argument("--status", choices=("active", "pending"), default="active")
    add.add_argument("--source", default="added by an editor",
                     help="how consent was given (kept with the subscriber)")
    imp = actions.add_parser("import", help="import a CSV file with a header row; all or nothing")
    imp.add_argument("file", type=Path)
    imp.add_argument("--source", help="how these people consented (default: the file name)")
    exp = actions.add_parser("export", help="export subscribers as CSV to stdout or --out")
    exp.add_argument("--out", type=Path, metavar="FILE")
    exp.add_argument("--status", choices=STATUSES)
    lst = actions.add_parser("list", help="list subscribers")
    lst.add_argument("--status", choices=STATUSES)
    rem = actions.add_parser("remove", help="delete a subscriber and their send records")
    rem.add_argument("email")
    stats = actions.add_parser(
        "stats", help="subscribers at a glance: counts by state, and sign-ups, unsubscribes "
                      "and bounces per season")
    for action in (add, imp, exp, lst, rem, stats):
        _common(action, suppress=True)
        action.add_argument("--db", type=_database, metavar="PATH_OR_URL",
                            help="a SQLite file or a postgresql:// URL (default: "
                                 "subscribers.database)")
    subs.set_defaults(run=_run_subscribers)

    send = commands.add_parser(
        "send", help="send an issue to every active subscriber, resumably",
        description="Rebuild the issue with strict checks, then send one personalised message "
                    "per active subscriber over SMTP or into the outbox folder. Killed and run "
                    "again, it resumes: nobody is skipped, and only the message in flight on "
                    "each SMTP connection at the moment of the kill can be sent again (with "
                    "the same Message-ID, which receiving systems use to drop duplicates). "
                    "Before the issue's moment it refuses unless --early; on a terminal it "
                    "asks before mailing, unless --yes. 'newsletter publish' builds the site "
                    "and sends in one go.")
    _common(send, suppress=True)
    send.add_argument("issue", metavar="ISSUE", help="an issue id or the path of its folder")
    delivery_options(send)
    send.add_argument("--test-to", metavar="ADDRESS", action="append", default=[],
                      help="send one copy, its subject marked [TEST], to this address only "
                           "(repeat for several; nothing recorded; works before the moment)")
    send.add_argument("--dry-run", action="store_true",
                      help="build every message and send nothing")
    send.add_argument("--early", action="store_true",
                      help="send before the issue's moment (which publishes it now); without "
                           "it, a send before the moment is refused")
    send.add_argument("--yes", action="store_true",
                      help="do not ask before mailing (for cron, systemd and CI); without it "
                           "a send asks on the terminal, and fails when there is none")
    send.set_defaults(run=_run_send)

    bounces = commands.add_parser(
        "bounces", help="act on delivery reports: bounces and complaints after sending",
        description="Read delivery reports from mbox files, Maildir folders or an IMAP "
                    "mailbox (read-only): a permanent "
                    "failure marks the reader bounced; temporary failures are counted, and "
                    "delivery.soft_bounce_limit of them within delivery.soft_bounce_days days "
                    "mark the reader bounced; a complaint (an ARF feedback report) "
                    "unsubscribes the reader at once, with the complaint in their consent "
                    "history. A report is matched to its reader by the VERP return path "
                    "(delivery.verp), the unsubscribe token or Message-ID of the original "
                    "message, or the failed address; one that matches no reader is listed. "
                    "Reading the same report again changes nothing. Needs the token signing "
                    "key (delivery.token_secret_env).")
    _common(bounces, suppress=True)
    bounces.add_argument("paths", nargs="*", type=Path, metavar="PATH",
                         help="an mbox file, a Maildir folder or one message file (default: "
                              "the IMAP mailbox of delivery.imap_url)")
    bounces.add_argument("--imap", metavar="URL", type=_imap_url,
                         help="also read this IMAP mailbox, read-only: imaps://HOST:993/MAILBOX, "
                              "imap+starttls://HOST:143/MAILBOX or imap://HOST:143/MAILBOX; the "
                              "login comes from the environment variables "
                              "delivery.imap_username_env and imap_password_env name")
    bounces.add_argument("--dry-run", action="store_true",
                         help="say what would change, and change nothing")
    bounces.add_argument("--db", type=_database, metavar="PATH_OR_URL",
                         help="the subscriber database: a SQLite file or a postgresql:// URL "
                              "(default: subscribers.database)")
    bounces.set_defaults(run=_run_bounces)

    if editorial:  # the editorial workflow: each module adds its own subcommand(s)
        from . import (
            call,
            check,
            cli_web,
            gather,
            init,
            new_piece,
            publish,
            remind,
            report,
            status,
        )

        for module in (init, new_piece, check, status, call, remind, gather, report, cli_web,
                       publish):
            module.register(commands, _common)
    return parser


def delivery_options(parser: argparse.ArgumentParser) -> None:
    """The delivery options of ``send`` and ``publish``."""
    parser.add_argument("--smtp", metavar="URL", type=_smtp_url,
                        help="smtp://HOST:PORT, smtp+starttls://HOST:587 or smtps://HOST:465 "
                             "(default: delivery.smtp_url); no login in it: the login comes "
                             "from the environment variables delivery.username_env and "
                             "password_env name")
    parser.add_argument("--outbox", type=Path, metavar="DIR",
                        help="write .eml files here instead of sending over SMTP")
    parser.add_argument("--rate", type=_rate, metavar="N",
                        help="messages per second at most (0: no limit)")
    parser.add_argument("--connections", type=_positive, metavar="N",
                        help="parallel SMTP connections")
    parser.add_argument("--db", type=_database, metavar="PATH_OR_URL",
                        help="the subscriber database: a SQLite file or a postgresql:// URL "
                             "(default: subscribers.database)")


def _command(argv: Sequence[str]) -> str | None:
    """The subcommand ``argv`` names: its first word that is not an option or --root's value."""
    words = iter(argv)
    for word in words:
        if word == "--root":
            next(words, None)
        elif not word.startswith("-"):
            return word
    return None


# Sending, subscribers and calendars import what only they need (SMTP, DKIM, iCalendar) when
# they run, so that build-issue starts quickly.


def _run_send(args: argparse.Namespace, console: Console) -> int:
    from .cli_delivery import run_send

    return run_send(args, console)


def _run_bounces(args: argparse.Namespace, console: Console) -> int:
    from .cli_delivery import run_bounces

    return run_bounces(args, console)


def _run_subscribers(args: argparse.Namespace, console: Console) -> int:
    from .cli_delivery import run_subscribers

    return run_subscribers(args, console)


def _parse_date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a date: use YYYY-MM-DD") from None


def _database(text: str) -> Database:
    """``--db``: a SQLite file (relative to the current folder) or a postgresql:// URL."""
    problem = database_problem(text)
    if problem:
        raise argparse.ArgumentTypeError(problem.replace("subscribers.password_env",
                                                         "subscribers.password_env in "
                                                         "newsletter.toml"))
    return text if is_url(text) else Path(text)


def _smtp_url(text: str) -> str:
    """``--smtp``: checked as ``delivery.smtp_url`` is in newsletter.toml."""
    problem = smtp_url_problem(text)
    if problem:
        problem = problem.replace("variables username_env", "variables delivery.username_env")
        raise argparse.ArgumentTypeError(f"'{text}' {problem}")
    return text


def _imap_url(text: str) -> str:
    problem = imap_url_problem(text)
    if problem:
        raise argparse.ArgumentTypeError(f"'{text}' {problem}")
    return text


def _rate(text: str) -> float:
    """``--rate``: messages per second, zero (no limit) or more, as delivery.rate is."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a number") from None
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"'{text}' must be zero (no limit) or more")
    return value


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a whole number") from None
    if not 1 <= value <= 1000:
        raise argparse.ArgumentTypeError("must be between 1 and 1000")
    return value


def _report(result: BuildResult, console: Console) -> None:
    for problem in result.problems:
        console.problem(problem)
    for written in result.written:
        if written.changed or console.verbosity > 0:
            state = "wrote" if written.changed else "unchanged"
            console.result(f"{state} {display_path(written.path)} ({written.size / 1024:.1f} KB)")
    for issue in result.issues:
        size = result.email_sizes.get(str(issue.issue_id), 0)
        images = result.image_weights.get(str(issue.issue_id), 0)
        people, teams = len(issue.contributors()), len(issue.teams())
        left = len(issue.left_out)
        console.result(
            f"{issue.issue_id} ({issue.full_title}): {plural(len(issue.pieces), 'piece')} by "
            f"{plural(people, 'contributor')} from {plural(teams, 'team')}; HTML email "
            f"{size / 1024:.1f} KB of {result.budget_kb} KB"
            + (f" ({result.teasers[str(issue.issue_id)][0] / 1024:.1f} KB in full; "
               f"{plural(result.teasers[str(issue.issue_id)][1], 'piece')} as teasers)"
               if str(issue.issue_id) in result.teasers else "")
            + f", its images {images / 1024:.1f} KB (opening it downloads "
            f"{(size + images) / 1024:.1f} KB)"
            + (f"; {plural(left, 'file')} left out" if left else ""))
    for path in result.removed:
        console.result(f"removed {display_path(path)}/: not published yet")
    if not result.feeds_written:
        console.result("feeds not written: a preview is not published")
    if console.verbosity > 0:
        console.result(result.cache.summary())



def _run_build_issue(args: argparse.Namespace, console: Console) -> int:
    root = newsletter_root(args)
    config = load_config(root)  # read once, for the build and the messages
    at = now()
    request = _replayable(args, console, root, "build-issue", issue=args.issue,
                          drafts=args.drafts, early=args.early)
    stamp = _stamp(config, request, at)
    if stamp and _replay(config, request, stamp, args.out, console):
        return 0
    from .build import build_issue

    result = build_issue(root, args.issue, now=at, out=args.out, drafts=args.drafts,
                         strict=args.strict, cache=args.cache, early=args.early,
                         config=config)
    _report(result, console)
    issue = result.issues[0]
    tz = config.time_zone
    if result.early:
        console.result(f"published {issue.issue_id} early, before its moment "
                       f"({when(issue.moment, at, tz)}); recorded in {RECORD_NAME}")
    elif result.preview and not args.drafts:
        out = display_path(result.out_dir or root)
        console.result(f"preview only: {issue.issue_id} is published at its moment, "
                       f"{when(issue.moment, at, tz)}; built into {out}/, and the site, "
                       "the archive and the feeds are untouched. Then run 'newsletter "
                       f"publish {issue.issue_id}' (or build-issue --early to publish now)")
    else:
        _remember(config, request, stamp, result)
    return 0


def _run_build_all(args: argparse.Namespace, console: Console) -> int:
    root = newsletter_root(args)
    config = load_config(root)
    at = now()
    request = _replayable(args, console, root, "build")
    stamp = _stamp(config, request, at)
    if stamp and _replay(config, request, stamp, args.out, console):
        return 0
    from .build import build_all

    result = build_all(root, now=at, out=args.out, strict=args.strict, cache=args.cache,
                       config=config)
    _report(result, console)
    _remember(config, request, stamp, result)
    return 0


def _replayable(args: argparse.Namespace, console: Console, root: Path, command: str,
                **flags: Any) -> dict[str, Any] | None:
    """What names this build for :mod:`pipeline.uptodate`, or None when it is never replayed
    (drafts, --early, --no-cache, -v)."""
    if flags.pop("drafts", False) or flags.pop("early", False) or not args.cache or \
            console.verbosity > 0:
        return None
    return {"command": command, "root": str(root.resolve()), "cwd": os.getcwd(),
            "out": str(args.out.resolve()) if args.out is not None else None,
            "strict": args.strict, **flags}


def _stamp(config: Config, request: dict[str, Any] | None, at: datetime) -> str:
    """What the file system says of the build's inputs now (none for a build never replayed)."""
    if request is None:
        return ""
    return uptodate.inputs_stamp(config, request, at, load_record(config.root))


def _replay(config: Config, request: dict[str, Any] | None, stamp: str, out: Path | None,
            console: Console) -> bool:
    """Print the last build's report again if nothing it read or wrote changed since."""
    report = uptodate.replay(config, request or {}, stamp, out or config.output_dir)
    if report is None:
        return False
    report.replay(console)
    return True


def _remember(config: Config, request: dict[str, Any] | None, stamp: str,
              result: BuildResult) -> None:
    """Keep what this build would print if it changed nothing, for :func:`_replay`."""
    if not stamp or request is None or result.clocked or result.out_dir is None:
        return
    recorder = uptodate.Recorder()
    _report(replace(result, written=tuple(replace(w, changed=False) for w in result.written),
                    removed=()), recorder)
    uptodate.remember(config, request, stamp, result.out_dir, recorder.report)


def _run_calendar(args: argparse.Namespace, console: Console) -> int:
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
        from . import ics

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


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``newsletter`` command; returns the exit status."""
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = make_parser(editorial=_command(argv) not in BUILD_COMMANDS)
    return _execute(parser.parse_args(argv))


def _execute(args: argparse.Namespace) -> int:
    """Run the command ``args`` name (``args.run``), turning every problem a user can cause
    into its message and exit status, never a traceback."""
    console = Console(args.verbosity)
    run: Callable[[argparse.Namespace, Console], int] = args.run
    try:
        status: int = run(args, console)
        sys.stdout.flush()  # a reader that went away shows here, not at the interpreter's exit
        return status
    except BrokenPipeError:
        if not _stdout_closed():
            raise
        # `newsletter calendar | head -1`: the reader has all it wanted. Stop quietly, as a
        # Unix tool stopped by SIGPIPE does, and let nothing flush into the closed pipe again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return CLOSED_PIPE
    except ContentError as exc:
        for problem in exc.problems:
            console.problem(problem)
        written = "" if args.command in READ_ONLY else "; nothing was written"
        console.message("error", f"{exc}{written}")
        return exc.exit_code
    except UsageError as exc:
        console.message("error", str(exc))
        return exc.exit_code
    except PipelineError as exc:
        console.message("error", str(exc))
        return exc.exit_code
    except KeyboardInterrupt:
        console.message("error", "interrupted; nothing was half-written")
        return 130


#: The exit status after the reader of stdout went away: 128 + SIGPIPE, as a shell reports
#: for a tool that SIGPIPE stopped.
CLOSED_PIPE = 141


def _stdout_closed() -> bool:
    """Whether stdout is a pipe (or socket) whose reader has gone."""
    try:
        poller = select.poll()
        poller.register(sys.stdout.fileno(), select.POLLOUT)
        return any(events & (select.POLLERR | select.POLLHUP) for _, events in poller.poll(0))
    except (OSError, ValueError, AttributeError):  # no real file behind stdout
        return False


def build_issue_main(argv: Sequence[str] | None = None) -> int:
    """``build-issue ...`` is ``newsletter build-issue ...``."""
    parser = argparse.ArgumentParser(
        prog="build-issue",
        description="Build one issue (the same as 'newsletter build-issue'): HTML and "
                    "plain-text email, web edition, archive and feeds.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    _common(parser, suppress=False)
    _build_issue_parser(parser)
    parser.set_defaults(run=_run_build_issue, command="build-issue")
    return _execute(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
