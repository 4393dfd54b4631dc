"""``newsletter preview [ISSUE]``: the issue with its drafts, rebuilt and reloaded on every
edit."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ..config import load_config
from ..console import Console, newsletter_root, now
from ..content import resolve_issue
from ..errors import display_path
from ..seasons import next_issue
from ..serving import bind, run_server, url
from ..site import PREVIEW_DIR
from .options import issue_argument
from .serve import host_port

DESCRIPTION = ("Build the issue with its drafts into <root>/preview, serve it on "
               "127.0.0.1 and rebuild it whenever a file of the issues, the templates, "
               "newsletter.toml or contributors.toml changes; the page in the browser "
               "reloads by itself. A content error is shown in the page, located as "
               "path:line, and the preview keeps running; each rebuild prints one line. "
               "Only requests for --host are answered, and only the preview's own "
               "reload script runs.")


def arguments(parser: argparse.ArgumentParser) -> None:
    issue_argument(parser, coming=True)
    host_port(parser)


def run(args: argparse.Namespace, console: Console) -> int:
    from ..preview import Preview, create_preview_app, rebuild_lines

    root = newsletter_root(args)
    config = load_config(root)
    ref = args.issue
    if ref is None:
        ref = str(next_issue(now().astimezone(config.time_zone).date(), config.time_zone))
    issue_id = resolve_issue(ref, config)

    def report(state: Any) -> None:  # one line per rebuild, at once even into a pipe
        for line in rebuild_lines(state, Path.cwd()):
            console.result(line)
        console.out.flush()

    preview = Preview(root, str(issue_id), now=now, report=report)
    state = preview.rebuild()
    for problem in state.problems:
        console.problem(problem)
    sock = bind(args.host, args.port)
    console.result(f"previewing {issue_id} with its drafts on {url(sock)}/{issue_id}/ "
                   f"(built into {display_path(root / PREVIEW_DIR)}); it rebuilds and reloads "
                   "on every save; Ctrl-C stops")
    if state.error:
        console.message("error", f"the first build failed ({state.error}); the page shows "
                        "why, and the preview rebuilds when you save a fix")
    console.out.flush()
    # Open tabs hold an event stream each: stopping ends them, so Ctrl-C stops at once.
    run_server(create_preview_app(preview, host=args.host), sock, args.verbosity > 0,
               on_exit=preview.stop, grace=1)
    console.message("note", "stopped")
    return 0
