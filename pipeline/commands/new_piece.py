"""``newsletter new-piece``: start a piece in the coming issue (or the one given)."""

from __future__ import annotations

import argparse

from ..config import load_config
from ..console import Console, newsletter_root, now
from ..content import ISSUE_FILE
from ..contributors import load_contributors
from ..errors import Problems, display_path
from ..new_piece import next_steps, plan_piece, write_piece

DESCRIPTION = ("Write issues/<issue>/<slug-of-title>.md: front matter with every field "
               "and what it is for (status: draft), ready for you to write in. The issue "
               "is the coming one from the calendar unless --issue says otherwise; its "
               "folder and issue.md are created when missing. An existing file is never "
               "overwritten.")


def arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--title", required=True, metavar="TEXT",
                        help="the headline; the file is named after it")
    parser.add_argument("--author", required=True, action="append", dest="authors",
                        metavar="NAME", help="your name or id in contributors.toml (repeat "
                                             "for each co-author)")
    parser.add_argument("--issue", metavar="ID",
                        help="the issue, e.g. 2027-03-equinox (default: the coming issue)")
    parser.add_argument("--section", metavar="S",
                        help="one of the sections of newsletter.toml (default: the first)")
    parser.add_argument("--team", metavar="TEAM",
                        help="the piece's team (default: the author's in contributors.toml)")
    parser.add_argument("--slug", metavar="SLUG",
                        help="the file name without .md (default: a slug of the title)")


def run(args: argparse.Namespace, console: Console) -> int:
    root = newsletter_root(args)
    config = load_config(root)
    problems = Problems()
    people = load_contributors(root, problems)
    for problem in problems.items:
        console.problem(problem)
    today = now().astimezone(config.time_zone).date()
    plan = plan_piece(config, people, args.title, args.authors, issue=args.issue,
                      section=args.section, team=args.team, slug=args.slug, today=today)
    for warning in plan.warnings:
        console.message("warning", warning)
    write_piece(config, plan)
    if plan.issue_text is not None:
        console.result(f"wrote {display_path(plan.folder / ISSUE_FILE)} (the new issue "
                       f"folder of {plan.issue_id.name(config.season_names)})")
    console.result(f"wrote {display_path(plan.piece_path)}")
    for line in next_steps(config, plan.issue_id, plan.piece_path, today):
        console.result(line)
    return 0
