"""``newsletter check``: every problem of an issue, located, explained, and how to fix it.

The findings are the build's own (everything :func:`~pipeline.build.analyse_issue` reports, with
its rule ids) plus the editorial rules of this module, applied to the source Markdown and the
rendered HTML of each piece (drafts included) and of the editor's letter: summaries, alt text,
heading levels, link text, links to the author's own machine, duplicate titles, raw HTML the
sanitiser removes, word counts and review sign-off. Each finding has ``path:line:column``, a
rule id from :data:`RULES`, a severity, a message and a fix; ``--format`` prints them as text,
JSON or GitHub workflow commands. Rules listed in ``[check] disabled`` are skipped.

Exit status: 0 clean (warnings and notes allowed), 1 errors (or warnings with ``--strict``),
2 bad usage: an unknown issue, or an unknown rule id in ``[check] disabled``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, Literal
from urllib.parse import unquote, urlsplit

from . import plaintext
from .build import analyse_issue, resolve_issue
from .config import CONFIG_NAME, Config, key_lines, load_config
from .console import Console, newsletter_root, now
from .content import (
    UNREAD_RULES,
    Document,
    list_issues,
    read_text,
    slugify,
    split_document,
)
from .engines import MarkdownOptions
from .errors import (
    ContentError,
    Level,
    Problem,
    Problems,
    did_you_mean,
    display_path,
    printable,
)
from .markup import ALLOWED_ATTRIBUTES, ALLOWED_CLASSES, ALLOWED_TAGS, URL_SCHEMES, to_html
from .model import Piece
from .seasons import next_issue

Format = Literal["text", "json", "github"]
FORMATS: tuple[Format, ...] = ("text", "json", "github")


@dataclass(frozen=True)
class Rule:
    """A rule of ``newsletter check``: its default severity, what it finds and the fix."""

    severity: Level
    description: str
    fix: str
    build: bool = False  # found by the build itself: an error here also fails build-issue


#: Every rule: id -> (default severity, one-line description, how to fix a finding).
RULES: dict[str, Rule] = {
    # ----- found by the build (analyse_issue); errors here also stop build-issue
    "build": Rule("error", "a problem the build reports without a more specific rule",
                  "Read the message; 'newsletter build-issue ISSUE --drafts' shows the same.",
                  build=True),
    "config": Rule("error", "newsletter.toml has a mistake",
                   "Fix the key the message names; README.md ('Configuration') describes "
                   "every key of newsletter.toml.", build=True),
    "unreadable": Rule("error", "a file cannot be read",
                       "Check the file's permissions, or that it is a file and not a folder.",
                       build=True),
    "outside-root": Rule("error", "a symbolic link leads a file or folder outside the "
                         "newsletter root", "Copy the file (or move the folder) into the "
                         "newsletter instead of linking to it.", build=True),
    "not-a-file": Rule("error", "a FIFO, device or socket is named like a piece",
                       "Remove it, or replace it with a Markdown file.", build=True),
    "too-large": Rule("error", "a piece is over max_piece_kb, so it is not read",
                      "Split it into shorter pieces, or raise max_piece_kb in newsletter.toml.",
                      build=True),
    "unsafe-file": Rule("error", "a linked file is of a type that could run in the site",
                        "Publish only images, PDF, text, CSV, audio or video: link to the file "
                        "where it is hosted, convert it (a page to PDF), or export the SVG again "
                        "without scripts, event handlers or outside references.", build=True),
    "not-utf8": Rule("error", "a file is not UTF-8 text",
                     "Save the file as UTF-8 (most editors: 'Save with encoding').", build=True),
    "no-front-matter": Rule("error", "a piece does not start with front matter",
                            "Start the file with '---', the keys (title, authors, ...), then "
                            "another '---'; 'newsletter new-piece' writes one for you.",
                            build=True),
    "front-matter-unclosed": Rule("error", "the front matter has no closing '---'",
                                  "Add a line '---' after the last key of the front matter.",
                                  build=True),
    "front-matter-shape": Rule("error", "the front matter is not 'key: value' lines",
                               "Write one 'key: value' per line between the '---' lines.",
                               build=True),
    "yaml-syntax": Rule("error", "the front matter is not valid YAML",
                        "Put quotes around text that contains ': ' or ' #' or starts with one "
                        "of [ ] { } & * ! | > ' \" % @ `, and check the indentation.",
                        build=True),
    "duplicate-key": Rule("error", "a front-matter key is given twice",
                          "Keep one of the two lines.", build=True),
    "unknown-key": Rule("error", "a front-matter key the pipeline does not know",
                        "Fix the spelling (the message suggests the nearest key) or remove "
                        "the line.", build=True),
    "missing-field": Rule("error", "a required front-matter key is missing",
                          "Add the key with a value; the message shows an example.",
                          build=True),
    "wrong-type": Rule("error", "a front-matter value has the wrong type or is empty",
                       "Write the value as the message says, e.g. a list [A, B] or quoted "
                       "text, or remove an empty key.", build=True),
    "bad-status": Rule("error", "status is neither draft nor ready",
                       "Write 'status: draft' or 'status: ready'.", build=True),
    "no-status": Rule("note", "a piece has no status, so it is a draft",
                      "Add 'status: draft' while writing and 'status: ready' when it is "
                      "finished.", build=True),
    "unknown-section": Rule("error", "a piece names a section newsletter.toml does not have",
                            "Use one of the sections listed in the message (or add the "
                            "section to 'sections' in newsletter.toml).", build=True),
    "unknown-author": Rule("warning", "an author or reviewer is not in contributors.toml",
                           "Add the person to contributors.toml (name and team), or fix the "
                           "spelling of their name.", build=True),
    "no-team": Rule("warning", "nobody knows which team a piece comes from",
                    "Add 'team: ...' to the front matter, or list the authors in "
                    "contributors.toml with their team.", build=True),
    "empty-piece": Rule("warning", "a piece has no text after its front matter",
                        "Write the piece below the closing '---', or remove the file.",
                        build=True),
    "duplicate-slug": Rule("error", "two files of an issue have the same anchor",
                           "Rename one of the files so their names differ in more than "
                           "case or punctuation.", build=True),
    "issue-file": Rule("error", "issue.md is not a readable file",
                       "Make issue.md a file (front matter and the editor's letter), or "
                       "remove it.", build=True),
    "issue-folder-name": Rule("warning", "a folder in issues/ is not named like an issue",
                              "Rename it YYYY-MM-equinox or YYYY-MM-solstice as the message "
                              "says, or move it out of issues/.", build=True),
    "misplaced-piece": Rule("warning", "a Markdown file directly in issues/",
                            "Move it into its issue's folder, e.g. issues/2026-12-solstice/.",
                            build=True),
    "contributors": Rule("error", "contributors.toml has a mistake",
                         "Fix the entry the message names: [id] with name = \"...\" and "
                         "team = \"...\".", build=True),
    "missing-file": Rule("error", "an image or link names a file that is not in the issue "
                         "folder", "Check the spelling and the folder (paths are relative to "
                         "the issue folder, e.g. images/chart.png), or add the file.",
                         build=True),
    "broken-link": Rule("error", "a link or image that cannot be published",
                        "Link to a file inside the issue folder, or to a full https:// URL.",
                        build=True),
    "unsafe-link": Rule("error", "a link hides a URL scheme behind percent-encoding",
                        "Write the full https:// URL, or a plain file name.", build=True),
    "email-teasers": Rule("note", "the email is over its size budget in full, so the last "
                          "pieces are teasers in it (the web edition and feeds are full)",
                          "Nothing to do; to choose, mark a piece 'email: full' or 'email: "
                          "teaser', or shorten the longest pieces.", build=True),
    "empty-target": Rule("error", "a link has no target: [text]()",
                         "Write the address between the parentheses, [text](https://...), or "
                         "remove the brackets.", build=True),
    "not-a-piece": Rule("error", "a link to a .md file of the issue folder that is not a "
                        "published piece (a draft, or a file left out)",
                        "Link a piece that is ready, or make the linked piece ready.",
                        build=True),
    "dangling-anchor": Rule("warning", "an in-page link (#heading) that lands on no heading "
                            "of its piece or of the issue",
                            "Use the heading's id as GitHub makes it (lower case, punctuation "
                            "dropped, spaces as hyphens), or other-piece.md#heading.",
                            build=True),
    "ambiguous-anchor": Rule("warning", "an in-page link could land on headings of several "
                             "pieces", "Say which: other-piece.md#heading.", build=True),
    "remote-image": Rule("warning", "an image is loaded from another site",
                         "Download the image into the issue folder (e.g. images/) and link "
                         "to it there, so opening the email tells nobody who read it.",
                         build=True),
    "image": Rule("error", "an image the email cannot show (not an image, a format email "
                  "clients do not show, a damaged SVG)",
                  "Save it again as PNG (charts, screenshots) or JPEG (photos).", build=True),
    "image-weight": Rule("warning", "the email's images weigh more than email.image_budget_kb",
                         "Crop or shrink the largest images, use fewer, or save photos as "
                         "JPEG; or raise email.image_budget_kb in newsletter.toml.",
                         build=True),
    "too-deep": Rule("error", "the Markdown nests too deeply to render",
                     "Flatten the nested lists, quotes or emphasis.", build=True),
    "email-size": Rule("error", "the HTML email is over the size budget",
                       "Shorten the largest pieces, link to the web edition for detail, or "
                       "raise email.size_budget_kb in newsletter.toml.", build=True),
    # ----- the editorial rules of newsletter check
    "image-alt": Rule("warning", "an image has no alt text, or alt text that says nothing "
                      "(a file name, 'image', 'chart', under 3 characters)",
                      "Describe what the image shows and why it is there: ![A bar chart of "
                      "energy per training run: the baseline used 1,200 kWh](images/x.png).",
                      build=True),
    "missing-summary": Rule("warning", "a draft has no summary yet",
                            "Add 'summary:' with one or two sentences (the teaser, the "
                            "email's preheader and the feed text); a ready piece needs one."),
    "heading-jump": Rule("warning", "a heading is more than one level below the one before",
                         "Go down one level at a time: under '##' use '###', not '####' "
                         "(the piece's title is the level above its first heading)."),
    "empty-link": Rule("warning", "a link has no text",
                       "Put words in the brackets, [like this](https://...), that say where "
                       "the link goes."),
    "link-text": Rule("warning", "a link's text is 'click here', 'here', 'read more' or "
                      "'link'", "Make the link text say where it goes, e.g. 'the retention "
                      "schedule' instead of 'click here'; screen readers list links by text."),
    "local-link": Rule("error", "a link to localhost, 127.0.0.1, 0.0.0.0, a .local host or "
                       "a file: URL", "Link to the public address of the page or file; for a "
                       "file, put it in the issue folder and link to it by name."),
    "duplicate-title": Rule("warning", "two pieces of the issue have the same title (or "
                            "titles with the same slug)",
                            "Give each piece its own title, or merge the two pieces."),
    "raw-html": Rule("warning", "raw HTML that the sanitiser removes from the piece",
                     "Write it in Markdown instead, or remove it: scripts, styles, event "
                     "handlers and embeds never reach readers."),
    "word-limit": Rule("warning", "a piece is longer than check.word_limit words",
                       "Cut the piece, or split it into two pieces (or raise "
                       "check.word_limit in newsletter.toml)."),
    "review": Rule("error", "no reviewer who is not an author, while check.require_review "
                   "is on (a warning for drafts)",
                   "Ask a colleague to read the piece and add 'reviewed_by: [Their Name]'."),
    "empty-letter": Rule("warning", "issue.md has a letter that shows nothing (only a "
                         "comment), so the issue would show an empty 'From the editors'",
                         "Write the editor's letter below the front matter of issue.md, or "
                         "delete the placeholder comment to have no letter."),
    "left-out": Rule("note", "a file of the issue folder that is not a piece",
                     "Rename it to .md if it is a piece; otherwise nothing to do."),
}

#: Rule ids the build uses that check never reports (they are about whole builds).
BUILD_ONLY_RULES = frozenset({"nothing-to-publish", "not-published", "other-issue"})

USELESS_ALT = frozenset({
    "image", "picture", "photo", "photograph", "graphic", "chart", "img", "graph",
    "figure", "diagram", "screenshot", "icon", "logo", "illustration", "alt", "alt text",
})
BAD_LINK_TEXT = frozenset({
    "click here", "here", "read more", "link", "click", "more", "this", "this link",
    "click this link", "read more here", "learn more", "more here", "go", "go here",
    "see here", "click here to read more", "link here", "this page", "more info",
})
LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "0.0.0.0", "::1", "[::1]"})
URL_ATTRIBUTES = ("href", "src", "cite")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".gif", ".svg", ".webp", ".avif", ".bmp", ".tif",
                  ".tiff")


@dataclass(frozen=True)
class Finding:
    """One located problem: ``path:line:column``, rule, severity, message and fix."""

    path: Path
    line: int | None  # None: about a folder (or a whole file without a line)
    column: int
    rule: str
    severity: Level
    message: str
    fix: str

    @property
    def where(self) -> str:
        shown = display_path(self.path)
        return f"{shown}:{self.line}:{self.column}" if self.line else shown

    def as_json(self) -> dict[str, Any]:
        return {"path": display_path(self.path), "line": self.line,
                "column": self.column if self.line else None, "rule": self.rule,
                "severity": self.severity, "message": self.message, "fix": self.fix}


# --------------------------------------------------------------------------- the command


def register(commands: Any, common: Callable[[argparse.ArgumentParser, bool], None]) -> None:
    """Add ``check`` to the ``newsletter`` parser."""
    parser = commands.add_parser(
        "check", help="check an issue: every problem with its place, its rule and the fix",
        description="Check one issue (drafts included): everything the build validates, plus "
                    "summaries, alt text, heading levels, link text, local links, duplicate "
                    "titles, raw HTML the sanitiser removes, the word limit, the email size "
                    "budget and review sign-off. Each finding is 'path:line:column: severity: "
                    "message [rule]' with how to fix it. Switch rules off with 'disabled' in "
                    "the [check] table of newsletter.toml.",
        epilog="Exit status: 0 no errors, 1 errors (or warnings with --strict), 2 bad usage "
               "(an unknown issue or rule id).")
    common(parser, True)
    parser.add_argument("issue", nargs="?", metavar="ISSUE",
                        help="an issue id or the path of its folder (default: the coming issue)")
    parser.add_argument("--strict", action="store_true",
                        help="fail (exit 1) on warnings too")
    parser.add_argument("--format", choices=FORMATS, default="text",
                        help="text (default); json: a list of findings for tools; github: "
                             "workflow commands that annotate a pull request")
    parser.add_argument("--list-rules", action="store_true",
                        help="list the rules with their severity and what they find, and exit")
    parser.set_defaults(run=run_check)


def run_check(args: argparse.Namespace, console: Console) -> int:
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
    folders = dict(list_issues(config, Problems()))
    issue_id = resolve_issue(ref, config, folders)  # an unknown issue is bad usage (exit 2)
    disabled = set(config.workflow.disabled_rules)
    for rule in sorted(disabled):
        if RULES[rule].build and RULES[rule].severity == "error" and console.verbosity >= 0:
            console.message("note", f"'{rule}' is disabled in newsletter.toml, so check does "
                            "not report it; build-issue still fails on it")
    try:
        findings, pieces = check_issue(root, ref, config)
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
            counts = ", ".join(_n(n, word) for n, word in
                               ((errors, "error"), (warnings, "warning"), (notes, "note")) if n)
            checked = f" in {_n(pieces, 'piece')}" if pieces is not None else ""
            console.result(f"{ref}: {counts or 'no problems found'}{checked}")
    return 1 if errors or (strict and warnings) else 0


def _n(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def _colour(console: Console) -> bool:
    return console.out.isatty() and "NO_COLOR" not in os.environ


_COLOURS = {"error": "31", "warning": "33", "note": "36"}


def text_line(finding: Finding, colour: bool = False) -> str:
    """``path:line:column: severity: message [rule]``."""
    level: str = finding.severity
    if colour:
        level = f"\033[{_COLOURS[level]}m{level}\033[0m"
    message = printable(finding.message, keep="\n")
    return f"{finding.where}: {level}: {message} [{finding.rule}]"


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def github_command(finding: Finding) -> str:
    """A GitHub Actions workflow command that annotates the file (and line) of a finding."""
    command = {"error": "error", "warning": "warning", "note": "notice"}[finding.severity]
    props = [f"file={_escape_property(display_path(finding.path))}"]
    if finding.line:
        props += [f"line={finding.line}", f"col={finding.column}"]
    props.append(f"title={_escape_property(finding.rule)}")
    message = printable(f"{finding.message}\nFix: {finding.fix}", keep="\r\n")
    return f"::{command} {','.join(props)}::{_escape_data(message)}"


def _print_rules(fmt: Format, console: Console) -> None:
    if fmt == "json":
        console.result(json.dumps([{"rule": rule_id, "severity": rule.severity,
                                    "description": rule.description, "fix": rule.fix}
                                   for rule_id, rule in sorted(RULES.items())], indent=2))
        return
    width = max(len(rule_id) for rule_id in RULES)
    for rule_id, rule in sorted(RULES.items()):
        console.result(f"{rule_id:<{width}}  {rule.severity:<7}  {rule.description}")


def unknown_disabled(config: Config) -> list[Problem]:
    """An error for each id in ``[check] disabled`` that is not a rule, at its line."""
    path = config.root / CONFIG_NAME
    unknown = [rule for rule in config.workflow.disabled_rules if rule not in RULES]
    if not unknown:
        return []
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError):
        text = ""
    lines = text.split("\n")
    start = key_lines(text).get("check.disabled", 1)
    found = []
    for rule in unknown:
        line = next((start + i for i, content in enumerate(lines[start - 1:])
                     if re.search(rf"[\"']{re.escape(rule)}[\"']", content)), start)
        if rule in BUILD_ONLY_RULES:
            why = f"'{rule}' is about whole builds, which check does not do; remove it"
        else:
            why = (f"unknown rule '{rule}'{did_you_mean(rule, RULES)} ('newsletter check "
                   "--list-rules' lists the rules)")
        found.append(Problem(path, line if text else None, "error",
                             f"[check] disabled: {why}"))
    return found


# --------------------------------------------------------------------------- sources


@dataclass
class Source:
    """The Markdown of a body, where it sits in its file, and a cursor per kind of thing
    being located (so the n-th image of the HTML is found at the n-th image of the source)."""

    path: Path
    first_line: int
    text: str
    lines: list[str] = field(init=False)
    code: frozenset[int] = field(init=False)  # indices of lines in fenced code blocks
    cursors: dict[str, tuple[int, int]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.lines = self.text.split("\n")
        self.code = frozenset(_fenced_lines(self.lines))

    def find(self, kind: str, needles: Sequence[str | re.Pattern[str]],
             fold: bool = False) -> tuple[int, int]:
        """The file line and 1-based column of the first needle (text or pattern) found after
        the cursor of ``kind`` (then from the start); the body's first line if none is."""
        cursor = self.cursors.get(kind, (0, 0))
        for start in (cursor, (0, 0)):
            for needle in needles:
                hit = self._search(needle, start, fold)
                if hit is not None:
                    self.cursors[kind] = (hit[0], hit[1] + 1)
                    return self.first_line + hit[0], hit[1] + 1
        return self.first_line + self.first_text, 1

    @property
    def first_text(self) -> int:
        """The index of the body's first line with text (0 when there is none)."""
        return next((i for i, line in enumerate(self.lines) if line.strip()), 0)

    def _search(self, needle: str | re.Pattern[str], start: tuple[int, int],
                fold: bool) -> tuple[int, int] | None:
        if not needle:
            return None
        if isinstance(needle, str) and fold:
            needle = needle.casefold()
        for index in range(start[0], len(self.lines)):
            if index in self.code:
                continue
            line = self.lines[index].casefold() if fold else self.lines[index]
            offset = start[1] if index == start[0] else 0
            if isinstance(needle, str):
                column = line.find(needle, offset)
            else:
                match = needle.search(line, offset)
                column = match.start() if match else -1
            if column >= 0:
                return index, column
        return None


