"""Problems found in a newsletter, and the exceptions the CLI knows how to print.

Every stage collects :class:`Problem` values instead of stopping at the first one, so a build
reports everything that is wrong in one run. A stage that cannot go on raises
:class:`ContentError` carrying all the problems found so far; the CLI prints each as
``path:line: level: message`` and exits 1. :class:`UsageError` is a bad command line (exit 2).
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path
from typing import Any, Literal

Level = Literal["error", "warning", "note"]


@dataclass(frozen=True)
class Problem:
    """One finding, located in a file (and a line of it, and a column of that line, where
    there is one)."""

    path: Path
    line: int | None
    level: Level
    message: str
    rule: str = ""  # a stable id such as "unknown-key", used by `newsletter check`
    column: int | None = None  # 1-based, in characters; None: the producer does not know

    def format(self, cwd: Path | None = None) -> str:
        """``path:line: level: message``, the path relative to ``cwd`` when it is inside it."""
        shown = display_path(self.path, cwd)
        where = f"{shown}:{self.line}" if self.line else shown
        return f"{where}: {self.level}: {printable(self.message, keep=chr(10))}"


def display_path(path: Path, cwd: Path | None = None) -> str:
    """The path as a user would type it: relative to the working folder when inside it, and
    safe to print (:func:`printable`)."""
    base = cwd or Path.cwd()
    try:
        rel = os.path.relpath(path, base)
    except ValueError:
        return printable(str(path))
    return printable(str(path) if rel.startswith("..") else rel)


#: What must never reach a terminal raw: control characters (ESC starts a terminal command,
#: BEL rings, CR and LF start a line that could pass for a message of its own), line and
#: paragraph separators, and the bidirectional overrides that reorder what is shown.
_UNPRINTABLE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def printable(text: str, keep: str = "") -> str:
    """``text`` with every character of :data:`_UNPRINTABLE` but those in ``keep`` written as
    its Python escape (ESC as ``\\x1b``), so a file name or a key prints as what it is."""
    return _UNPRINTABLE.sub(
        lambda m: m[0] if m[0] in keep else m[0].encode("unicode_escape").decode("ascii"), text)


class PipelineError(Exception):
    """Base of every error the CLI prints without a traceback."""

    exit_code = 1


class ContentError(PipelineError):
    """The newsletter's content or configuration has errors; nothing was written."""

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems = tuple(problems)
        errors = sum(1 for p in self.problems if p.level == "error")
        super().__init__(plural(errors, "error"))


class UsageError(PipelineError):
    """The command line asks for something that cannot be done (exit 2)."""

    exit_code = 2


class Problems:
    """A collector of problems that a stage appends to and then returns (as values, in the
    order found). Strictness is no business of a stage: :func:`strictly` applies ``--strict``
    once, to what a whole command found."""

    def __init__(self) -> None:
        self.items: list[Problem] = []

    def error(self, path: Path, line: int | None, message: str, rule: str = "",
              column: int | None = None) -> None:
        self.items.append(Problem(path, line, "error", message, rule, column))

    def warning(self, path: Path, line: int | None, message: str, rule: str = "",
                column: int | None = None) -> None:
        """A warning, which ``--strict`` turns into an error (:func:`strictly`)."""
        self.items.append(Problem(path, line, "warning", message, rule, column))

    def note(self, path: Path, line: int | None, message: str, rule: str = "",
              column: int | None = None) -> None:
        self.items.append(Problem(path, line, "note", message, rule, column))

    @property
    def has_errors(self) -> bool:
        return has_errors(self.items)

    def raise_if_errors(self) -> None:
        if self.has_errors:
            raise ContentError(self.items)


#: Notes that ``--strict`` turns into errors too: an email that had to show teasers.
STRICT_NOTES = frozenset({"email-teasers"})


def strictly(found: Iterable[Problem], strict: bool) -> list[Problem]:
    """What was found, as ``--strict`` (when given) reports it: every warning, and every note
    of :data:`STRICT_NOTES`, an error. Applied once, at the end of a command."""
    if not strict:
        return list(found)
    return [replace(p, level="error") if p.level == "warning" or
            (p.level == "note" and p.rule in STRICT_NOTES) else p for p in found]


def has_errors(found: Iterable[Problem]) -> bool:
    return any(p.level == "error" for p in found)


def count_errors(found: Iterable[Problem]) -> int:
    return sum(p.level == "error" for p in found)


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """`` — did you mean 'x'?`` for the closest choice, or an empty string."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" — did you mean '{close[0]}'?" if close else ""


def plural(count: int, noun: str) -> str:
    """``1 piece``, ``2 pieces``, ``3 entries``: a count with its noun, in every message."""
    many = noun[:-1] + "ies" if noun.endswith("y") and noun[-2:-1] not in "aeiou" else noun + "s"
    return f"{count} {noun if count == 1 else many}"


def long_date(day: date) -> str:
    """``Monday 21 December 2026``: a day, the way every message and page writes it."""
    return f"{day:%A} {day.day} {day:%B %Y}"


def short_date(day: date) -> str:
    """``21 December 2026``: a day without its weekday."""
    return f"{day.day} {day:%B %Y}"


def in_days(days: int) -> str:
    """``today``, ``in 1 day``, ``in 12 days``: how far off a day is."""
    return "today" if days == 0 else f"in {plural(days, 'day')}"


def join_names(names: Sequence[str]) -> str:
    """``Ada``, ``Ada and Lin``, ``Ada, Lin and Kwame`` (and "" for nobody)."""
    if len(names) <= 1:
        return "".join(names)
    return f"{', '.join(names[:-1])} and {names[-1]}"


def problems_json(found: tuple[Problem, ...] | list[Problem]) -> list[list[Any]]:
    """Problems as JSON (the render cache keeps them), each at the level it was found at
    (``--strict`` comes later)."""
    return [[str(p.path), p.line, p.level, p.message, p.rule, p.column] for p in found]


def problems_from(stored: list[list[Any]]) -> tuple[Problem, ...]:
    """The problems :func:`problems_json` wrote."""
    return tuple(Problem(Path(path), line, level, message, rule, column)
                 for path, line, level, message, rule, column in stored)
