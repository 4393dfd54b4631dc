"""``newsletter status [ISSUE]``: the coming issue at a glance, for editors."""

from __future__ import annotations

import argparse
import json

from ..console import Console, newsletter_root, now
from ..status import choose_issue, issue_status, status_text
from .options import issue_argument

DESCRIPTION = ("Show an issue at a glance: its moment, the days left to the submission "
               "deadline and to publication, its pieces by state (ready, draft, failing "
               "the build's checks), the sections without a ready piece, its contributors "
               "and teams, and how many pieces have a reviewer who is not an author. "
               "Exit status 1 when issue.md, contributors.toml or the email budget has "
               "an error.")


def arguments(parser: argparse.ArgumentParser) -> None:
    issue_argument(parser, coming=True)
    parser.add_argument("--json", action="store_true", help="print JSON for tools")


def run(args: argparse.Namespace, console: Console) -> int:
    target = choose_issue(newsletter_root(args), args.issue, now(), must_exist=True)
    status = issue_status(target)
    if args.json:
        console.result(json.dumps(status.as_json(), indent=2, ensure_ascii=False))
    else:
        for line in status_text(status):
            console.result(line)
    for problem in status.other_problems:
        console.problem(problem)
    if not status.exists:
        console.message("note", f"the coming issue {status.issue_id} has no folder yet")
    return 1 if status.other_problems else 0