def _fenced_lines(lines: list[str]) -> Iterator[int]:
    fence: str | None = None
    for index, line in enumerate(lines):
        match = re.match(r"^ {0,3}(`{3,}|~{3,})", line)
        if fence is None:
            if match:
                fence = match[1]
                yield index
        else:
            yield index
            if match and match[1][0] == fence[0] and len(match[1]) >= len(fence) and \
                    not line.strip()[len(match[1]):].strip():
                fence = None


class Sources:
    """The lines of files (for columns) and the front matter of pieces (for key lines)."""

    def __init__(self) -> None:
        self._lines: dict[Path, list[str]] = {}
        self._docs: dict[Path, Document | None] = {}

    def line(self, path: Path, number: int) -> str:
        if path not in self._lines:
            try:
                data = path.read_bytes() if path.is_file() else b""
            except OSError:
                data = b""
            text = data.decode("utf-8-sig", errors="replace")
            self._lines[path] = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
        lines = self._lines[path]
        return lines[number - 1] if 0 < number <= len(lines) else ""

    def document(self, path: Path) -> Document | None:
        if path not in self._docs:
            problems = Problems()
            text = read_text(path, problems)
            self._docs[path] = split_document(path, text, problems) if text else None
        return self._docs[path]

    def key_line(self, path: Path, key: str, default: str = "title") -> int:
        """The line of a front-matter key (else of ``default``'s key, else 1)."""
        doc = self.document(path)
        if doc is None:
            return 1
        return doc.lines.get(key, doc.lines.get(default, 1))


