"""``newsletter send ISSUE``: send an issue to every active subscriber, resumably; and what
``send`` and ``publish`` share: asking before mailing, the delivery options, the summary."""

from __future__ import annotations

import argparse
import sys
import time
from typing import TextIO

from ..console import Console, ProgressLine, newsletter_root, now
from ..errors import UsageError, plural
from ..model import Issue
from ..send import ENERGY_MODEL, Confirm, SendOptions, SendReport, send_issue
from .options import delivery_options, issue_argument, yes

DESCRIPTION = ("Rebuild the issue with strict checks, then send one personalised message "
               "per active subscriber over SMTP or into the outbox folder. Killed and run "
               "again, it resumes: nobody is skipped, and only the message in flight on "
               "each SMTP connection at the moment of the kill can be sent again (with "
               "the same Message-ID, which receiving systems use to drop duplicates). "
               "Before the issue's moment it refuses unless --early; on a terminal it "
               "asks before mailing, unless --yes. 'newsletter publish' builds the site "
               "and sends in one go.")


def arguments(parser: argparse.ArgumentParser) -> None:
    issue_argument(parser)
    delivery_options(parser)
    parser.add_argument("--test-to", metavar="ADDRESS", action="append", default=[],
                        help="send one copy, its subject marked [TEST], to this address only "
                             "(repeat for several; nothing recorded; works before the moment)")
    parser.add_argument("--dry-run", action="store_true",
                        help="build every message and send nothing")
    parser.add_argument("--early", action="store_true",
                        help="send before the issue's moment (which publishes it now); without "
                             "it, a send before the moment is refused")
    yes(parser, "a send")


def run(args: argparse.Namespace, console: Console) -> int:
    options = send_options(args)
    full = not options.test_to and not options.dry_run
    confirm = confirmation(args.yes, console, "send") if full else None
    progress_line = ProgressLine(console)
    report = send_issue(newsletter_root(args), options, now=now, monotonic=time.monotonic,
                        on_progress=progress_line.update, confirm=confirm)
    progress_line.finish()
    if report.mode == "test":
        console.result(f"sent a test copy of {report.issue.issue_id}, its subject marked "
                       f"[TEST], to {', '.join(options.test_to)} via {report.transport} "
                       f"({report.size / 1024:.1f} KB); nothing recorded")
        return 0
    return summarise(report, console)


def confirmation(yes: bool, console: Console, command: str,
                 stdin: TextIO | None = None) -> Confirm | None:
    """How a command that mails every subscriber asks first: not at all with ``--yes``; on a
    terminal, "Send ISSUE to N subscribers? [y/N]"; with no terminal, a usage error (exit 2)
    before anything is done, never a silent send."""
    if yes:
        return None
    stream = stdin or sys.stdin
    if not stream.isatty():
        raise UsageError(f"{command} asks before mailing every subscriber, and there is no "
                         "terminal to ask on: pass --yes to send without asking (as a cron "
                         "job, a systemd timer or a CI job must)")

    def ask(issue: Issue, recipients: int) -> bool:
        console.err.write(f"Send {issue.issue_id} to {recipients:,} subscriber"
                          f"{'s' * (recipients != 1)}? [y/N] ")
        console.err.flush()
        return stream.readline().strip().lower() in ("y", "yes")

    return ask


def send_options(args: argparse.Namespace) -> SendOptions:
    """The delivery options ``send`` and ``publish`` share."""
    return SendOptions(args.issue, smtp_url=args.smtp, outbox=args.outbox, rate=args.rate,
                       connections=args.connections, test_to=tuple(getattr(args, "test_to", ())),
                       dry_run=getattr(args, "dry_run", False), db=args.db, early=args.early)


def summarise(report: SendReport, console: Console) -> int:
    """The end of a send: what happened to every recipient; exit 1 unless all are done."""
    size_mb = report.size / 1e6
    if report.mode == "dry-run":
        console.result(f"dry run: built {plural(report.recipients, 'message')} "
                       f"({size_mb:.1f} MB) in {report.seconds:.1f} s; nothing sent")
        return 0
    done = report.sent + report.failed + report.skipped
    console.result(
        f"{report.issue.issue_id} via {report.transport}: {report.sent} sent, {report.failed} "
        f"failed, {report.skipped} skipped, {report.deferred} deferred, of "
        f"{plural(report.recipients, 'recipient')} ({report.this_run.sent} sent in this run, "
        f"{report.seconds:.1f} s)")
    images_mb = (report.opened_size - report.size) / 1e6
    console.result(f"delivered {size_mb:.2f} MB, and {images_mb:.2f} MB of images if every "
                   f"reader opens it: about {report.kwh * 1000:.2f} Wh and "
                   f"{report.grams_co2e:.2f} g CO2e ({ENERGY_MODEL})")
    if done == report.recipients:
        console.result("every recipient is done: nobody was skipped")
        return 0 if not report.failed else 1
    console.message("warning", f"{plural(report.recipients - done, 'recipient')} not done yet "
                               "(deferred); run the same command again to retry them")
    return 1
