"""The one module that writes built files.

All files of a build are staged first (each as a temporary file beside its target, flushed to
disk) and only then moved into place with :func:`os.replace`, which is atomic on POSIX. A build
that fails before this point writes nothing; a failure while staging removes what it staged
and leaves every previous output as it was. No file is ever written outside its root. The
worker processes of a whole-archive build each stage their issues (:func:`stage`); the build
then commits them all at once, or discards them all (:func:`commit`, :func:`discard`).
:func:`replace_file` writes the render cache, which is not an output.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from .errors import PipelineError


@dataclass(frozen=True)
class Output:
    """One file to write: ``relpath`` under ``root``."""

    root: Path
    relpath: str
    data: bytes

    @property
    def target(self) -> Path:
        root = self.root.resolve()
        target = (root / self.relpath).resolve()
        if not target.is_relative_to(root) or target == root:
            raise PipelineError(f"refusing to write {self.relpath!r}: it is outside {root}")
        return target


@dataclass(frozen=True)
class Written:
    path: Path
    size: int
    changed: bool


def write_all(outputs: Iterable[Output]) -> list[Written]:
    """Write every output atomically, or none of them; unchanged files are left untouched.

    Stage: every new file goes to a temporary file beside its target. Commit: each target is
    replaced atomically, after a hard link keeps the old version; if a replacement fails,
    the targets already replaced get their old versions back.
    """
    return commit([stage(outputs)])


@dataclass(frozen=True)
class Staged:
    """Outputs written to temporary files beside their targets, not yet in place: what
    :func:`commit` puts in place, or :func:`discard` removes. Several processes may each
    stage their part of one build; one commit then writes them all, or none."""

    files: tuple[tuple[Path, Path], ...]  # (temporary file, target)
    written: tuple[Written, ...]


def stage(outputs: Iterable[Output]) -> Staged:
    """Stage every output (the first half of :func:`write_all`); on failure nothing is left."""
    planned = [(output, output.target) for output in outputs]
    for _, target in planned:
        if target.is_dir() or any(p.exists() and not p.is_dir() for p in target.parents):
            raise PipelineError(f"cannot write {target}: a folder is in the way of a file or "
                                "a file in the way of a folder; move it and build again "
                                "(nothing was changed)")
    staged: list[tuple[Path, Path]] = []
    results: list[Written] = []
    # A file written with the very bytes of one staged before it (a feed, in the repository
    # and in the site) is a hard link to it: written and flushed to disk once.
    written: dict[int, tuple[bytes, Path]] = {}
    try:
        for output, target in planned:
            if target.is_file() and target.stat().st_size == len(output.data) and \
                    target.read_bytes() == output.data:
                results.append(Written(target, len(output.data), changed=False))
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp",
                                            dir=target.parent)
            staged.append((Path(tmp_name), target))
            same = written.get(id(output.data))
            if same is not None and same[0] is output.data:
                fd = _link(same[1], fd, tmp_name)
                if fd < 0:
                    results.append(Written(target, len(output.data), changed=True))
                    continue
            with os.fdopen(fd, "wb") as handle:
                handle.write(output.data)
                handle.flush()
                os.fsync(handle.fileno())
            os.chmod(tmp_name, 0o644)
            written[id(output.data)] = (output.data, Path(tmp_name))
            results.append(Written(target, len(output.data), changed=True))
    except BaseException as exc:
        discard([Staged(tuple(staged), ())])
        if isinstance(exc, OSError):
            raise PipelineError(f"could not write {exc.filename or 'the outputs'}: "
                                f"{exc.strerror or exc}; nothing was changed") from None
        raise
    return Staged(tuple(staged), tuple(results))


def _link(source: Path, fd: int, tmp_name: str) -> int:
    """Make the new temporary file ``tmp_name`` (open as ``fd``) a hard link to ``source``:
    -1 when it is, or where the file system cannot (as between two file systems) an open
    file of that name to write it to."""
    os.close(fd)
    os.unlink(tmp_name)
    try:
        os.link(source, tmp_name)
    except OSError:
        return os.open(tmp_name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    return -1


def discard(staged: Iterable[Staged]) -> None:
    """Remove staged files: the build they belong to is not going to be written."""
    for part in staged:
        for tmp, _ in part.files:
            tmp.unlink(missing_ok=True)


def commit(staged: list[Staged]) -> list[Written]:
    """Put every staged file in place (atomically each, all restored if one fails)."""
    _commit([pair for part in staged for pair in part.files])
    return [written for part in staged for written in part.written]


def _commit(staged: list[tuple[Path, Path]]) -> None:
    done: list[tuple[Path, Path | None]] = []
    try:
        for tmp, target in staged:
            backup = None
            if target.exists():
                backup = target.with_name(f".{target.name}.{os.getpid()}.old")
                backup.unlink(missing_ok=True)
                os.link(target, backup)
            os.replace(tmp, target)
            done.append((target, backup))
    except BaseException as exc:
        for target, backup in reversed(done):
            if backup is not None:
                os.replace(backup, target)
            else:
                target.unlink(missing_ok=True)
        for tmp, _ in staged:
            tmp.unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise PipelineError(f"could not replace {exc.filename or 'an output'}: "
                                f"{exc.strerror or exc}; the previous outputs were restored"
                                ) from None
        raise
    for _, backup in done:
        if backup is not None:
            backup.unlink(missing_ok=True)


def replace_file(target: Path, data: bytes) -> None:
    """Put ``data`` at ``target`` in one rename, for files that are not outputs (the render
    cache): a reader sees the old file or the new one, never half of one. Not flushed to
    disk, since a cache entry lost in a crash is only rendered again (its digest tells)."""
    try:
        fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp",
                                        dir=target.parent)
    except FileNotFoundError:  # the first entry of its folder (most are not)
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp",
                                        dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp_name, target)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
