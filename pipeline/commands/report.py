"""``newsletter report``: who carries the work, across the whole archive."""

from __future__ import annotations

import argparse
from pathlib import Path

from .. import render as r
from ..audience import Audience, audience, audience_text
from ..config import Config, load_config
from ..console import Console, newsletter_root, now
from ..errors import PipelineError, display_path
from ..render import run_template
from ..report import REPORT_DIR, build_report, report_html, report_text
from ..site import check_out_dir
from ..store import open_store
from ..writer import Output, write_all
from .options import year

DESCRIPTION = ("Look across every issue folder (ready pieces only): pieces and "
               "contributors per team per issue, first-time contributors, teams that "
               "have not written for the last four issues, and review coverage. Prints "
               "tables and writes an HTML page with charts to <root>/reports/index.html "
               "(or DIR/index.html with --out), outside the site folder: the report is "
               "for the editors, not the public, and its page says noindex.")


def arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--since", type=year, metavar="YEAR",
                        help="only issues from this year on (first-time contributors and "
                             "silent teams still look at the whole archive)")
    parser.add_argument("--out", type=Path, metavar="DIR",
                        help="where to write index.html (default: <root>/reports)")


def run(args: argparse.Namespace, console: Console) -> int:
    root = newsletter_root(args)
    config = load_config(root)
    report = build_report(root, now(), args.since, config)
    out_dir = check_out_dir(args.out, config) if args.out is not None \
        else config.root / REPORT_DIR
    home = f"{config.base_url}/"
    for path in report.left_out:
        console.message("warning", f"{path}: has errors, so it is not counted (newsletter "
                        "check shows them)")
    for line in report_text(report):
        console.result(line)
    subscribers = _subscribers(config, console)
    if subscribers is not None:
        console.result("")
        for line in audience_text(subscribers):
            console.result(line)
    env = r.environment(config)
    written = write_all([
        Output(out_dir, "index.html", report_html(report, config, env, home, subscribers)),
        Output(out_dir, "style.css", run_template(lambda: r.stylesheet(env))),
    ])
    if console.verbosity >= 0:
        console.message("note", f"wrote {display_path(written[0].path)}")
    return 0


def _subscribers(config: Config, console: Console) -> Audience | None:
    """The subscribers' numbers, when the newsletter has a subscriber database (a SQLite file
    that is not there yet is not created); a database that cannot be read is a warning."""
    database = config.delivery.database
    if isinstance(database, Path) and not database.is_file():
        return None
    try:
        store = open_store(database, config.delivery.database_password_env)
    except PipelineError as exc:
        console.message("warning", f"subscribers not counted: {exc}")
        return None
    try:
        return audience(store.subscribers())
    finally:
        store.close()
