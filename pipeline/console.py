"""Terminal output shared by the commands: results to stdout, problems to stderr, colour only
on a terminal (never with NO_COLOR), a progress line for long work, and the clock."""

from __future__ import annotations

import argparse
import os
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from .errors import Problem, UsageError, printable

if TYPE_CHECKING:  # delivery imports SMTP and DKIM, which a build never needs
    from .delivery import Progress

#: The ANSI colour of each level on a terminal (``check`` colours its findings the same).
COLOURS = {"error": "31", "warning": "33", "note": "36"}


class Console:
    """Prints results to stdout and problems to stderr, in colour only on a terminal."""

    def __init__(self, verbosity: int, out: TextIO | None = None, err: TextIO | None = None):
        self.verbosity = verbosity
        self.out, self.err = out or sys.stdout, err or sys.stderr
        self.colour = self.err.isatty() and "NO_COLOR" not in os.environ

    def result(self, line: str) -> None:
        if self.verbosity >= 0:
            print(printable(line, keep="\n\t"), file=self.out)

    def problem(self, problem: Problem) -> None:
        if problem.level == "note" and self.verbosity < 0:
            return
        text = problem.format()
        if self.colour:
            level = f"{problem.level}:"
            text = text.replace(level, f"\033[{COLOURS[problem.level]}m{level}\033[0m", 1)
        print(text, file=self.err)

    def message(self, level: str, text: str) -> None:
        text = printable(text, keep="\n")
        if self.colour:
            level = f"\033[{COLOURS.get(level, '0')}m{level}\033[0m"
        print(f"{level}: {text}", file=self.err)


def now() -> datetime:
    """Now, or the moment in SOURCE_DATE_EPOCH (the reproducible-builds convention)."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH", "").strip()
    if epoch:
        try:
            return datetime.fromtimestamp(int(epoch), UTC)
        except (ValueError, OverflowError, OSError):
            raise UsageError(f"SOURCE_DATE_EPOCH={epoch!r} is not a number of seconds since "
                             "1970") from None
    return datetime.now(UTC)


class ProgressLine:
    """A progress bar with rate and ETA on a terminal; a line per 10 % otherwise."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.tty = console.err.isatty() and console.verbosity >= 0
        self.start = time.monotonic()
        self.last_tenth = -1

    def update(self, progress: Progress, total: int) -> None:
        if self.console.verbosity < 0 or total == 0:
            return
        elapsed = max(time.monotonic() - self.start, 1e-6)
        rate = progress.done / elapsed
        remaining = total - progress.done
        eta = remaining / rate if rate and remaining > 0 else 0.0
        if self.tty:
            width = 30
            filled = int(width * min(progress.done, total) / total)
            self.console.err.write(f"\r[{'#' * filled}{'.' * (width - filled)}] "
                                   f"{progress.done}/{total} {rate:.0f}/s ETA {eta:.0f}s ")
            self.console.err.flush()
            return
        tenth = progress.done * 10 // total
        if tenth > self.last_tenth:
            self.last_tenth = tenth
            self.console.err.write(f"progress: {progress.done}/{total} ({rate:.0f}/s)\n")

    def finish(self) -> None:
        if self.tty:
            self.console.err.write("\n")


def newsletter_root(args: argparse.Namespace) -> Path:
    from .config import CONFIG_NAME  # configuration imports what --version never needs

    if args.root is not None:
        if not args.root.is_dir():
            raise UsageError(f"--root {args.root}: no such folder")
        return Path(args.root)
    issue = getattr(args, "issue", None)
    if issue and Path(issue).is_dir():
        # `build-issue path/to/root/issues/2026-12-solstice` finds its own root.
        candidate = Path(issue).resolve().parent.parent
        if (candidate / CONFIG_NAME).is_file():
            return candidate
    return Path.cwd()
