"""What the render cache's keys are made of: digests of the code, of the site (configuration,
contributors, templates) and of an issue folder's inputs, and the key of an entry
(:mod:`pipeline.cache` explains what each kind of entry is keyed by)."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import stat
import time
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

from . import __version__
from .addresses import installed
from .content import outside
from .links import probe
from .writer import replace_file

#: A key part at least this long (a body's Markdown) is named by its own SHA-256; a string
#: of an entry this long is stored as it is (:func:`pipeline.cache.encode`).
LONG = 1024

#: The libraries whose output the cache keeps, by the name of their top module.
_LIBRARIES = ("cmarkgfm", "markdown", "nh3", "jinja2", "css_inline")


@cache
def code_digest() -> str:
    """The pipeline's version and modules, and where its libraries are installed, as one
    digest."""
    digest = hashlib.sha256(f"{__version__}\0".encode())
    for name in _LIBRARIES:
        digest.update(f"{name}={installed(name)}\0".encode("utf-8", TEXT))
    package = Path(__file__).resolve().parent
    for path in sorted(package.glob("*.py")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


#: How text goes to and from bytes in the cache: a file name that is not UTF-8 is read as
#: lone surrogates (Python's way), which UTF-8 alone cannot write.
TEXT = "surrogatepass"


def _update(digest: Any, label: str, data: bytes) -> None:
    digest.update(f"{label}\0{len(data)}\0".encode("utf-8", TEXT) + data)


def site_digest(root: Path, files: list[Path], template_dirs: list[Path],
                config_digest: str) -> str:
    """The root (as given and as resolved), the configuration (the digest of the bytes it was
    parsed from), ``files`` and every template, as one digest."""
    digest = hashlib.sha256()
    _update(digest, "root", f"{root}\0{root.resolve()}".encode())
    _update(digest, "config", config_digest.encode())
    for path in files:
        try:
            _update(digest, str(path), path.read_bytes())
        except OSError:
            _update(digest, str(path), b"\0missing")
    for folder in template_dirs:
        _update(digest, "templates", str(folder).encode())
        if folder.is_dir():
            for path in sorted(p for p in folder.rglob("*") if p.is_file()):
                _update(digest, str(path.relative_to(folder)), path.read_bytes())
    return digest.hexdigest()


def site_stamp(files: list[Path], template_dirs: list[Path]) -> str:
    """What the file system says of ``files`` and every template (kind, size, modification
    time, inode), without reading them: taken when a build starts and again before it stores
    what it made, so an edit saved during the build is never paired with its key."""
    parts = []
    paths = list(files)
    for folder in template_dirs:
        if folder.is_dir():
            paths += sorted(p for p in folder.rglob("*") if p.is_file())
    for path in paths:
        try:
            st = path.stat()
            parts.append(f"{path}\0{st.st_size}\0{st.st_mtime_ns}\0{st.st_ino}")
        except OSError:
            parts.append(f"{path}\0missing")
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


#: How long ago an entry must have last changed for its digest to be kept by its stamp: a
#: file changed again within the same tick of the file system's clock, and to the same
#: size, would have the same stamp ("racy" entries, as git calls them, are always read).
SETTLED_NS = 2_000_000_000


def inputs(folder: Path, memo: Path | None = None,
           clock: Callable[[], int] = time.time_ns, keep: bool = True) -> str:
    """An issue folder as reading it sees it: each entry's name and kind, and the bytes of
    every Markdown file (images are looked at by the bodies' probes).

    With ``memo`` (a folder of the render cache), the digest last made of the folder is
    used again, without reading a byte, while the file system says of the folder and of each
    of its entries what it said when it was made (kind, size, modification and change times,
    inode: an edit changes the change time, which no program can set back). It is kept only
    when every entry last changed :data:`SETTLED_NS` before ``clock()``; a folder with a
    symbolic link in it, or reached through one, is always read. Not ``keep``: the memo is
    only read (a process that writes nothing)."""
    found = _stamp(folder) if memo is not None else None
    if memo is None or found is None:
        return _inputs(folder)
    stamp, newest = found
    kept = memo / "inputs" / hashlib.sha256(str(folder).encode("utf-8", TEXT)).hexdigest()
    with contextlib.suppress(OSError, ValueError, TypeError, KeyError):
        known = json.loads(kept.read_text("utf-8", TEXT))
        if known["stamp"] == stamp and known["code"] == code_digest():
            return str(known["digest"])
    digest = _inputs(folder)
    if keep and newest < clock() - SETTLED_NS and _stamp(folder) == found:  # not changed since
        with contextlib.suppress(OSError):
            replace_file(kept, json.dumps({"stamp": stamp, "code": code_digest(),
                                           "digest": digest}).encode())
    return digest


def _stamp(folder: Path) -> tuple[str, int] | None:
    """What the file system says of an issue folder and each entry, and which folder its
    parent is, with the latest time one of them changed (None when one of them is a symbolic
    link: then where it leads counts too)."""
    parts = []
    newest = 0
    try:
        for path in (folder.parent, folder):
            st = os.lstat(path)
            if stat.S_ISLNK(st.st_mode):
                return None
            # The parent by what it is only: its times change as other issues come and go.
            parts.append(_stat_line(path.name, st) if path == folder else
                         f"{path}\0{st.st_mode}\0{st.st_dev}\0{st.st_ino}")
        newest = max(st.st_mtime_ns, st.st_ctime_ns)
        with os.scandir(folder) as found:
            for entry in found:
                st = entry.stat(follow_symlinks=False)
                if stat.S_ISLNK(st.st_mode):
                    return None
                parts.append(_stat_line(entry.name, st))
                newest = max(newest, st.st_mtime_ns, st.st_ctime_ns)
    except OSError:
        return None
    return hashlib.sha256("\n".join(sorted(parts)).encode("utf-8", TEXT)).hexdigest(), newest


def _stat_line(name: str, st: os.stat_result) -> str:
    return f"{name}\0{st.st_mode}\0{st.st_size}\0{st.st_mtime_ns}\0{st.st_ctime_ns}\0{st.st_ino}"


def _inputs(folder: Path) -> str:
    digest = hashlib.sha256()
    try:
        entries = sorted(folder.iterdir())
    except OSError as exc:
        return f"unreadable {exc}"
    root = folder.parent.parent
    folder_inside = outside(folder, root) is None  # then only a link in it can lead out
    for path in entries:
        if path.is_symlink():
            kind = f"link {probe(path)}"
        elif path.is_dir():
            kind = "dir"
        else:
            kind = "file" if path.is_file() else "other"
        _update(digest, path.name, kind.encode())
        if kind.startswith(("file", "link file")) and path.suffix.lower() in (".md",
                                                                            ".markdown") \
                and folder_inside and (kind == "file" or outside(path, root) is None):
            # never read a file outside the root
            try:
                _update(digest, "bytes", path.read_bytes())
            except OSError as exc:
                _update(digest, "unreadable", str(exc).encode())
    return digest.hexdigest()


def key(kind: str, *parts: object) -> str:
    """The key of an entry: the SHA-256 of its kind, the code and ``parts`` (JSON values; a
    long string, such as a body's Markdown, by its own SHA-256, as JSON need not escape it)."""
    named = [["sha256", hashlib.sha256(part.encode("utf-8", TEXT)).hexdigest()]
             if isinstance(part, str) and len(part) >= LONG else part for part in parts]
    text = json.dumps([kind, code_digest(), *named], ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8", TEXT)).hexdigest()
