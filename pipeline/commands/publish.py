"""``newsletter publish ISSUE``: the editor's one command at the moment: check strictly, build
the site and the feeds, send; resumably."""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from datetime import timedelta

from ..config import load_config
from ..console import Console, ProgressLine, newsletter_root
from ..console import now as machine_now
from ..errors import display_path
from ..publication import RECORD_NAME, countdown
from ..publish import Clock, publish
from .options import delivery_options, issue_argument, yes
from .send import confirmation, send_options, summarise

DESCRIPTION = ("Publish an issue at its moment: check it strictly, build the site and "
               "the feeds (recording the publication time in published.toml), then send "
               "it to every active subscriber. Run again after a crash, a kill or a "
               "deferred send, it finishes what is missing and mails nobody twice. "
               "Before the moment it refuses, unless --wait (sleep until the moment with "
               "a countdown, then publish) or --early. On a terminal it asks before "
               "mailing; --yes for cron, systemd and CI.")


def arguments(parser: argparse.ArgumentParser) -> None:
    issue_argument(parser)
    parser.add_argument("--wait", action="store_true",
                        help="check now, then wait until the issue's moment (showing a "
                             "countdown) and publish; started after the moment, it runs at once")
    parser.add_argument("--early", action="store_true",
                        help="publish now although the issue's moment has not come")
    yes(parser, "publish")
    delivery_options(parser)


def run(args: argparse.Namespace, console: Console) -> int:
    root = newsletter_root(args)
    options = send_options(args)
    confirm = confirmation(args.yes, console, "publish")
    start, started = machine_now(), time.monotonic()
    # The clock runs from "now" (SOURCE_DATE_EPOCH too, if it is set) with the machine's
    # monotonic clock, so a wait ends even when "now" was given.
    clock = Clock(lambda: start + timedelta(seconds=time.monotonic() - started), time.sleep,
                  time.monotonic)
    tty = console.err.isatty() and console.verbosity >= 0
    progress_line = ProgressLine(console)
    result = publish(root, options, clock, wait=args.wait, tick=1.0 if tty else 60.0,
                     confirm=confirm, on_wait=_countdown(console, args.issue, tty),
                     on_progress=progress_line.update)
    progress_line.finish()
    if result.waited and tty:
        console.err.write("\n")
    for problem in result.build.problems:
        console.problem(problem)
    for written in result.build.written if console.verbosity > 0 else ():
        console.result(f"{'wrote' if written.changed else 'unchanged'} "
                       f"{display_path(written.path)}")
    changed = [w for w in result.build.written if w.changed]
    config = load_config(root)
    issue = result.build.issues[0]
    after = result.published - issue.moment
    timing = ("before its moment (--early)" if after < timedelta(0) else
              "at its moment" if after < timedelta(minutes=1) else
              f"{_duration(after)} after its moment")
    out = display_path(result.build.out_dir or config.output_dir)
    console.result(f"published {issue.issue_id} on {result.published:%Y-%m-%d %H:%M} UTC, "
                   f"{timing} (recorded in {RECORD_NAME}): the site {out}/ and the feeds "
                   f"({display_path(config.feeds_dir)}/ and {out}/feeds/), "
                   f"{len(changed)} file{'s' * (len(changed) != 1)} written")
    for path in result.build.removed:
        console.result(f"removed {display_path(path)}/: not published yet")
    if result.send is None:
        console.result("no active email subscriber: nothing to send")
        return 0
    return summarise(result.send, console)


def _countdown(console: Console, issue: str, tty: bool) -> Callable[[timedelta], None]:
    """On a terminal, one line counting down each second; otherwise (a log) a line when the
    count of days, or in the last day of hours, changes."""
    shown: list[str] = []

    def show(left: timedelta) -> None:
        if tty:
            console.err.write(f"\rpublishing {issue} {countdown(left)} ({_clock(left)}) ")
            console.err.flush()
            return
        days = int(left.total_seconds() // 86400)
        label = f"{days} days" if days >= 1 else f"{int(left.total_seconds() // 3600)} h"
        if not shown or shown[-1] != label:
            shown.append(label)
            console.message("note", f"waiting to publish {issue}: {countdown(left)}")

    return show


def _clock(left: timedelta) -> str:
    seconds = int(left.total_seconds())
    days, rest = divmod(seconds, 86400)
    return (f"{days} d " if days else "") + \
        f"{rest // 3600:02d}:{rest % 3600 // 60:02d}:{rest % 60:02d}"


def _duration(span: timedelta) -> str:
    if span >= timedelta(days=2):
        return f"{span.days} days"
    hours = int(span.total_seconds() // 3600)
    return f"{hours} h" if hours else f"{int(span.total_seconds() // 60)} min"