# --------------------------------------------------------------------------- the checks


def check_issue(root: Path, ref: str,
                config: Config | None = None) -> tuple[list[Finding], int]:
    """Every finding for one issue, sorted by place; and how many pieces were checked."""
    analysis = analyse_issue(root, ref, drafts=True, config=config)
    config, issue, rendered = analysis.config, analysis.issue, analysis.rendered
    sources = Sources()
    findings = findings_of(analysis.problems, sources)

    def add(path: Path, where: tuple[int, int] | None, rule: str, message: str,
            severity: Level | None = None) -> None:
        spec = RULES[rule]
        line, column = where if where else (None, 1)
        findings.append(Finding(path, line, column, rule, severity or spec.severity, message,
                                spec.fix))

    for left in issue.left_out:
        add(left.path, None, "left-out", f"left out of the issue: {left.reason}")

    if issue.letter_path is not None and issue.letter.strip():
        letter_source = Source(issue.letter_path, issue.letter_line, issue.letter)
        html = rendered.letter.html if rendered.letter else ""
        shown = plaintext.parse(html)
        if not shown.text().strip() and not shown.iter("img"):
            add(issue.letter_path, (issue.letter_line + letter_source.first_text, 1),
                "empty-letter",
                "the editor's letter shows nothing (it is only a comment), so the issue "
                "would show an empty 'From the editors' section")
        for rule, where, message in body_findings(letter_source, html, config.markdown):
            add(issue.letter_path, where, rule, message)

    for rp in rendered.pieces:
        piece = rp.piece
        source = Source(piece.path, piece.body_line, piece.body)
        for rule, where, message in body_findings(source, rp.body.html, config.markdown):
            add(piece.path, where, rule, message)
        if piece.is_draft and not piece.summary:
            add(piece.path, (_summary_line(sources, piece), 1), "missing-summary",
                "no summary yet: a ready piece needs one (one or two sentences for the "
                "teaser, the email's preheader and the feeds)")
        words = count_words(rp.body.html)
        if words > config.workflow.word_limit:
            add(piece.path, (source.first_line + source.first_text, 1), "word-limit",
                f"the piece has {words:,} words, over the limit of "
                f"{config.workflow.word_limit:,} (check.word_limit in newsletter.toml)")
        if config.workflow.require_review:
            unreviewed = review_problem(piece)
            if unreviewed:
                add(piece.path, (sources.key_line(piece.path, "reviewed_by"), 1), "review",
                    unreviewed, "warning" if piece.is_draft else "error")
    titles: dict[str, Piece] = {}
    for piece in sorted(issue.pieces, key=lambda p: p.path.name):
        key = _title_key(piece.title)
        if key not in titles:
            titles[key] = piece
            continue
        other = titles[key]
        same = "the same title" if other.title == piece.title else "a title with the same slug"
        add(piece.path, (sources.key_line(piece.path, "title"), 1), "duplicate-title",
            f"'{piece.title}' has {same} as {other.path.name} ('{other.title}')")
    unique = {(f.path, f.line, f.column, f.rule, f.message): f for f in findings}
    ordered = sorted(unique.values(), key=lambda f: (str(f.path), f.line or 0, f.column,
                                                     f.rule, f.message))
    return ordered, len(rendered.pieces)


