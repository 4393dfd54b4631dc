"""``newsletter call-for-pieces [ISSUE]``: the announcement an editor sends to every team."""

from __future__ import annotations

import argparse

from ..call import call_blocks, call_markdown, call_text, make_call, send_call
from ..console import Console, newsletter_root, now
from ..errors import PipelineError, display_path, long_date, plural
from ..seasons import next_issue
from ..status import choose_issue
from .options import issue_argument

DESCRIPTION = ("Print an announcement to send to every team: the theme, the deadline, "
               "the publication day, how to add a piece, the sections that still want "
               "one and where to ask.")


def arguments(parser: argparse.ArgumentParser) -> None:
    issue_argument(parser, coming=True, note="; the folder need not exist yet")
    parser.add_argument("--format", choices=("markdown", "text"), default="markdown",
                        help="Markdown (default) or plain text wrapped at 72 columns")
    parser.add_argument("--send", action="store_true",
                        help="send it (as plain text) to call_address in [email] of "
                             "newsletter.toml, e.g. an all-staff list, through the delivery "
                             "transport (the outbox unless delivery.smtp_url is set)")


def run(args: argparse.Namespace, console: Console) -> int:
    target = choose_issue(newsletter_root(args), args.issue, now(), must_exist=False)
    config, issue_id = target.config, target.issue_id
    published = issue_id.publication_date(config.time_zone)
    if published < target.today:
        raise PipelineError(f"{issue_id} was published on {long_date(published)}; call for "
                            "pieces for a coming issue ('newsletter calendar' lists them, the "
                            f"next is {next_issue(target.today, config.time_zone)})")
    call = make_call(target)
    days = (call.deadline - target.today).days
    if days < 0:
        console.message("warning", f"the deadline of {issue_id} was {long_date(call.deadline)}, "
                        f"{plural(-days, 'day')} ago; for the issue after it, run "
                        f"'newsletter call-for-pieces {issue_id.following()}'")
    if not target.exists:
        console.message("note", f"{display_path(target.folder)} does not exist yet: the first "
                        "'newsletter new-piece' for this issue creates it")
    blocks = call_blocks(call)
    if args.send:
        why, label = send_call(target, call, call_text(blocks), now())
        address = config.workflow.call_address
        if why is not None:
            console.message("error", f"{address}: the call was not sent: {why}")
            return 1
        console.result(f"sent the call for pieces for {call.issue_id} to {address} via {label}")
        return 0
    text = call_markdown(blocks) if args.format == "markdown" else call_text(blocks)
    console.result(text.rstrip("\n"))
    return 0
