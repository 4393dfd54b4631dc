"""The ``newsletter`` command (and ``build-issue``, the same as ``newsletter build-issue``).

Exit status: 0 success, 1 a problem with the content or the run, 2 bad usage. Problems go to
stderr as ``path:line: level: message``; what a command made goes to stdout.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TextIO
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from . import __version__
from .build import BuildResult, build_all, build_issue
from .config import CONFIG_NAME, load_config
from .delivery import Progress
from .errors import ContentError, PipelineError, Problem, Problems, UsageError, display_path
from .seasons import NAMINGS, Naming, calendar
from .send import ENERGY_MODEL, SendOptions, send_issue
from .store import STATUSES, NewSubscriber, open_store
from .subscribers import AddressError, clean_name, normalise, read_csv, write_csv

_COLOURS = {"error": "31", "warning": "33", "note": "36"}


class _Console:
    """Prints results to stdout and problems to stderr, in colour only on a terminal."""

    def __init__(self, verbosity: int, out: TextIO | None = None, err: TextIO | None = None):
        self.verbosity = verbosity
        self.out, self.err = out or sys.stdout, err or sys.stderr
        self.colour = self.err.isatty() and "NO_COLOR" not in os.environ

    def result(self, line: str) -> None:
        if self.verbosity >= 0:
            print(line, file=self.out)

    def problem(self, problem: Problem) -> None:
        if problem.level == "note" and self.verbosity < 0:
            return
        text = problem.format()
        if self.colour:
            level = f"{problem.level}:"
            text = text.replace(level, f"\033[{_COLOURS[problem.level]}m{level}\033[0m", 1)
        print(text, file=self.err)

    def message(self, level: str, text: str) -> None:
        if self.colour:
            level = f"\033[{_COLOURS.get(level, '0')}m{level}\033[0m"
        print(f"{level}: {text}", file=self.err)


def _common(parser: argparse.ArgumentParser, suppress: bool) -> None:
    default: object = argparse.SUPPRESS if suppress else None
    parser.add_argument("--root", type=Path, default=default, metavar="DIR",
                        help="the newsletter's folder (default: the current folder)")
    parser.add_argument("-q", "--quiet", action="store_const", const=-1, dest="verbosity",
                        default=argparse.SUPPRESS if suppress else 0,
                        help="print only problems")
    parser.add_argument("-v", "--verbose", action="store_const", const=1, dest="verbosity",
                        default=argparse.SUPPRESS if suppress else 0,
                        help="also print unchanged files and notes")


def _build_issue_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("issue", metavar="ISSUE",
                        help="an issue id such as 2026-12-solstice, or the path of its folder")
    parser.add_argument("--out", type=Path, metavar="DIR",
                        help="where to write the issue and the archive (default: output_dir "
                             "of newsletter.toml, usually <root>/public)")
    parser.add_argument("--drafts", action="store_true",
                        help="include draft pieces, marked DRAFT (a preview: feeds are not "
                             "written)")
    parser.add_argument("--strict", action="store_true",
                        help="treat warnings (unknown authors, images without alt text, ...) "
                             "as errors")


def make_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="newsletter",
        description="Build and publish the Ethics & Society newsletter: four issues a year, "
                    "at each equinox and solstice, written by people from every team.",
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
                    "<root>/feeds/. Nothing is written unless the whole build succeeds.")
    _common(build, suppress=True)
    _build_issue_parser(build)
    build.set_defaults(run=_run_build_issue)

    everything = commands.add_parser(
        "build", help="rebuild every issue of the archive, the archive page and the feeds",
        description="Rebuild every issue that has a ready piece, the archive and the feeds.")
    _common(everything, suppress=True)
    everything.add_argument("--out", type=Path, metavar="DIR",
                            help="where to write (default: output_dir of newsletter.toml)")
    everything.add_argument("--strict", action="store_true", help="treat warnings as errors")
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
    cal.set_defaults(run=_run_calendar)

    subs = commands.add_parser(
        "subscribers", help="add, import, export, list or remove email subscribers",
        description="Manage the subscriber database (SQLite; subscribers.database in "
                    "newsletter.toml, or --db).")
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
    for action in (add, imp, exp, lst, rem):
        _common(action, suppress=True)
        action.add_argument("--db", type=Path, metavar="PATH",
                            help="the database file (default: subscribers.database)")
    subs.set_defaults(run=_run_subscribers)

    send = commands.add_parser(
        "send", help="send an issue to every active subscriber, resumably",
        description="Rebuild the issue with strict checks, then send one personalised message "
                    "per active subscriber over SMTP or into the outbox folder. Killed and run "
                    "again, it resumes: nobody is skipped and nobody gets it twice.")
    _common(send, suppress=True)
    send.add_argument("issue", metavar="ISSUE", help="an issue id or the path of its folder")
    send.add_argument("--smtp", metavar="URL", help="smtp://HOST:PORT, smtp+starttls://HOST:587"
                      " or smtps://HOST:465 (default: delivery.smtp_url)")
    send.add_argument("--outbox", type=Path, metavar="DIR",
                      help="write .eml files here instead of sending over SMTP")
    send.add_argument("--rate", type=float, metavar="N", help="messages per second at most")
    send.add_argument("--connections", type=_positive, metavar="N",
                      help="parallel SMTP connections")
    send.add_argument("--test-to", metavar="ADDRESS",
                      help="send one copy to this address only (not recorded)")
    send.add_argument("--dry-run", action="store_true",
                      help="build every message and send nothing")
    send.add_argument("--db", type=Path, metavar="PATH", help="the subscriber database")
    send.set_defaults(run=_run_send)
    return parser


def _parse_date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a date: use YYYY-MM-DD") from None


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be 1 or more")
    return value


def _root(args: argparse.Namespace) -> Path:
    if args.root is not None:
        if not args.root.is_dir():
            raise UsageError(f"--root {args.root}: no such folder")
        return Path(args.root)
    issue = getattr(args, "issue", None)
    if issue and Path(issue).is_dir():
        # `build-issue path/to/root/issues/2026-12-solstice` finds its own root.
        candidate = Path(issue).resolve().parent.parent
        if (candidate / CONFIG_NAME).is_file() and not (Path.cwd() / CONFIG_NAME).is_file():
            return candidate
    return Path.cwd()


def _report(result: BuildResult, console: _Console) -> None:
    for problem in result.problems:
        console.problem(problem)
    for written in result.written:
        if written.changed or console.verbosity > 0:
            state = "wrote" if written.changed else "unchanged"
            console.result(f"{state} {display_path(written.path)} ({written.size / 1024:.1f} KB)")
    for issue in result.issues:
        size = result.email_sizes.get(str(issue.issue_id), 0)
        people, teams = len(issue.contributors()), len(issue.teams())
        left = len(issue.left_out)
        console.result(
            f"{issue.issue_id} ({issue.full_title}): {_n(len(issue.pieces), 'piece')} by "
            f"{_n(people, 'contributor')} from {_n(teams, 'team')}; HTML email "
            f"{size / 1024:.1f} KB of {result.budget_kb} KB"
            + (f"; {_n(left, 'file')} left out" if left else ""))
    if not result.feeds_written:
        console.result("feeds not written: a --drafts build is a preview")


def _n(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def _run_build_issue(args: argparse.Namespace, console: _Console) -> int:
    result = build_issue(_root(args), args.issue, out=args.out, drafts=args.drafts,
                         strict=args.strict)
    _report(result, console)
    return 0


def _run_build_all(args: argparse.Namespace, console: _Console) -> int:
    result = build_all(_root(args), out=args.out, strict=args.strict)
    _report(result, console)
    return 0


def _run_calendar(args: argparse.Namespace, console: _Console) -> int:
    root = _root(args)
    tz_name, lead = "UTC", 14
    naming: Naming = "neutral"
    if (root / CONFIG_NAME).is_file():
        config = load_config(root)
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
    start = args.start or datetime.now(tz).date()
    entries = calendar(start, args.count, tz, lead, chosen)
    if args.json:
        console.result(json.dumps([e.as_json() for e in entries], indent=2))
        return 0
    console.result(f"{'issue':<18} {'name':<26} {'moment (UTC)':<20} {'published':<11} deadline")
    for e in entries:
        console.result(f"{e.issue_id!s:<18} {e.name:<26} {e.moment_utc:%Y-%m-%d %H:%M:%S}  "
                       f"{e.publication_date.isoformat():<11} {e.deadline.isoformat()}")
    console.result(f"(publication days and deadlines in {tz.key})")
    return 0


def _now() -> datetime:
    return datetime.now(UTC)


def _run_subscribers(args: argparse.Namespace, console: _Console) -> int:
    root = _root(args)
    config = load_config(root)
    store = open_store(args.db or config.delivery.database)
    try:
        if args.action == "add":
            try:
                email = normalise(args.email)
            except AddressError as exc:
                raise UsageError(f"{args.email}: {exc}") from None
            person, created = store.add(NewSubscriber(
                email, clean_name(args.name), args.status, _now().isoformat(timespec="seconds"),
                args.source), _now())
            console.result(f"{'added' if created else 'already subscribed'}: {person.email} "
                           f"({person.status})")
        elif args.action == "import":
            problems = Problems()
            if not args.file.is_file():
                raise UsageError(f"{args.file}: no such file")
            found = read_csv(args.file, args.source or f"import: {args.file.name}", problems)
            for problem in problems.items:
                console.problem(problem)
            if problems.has_errors:
                console.message("error", "nothing was imported; fix the rows above and run "
                                         "the import again")
                return 1
            added, known = store.import_many(found, _now())
            console.result(f"imported {added} subscriber{'s' * (added != 1)}; {known} already "
                           "known were left as they were")
        elif args.action == "export":
            if args.out:
                with open(args.out, "w", encoding="utf-8", newline="") as handle:
                    count = write_csv(store.subscribers(args.status), handle)
                console.message("note", f"exported {count} subscribers to {args.out}")
            else:
                write_csv(store.subscribers(args.status), sys.stdout)
        elif args.action == "list":
            count = 0
            for s in store.subscribers(args.status):
                console.result(f"{s.email:<40} {s.status:<13} {s.name or ''}")
                count += 1
            console.message("note", f"{count} subscriber{'s' * (count != 1)}")
        elif args.action == "remove":
            try:
                email = normalise(args.email)
            except AddressError:
                email = args.email.strip()
            if not store.remove(email):
                raise UsageError(f"{args.email} is not a subscriber")
            console.result(f"removed {email} and their send records")
    finally:
        store.close()
    return 0


def _run_send(args: argparse.Namespace, console: _Console) -> int:
    progress_line = _ProgressLine(console)
    report = send_issue(
        _root(args),
        SendOptions(args.issue, smtp_url=args.smtp, outbox=args.outbox, rate=args.rate,
                    connections=args.connections, test_to=args.test_to, dry_run=args.dry_run,
                    db=args.db),
        now=_now, monotonic=time.monotonic, on_progress=progress_line.update,
    )
    progress_line.finish()
    size_mb = report.size / 1e6
    if report.mode == "test":
        console.result(f"sent a test copy of {report.issue.issue_id} to {args.test_to} via "
                       f"{report.transport} ({report.size / 1024:.1f} KB); nothing recorded")
        return 0
    if report.mode == "dry-run":
        console.result(f"dry run: built {report.recipients} messages ({size_mb:.1f} MB) in "
                       f"{report.seconds:.1f} s; nothing sent")
        return 0
    done = report.sent + report.failed + report.skipped
    console.result(
        f"{report.issue.issue_id} via {report.transport}: {report.sent} sent, {report.failed} "
        f"failed, {report.skipped} skipped, {report.deferred} deferred, of {report.recipients} "
        f"recipients ({report.this_run.sent} sent in this run, {report.seconds:.1f} s)")
    console.result(f"delivered {size_mb:.2f} MB: about {report.kwh * 1000:.2f} Wh and "
                   f"{report.grams_co2e:.2f} g CO2e ({ENERGY_MODEL})")
    if done == report.recipients:
        console.result("every recipient is done: nobody was skipped or sent twice")
        return 0 if not report.failed else 1
    console.message("warning", f"{report.recipients - done} recipients are not done yet "
                               "(deferred); run the same command again to retry them")
    return 1


class _ProgressLine:
    """A progress bar with rate and ETA on a terminal; a line per 10 % otherwise."""

    def __init__(self, console: _Console) -> None:
        self.console = console
        self.tty = console.err.isatty() and console.verbosity >= 0
        self.start = time.monotonic()
        self.last_tenth = -1

    def update(self, progress: Progress, total: int) -> None:
        if self.console.verbosity < 0 or total == 0:
            return
        elapsed = max(time.monotonic() - self.start, 1e-6)
        rate = progress.done / elapsed
        remaining = total - progress.done
        eta = remaining / rate if rate and remaining > 0 else 0.0
        if self.tty:
            width = 30
            filled = int(width * min(progress.done, total) / total)
            self.console.err.write(f"\r[{'#' * filled}{'.' * (width - filled)}] "
                                   f"{progress.done}/{total} {rate:.0f}/s ETA {eta:.0f}s ")
            self.console.err.flush()
            return
        tenth = progress.done * 10 // total
        if tenth > self.last_tenth:
            self.last_tenth = tenth
            self.console.err.write(f"progress: {progress.done}/{total} ({rate:.0f}/s)\n")

    def finish(self) -> None:
        if self.tty:
            self.console.err.write("\n")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``newsletter`` command; returns the exit status."""
    parser = make_parser()
    args = parser.parse_args(argv)
    console = _Console(args.verbosity)
    run: Callable[[argparse.Namespace, _Console], int] = args.run
    try:
        return run(args, console)
    except ContentError as exc:
        for problem in exc.problems:
            console.problem(problem)
        console.message("error", f"{exc}; nothing was written")
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


def build_issue_main(argv: Sequence[str] | None = None) -> int:
    """``build-issue ...`` is ``newsletter build-issue ...``."""
    parser = argparse.ArgumentParser(
        prog="build-issue",
        description="Build one issue (the same as 'newsletter build-issue'): HTML and "
                    "plain-text email, web edition, archive and feeds.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    _common(parser, suppress=False)
    _build_issue_parser(parser)
    args = parser.parse_args(argv)
    return main(["build-issue", *_as_argv(args)])


def _as_argv(args: argparse.Namespace) -> list[str]:
    argv = [args.issue]
    if args.root is not None:
        argv += ["--root", str(args.root)]
    if args.out is not None:
        argv += ["--out", str(args.out)]
    argv += ["--drafts"] * args.drafts + ["--strict"] * args.strict
    argv += {-1: ["-q"], 0: [], 1: ["-v"]}[args.verbosity]
    return argv


if __name__ == "__main__":
    sys.exit(main())