def findings_of(problems: Sequence[Problem], sources: Sources) -> list[Finding]:
    """The build's problems as findings: the rule id (or "build"), a column where the
    message quotes something that is on its line."""
    found = []
    for problem in problems:
        rule = problem.rule or ("config" if problem.path.name == CONFIG_NAME else "build")
        spec = RULES.get(rule)
        line = problem.line
        unread = problem.rule in UNREAD_RULES  # refused unread: not opened here either
        if line is None and not unread and problem.path.is_file():
            line = 1
        column = 1
        if line is not None and not unread:
            text = sources.line(problem.path, line)
            for quoted in re.findall(r"'([^']+)'", problem.message):
                index = text.find(quoted)
                if index >= 0:
                    column = index + 1
                    break
        fix = spec.fix if spec else RULES["build"].fix
        found.append(Finding(problem.path, line, column, rule, problem.level, problem.message,
                             fix))
    return found


def _summary_line(sources: Sources, piece: Piece) -> int:
    """Where a summary belongs: a commented-out 'summary:' line, else after the title."""
    for number in range(1, piece.body_line):
        if re.match(r"^\s*#\s*summary\s*:", sources.line(piece.path, number)):
            return number
    return sources.key_line(piece.path, "title")


def _title_key(title: str) -> str:
    slug = slugify(title)
    if slug == "piece" and slugify(title + " x") != "piece-x":
        return " ".join(title.casefold().split())  # no ASCII letters: compare the text
    return slug


