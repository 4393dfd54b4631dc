"""Markdown to safe HTML: Python-Markdown for the syntax, nh3 (Ammonia) for the safety.

One fresh converter per piece. Headings are shifted so a piece's highest heading sits below
its title (level 4). The HTML is sanitised once: scripts, event handlers, iframes, styles and
``javascript:`` URLs never survive. During sanitising, ids are prefixed with the piece's slug
so many pieces can share a page, relative links are resolved against the issue folder (a link
to ``other-piece.md`` becomes that piece's anchor) and the files they name are collected for
copying. A second, cheap pass makes every relative URL absolute for the email and the feeds.
"""

from __future__ import annotations

import html as html_mod
import posixpath
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from urllib.parse import quote, unquote, urljoin, urlsplit

import markdown
import nh3
from markdown.extensions import Extension
from markdown.treeprocessors import Treeprocessor

from . import plaintext, safe_files
from .content import slugify
from .errors import Problems

TOP_HEADING = 4
EXTENSIONS_CONFIG: dict[str, dict[str, object]] = {
    "tables": {"use_align_attribute": True},
    "footnotes": {"BACKLINK_TITLE": "Back to the text of note %d"},
    "toc": {"permalink": False},
}
EXTENSIONS = ["tables", "fenced_code", "footnotes", "attr_list", "sane_lists", "toc",
              "def_list", "abbr", "md_in_html"]
URL_SCHEMES = {"http", "https", "mailto"}
ALLOWED_TAGS = (nh3.ALLOWED_TAGS - {"center", "map", "area"}) | {"figure", "figcaption"}
ALLOWED_ATTRIBUTES = {
    "*": {"id", "lang", "dir", "title"},
    "a": {"href", "hreflang"},
    "img": {"src", "alt", "width", "height"},
    "th": {"align", "colspan", "rowspan", "scope"},
    "td": {"align", "colspan", "rowspan"},
    "ol": {"start", "reversed"},
    "blockquote": {"cite"},
    "abbr": set(),
    "time": {"datetime"},
}
ALLOWED_CLASSES = {
    "div": {"footnote"},
    "a": {"footnote-ref", "footnote-backref"},
    "sup": {"footnote-ref"},
}


class _ShiftHeadings(Treeprocessor):
    """Renumber headings so the highest one in the piece becomes ``<h4>`` (at most h6)."""

    def run(self, root: ET.Element) -> None:
        headings = [el for el in root.iter() if el.tag in ("h1", "h2", "h3", "h4", "h5", "h6")]
        if not headings:
            return
        shift = TOP_HEADING - min(int(el.tag[1]) for el in headings)
        for el in headings:
            el.tag = f"h{min(max(int(el.tag[1]) + shift, 1), 6)}"


class _ShiftHeadingsExtension(Extension):
    def extendMarkdown(self, md: markdown.Markdown) -> None:
        md.treeprocessors.register(_ShiftHeadings(md), "shift_headings", 1)


@dataclass(frozen=True)
class Body:
    """A piece's body in every form the outputs need (the plain text made when first asked)."""

    html: str  # for the web edition: URLs relative to the issue page
    html_absolute: str  # for the email and the feeds: every URL absolute
    assets: tuple[Path, ...]  # files of the issue folder that the body uses
    #: What the file system said about each local link (path -> :func:`probe`): a cached
    #: body is used again only while every answer is still the same.
    probes: tuple[tuple[str, str], ...] = ()

    @classmethod
    def with_text(cls, html: str, html_absolute: str, assets: tuple[Path, ...],
                  probes: tuple[tuple[str, str], ...], text: str,
                  links: tuple[str, ...]) -> Body:
        """A body whose plain text is already known (read back from the cache)."""
        body = cls(html, html_absolute, assets, probes)
        body.__dict__["_plain"] = (text, links)  # what the cached_property would store
        return body

    @cached_property
    def _plain(self) -> tuple[str, tuple[str, ...]]:
        return plaintext.to_text(self.html_absolute)

    @property
    def text(self) -> str:
        """The plain-text edition, with ``[n]`` link references."""
        return self._plain[0]

    @property
    def links(self) -> tuple[str, ...]:
        """The URLs of the ``[n]`` references, in order."""
        return self._plain[1]


