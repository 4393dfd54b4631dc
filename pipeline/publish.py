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

import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from .build import BuildResult, build_issue
from .config import load_config
from .content import resolve_issue
from .delivery import Progress
from .publication import is_published, load_record, when
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
        checked = build_issue(config, issue_id, at, strict=True)  # a preview, strict
        if confirm is not None:  # asked now, while someone is there to answer
            if not confirm(checked.issues[0], _active(root, options, env)):
                raise NotConfirmed(f"{issue_id} was not published: the answer was not yes")
            confirm = None
        waited = wait_for(moment, clock, tick, on_wait)
    built = build_issue(config, issue_id, clock.now(), strict=True, early=options.early,
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