def review_problem(piece: Piece) -> str | None:
    """Why a piece lacks review sign-off (a reviewer who is not an author), or None."""
    authors = {a.name.casefold() for a in piece.authors}
    outside = [r for r in piece.reviewed_by if r.name.casefold() not in authors]
    if outside:
        return None
    if piece.reviewed_by:
        names = ", ".join(r.name for r in piece.reviewed_by)
        return (f"reviewed only by its own author{'s' if len(piece.reviewed_by) > 1 else ''} "
                f"({names}); check.require_review asks for a reviewer who is not an author")
    return ("no reviewer: check.require_review asks for 'reviewed_by' with someone who is not "
            "an author")


def count_words(html: str) -> int:
    """The words a reader reads in a rendered body."""
    return len(re.findall(r"\w+(?:['\u2019.-]\w+)*", plaintext.parse(html).text()))


Found = tuple[str, tuple[int, int], str]  # rule, (line, column), message


def body_findings(source: Source, html: str, markdown: MarkdownOptions | None = None
                  ) -> list[Found]:
    """The editorial rules on one body: its source Markdown and its sanitised HTML."""
    tree = plaintext.parse(html)
    raw = plaintext.parse(to_html(source.text, markdown))
    return [*_images(source, tree), *_headings(source, tree), *_links(source, tree),
            *_local_links(source, raw), *_raw_html(source, raw)]