@dataclass(frozen=True)
class Context:
    """Where a body lives: its issue folder, its issue page URL, and its anchor."""

    issue_dir: Path
    issue_url: str
    slug: str
    path: Path
    first_line: int


def to_html(source: str) -> str:
    """Markdown to (not yet sanitised) HTML with a fresh converter."""
    converter = markdown.Markdown(
        extensions=[*EXTENSIONS, _ShiftHeadingsExtension()],
        extension_configs=EXTENSIONS_CONFIG,
        output_format="html",
    )
    return converter.convert(source)


def render(source: str, ctx: Context, problems: Problems) -> Body:
    """Render one piece's Markdown to a :class:`Body`, recording problems with their lines."""
    assets: dict[Path, None] = {}
    missing: list[str] = []
    unsafe: list[str] = []
    broken: list[str] = []
    remote: list[str] = []
    probes: dict[str, str] = {}

    def resolve(tag: str, attr: str, value: str) -> str | None:
        # nh3 swallows exceptions raised here, so none may escape: each becomes an error.
        try:
            return _resolve(tag, attr, value)
        except Exception as exc:
            broken.append(f"'{value}' cannot be used: {exc}")
            return None

    def _resolve(tag: str, attr: str, value: str) -> str | None:
        if attr == "id":
            return f"{ctx.slug}--{value}"  # "--" never occurs in a piece's own anchor
        if attr not in ("href", "src"):
            return value
        parts = urlsplit(value)
        if parts.scheme or parts.netloc:
            if tag == "img":
                remote.append(value)
            return value
        if not parts.path:
            return f"#{ctx.slug}--{parts.fragment}" if parts.fragment else None
        decoded = unquote(parts.path)
        if _SCHEME_LIKE.match(decoded) or _CONTROL.search(decoded):
            unsafe.append(value)
            return None
        target = posixpath.normpath(decoded)
        if target.startswith("/"):
            return value  # a site-absolute link: left for the browser to resolve
        path = ctx.issue_dir / target
        state = probes.setdefault(str(path), probe(path))
        if target.endswith(".md"):
            if not state.startswith("file "):
                missing.append(value)
            anchor = slugify(posixpath.basename(target)[:-3])
            folder = posixpath.dirname(target)
            return f"#{anchor}" if folder in ("", ".") else f"{quote(folder)}/#{anchor}"
        kind, _, resolved = state.partition(" ")
        local = Path(resolved) if resolved else ctx.issue_dir
        if kind == "missing":
            missing.append(value)
        elif kind == "dir":
            broken.append(f"'{value}' is a folder, not a file")
        elif not local.is_relative_to(ctx.issue_dir.parent.resolve()):
            broken.append(f"'{value}' is outside the issues folder, so it is not published")
        elif local.is_relative_to(ctx.issue_dir.resolve()) and safe_files.publishable(
                local, value, problems, ctx.path, _line_of(value, source, ctx.first_line)):
            assets[local] = None
        return quote(target) + (f"#{parts.fragment}" if parts.fragment else "")

    def absolute(tag: str, attr: str, value: str) -> str | None:
        # Every URL absolute, anchors too: email clients and feed readers do not resolve
        # "#note" against the issue, so it points at the web edition.
        if attr not in ("href", "src"):
            return value
        return urljoin(ctx.issue_url, value)

    try:
        html = nh3.clean(
            to_html(source), tags=ALLOWED_TAGS, attributes=ALLOWED_ATTRIBUTES,
            allowed_classes=ALLOWED_CLASSES, url_schemes=URL_SCHEMES, attribute_filter=resolve,
            link_rel=None,
        )
    except RecursionError:
        html = ""
        problems.error(ctx.path, ctx.first_line, "the Markdown is nested too deeply to render; "
                       "flatten the nested lists, quotes or emphasis", rule="too-deep")
    if _depth(html) > MAX_DEPTH:
        html = ""
        problems.error(ctx.path, ctx.first_line, f"the text is nested more than {MAX_DEPTH} "
                       "levels deep (lists, quotes or HTML); flatten it", rule="too-deep")
    html_absolute = nh3.clean(
        html, tags=ALLOWED_TAGS, attributes=ALLOWED_ATTRIBUTES, allowed_classes=ALLOWED_CLASSES,
        url_schemes=URL_SCHEMES, attribute_filter=absolute, link_rel=None,
    )
    _check_images(html, source, ctx, problems)
    for value in missing:
        problems.error(ctx.path, _line_of(value, source, ctx.first_line),
                       f"'{value}' is not a file in the issue folder {ctx.issue_dir.name}/; "
                       "check the name, or put the file there", rule="missing-file")
    for message in broken:
        problems.error(ctx.path, ctx.first_line, message, rule="broken-link")
    for value in remote:
        problems.warning(ctx.path, _line_of(value, source, ctx.first_line),
                         f"the image '{value}' is loaded from another site when the email is "
                         "opened, which can tell that site who read it; put the image in the "
                         "issue folder instead", rule="remote-image")
    for value in unsafe:
        problems.error(ctx.path, _line_of(value, source, ctx.first_line),
                       f"the link '{value}' hides a URL scheme or control characters behind "
                       "percent-encoding; write the full https:// URL or a plain file name",
                       rule="unsafe-link")
    return Body(html, html_absolute, tuple(assets), tuple(sorted(probes.items())))


