"""Markdown to safe HTML: an engine for the syntax (:mod:`pipeline.engines`), then one shared
pass that does not know which engine ran.

The shared pass, in order (:func:`draft`, then :func:`render`):

1. sanitise with nh3 (Ammonia): scripts, event handlers, iframes, styles and ``javascript:``
   URLs never survive;
2. shift the headings so a piece's highest heading sits below its title (level 4), and give
   each heading without an id GitHub's id for its text (:mod:`pipeline.slugs`), so in-page
   links written against GitHub's preview land;
3. resolve links (:mod:`pipeline.links`): ids are prefixed with the piece's slug so many
   pieces can share a page; an in-page link lands on a heading of its own piece, else on a
   heading or piece of the same issue (the anchors of the page are in the body's
   ``Context``); a link to ``other-piece.md`` (or ``other-piece.md#heading``) becomes that
   piece's anchor; other relative links are resolved
   against the issue folder and the files they name are collected for copying. Every link
   that lands nowhere is a problem at its line;
4. a second, cheap pass makes every relative URL absolute for the email and the feeds.
"""

from __future__ import annotations

import html as html_mod
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property, lru_cache
from pathlib import Path
from urllib.parse import urljoin

import nh3

from . import plaintext
from .engines import DEFAULT, MarkdownOptions, convert
from .errors import Problems
from .html_scan import rewrite
from .links import Context, Links, place_of
from .slugs import Slugger

TOP_HEADING = 4
URL_SCHEMES = {"http", "https", "mailto"}
ALLOWED_TAGS = (nh3.ALLOWED_TAGS - {"center", "map", "area"}) | {"figure", "figcaption"}
ALLOWED_ATTRIBUTES = {
    "*": {"id", "lang", "dir", "title"},
    "a": {"href", "hreflang", "aria-label"},
    "img": {"src", "alt", "width", "height"},
    "th": {"align", "colspan", "rowspan", "scope"},
    "td": {"align", "colspan", "rowspan"},
    "ol": {"start", "reversed"},
    "blockquote": {"cite"},
    "abbr": set(),
    "time": {"datetime"},
}
ALLOWED_CLASSES = {
    "div": {"footnote", "admonition", "note", "tip", "warning", "danger", "important"},
    "p": {"admonition-title"},
    "a": {"footnote-ref", "footnote-backref"},
    "sup": {"footnote-ref"},
}



@dataclass(frozen=True)
class Body:
    """A piece's body in every form the outputs need (the plain text made when first asked)."""

    html: str  # for the web edition: URLs relative to the issue page
    html_absolute: str  # for the email and the feeds: every URL absolute
    assets: tuple[Path, ...]  # files of the issue folder that the body uses
    #: What the file system said about each local link (path -> :func:`probe`): a cached
    #: body is used again only while every answer is still the same.
    probes: tuple[tuple[str, str], ...] = ()
    #: What the anchors of the issue page answered about each in-page link that does not
    #: land in the body itself (:func:`ask`): a cached body is used again only while every
    #: answer is still the same.
    lookups: tuple[tuple[str, str], ...] = ()

    @classmethod
    def stored(cls, html: str, html_absolute: str, assets: tuple[Path, ...],
               probes: tuple[tuple[str, str], ...], lookups: tuple[tuple[str, str], ...],
               plain: tuple[str, tuple[str, ...]] | None) -> Body:
        """A body read back from the cache, with its plain text and links when they were
        stored (else made when first asked)."""
        body = cls(html, html_absolute, assets, probes, lookups)
        if plain is not None:
            body.__dict__["_plain"] = plain  # what the cached_property would store
        return body

    def plain_made(self) -> tuple[str, tuple[str, ...]] | None:
        """The plain text and its links if something asked for them already (a teaser's
        are never made for its email), without making them."""
        made: tuple[str, tuple[str, ...]] | None = self.__dict__.get("_plain")
        return made

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


def to_html(source: str, options: MarkdownOptions | None = None) -> str:
    """Markdown to (not yet sanitised) HTML with the chosen engine (GFM by default)."""
    return convert(source, options or DEFAULT)