def _walk(node: plaintext.Node) -> Iterator[plaintext.Node]:
    for child in node.children:
        if isinstance(child, plaintext.Node):
            yield child
            yield from _walk(child)


def _images(source: Source, tree: plaintext.Node) -> Iterator[Found]:
    for img in tree.iter("img"):
        alt = " ".join(img.attrs.get("alt", "").split())
        src = unquote(img.attrs.get("src", ""))
        if not alt:
            source.find("img", [f"]({src}", src, "![", "<img"])  # the build reports it
            continue
        where = source.find("img", [f"![{alt}]", f'alt="{alt}"', f"]({src}", src, "![",
                                    "<img"])
        reason = useless_alt(alt, src)
        if reason:
            yield ("image-alt", where, f"the alt text '{alt}' of the image '{src}' {reason}; "
                   "readers who cannot see the image get nothing from it")


def useless_alt(alt: str, src: str) -> str | None:
    """Why an alt text tells a reader nothing, or None when it may be fine."""
    words = re.sub(r"[^\w\s.-]", " ", alt.casefold()).split()
    bare = " ".join(w for w in words if w not in ("a", "an", "the", "of", "this"))
    name = PurePosixPath(urlsplit(src).path).name.casefold()
    stem = name.rsplit(".", 1)[0]
    spaced = re.sub(r"[-_]+", " ", stem)
    if len(alt) < 3:
        return "is too short to describe anything"
    if alt.casefold() in (name, stem, spaced) or alt.casefold().endswith(IMAGE_SUFFIXES):
        return "is a file name"
    if bare.strip(" .") in USELESS_ALT or not bare:
        return "only says that there is an image"
    return None


