"""``newsletter build``: rebuild every published issue, the archive and the feeds."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..build import build_all
from ..console import Console, newsletter_root, now
from .build_issue import report
from .options import no_cache

DESCRIPTION = ("Rebuild every published issue that has a ready piece (its moment has "
               "come, or published.toml records it), the archive and the feeds; the "
               "site keeps no folder of an issue that is not published.")


def arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", type=Path, metavar="DIR",
                        help="where to write (default: output_dir of newsletter.toml)")
    parser.add_argument("--strict", action="store_true", help="treat warnings as errors")
    no_cache(parser)


def run(args: argparse.Namespace, console: Console) -> int:
    result = build_all(newsletter_root(args), now=now(), out=args.out, strict=args.strict,
                       cache=args.cache)
    report(result, console)
    return 0
