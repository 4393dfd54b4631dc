"""What the render cache's keys are made of: digests of the code, of the site (configuration,
contributors, templates) and of an issue folder's inputs, and the key of an entry
(:mod:`pipeline.cache` explains what each kind of entry is keyed by)."""

from __future__ import annotations

import hashlib
import json
from functools import cache
from pathlib import Path
from typing import Any

from . import __version__
from .content import outside
from .links import probe

#: A key part at least this long (a body's Markdown) is named by its own SHA-256.
LONG = 1024

_LIBRARIES = ("cmarkgfm", "markdown", "nh3", "jinja2", "css-inline")


@cache
def code_digest() -> str:
    """The pipeline's version, its modules and its libraries' versions, as one digest."""
    from importlib import metadata  # a command that finds its pages in the cache asks once

    digest = hashlib.sha256(f"{__version__}\0".encode())
    for name in _LIBRARIES:
        try:
            digest.update(f"{name}={metadata.version(name)}\0".encode())
        except metadata.PackageNotFoundError:
            digest.update(f"{name}=?\0".encode())
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


def inputs(folder: Path) -> str:
    """An issue folder as reading it sees it: each entry's name and kind, and the bytes of
    every Markdown file (images are looked at by the bodies' probes)."""
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