def _headings(source: Source, tree: plaintext.Node) -> Iterator[Found]:
    headings = [n for n in _walk(tree) if re.fullmatch(r"h[1-6]", n.tag)]
    candidates = _source_headings(source)
    previous, previous_text = 3, None  # the piece's title is a level-3 heading on the page
    for index, node in enumerate(headings):
        level = int(node.tag[1])
        text = " ".join(node.text().split())
        if level > previous + 1:
            if len(candidates) == len(headings):
                where = (source.first_line + candidates[index], 1)
            else:
                where = source.find("heading", [text])
                where = (where[0], 1)
            after = f"the heading before it, '{previous_text}'" if previous_text else \
                "the piece's title"
            skipped = level - previous - 1
            yield ("heading-jump", where,
                   f"the heading '{text}' skips {_n(skipped, 'level')} below {after}; "
                   f"make it {_n(skipped, 'level')} higher (remove {'#' * skipped})")
        previous, previous_text = level, text


def _source_headings(source: Source) -> list[int]:
    """Indices of the source lines that are Markdown headings (ATX or setext)."""
    found = []
    lines = source.lines
    for index, line in enumerate(lines):
        if index in source.code:
            continue
        atx = re.match(r"^ {0,3}#{1,6}(\s|$)", line)
        setext = (index + 1 < len(lines) and index + 1 not in source.code and line.strip()
                  and re.match(r"^ {0,3}(=+|-+)\s*$", lines[index + 1])
                  and not re.match(r"^ {0,3}([-*+]\s|\d+[.)]\s|>|#|\||<)", line))
        if atx or setext:
            found.append(index)
    return found


def _link_text(node: plaintext.Node) -> str:
    alts = " ".join(img.attrs.get("alt", "") for img in node.iter("img"))
    return " ".join(f"{node.text()} {alts}".split())


