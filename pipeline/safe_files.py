"""Which linked files may be published with an issue, and which the preview may serve.

A file a piece links is copied into the site, where a static host serves it from the
newsletter's own origin: an HTML page or a script there runs with the site's authority. So only
types that a browser shows or downloads but never runs are published (:data:`SAFE_SUFFIXES`),
and an SVG image only after its XML has been read by a real parser (defusedxml over the
standard library's expat: no entity declarations, no external entities) and found free of
scripts, event handlers, foreign content and references to anything outside the image.
"""

from __future__ import annotations

import re
from pathlib import Path
from xml.etree.ElementTree import ParseError

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException

from .errors import Problems

#: Files published with an issue: images, documents, data, audio and video.
SAFE_SUFFIXES = frozenset({
    ".png", ".jpg", ".jpeg", ".gif", ".webp", ".avif", ".svg", ".bmp", ".tif", ".tiff",
    ".pdf", ".txt", ".csv", ".tsv",
    ".mp3", ".m4a", ".ogg", ".oga", ".mp4", ".webm",
})

#: Types a browser runs or renders as part of the site (a page, a script, a stylesheet...).
_RUNNABLE = frozenset({".html", ".htm", ".xhtml", ".xht", ".shtml", ".js", ".mjs", ".cjs",
                       ".css", ".xml", ".xsl", ".xslt", ".swf", ".wasm", ".php", ".svgz"})

#: SVG elements that run code, embed another document or react to events.
_ACTIVE_ELEMENTS = frozenset({"script", "foreignobject", "iframe", "embed", "object",
                              "handler", "listener", "audio", "video"})
#: Attributes that name another resource.
_REFERENCES = frozenset({"href", "src"})
#: A CSS url() or @import that leaves the image (``url(#gradient)`` stays inside it).
_CSS_OUTSIDE = re.compile(r"@import|url\(\s*['\"]?\s*(?!#)", re.IGNORECASE)


def refusal(path: Path) -> str | None:
    """Why the file at ``path`` (already resolved) must not be published; None if it may be."""
    if not path.is_file():
        return "is not a regular file (a FIFO, a device or a socket), so it cannot be published"
    suffix = path.suffix.lower()
    if suffix not in SAFE_SUFFIXES:
        kind = f"a {suffix} file" if suffix else "a file without a type (no extension)"
        why = ("which a browser could run as part of the site" if suffix in _RUNNABLE or
               not suffix else "which is not one of the types the site publishes")
        return (f"is {kind}, {why}, so it is not published; only "
                f"{', '.join(sorted(SAFE_SUFFIXES))} files are. Link to it where it is "
                "hosted, or convert it (a page to PDF)")
    if suffix == ".svg":
        found = svg_problem(path)
        if found:
            return (f"is an SVG image with {found}, which a browser would run or load as part "
                    "of the site, so it is not published; export the image again without it "
                    "(or as PNG)")
    return None


def svg_problem(path: Path) -> str | None:
    """What makes the SVG image at ``path`` unsafe to publish, or None if nothing does."""
    try:
        for event, element in SafeET.iterparse(str(path), events=("start", "pi"),
                                               forbid_dtd=False, forbid_entities=True,
                                               forbid_external=True):
            if event == "pi":
                return f"the processing instruction <?{(element.text or '').split(' ')[0]}?>"
            found = _element_problem(element.tag, element.attrib, element.text or "")
            if found:
                return found
    except DefusedXmlException as exc:
        return f"an entity declaration or external entity ({type(exc).__name__})"
    except (ParseError, OSError, UnicodeError) as exc:
        return f"XML that cannot be read ({exc})"
    return None


def _element_problem(tag: str, attrib: dict[str, str], text: str) -> str | None:
    name = _local(tag)
    if name.lower() in _ACTIVE_ELEMENTS:
        return f"a <{name}> element"
    if name.lower() == "style" and _CSS_OUTSIDE.search(text):
        return "a stylesheet that loads another file"
    for key, value in attrib.items():
        attribute = _local(key).lower()
        if attribute.startswith("on"):
            return f"an event handler ({_local(key)}= on <{name}>)"
        if attribute in _REFERENCES and not value.strip().startswith("#"):
            return f"a reference to another file or site ({_local(key)}=\"{value[:60]}\")"
        if _CSS_OUTSIDE.search(value):
            return f"a reference to another file or site ({_local(key)}=\"{value[:60]}\")"
        if name.lower() in ("set", "animate") and attribute == "attributename" and (
                _local(value).lower() in _REFERENCES or value.lower().startswith("on")):
            return f"an animation of {value} on <{name}>"
    return None


def _local(name: str) -> str:
    """``{namespace}name`` or ``prefix:name`` without its namespace."""
    return name.rpartition("}")[2].rpartition(":")[2]


def fingerprint(path: Path) -> str:
    """What :func:`refusal` depends on beyond the file's name and kind: for an SVG, its size,
    modification time and inode (from ``stat``, without reading a byte of a file that may be
    outside the root), so a cached rendering that judged it is not used once it changes."""
    if path.suffix.lower() != ".svg":
        return ""
    try:
        info = path.stat()
    except OSError:  # gone since it was found: the answer changes all the same
        return ":gone"
    return f":{info.st_size}:{info.st_mtime_ns}:{info.st_ino}"


def publishable(path: Path, link: str, problems: Problems, piece: Path, line: int) -> bool:
    """Whether the file at ``path`` that ``link`` names may be published; if not, an error at
    the ``line`` of the link in ``piece``."""
    why = refusal(path)
    if why is not None:
        problems.error(piece, line, f"'{link}' {why}", rule="unsafe-file")
    return why is None