MAX_DEPTH = 100
_SCHEME_LIKE = re.compile(r"^\s*[A-Za-z][A-Za-z0-9+.\-]*\s*:")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_TAG = re.compile(r"<(/?)([a-zA-Z][a-zA-Z0-9]*)[^>]*?(/?)>")


def _depth(html: str) -> int:
    """How deeply the elements of nh3's (well-formed) output nest."""
    depth = deepest = 0
    for match in _TAG.finditer(html):
        if match[2].lower() in plaintext.VOID or match[3]:
            continue
        depth += -1 if match[1] else 1
        deepest = max(deepest, depth)
    return deepest


def probe(path: Path) -> str:
    """What a local link finds: ``file|dir|other|missing`` and the path it resolves to.

    The rendering of a body depends on the file system only through these answers, so the
    cache keeps them with the body and compares them again before using it.
    """
    try:
        local = path.resolve()
        if not local.exists():
            return "missing "
        kind = "file" if local.is_file() else "dir" if local.is_dir() else "other"
    except (OSError, ValueError, RuntimeError):  # RuntimeError: a symlink loop
        return "missing "
    return f"{kind}{safe_files.fingerprint(local) if kind == 'file' else ''} {local}"


_IMG = re.compile(r"<img\b([^>]*)>")
_ATTR = re.compile(r'\b(src|alt)="([^"]*)"')


def _check_images(html: str, source: str, ctx: Context, problems: Problems) -> None:
    # ``html`` is nh3's serialisation: every attribute value is double-quoted and escaped.
    for img in _IMG.finditer(html):
        attrs = dict(_ATTR.findall(img[1]))
        if not attrs.get("alt", "").strip():
            src = html_mod.unescape(attrs.get("src", ""))
            problems.warning(ctx.path, _line_of(src, source, ctx.first_line),
                             f"image '{src}' has no alt text; describe it for readers who "
                             "cannot see it: ![what the image shows](path)", rule="image-alt")


def _line_of(needle: str, source: str, first_line: int) -> int:
    """The file line of the first source line mentioning ``needle`` (else the body's start)."""
    for index, line in enumerate(source.split("\n")):
        if needle and needle in line:
            return first_line + index
    return first_line
