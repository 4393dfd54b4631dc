"""``newsletter check [ISSUE]``: every problem of an issue, with its place, rule and fix."""

from __future__ import annotations

import argparse
import json
import os

from ..check import (
    FORMATS,
    Finding,
    Format,
    Sources,
    check_issue,
    findings_of,
    github_command,
    text_line,
    unknown_disabled,
)
from ..check_rules import RULES
from ..config import CONFIG_NAME, load_config
from ..console import Console, newsletter_root, now
from ..content import resolve_issue
from ..errors import ContentError, display_path, plural
from ..seasons import next_issue
from .options import issue_argument

DESCRIPTION = ("Check one issue (drafts included): everything the build validates, plus "
               "summaries, alt text, heading levels, link text, local links, duplicate "
               "titles, raw HTML the sanitiser removes, the word limit, the email size "
               "budget and review sign-off. Each finding is 'path:line:column: severity: "
               "message [rule]' with how to fix it. Switch rules off with 'disabled' in "
               "the [check] table of newsletter.toml.")
EPILOG = ("Exit status: 0 no errors, 1 errors (or warnings with --strict), 2 bad usage "
          "(an unknown issue or rule id).")


def arguments(parser: argparse.ArgumentParser) -> None:
    issue_argument(parser, coming=True)
    parser.add_argument("--strict", action="store_true",
                        help="fail (exit 1) on warnings too")
    parser.add_argument("--format", choices=FORMATS, default="text",
                        help="text (default); json: a list of findings for tools; github: "
                             "workflow commands that annotate a pull request")
    parser.add_argument("--list-rules", action="store_true",
                        help="list the rules with their severity and what they find, and exit")


def run(args: argparse.Namespace, console: Console) -> int:
    fmt: Format = args.format
    if args.list_rules:
        _print_rules(fmt, console)
        return 0
    root = newsletter_root(args)
    if not (root / CONFIG_NAME).is_file():
        load_config(root)  # raises the usual "is this a newsletter root?" error
    try:
        config = load_config(root)
    except ContentError as exc:  # a broken newsletter.toml: findings like any other
        return _emit(findings_of(exc.problems, Sources()), fmt, args.strict, console, None)
    bad = unknown_disabled(config)
    if bad:
        for problem in bad:
            console.problem(problem)
        return 2
    ref = args.issue
    if ref is None:
        today = now().astimezone(config.time_zone).date()
        coming = next_issue(today, config.time_zone)
        folder = config.issues_dir / str(coming)
        if not folder.is_dir():
            console.message("note", f"the coming issue is {coming} and it has no folder yet "
                            f"({display_path(folder)}): nothing to check. The first "
                            "'newsletter new-piece' for it creates the folder; to check "
                            "another issue, name it: newsletter check ISSUE")
            return 0
        ref = str(coming)
    issue_id = resolve_issue(ref, config)  # an unknown issue is bad usage (exit 2)
    disabled = set(config.workflow.disabled_rules)
    for rule in sorted(disabled):
        if RULES[rule].build and RULES[rule].severity == "error" and console.verbosity >= 0:
            console.message("note", f"'{rule}' is disabled in newsletter.toml, so check does "
                            "not report it; build-issue still fails on it")
    try:
        findings, pieces = check_issue(config, issue_id, now())
    except ContentError as exc:  # a template error: the build could not render the issue
        findings, pieces = findings_of(exc.problems, Sources()), None
    findings = [f for f in findings if f.rule not in disabled]
    return _emit(findings, fmt, args.strict, console, (str(issue_id), pieces))


def _emit(findings: list[Finding], fmt: Format, strict: bool, console: Console,
          summary: tuple[str, int | None] | None) -> int:
    errors = sum(f.severity == "error" for f in findings)
    warnings = sum(f.severity == "warning" for f in findings)
    out = console.out  # the findings are what check makes: printed even with -q
    if fmt == "json":
        print(json.dumps([f.as_json() for f in findings], indent=2, ensure_ascii=False),
              file=out)
    elif fmt == "github":
        for finding in findings:
            print(github_command(finding), file=out)
    else:
        colour = _colour(console)
        for finding in findings:
            print(text_line(finding, colour), file=out)
            if console.verbosity >= 0:
                print(f"    fix: {finding.fix}", file=out)
        if summary is not None and console.verbosity >= 0:
            ref, pieces = summary
            notes = len(findings) - errors - warnings
            counts = ", ".join(plural(n, word) for n, word in
                               ((errors, "error"), (warnings, "warning"), (notes, "note")) if n)
            checked = f" in {plural(pieces, 'piece')}" if pieces is not None else ""
            console.result(f"{ref}: {counts or 'no problems found'}{checked}")
    return 1 if errors or (strict and warnings) else 0


def _colour(console: Console) -> bool:
    return console.out.isatty() and "NO_COLOR" not in os.environ


def _print_rules(fmt: Format, console: Console) -> None:
    if fmt == "json":
        console.result(json.dumps([{"rule": rule_id, "severity": rule.severity,
                                    "description": rule.description, "fix": rule.fix}
                                   for rule_id, rule in sorted(RULES.items())], indent=2))
        return
    width = max(len(rule_id) for rule_id in RULES)
    for rule_id, rule in sorted(RULES.items()):
        console.result(f"{rule_id:<{width}}  {rule.severity:<7}  {rule.description}")
