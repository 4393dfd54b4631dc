"""``newsletter gather ISSUE``: a draft reading list from the organisation's and teams' feeds."""

from __future__ import annotations

import argparse

from ..console import Console, newsletter_root, now
from ..errors import Problem, plural
from ..errors import display_path as shown
from ..feeds_fetch import Source
from ..gather import READING_LIST, GatherResult, gather, window
from .options import issue_argument, seconds

DESCRIPTION = ("Read the feeds listed in newsletter.toml ([gather] feeds: URLs, or files "
               "relative to the root), keep the entries published between the previous "
               "issue's moment and this issue's, drop duplicate links, and write "
               f"issues/ISSUE/{READING_LIST} as a draft piece for an editor to curate. "
               "A feed that is down, slow or not a feed is reported and skipped.")
EPILOG = ("Exit status: 0 written (or nothing in the window), 1 no feed could be read or "
          f"{READING_LIST} exists already, 2 bad usage.")


def arguments(parser: argparse.ArgumentParser) -> None:
    issue_argument(parser)
    parser.add_argument("--feed", action="append", dest="feeds", metavar="URL_OR_FILE",
                        help="read this feed instead of newsletter.toml's (repeat for more; "
                             "a file is relative to the current folder)")
    parser.add_argument("--timeout", type=seconds, metavar="S",
                        help="seconds one feed may take in all, from connecting to its last "
                             "byte (default: [gather] timeout_seconds, 10)")
    parser.add_argument("--allow-private", action="store_true", default=None,
                        help="also read feeds on loopback, private and link-local addresses "
                             "(an intranet); refused by default (default: [gather] "
                             "allow_private)")
    parser.add_argument("--author", action="append", dest="authors", default=[],
                        metavar="NAME",
                        help="author of the reading list (repeat for more; default: the "
                             "editors in the issue's issue.md)")
    parser.add_argument("--section", metavar="S",
                        help="its section (default: the last one in newsletter.toml)")
    parser.add_argument("--force", action="store_true",
                        help=f"replace an existing {READING_LIST} (an editor's curation is lost)")


def run(args: argparse.Namespace, console: Console) -> int:
    """Run ``newsletter gather`` and report what it read and wrote."""
    root = newsletter_root(args)
    authors = [a.strip() for a in args.authors if a.strip()]
    result = gather(root, args.issue, now=now(), feeds=args.feeds, timeout=args.timeout,
                    authors=authors, section=args.section, force=args.force,
                    allow_private=args.allow_private)
    _report(result, console)
    if not result.feeds:
        count = len(result.failures)
        what = "the feed could not" if count == 1 else f"none of the {count} feeds could"
        console.message("error", f"{what} be read (see the warnings above); nothing was "
                        "written")
        return 1
    return 0


def _report(result: GatherResult, console: Console) -> None:
    for failure in result.failures:
        if failure.source.path is not None:
            console.problem(Problem(failure.source.path, failure.line, "warning",
                                    f"feed skipped: {failure.reason}", "gather-feed"))
        else:
            line = f" (line {failure.line})" if failure.line else ""
            console.message("warning", f"{failure.source.label}: feed skipped: "
                            f"{failure.reason}{line}")
    selection = result.selection
    for feed in result.feeds:
        if feed.note:
            _note(console, feed.source, feed.note)
        kept = sum(1 for e in selection.entries if e.feed == feed.entries[0].feed) \
            if selection and feed.entries else 0
        skipped = []
        if feed.undated:
            skipped.append(f"{feed.undated} without a date")
        if feed.unlinked:
            skipped.append(f"{feed.unlinked} without an http(s) link")
        console.result(f"{feed.title} ({feed.source.label}): {kept} of "
                       f"{plural(len(feed.entries) + feed.undated + feed.unlinked, 'entry')} kept"
                       + (f"; skipped {', '.join(skipped)}" if skipped else ""))
    read = len(result.feeds)
    total = read + len(result.failures)
    if selection is None:
        return
    start, end = window(result.issue_id)
    counts = (f"{plural(len(selection.entries), 'entry')} from {read} of {plural(total, 'feed')} "
              f"({plural(selection.duplicates, 'duplicate')} removed, {selection.outside} outside "
              f"{start:%Y-%m-%d %H:%M} to {end:%Y-%m-%d %H:%M} UTC)")
    if not result.written:
        console.result(f"nothing to gather for {result.issue_id}: {counts}; nothing was written")
    else:
        console.result(f"wrote {shown(result.path)}: {counts}; it is a draft: curate it, "
                       "then set 'status: ready'")
    if result.window_open and console.verbosity >= 0:
        console.message("note", f"{result.issue_id} is still to come: run gather again nearer "
                        "its deadline with --force for the latest entries")


def _note(console: Console, source: Source, text: str) -> None:
    if source.path is not None:
        console.problem(Problem(source.path, None, "note", f"this feed {text}", "gather-feed"))
    elif console.verbosity >= 0:
        console.message("note", f"{source.label}: this feed {text}")
