"""``newsletter remind [ISSUE]``: remind the contributors before the submission deadline."""

from __future__ import annotations

import argparse
import os
from email.utils import formataddr
from pathlib import Path

from ..check import check_issue
from ..console import Console, newsletter_root, now
from ..contributors import CONTRIBUTORS_NAME, load_contributors
from ..errors import PipelineError, Problems, long_date
from ..remind import LEDGER, deliver, message_id, plan_reminders, read_ledger, record
from ..send import SendOptions, transports_for
from ..status import choose_issue, issue_status
from .options import issue_argument

DESCRIPTION = ("Before the submission deadline, email each author of a piece that is "
               "not ready (its title, its state, what 'newsletter check' still finds, "
               "the deadline) and, with [remind] silent_issues, the teams that have not "
               "written lately. Addresses come from 'email' in contributors.toml. Sent "
               "through the delivery transport (the outbox unless delivery.smtp_url is "
               f"set); each reminder is recorded in {LEDGER} and never sent twice.")
EPILOG = ("Exit status: 0 sent (or nothing to send), 1 the deadline has passed or a "
          "message could not be sent, 2 bad usage.")


def arguments(parser: argparse.ArgumentParser) -> None:
    issue_argument(parser, coming=True)
    parser.add_argument("--dry-run", action="store_true",
                        help="print who would be reminded of what; send and record nothing")
    parser.add_argument("--smtp", metavar="URL", help="send over this SMTP server (default: "
                        "delivery.smtp_url)")
    parser.add_argument("--outbox", type=Path, metavar="DIR",
                        help="write .eml files here instead of sending over SMTP")
def run(args: argparse.Namespace, console: Console) -> int:
    moment = now()
    root = newsletter_root(args)
    target = choose_issue(root, args.issue, moment, must_exist=args.issue is not None)
    config, issue_id = target.config, target.issue_id
    problems = Problems()
    people = load_contributors(root, problems)
    for problem in problems.items:
        console.problem(problem)
    if problems.has_errors:
        raise PipelineError(f"{CONTRIBUTORS_NAME} has errors (above); nothing was sent")
    if people is None:
        raise PipelineError(f"there is no {CONTRIBUTORS_NAME}: remind writes to the 'email' "
                            "of each person there")
    deadline = issue_status(target).deadline
    if deadline < target.today:
        raise PipelineError(f"the deadline of {issue_id} was {long_date(deadline)}: "
                            "reminders are for before it; nothing was sent (the next issue "
                            f"is {issue_id.following()})")
    findings = check_issue(target.config, issue_id, moment)[0] if target.exists else []
    plan = plan_reminders(target, people, findings)
    for name in plan.unreachable:
        console.message("warning", f"{name} has no email in {CONTRIBUTORS_NAME}, so cannot be "
                        "reminded: add email = \"...\" to their entry")
    ledger = read_ledger(root)
    done = {entry.get("key") for entry in ledger["sent"] if isinstance(entry, dict)}
    todo = [r for r in plan.reminders if r.key not in done]
    already = len(plan.reminders) - len(todo)
    if args.dry_run:
        for reminder in todo:
            console.result(f"would remind {formataddr((reminder.name, reminder.address))}: "
                           f"{reminder.subject}")
        console.result(f"dry run: {len(todo)} to send, {already} sent before; nothing sent")
        return 0
    if not todo:
        console.result(f"nothing to send for {issue_id}: {already} reminder"
                       f"{'s' if already != 1 else ''} sent before")
        return 0
    options = SendOptions(issue=str(issue_id), smtp_url=args.smtp, outbox=args.outbox)
    transports, label = transports_for(config, options, dict(os.environ), count=1)
    failed = 0
    try:
        for reminder in todo:
            why = deliver(config, transports[0], reminder.name, reminder.address,
                          reminder.subject, reminder.text, message_id(config, reminder.key),
                          moment)
            if why is not None:
                failed += 1
                console.message("error", f"{reminder.address}: not sent: {why}")
                continue
            record(root, ledger, reminder, moment)
            console.result(f"reminded {formataddr((reminder.name, reminder.address))}: "
                           f"{reminder.subject}")
    finally:
        transports[0].close()
    sent = len(todo) - failed
    console.result(f"{issue_id} via {label}: {sent} reminder{'s' if sent != 1 else ''} sent, "
                   f"{failed} failed, {already} sent before")
    return 1 if failed else 0