@dataclass(frozen=True)
class Draft:
    """A body's sanitised HTML with its headings shifted and given ids, before its links are
    resolved: what the issue needs of every body to know where an in-page link lands."""

    html: str
    ids: tuple[str, ...]  # every id in the body, as written (not yet prefixed)
    empty_links: tuple[str, ...] = ()  # hrefs of links left without text (a link in a link)
    too_deep: str = ""  # why the body could not be rendered, when it could not


def _cleaner(attribute_filter: Callable[[str, str, str], str | None] | None = None,
             ) -> nh3.Cleaner:
    """The sanitiser with the settings above."""
    return nh3.Cleaner(tags=ALLOWED_TAGS, attributes=ALLOWED_ATTRIBUTES,
                       allowed_classes=ALLOWED_CLASSES, url_schemes=URL_SCHEMES, link_rel=None,
                       attribute_filter=attribute_filter)


#: The sanitiser without a filter, made once (nh3.clean would make it again on every call).
_CLEANER = _cleaner()


class _Filter(threading.local):
    """The attribute filter of the clean running in this thread."""

    current: Callable[[str, str, str], str | None] | None = None


_FILTER = _Filter()


def _filtered(tag: str, attr: str, value: str) -> str | None:
    assert _FILTER.current is not None
    return _FILTER.current(tag, attr, value)


#: The sanitiser with a filter, made once too: it calls the filter given to :func:`_clean`
#: (making a sanitiser costs more than cleaning a body).
_FILTERING = _cleaner(_filtered)


def _clean(html: str,
           attribute_filter: Callable[[str, str, str], str | None] | None = None) -> str:
    if attribute_filter is None:
        cleaned: str = _CLEANER.clean(html)
        return cleaned
    _FILTER.current = attribute_filter
    try:
        cleaned = _FILTERING.clean(html)
    finally:
        _FILTER.current = None
    return cleaned


@lru_cache(maxsize=256)
def draft(source: str, options: MarkdownOptions = DEFAULT) -> Draft:
    """Steps 1 and 2 of the shared pass (kept for the few bodies an issue renders twice: once
    for its anchors, once for its page)."""
    try:
        raw = convert(source, options)
        html = _clean(raw).strip("\n")
    except RecursionError:
        return Draft("", (), too_deep="the Markdown is nested too deeply to render; flatten "
                     "the nested lists, quotes or emphasis")
    # No deeper than its start tags are many ("<" not followed by "/"): most bodies have too
    # few to be measured.
    if html.count("<") - html.count("</") > MAX_DEPTH and _depth(html) > MAX_DEPTH:
        return Draft("", (), too_deep=f"the text is nested more than {MAX_DEPTH} levels deep "
                     "(lists, quotes or HTML); flatten it")
    empty: list[str] = []
    if _nested_links(raw):
        # A link inside a link (raw HTML) comes out of the parser as an empty link before
        # the inner one: nothing to click, and a screen reader reads out its address.
        def drop_empty(match: re.Match[str]) -> str:
            href = _HREF.search(match[1])
            if href is None:
                return match[0]
            empty.append(html_mod.unescape(href[1]))
            return ""

        html = _EMPTY_LINK.sub(drop_empty, html)
    html, ids = _headings(html)
    return Draft(html, ids, tuple(empty))


def anchors(source: str, options: MarkdownOptions = DEFAULT) -> tuple[str, ...]:
    """The ids of a body (its headings' and notes'), as in-page links name them."""
    return draft(source, options).ids


_HEADING = re.compile(r"<h([1-6])((?:\s[^>]*)?)>(.*?)</h\1>", re.S)
_ID = re.compile(r'\sid="([^"]*)"')
_HREF = re.compile(r'\shref="([^"]*)"')
_ANY_TAG = re.compile(r"<[^>]*>")
_EMPTY_LINK = re.compile(r"<a\b([^>]*)>(?:\s|<br>)*</a>")


_A_TAG = re.compile(r"<(/?)a\b", re.I)


def _nested_links(html: str) -> bool:
    """Whether the engine's HTML opens a link inside another (only raw HTML can)."""
    depth = 0
    for match in _A_TAG.finditer(html):
        depth = max(depth - 1, 0) if match[1] else depth + 1
        if depth > 1:
            return True
    return False


