"""``newsletter subscribers ACTION``: add, import, export, list or remove subscribers; stats."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..audience import audience, audience_text
from ..config import load_config
from ..console import Console, newsletter_root, now
from ..databases import STATUSES
from ..errors import PipelineError, Problems, UsageError
from ..store import NewSubscriber, open_store
from ..subscribers import AddressError, clean_name, normalise, read_csv, write_csv
from .options import common, database_option

DESCRIPTION = ("Manage the subscriber database (a SQLite file or a PostgreSQL URL; "
               "subscribers.database in newsletter.toml, or --db).")


def arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
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
        common(action, True)
        database_option(action, "a SQLite file or a postgresql:// URL (default: "
                                "subscribers.database)")


def run(args: argparse.Namespace, console: Console) -> int:
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
