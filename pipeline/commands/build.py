"""``newsletter build``: rebuild every published issue, the archive and the feeds."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..config import load_config
from ..console import Console, newsletter_root, now
from .build_issue import inputs_stamp, remember, replay, replayable, report
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
    root = newsletter_root(args)
    config = load_config(root)
    at = now()
    request = replayable(args, console, root, "build")
    stamp = inputs_stamp(config, request, at)
    if replay(config, request, stamp, args.out, console):
        return 0
    from ..build import build_all

    result = build_all(config, at, out=args.out, strict=args.strict, cache=args.cache)
    report(result, console)
    remember(config, request, stamp, result)
    return 0
