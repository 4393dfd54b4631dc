"""``build-issue ISSUE`` (also ``newsletter build-issue``): build one issue, or its preview."""

from __future__ import annotations

import argparse
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import uptodate
from ..config import Config, load_config
from ..console import Console, newsletter_root, now
from ..content import outside, resolve_issue
from ..errors import display_path, plural
from ..publication import RECORD_NAME, load_record, when
from ..seasons import IssueId
from .options import issue_argument, no_cache

if TYPE_CHECKING:  # the build is imported only when the last one is not still the build
    from ..build import BuildResult
    from ..forks import Forked

DESCRIPTION = ("Build one issue into <out>/<issue_id>/email.html, email.txt and "
               "index.html, the archive <out>/index.html, and the feeds in "
               "<root>/feeds/ and <out>/feeds/. Before the issue's moment (its equinox "
               "or solstice) it is a preview, written to <root>/preview/ without feeds, "
               "unless --early. Nothing is written unless the whole build succeeds.")


def arguments(parser: argparse.ArgumentParser) -> None:
    issue_argument(parser)
    parser.add_argument("--out", type=Path, metavar="DIR",
                        help="where to write the issue and the archive (default: output_dir "
                             "of newsletter.toml, usually <root>/public)")
    parser.add_argument("--drafts", action="store_true",
                        help="include draft pieces, marked DRAFT: a preview, written to "
                             "<root>/preview unless --out is given; feeds are not written")
    parser.add_argument("--early", action="store_true",
                        help="publish the issue now although its moment has not come: build "
                             "it into the site and the feeds, and record the publication in "
                             "published.toml (without it, an issue before its moment is "
                             "built as a preview)")
    parser.add_argument("--strict", action="store_true",
                        help="treat warnings (unknown authors, images without alt text, ...) "
                             "as errors")
    no_cache(parser)


def run(args: argparse.Namespace, console: Console) -> int:
    root = newsletter_root(args)
    config = load_config(root)  # read once, for the build and the messages
    at = now()
    request = replayable(args, console, root, "build-issue", issue=args.issue,
                         drafts=args.drafts, early=args.early)
    stamp = inputs_stamp(config, request, at)
    if replay(config, request, stamp, args.out, console):
        return 0
    issue_id = resolve_issue(args.issue, config)
    # The issue's bodies render on another core while the build loads (pipeline.ahead).
    with ahead(config, issue_id, args.drafts, args.cache, at) as rendering:
        from ..build import build_issue

        result = build_issue(config, issue_id, at, out=args.out, drafts=args.drafts,
                             strict=args.strict, cache=args.cache, early=args.early,
                             ahead=rendering)
    report(result, console)
    issue = result.issues[0]
    tz = config.time_zone
    if result.early:
        console.result(f"published {issue.issue_id} early, before its moment "
                       f"({when(issue.moment, at, tz)}); recorded in {RECORD_NAME}")
    elif result.preview and not args.drafts:
        out = display_path(result.out_dir or root)
        console.result(f"preview only: {issue.issue_id} is published at its moment, "
                       f"{when(issue.moment, at, tz)}; built into {out}/, and the site, "
                       "the archive and the feeds are untouched. Then run 'newsletter "
                       f"publish {issue.issue_id}' (or build-issue --early to publish now)")
    else:  # an issue it also wrote, missing from the site, is not written again, nor told
        remember(config, request, stamp, replace(result, issues=result.issues[:1]))
    return 0


@contextmanager
def ahead(config: Config, issue_id: IssueId, drafts: bool, cache: bool,
          at: datetime) -> Iterator[Forked | None]:
    """The process rendering the issue's bodies ahead (:mod:`pipeline.ahead`, loaded in that
    process only), if the issue has a folder and this is not a --drafts preview (which
    renders other bodies)."""
    folder = config.issues_dir / str(issue_id)
    if drafts or not folder.is_dir() or outside(folder, config.root) is not None:
        yield None
        return
    from ..forks import forked  # not for a build that is replayed

    with forked("pipeline.ahead:serve", (config, issue_id, folder, cache, at)) as rendering:
        yield rendering


def replayable(args: argparse.Namespace, console: Console, root: Path, command: str,
               **flags: Any) -> dict[str, Any] | None:
    """What names this build for :mod:`pipeline.uptodate`, or None when it is never replayed
    (``--drafts``, ``--early``, ``--no-cache``, ``-v``)."""
    if flags.pop("drafts", False) or flags.pop("early", False) or not args.cache or \
            console.verbosity > 0:
        return None
    return {"command": command, "root": str(root.resolve()), "cwd": os.getcwd(),
            "out": str(args.out.resolve()) if args.out is not None else None,
            "strict": args.strict, **flags}


def inputs_stamp(config: Config, request: dict[str, Any] | None, at: datetime) -> str:
    """What the file system says of the build's inputs now ("" for a build never replayed)."""
    if request is None:
        return ""
    return uptodate.inputs_stamp(config, request, at, load_record(config.root))


def replay(config: Config, request: dict[str, Any] | None, stamp: str, out: Path | None,
           console: Console) -> bool:
    """Print the last build's report again if nothing it read or wrote changed since."""
    if request is None:
        return False
    found = uptodate.replay(config, request, stamp, out or config.output_dir)
    if found is None:
        return False
    found.replay(console)
    return True


def remember(config: Config, request: dict[str, Any] | None, stamp: str,
             result: BuildResult) -> None:
    """Keep what this build would print if it changed nothing, for :func:`replay`."""
    if request is None or result.clocked or result.out_dir is None:
        return
    recorder = uptodate.Recorder()
    report(replace(result, written=tuple(replace(w, changed=False) for w in result.written),
                   removed=()), recorder)
    uptodate.remember(config, request, stamp, result.out_dir, recorder.report)


def report(result: BuildResult, console: Console) -> None:
    """What a build found and wrote (``build-issue`` and ``build``)."""
    for problem in result.problems:
        console.problem(problem)
    for written in result.written:
        if written.changed or console.verbosity > 0:
            state = "wrote" if written.changed else "unchanged"
            console.result(f"{state} {display_path(written.path)} ({written.size / 1024:.1f} KB)")
    for issue in result.issues:
        size = result.email_sizes.get(str(issue.issue_id), 0)
        images = result.image_weights.get(str(issue.issue_id), 0)
        people, teams = len(issue.contributors()), len(issue.teams())
        left = len(issue.left_out)
        console.result(
            f"{issue.issue_id} ({issue.full_title}): {plural(len(issue.pieces), 'piece')} by "
            f"{plural(people, 'contributor')} from {plural(teams, 'team')}; HTML email "
            f"{size / 1024:.1f} KB of {result.budget_kb} KB"
            + (f" ({result.teasers[str(issue.issue_id)][0] / 1024:.1f} KB in full; "
               f"{plural(result.teasers[str(issue.issue_id)][1], 'piece')} as teasers)"
               if str(issue.issue_id) in result.teasers else "")
            + f", its images {images / 1024:.1f} KB (opening it downloads "
            f"{(size + images) / 1024:.1f} KB)"
            + (f"; {plural(left, 'file')} left out" if left else ""))
    for path in result.removed:
        console.result(f"removed {display_path(path)}/: not published yet")
    if not result.feeds_written:
        console.result("feeds not written: a preview is not published")
    if console.verbosity > 0:
        console.result(result.cache.summary())
