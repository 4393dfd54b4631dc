"""The delivery commands: ``newsletter subscribers ...``, ``newsletter send`` and
``newsletter bounces``."""

from __future__ import annotations

import argparse
import sys
import time
from typing import TextIO

from .audience import audience, audience_text
from .config import load_config
from .console import Console, ProgressLine, newsletter_root, now
from .databases import STATUSES
from .errors import PipelineError, Problems, UsageError, plural
from .model import Issue
from .send import ENERGY_MODEL, Confirm, SendOptions, SendReport, send_issue
from .store import NewSubscriber, open_store
from .subscribers import AddressError, clean_name, normalise, read_csv, write_csv


def run_subscribers(args: argparse.Namespace, console: Console) -> int:
    root = newsletter_root(args)
    config = load_config(root)
    store = open_store(args.db or config.delivery.database,
                       config.delivery.database_password_env)
    try:
        if args.action == "add":
            try:
                email = normalise(args.email)
            except AddressError as exc:
                raise UsageError(f"{args.email}: {exc}") from None
            person, created = store.add(NewSubscriber(
                email, clean_name(args.name), args.status, now().isoformat(timespec="seconds"),
                args.source), now())
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
            added, known = store.import_many(found, now())
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
            complained = store.complained()
            for s in store.subscribers(args.status):
                status = f"{s.status} (complaint)" if s.id in complained else s.status
                console.result(f"{s.email:<40} {status:<25} {s.name or ''}")
                count += 1
            by_status = ", ".join(f"{store.count(status)} {status}" for status in STATUSES)
            console.message("note", f"{count} subscriber{'s' * (count != 1)} listed; in all "
                                    f"{by_status} ({len(complained)} after a complaint)")
        elif args.action == "remove":
            try:
                email = normalise(args.email)
            except AddressError:
                email = args.email.strip()
            stored = store.get(email)
            if stored is None or not store.remove(stored.email):
                raise PipelineError(f"{args.email} is not a subscriber; nothing was "
                                    "removed")
            console.result(f"removed {stored.email} and their send records")
        elif args.action == "stats":
            for line in audience_text(audience(store.subscribers())):
                console.result(line)
    finally:
        store.close()
    return 0


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


def run_send(args: argparse.Namespace, console: Console) -> int:
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


def run_bounces(args: argparse.Namespace, console: Console) -> int:
    import itertools
    import os
    from email.utils import parseaddr

    from .bounces import Attribution, process, read_imap, read_messages
    from .tokens import Tokens, secret_from_env

    root = newsletter_root(args)
    config = load_config(root)
    d = config.delivery
    imap = args.imap or (None if args.paths else d.imap_url)
    if not args.paths and not imap:
        raise UsageError("give the mbox files or Maildir folders to read, or --imap URL (or "
                         "set delivery.imap_url in newsletter.toml)")
    tokens = Tokens(secret_from_env(d.token_secret_env))
    sources = [read_messages(path) for path in args.paths]
    if imap:
        username = os.environ.get(d.imap_username_env, "")
        password = os.environ.get(d.imap_password_env, "")
        if not username or not password:
            raise PipelineError(f"reading {imap} needs the IMAP login: set the environment "
                                f"variables {d.imap_username_env} and {d.imap_password_env}")
        sources.append(read_imap(imap, username, password))
    sender = parseaddr(config.sender)[1]
    store = open_store(args.db or d.database, d.database_password_env)
    try:
        attribution = Attribution(store, tokens, sender.rpartition("@")[2],
                                  d.return_path or sender)
        summary = process(itertools.chain.from_iterable(sources), attribution, now=now(),
                          soft_limit=d.soft_bounce_limit, soft_days=d.soft_bounce_days,
                          dry_run=args.dry_run)
        for verdict in summary.verdicts:
            report = verdict.report
            if report.kind == "ignored":
                if console.verbosity > 0:
                    console.result(f"{report.source}: ignored: {report.detail}")
                continue
            if verdict.unattributed:
                named = ", ".join(report.failed) or "no address"
                console.result(f"{report.source}: not attributed: {report.kind} for {named} "
                               f"({report.detail}); no subscriber matches it, nothing changed")
                continue
            for recorded in verdict.recorded:
                person = store.get_by_id(recorded.finding.subscriber_id)
                who = person.email if person else f"subscriber {recorded.finding.subscriber_id}"
                console.result(f"{report.source}: {who}: {recorded.effect}")
        bounced = sum(1 for r in summary.changed if r.changed == "bounced")
        left = sum(1 for r in summary.changed if r.changed == "unsubscribed")
        ignored = sum(1 for v in summary.verdicts if v.report.kind == "ignored")
        console.result(
            f"{plural(len(summary.verdicts), 'message')} read: "
            f"{plural(summary.count('permanent'), 'permanent failure')}, "
            f"{summary.count('temporary')} temporary, "
            f"{plural(summary.count('complaint'), 'complaint')}, "
            f"{len(summary.unattributed)} not attributed, {ignored} not a delivery failure "
            f"(ignored); {plural(bounced, 'reader')} {'would be ' * args.dry_run}marked "
            f"bounced, {left} {'would be ' * args.dry_run}unsubscribed after a complaint; "
            f"{summary.seen_before} already processed"
            + ("; dry run: nothing was changed" if args.dry_run else ""))
    finally:
        store.close()
    return 0