def _headings(html: str) -> tuple[str, tuple[str, ...]]:
    """Shift the headings of nh3's (well-formed, double-quoted) output to start at
    :data:`TOP_HEADING` and give each one without an id GitHub's id for its text."""
    levels = [int(m[1]) for m in _HEADING.finditer(html)]
    shift = TOP_HEADING - min(levels) if levels else 0
    explicit = [html_mod.unescape(v) for v in _ID.findall(html)]
    slugger = Slugger(set(explicit))
    made: list[str] = []

    def heading(match: re.Match[str]) -> str:
        level = min(max(int(match[1]) + shift, 1), 6)
        attrs = match[2]
        if not _ID.search(attrs):
            text = html_mod.unescape(_ANY_TAG.sub("", match[3])).strip()
            slug = slugger.slug(text) if text else ""
            if slug:
                made.append(slug)
                attrs = f' id="{html_mod.escape(slug)}"{attrs}'
        return f"<h{level}{attrs}>{match[3]}</h{level}>"

    html = _HEADING.sub(heading, html)
    return html, tuple(dict.fromkeys([*explicit, *made]))


def render(source: str, ctx: Context, problems: Problems) -> Body:
    """Render one body's Markdown to a :class:`Body`, recording problems with their lines."""
    made = draft(source, ctx.markdown)
    if made.too_deep:
        problems.error(ctx.path, ctx.first_line, made.too_deep, rule="too-deep")
    links = Links(source, ctx, made.ids)
    # nh3 again, not rewrite(): reading its own output again is not always the identity
    # (a parser drops a <pre>'s first newline, closes a heading a heading opens, ...), and
    # the shifted headings may need it.
    html = _clean(made.html, attribute_filter=links.resolve)

    html_absolute = absolute(html, ctx.issue_url)
    _check_images(html, source, ctx, problems)
    for href in made.empty_links:
        line, column = links.place(href)
        problems.warning(ctx.path, line, f"the link to '{href}' has no text (a link inside "
                         "another link?), so it is left out; give each link its own text",
                         rule="empty-link", column=column)
    links.report(problems)
    return Body(html, html_absolute, tuple(links.assets), tuple(sorted(links.probes.items())),
                tuple(sorted(links.lookups.items())))


def absolute(html: str, issue_url: str) -> str:
    """A body's web HTML (:attr:`Body.html`) with every URL absolute (:attr:`Body.html_absolute`)
    for its issue page ``issue_url``, anchors too: email clients and feed readers do not
    resolve "#note" against the issue, so it points at the web edition."""
    made = rewrite(html, _absolute_filter(issue_url))
    if made is None:  # not nh3's own serialisation: nh3 reads it, with the same filter
        made = _absolute(issue_url).clean(html)
    return made


@lru_cache(maxsize=16)
def _absolute_filter(issue_url: str) -> Callable[[str, str, str], str | None]:
    def absolute(tag: str, attr: str, value: str) -> str | None:
        if attr not in ("href", "src"):
            return value
        return urljoin(issue_url, value)

    return absolute


@lru_cache(maxsize=16)
def _absolute(issue_url: str) -> nh3.Cleaner:
    """The sanitiser with :func:`_absolute_filter` (made once per page)."""
    return _cleaner(_absolute_filter(issue_url))


MAX_DEPTH = 100
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


_IMG = re.compile(r"<img\b([^>]*)>")
_ATTR = re.compile(r'\b(src|alt)="([^"]*)"')


def _check_images(html: str, source: str, ctx: Context, problems: Problems) -> None:
    # ``html`` is nh3's serialisation: every attribute value is double-quoted and escaped.
    for img in _IMG.finditer(html):
        attrs = dict(_ATTR.findall(img[1]))
        if not attrs.get("alt", "").strip():
            src = html_mod.unescape(attrs.get("src", ""))
            line, column = place_of(source, ctx.first_line, src)
            problems.warning(ctx.path, line, f"image '{src}' has no alt text; describe it for "
                             "readers who cannot see it: ![what the image shows](path)",
                             rule="image-alt", column=column)
