"""Whether the last build of an issue is still the build: then ``build-issue`` says again what
it said, without reading, rendering or writing anything (and without importing the renderer).

After a successful build the command stores, under ``.cache/newsletter/uptodate/``, what it
printed for a build that changed nothing, with two stamps: what the file system said of every
input before the build (``newsletter.toml``, ``contributors.toml``, ``published.toml``, the
templates, every file under ``issues/``, the pipeline's own files and the installed libraries,
which issues were published, the command's arguments and folder) and of every output after
it (the site folder and the feeds). The next run with the same arguments takes both stamps
again; only if both are the same is the stored report printed instead of building. A stamp
is each file's path, size, modification and change times and inode, never its bytes (the
walk follows symbolic links to folders, each folder once), so taking one costs a directory
walk. The libraries are the distributions in every folder of ``sys.path``. A stored file
that is not one :func:`remember` wrote is never printed: the command builds.

A preview (its message says how long until the moment), ``--drafts``, ``--early``,
``--no-cache``, ``-v`` and a build whose feeds depend on the clock are never replayed.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import stat
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from . import __file__ as _package_file
from .config import CONFIG_NAME, Config
from .console import COLOURS, Console
from .errors import Problem
from .publication import RECORD_NAME, Record, is_published
from .seasons import IssueId, IssueIdError
from .writer import replace_file

FOLDER = Path(".cache") / "newsletter" / "uptodate"
#: Text to bytes and back: a file name that is not UTF-8 is read as lone surrogates.
TEXT = "surrogatepass"
_VERSION = "uptodate-1"


def _stat(st: os.stat_result) -> str:
    """Size, modification time, change time and inode: the change time is set by the system
    on every write, so an edit that puts the modification time back still shows."""
    return f"{st.st_size}\0{st.st_mtime_ns}\0{st.st_ctime_ns}\0{st.st_ino}"


def _tree(folder: Path) -> list[str]:
    """Every entry under ``folder`` (recursively, into the folders that symbolic links lead
    to, each folder once) with its kind, size, modification and change times and inode."""
    lines = []
    stack = [folder]
    seen: set[tuple[int, int]] = set()
    with contextlib.suppress(OSError):
        top = folder.stat()
        seen.add((top.st_dev, top.st_ino))
    while stack:
        current = stack.pop()
        try:
            entries = sorted(os.scandir(current), key=lambda e: e.name)
        except OSError:
            lines.append(f"{current}\0missing")
            continue
        for entry in entries:
            try:
                st = entry.stat(follow_symlinks=True)
            except OSError:
                lines.append(f"{entry.path}\0dangling")
                continue
            lines.append(f"{entry.path}\0{st.st_mode}\0{_stat(st)}")
            if stat.S_ISDIR(st.st_mode) and entry.name != "__pycache__" and \
                    (st.st_dev, st.st_ino) not in seen:
                seen.add((st.st_dev, st.st_ino))
                stack.append(Path(entry.path))
    return lines


def _files(paths: Iterable[Path]) -> list[str]:
    lines = []
    for path in paths:
        try:
            lines.append(f"{path}\0{_stat(path.stat())}")
        except OSError:
            lines.append(f"{path}\0missing")
    return lines


def _digest(lines: Iterable[str]) -> str:
    return hashlib.sha256("\n".join(lines).encode("utf-8", TEXT)).hexdigest()


def _libraries() -> list[str]:
    """The installed distributions of every folder Python imports from (their folder names
    carry their versions; a reinstall of the same version gives them another inode)."""
    names = []
    for entry in dict.fromkeys(sys.path):
        with contextlib.suppress(OSError), os.scandir(entry or ".") as found:
            for item in sorted(found, key=lambda e: e.name):
                if item.name.endswith((".dist-info", ".egg-info", ".egg-link", ".pth")):
                    names.append(f"{item.path}\0{_stat(item.stat())}")
    return names


def inputs_stamp(config: Config, request: dict[str, Any], now: datetime,
                 record: Record) -> str:
    """What the file system says of everything a build reads, with the command's
    ``request`` (its arguments and folder) and which issues are published at ``now``."""
    root = config.root
    published = []
    for folder in sorted(config.issues_dir.iterdir()) if config.issues_dir.is_dir() else []:
        with contextlib.suppress(IssueIdError):
            issue_id = IssueId.parse(folder.name)
            published.append(f"{issue_id}={is_published(issue_id, now, record)}")
    lines = [_VERSION, json.dumps(request, sort_keys=True), sys.version, *published,
             config.digest, *_files([root / CONFIG_NAME, root / "contributors.toml",
                                     root / RECORD_NAME]),
             *_tree(config.templates_dir), *_tree(config.issues_dir),
             *_tree(Path(_package_file).resolve().parent), *_libraries()]
    return _digest(lines)


def outputs_stamp(config: Config, out_dir: Path) -> str:
    """What the file system says of the site folder and the feeds."""
    return _digest([*_tree(out_dir), *_tree(config.feeds_dir)])


@dataclass
class Report:
    """What a command printed, as events a console can print again."""

    events: list[list[Any]] = field(default_factory=list)

    def replay(self, console: Console) -> None:
        for kind, *rest in self.events:
            if kind == "problem":
                path, line, level, message, rule = rest
                console.problem(Problem(Path(path), line, level, message, rule))
            elif kind == "message":
                console.message(*rest)
            else:
                console.result(rest[0])


class Recorder(Console):
    """A console that prints nothing and keeps every event (at verbosity 0, as a plain run
    would show them; the console that replays them filters by its own verbosity)."""

    def __init__(self) -> None:
        super().__init__(0)
        self.colour = False
        self.report = Report()

    def result(self, line: str) -> None:
        self.report.events.append(["result", line])

    def problem(self, problem: Problem) -> None:
        self.report.events.append(["problem", str(problem.path), problem.line, problem.level,
                                   problem.message, problem.rule])

    def message(self, level: str, text: str) -> None:
        self.report.events.append(["message", level, text])


def _path(config: Config, request: dict[str, Any]) -> Path:
    name = hashlib.sha256(json.dumps(request, sort_keys=True).encode("utf-8", TEXT)).hexdigest()
    return config.root / FOLDER / f"{name}.json"


def _read(path: Path) -> bytes:
    """The bytes of a regular file (never waiting on a FIFO put in its place)."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY)
    with os.fdopen(fd, "rb") as file:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(f"{path} is not a file")
        return file.read()