def _links(source: Source, tree: plaintext.Node) -> Iterator[Found]:
    for link in tree.iter("a"):
        classes = link.attrs.get("class", "").split()
        if "href" not in link.attrs or {"footnote-ref", "footnote-backref"} & set(classes):
            continue
        text = _link_text(link)
        href = link.attrs["href"]
        if not text:
            where = source.find("link", ["[](", "[ ](", "<a ", "<a>"])
            yield ("empty-link", where, f"the link to '{href}' has no text, so readers see "
                   "nothing to click and screen readers read out the address")
            continue
        where = source.find("link", [f"[{text}]", f">{text}<", text])
        normal = " ".join(re.sub(r"[^\w\s]", " ", text.casefold()).split())
        if normal in BAD_LINK_TEXT:
            yield ("link-text", where, f"the link text '{text}' does not say where the link "
                   "goes")


def is_local(url: str) -> str | None:
    """Why a URL only works on the author's machine or network, or None."""
    try:
        parts = urlsplit(url.strip())
        host = (parts.hostname or "").casefold().rstrip(".")
    except ValueError:
        return None
    if parts.scheme.casefold() == "file":
        return "is a file on your computer (a file: URL)"
    if not host:
        return None
    if host in LOCAL_HOSTS or host.startswith("127.") or host.endswith((".localhost",)):
        return f"points to {host}, which is the reader's own computer"
    if host.endswith(".local"):
        return f"points to {host}, a name that only works on a local network"
    return None


def _local_links(source: Source, raw: plaintext.Node) -> Iterator[Found]:
    for node in _walk(raw):
        for attr in URL_ATTRIBUTES:
            url = node.attrs.get(attr)
            if not url:
                continue
            reason = is_local(url)
            if reason:
                where = source.find("local", [url, unquote(url)])
                what = "image" if node.tag == "img" else "link"
                yield ("local-link", where, f"the {what} '{url}' {reason}; readers cannot "
                       "open it")


def _raw_html(source: Source, raw: plaintext.Node) -> Iterator[Found]:
    """What nh3, with the sanitiser's settings in markup.py, removes from the source's HTML."""
    for node in _walk(raw):
        tag = node.tag
        if tag not in ALLOWED_TAGS:
            where = source.find("raw", [re.compile(rf"<{re.escape(tag)}(?![\w:-])", re.I)])
            if tag in ("script", "style"):
                yield ("raw-html", where, f"<{tag}> will be removed, with everything inside it")
            else:
                yield ("raw-html", where, f"<{tag}> will be removed (the text inside it is "
                       "kept)")
            continue
        allowed = ALLOWED_ATTRIBUTES["*"] | ALLOWED_ATTRIBUTES.get(tag, set())
        for name, value in node.attrs.items():
            if name == "class":
                keep = ALLOWED_CLASSES.get(tag, set())
                dropped = [c for c in value.split() if c not in keep]
                # Markdown's own classes: a fenced block's language, the [TOC] box
                if tag == "code":
                    dropped = [c for c in dropped if not c.startswith("language-")]
                elif tag == "div":
                    dropped = [c for c in dropped if c != "toc"]
                if dropped:
                    where = source.find("raw", [
                        re.compile(rf"class\s*=\s*[\"']?[^\"'>]*\b{re.escape(dropped[0])}\b",
                                   re.I), dropped[0]])
                    yield ("raw-html", where, f"the class {' '.join(dropped)} of <{tag}> will "
                           "be removed")
            elif name not in allowed:
                where = source.find("raw", [
                    re.compile(rf"(?<![\w-]){re.escape(name)}\s*=", re.I),
                    re.compile(rf"<{re.escape(tag)}(?![\w:-])", re.I)])
                what = "style attribute" if name == "style" else f"{name} attribute"
                yield ("raw-html", where, f"the {what} of <{tag}> will be removed")
            elif name in URL_ATTRIBUTES and value:
                scheme = _scheme(value)
                if scheme is None:
                    where = source.find("raw", [value], fold=True)
                    yield ("raw-html", where, f"the {name} '{value}' of <{tag}> will be "
                           "removed: it is not a valid URL")
                elif scheme and scheme not in URL_SCHEMES and scheme != "file" and \
                        re.fullmatch(r"[a-z][a-z0-9+.-]*", scheme):
                    where = source.find("raw", [value], fold=True)
                    yield ("raw-html", where, f"the {name} '{value}' of <{tag}> will be "
                           f"removed: only {', '.join(sorted(URL_SCHEMES))} URLs are kept")


def _scheme(url: str) -> str | None:
    """The URL's scheme ("" for a relative URL), or None when it is not a valid URL."""
    try:
        parts = urlsplit(url.strip())
        parts.port  # noqa: B018 (raises on a bad port)
    except ValueError:  # e.g. an unclosed [IPv6 bracket: nh3 drops such a URL
        return None
    return parts.scheme.casefold()
