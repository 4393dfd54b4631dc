"""``newsletter init [DIR]``: a new newsletter root that builds as it is."""

from __future__ import annotations

import argparse
from pathlib import Path
from zoneinfo import ZoneInfo

from ..config import CONFIG_NAME
from ..console import Console, now
from ..errors import display_path
from ..init import init

DESCRIPTION = ("Make DIR (default: the current folder, or --root) a newsletter root: "
               "newsletter.toml with every key explained, contributors.toml with one "
               "example, the coming issue's folder with issue.md and a ready example "
               "piece, a .gitignore, and GitHub Actions workflows (check and preview on "
               "every pull request, a scheduled publish at the publication moment). "
               "build-issue of the coming issue works straight away. An existing file is "
               "never overwritten; it is left alone and listed.")


def arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("dir", metavar="DIR", nargs="?", type=Path,
                        help="the folder to start in (created if missing)")
    parser.add_argument("--title", metavar="T",
                        help="the newsletter's name (default: made from the folder's name)")


def run(args: argparse.Namespace, console: Console) -> int:
    root: Path = args.dir if args.dir is not None else (args.root or Path.cwd())
    result = init(root, args.title, today=now().astimezone(ZoneInfo("UTC")).date())
    for name in result.written:
        console.result(f"wrote {display_path(result.root / name)}")
    for name in result.kept:
        console.message("note", f"{display_path(result.root / name)} exists: left alone")
    if result.existing:
        console.message("note", f"{display_path(result.root)} is a newsletter already, so no "
                        "example issue or piece was written into its issues/ (they would be "
                        "published with the real ones)")
    where = display_path(result.root)
    cd = "" if where == "." else f"cd {where} && "
    console.result(
        f"Next: edit {CONFIG_NAME} (base_url, email.sender), then run "
        f"'{cd}build-issue {result.issue_id}' (it prints the files it writes) and open its "
        f"index.html in a browser; contributors start a piece with "
        f"'newsletter new-piece --title \"...\" --author \"...\"'.")
    return 0
