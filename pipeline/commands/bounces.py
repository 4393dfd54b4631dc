"""``newsletter bounces [PATH...]``: act on delivery reports, bounces and complaints."""

from __future__ import annotations

import argparse
import itertools
import os
from email.utils import parseaddr
from pathlib import Path

from ..bounces import Attribution, process, read_imap, read_messages
from ..config import load_config
from ..console import Console, newsletter_root, now
from ..errors import PipelineError, UsageError, plural
from ..store import open_store
from ..tokens import Tokens, secret_from_env
from .options import database_option, imap_url

DESCRIPTION = ("Read delivery reports from mbox files, Maildir folders or an IMAP "
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


def arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("paths", nargs="*", type=Path, metavar="PATH",
                        help="an mbox file, a Maildir folder or one message file (default: "
                             "the IMAP mailbox of delivery.imap_url)")
    parser.add_argument("--imap", metavar="URL", type=imap_url,
                        help="also read this IMAP mailbox, read-only: imaps://HOST:993/MAILBOX, "
                             "imap+starttls://HOST:143/MAILBOX or imap://HOST:143/MAILBOX; the "
                             "login comes from the environment variables "
                             "delivery.imap_username_env and imap_password_env name")
    parser.add_argument("--dry-run", action="store_true",
                        help="say what would change, and change nothing")
    database_option(parser, "the subscriber database: a SQLite file or a postgresql:// URL "
                            "(default: subscribers.database)")


def run(args: argparse.Namespace, console: Console) -> int:
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