def _event(event: Any) -> bool:
    """Whether ``event`` is one a :class:`Recorder` keeps (the file may have been edited)."""
    if not isinstance(event, list) or not event:
        return False
    kind, *rest = event
    if kind == "problem" and len(rest) == 5:
        path, line, level, message, rule = rest
        return (isinstance(path, str) and (line is None or type(line) is int)
                and level in COLOURS and isinstance(message, str) and isinstance(rule, str))
    if kind == "message" and len(rest) == 2:
        return all(isinstance(text, str) for text in rest)
    return kind == "result" and len(rest) == 1 and isinstance(rest[0], str)


def replay(config: Config, request: dict[str, Any], inputs: str,
           out_dir: Path) -> Report | None:
    """The stored report of the last build of ``request`` if nothing it read or wrote has
    changed since (``inputs`` taken now), else None (also when the stored file is not one
    :func:`remember` wrote)."""
    try:
        stored = json.loads(_read(_path(config, request)).decode("utf-8", TEXT))
    except (OSError, ValueError, RecursionError):
        return None
    if not isinstance(stored, dict) or stored.get("inputs") != inputs:
        return None
    events = stored.get("events")
    if not isinstance(events, list) or not all(map(_event, events)) or \
            stored.get("outputs") != outputs_stamp(config, out_dir):
        return None
    return Report(events)


def remember(config: Config, request: dict[str, Any], inputs: str, out_dir: Path,
             report: Report) -> None:
    """Keep ``report`` for the next run of ``request``, with the stamps of the inputs (taken
    before the build) and of the outputs (now, after it). A cache that cannot be written is
    no error: the next run builds."""
    data = json.dumps({"inputs": inputs, "outputs": outputs_stamp(config, out_dir),
                       "events": report.events}, ensure_ascii=False).encode("utf-8", TEXT)
    with contextlib.suppress(OSError):
        replace_file(_path(config, request), data)
