"""``newsletter publish ISSUE``: the editor's one command at the moment.

It checks the issue strictly, builds the site and the feeds (recording the real publication
time in ``published.toml``), then sends the email through the ledger, and says what it did.
Run again after a crash, a kill or a deferred send, it finishes what is missing: the build
rewrites nothing that is already right, the first publication time is kept, and the ledger
mails nobody twice. Before the moment it refuses, unless ``--early``; with ``--wait`` it
checks the issue at once (so a mistake is found now, not at the moment), then sleeps until
the moment with a countdown, then publishes. The clock and the sleep are passed in
(:class:`Clock`), so the wait is tested without sleeping.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from .build import BuildResult, build_issue
from .config import load_config
from .console import Console, ProgressLine, newsletter_root
from .console import now as machine_now
from .content import resolve_issue
from .delivery import Progress
from .errors import display_path
from .publication import RECORD_NAME, countdown, is_published, load_record, when
from .send import (
    Confirm,
    NoSubscribers,
    NotConfirmed,
    NotYet,
    SendOptions,
    SendReport,
    send_issue,
)
from .store import open_store
from .tokens import secret_from_env


@dataclass(frozen=True)
class Clock:
    """What a publication reads the time from and sleeps with."""

    now: Callable[[], datetime]
    sleep: Callable[[float], None]
    monotonic: Callable[[], float]


@dataclass(frozen=True)
class Publication:
    """What one ``publish`` did."""

    build: BuildResult
    send: SendReport | None  # None: there is no email subscriber
    published: datetime  # the recorded publication time (this run's, or an earlier one's)
    waited: bool


def wait_for(moment: datetime, clock: Clock, tick: float,
             on_wait: Callable[[timedelta], None] | None = None) -> bool:
    """Sleep until ``moment`` by steps of at most ``tick`` seconds, reading the clock again
    after each (so a slow or suspended sleep never overshoots); True if it waited at all."""
    waited = False
    while (left := moment - clock.now()) > timedelta(0):
        waited = True
        if on_wait is not None:
            on_wait(left)
        clock.sleep(min(left.total_seconds(), tick))
    return waited


def publish(root: Path, options: SendOptions, clock: Clock, *, wait: bool = False,
            tick: float = 1.0, confirm: Confirm | None = None,
            environ: dict[str, str] | None = None,
            on_wait: Callable[[timedelta], None] | None = None,
            on_progress: Callable[[Progress, int], None] | None = None) -> Publication:
    """Check, build and send one issue at its moment; see the module docstring."""
    env = dict(os.environ) if environ is None else environ
    config = load_config(root)
    issue_id = resolve_issue(options.issue, config)
    if _active(root, options, env):
        # What the send will need, asked before anything is built or recorded: a missing
        # key must not leave the issue published on the site and not sent.
        secret_from_env(config.delivery.token_secret_env, env)
    at = clock.now()
    waited = False
    if not options.early and not is_published(issue_id, at, load_record(root)):
        moment = issue_id.moment()
        if not wait:
            raise NotYet(f"{issue_id} is not published yet: its moment is "
                         f"{when(moment, at, config.time_zone)}, so nothing was built or "
                         f"sent. Run 'newsletter publish {issue_id} --wait' to publish it "
                         "then, or pass --early to publish it now")
        checked = build_issue(root, options.issue, now=at, strict=True)  # a preview, strict
        if confirm is not None:  # asked now, while someone is there to answer
            if not confirm(checked.issues[0], _active(root, options, env)):
                raise NotConfirmed(f"{issue_id} was not published: the answer was not yes")
            confirm = None
        waited = wait_for(moment, clock, tick, on_wait)
    built = build_issue(root, options.issue, now=clock.now(), strict=True, early=options.early,
                        publish=True)
    published = built.published or issue_id.moment()
    try:
        report: SendReport | None = send_issue(
            root, options, now=clock.now, monotonic=clock.monotonic, environ=env,
            on_progress=on_progress, confirm=confirm)
    except NoSubscribers:
        report = None
    return Publication(built, report, published, waited)


def _active(root: Path, options: SendOptions, env: dict[str, str]) -> int:
    config = load_config(root)
    store = open_store(options.db or config.delivery.database,
                       config.delivery.database_password_env, env)
    try:
        return store.count("active")
    finally:
        store.close()


# --------------------------------------------------------------------------- the command


def register(commands: Any, common: Callable[[argparse.ArgumentParser, bool], None]) -> None:
    """Add ``publish`` to the ``newsletter`` parser."""
    from .cli import delivery_options

    parser = commands.add_parser(
        "publish", help="at the moment: check strictly, build the site and feeds, send; "
                        "resumably",
        description="Publish an issue at its moment: check it strictly, build the site and "
                    "the feeds (recording the publication time in published.toml), then send "
                    "it to every active subscriber. Run again after a crash, a kill or a "
                    "deferred send, it finishes what is missing and mails nobody twice. "
                    "Before the moment it refuses, unless --wait (sleep until the moment with "
                    "a countdown, then publish) or --early. On a terminal it asks before "
                    "mailing; --yes for cron, systemd and CI.")
    common(parser, True)
    parser.add_argument("issue", metavar="ISSUE", help="an issue id or the path of its folder")
    parser.add_argument("--wait", action="store_true",
                        help="check now, then wait until the issue's moment (showing a "
                             "countdown) and publish; started after the moment, it runs at once")
    parser.add_argument("--early", action="store_true",
                        help="publish now although the issue's moment has not come")
    parser.add_argument("--yes", action="store_true",
                        help="do not ask before mailing (for cron, systemd and CI); without it "
                             "publish asks on the terminal, and fails when there is none")
    delivery_options(parser)
    parser.set_defaults(run=run_publish)


def run_publish(args: argparse.Namespace, console: Console) -> int:
    from .cli_delivery import confirmation, send_options, summarise

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

