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

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from . import plaintext
from .analysis import analyse_issue
from .check_body import Source, body_findings
from .check_rules import BUILD_ONLY_RULES, RULES
from .config import CONFIG_NAME, Config, key_lines
from .console import COLOURS
from .content import ISSUE_FILE, UNREAD_RULES, read_text, slugify
from .errors import (
    Level,
    Problem,
    Problems,
    did_you_mean,
    display_path,
    printable,
)
from .front_matter import Document, split_document
from .model import Piece
from .seasons import IssueId

Format = Literal["text", "json", "github"]
FORMATS: tuple[Format, ...] = ("text", "json", "github")


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




def text_line(finding: Finding, colour: bool = False) -> str:
    """``path:line:column: severity: message [rule]``."""
    level: str = finding.severity
    if colour:
        level = f"\033[{COLOURS[level]}m{level}\033[0m"
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

class Sources:
    """The pieces check's own rules place their findings in, each read once: their lines
    (a commented-out summary) and their front matter (the line of a key)."""

    def __init__(self) -> None:
        self._texts: dict[Path, str | None] = {}
        self._lines: dict[Path, list[str]] = {}
        self._docs: dict[Path, Document | None] = {}

    def _text(self, path: Path) -> str | None:
        if path not in self._texts:
            self._texts[path] = read_text(path, Problems())
        return self._texts[path]

    def line(self, path: Path, number: int) -> str:
        if path not in self._lines:
            self._lines[path] = (self._text(path) or "").split("\n")
        lines = self._lines[path]
        return lines[number - 1] if 0 < number <= len(lines) else ""

    def document(self, path: Path) -> Document | None:
        if path not in self._docs:
            text = self._text(path)
            self._docs[path] = split_document(path, text, Problems()) if text else None
        return self._docs[path]

    def key_line(self, path: Path, key: str, default: str = "title") -> int:
        """The line of a front-matter key (else of ``default``'s key, else 1)."""
        doc = self.document(path)
        if doc is None:
            return 1
        return doc.lines.get(key, doc.lines.get(default, 1))


# --------------------------------------------------------------------------- the checks


def check_issue(config: Config, issue_id: IssueId,
                now: datetime) -> tuple[list[Finding], int]:
    """Every finding for one issue, sorted by place; and how many pieces were checked. Links
    to issues not published at ``now`` are errors."""
    analysis = analyse_issue(config, issue_id, drafts=True, now=now)
    config, issue, rendered = analysis.config, analysis.issue, analysis.rendered
    sources = Sources()
    findings = findings_of(analysis.problems)

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
    # every piece file, the ones whose front matter failed too
    return ordered, sum(1 for p in issue.path.glob("*.md") if p.name != ISSUE_FILE)


def findings_of(problems: Sequence[Problem], sources: Sources | None = None) -> list[Finding]:
    """The build's problems as findings: the rule id (or "build") and the column the problem
    gives (1 when its producer does not know one). ``sources`` is not read any more: a
    problem carries its own place."""
    found = []
    for problem in problems:
        rule = problem.rule or ("config" if problem.path.name == CONFIG_NAME else "build")
        spec = RULES.get(rule)
        line = problem.line
        unread = problem.rule in UNREAD_RULES  # refused unread: not opened here either
        if line is None and not unread and problem.path.is_file():
            line = 1
        fix = spec.fix if spec else RULES["build"].fix
        found.append(Finding(problem.path, line, problem.column or 1, rule, problem.level,
                             problem.message, fix))
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


