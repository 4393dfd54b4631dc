"""Incoming feeds for ``newsletter gather``, once fetched (:mod:`pipeline.feeds_fetch`):
parsed with feedparser into values (:class:`Feed`, :class:`Entry`), and the text helpers that
make their entries' titles and summaries plain, short and safe in Markdown.
"""

from __future__ import annotations

import calendar
import html
import io
import re
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

import feedparser
import nh3

from .errors import plural
from .feeds_fetch import FeedUnavailable, Source, fetch

SUMMARY_LENGTH = 200
MAX_WORKERS = 8
#: Elements after which a summary gets a space, so "<p>a</p><p>b</p>" reads "a b", not "ab".
_SPACED = frozenset({
    "p", "br", "div", "li", "ul", "ol", "blockquote", "pre", "h1", "h2", "h3", "h4", "h5",
    "h6", "tr", "td", "th", "dt", "dd", "figure", "figcaption", "section", "article", "hr",
})
_TAG = re.compile(r"<[^>]*>")
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]{}#|!])")
#: feedparser sets bozo for these even when the feed reads well; they are not worth a note.
_HARMLESS = (feedparser.CharacterEncodingOverride, feedparser.NonXMLContentType)


# --------------------------------------------------------------------------- values


@dataclass(frozen=True)
class Entry:
    """One entry of a feed, reduced to what a reading list shows."""

    title: str
    link: str
    summary: str
    published: datetime
    source: str
    feed: int  # the position of its feed in the list read


@dataclass(frozen=True)
class Feed:
    """A feed that was read: its title, its dated entries and what could not be used."""

    source: Source
    title: str
    entries: tuple[Entry, ...]
    undated: int = 0
    unlinked: int = 0
    note: str | None = None  # feedparser found errors but could still read entries


@dataclass(frozen=True)
class Failure:
    """A feed that could not be read (down, slow, not a feed): reported and skipped."""

    source: Source
    reason: str
    line: int | None = None


# --------------------------------------------------------------------------- parsing feeds


def parse(source: Source, data: bytes, headers: dict[str, str], index: int) -> Feed:
    """Parse a feed's bytes with feedparser; a document that is not a feed is a failure."""
    # A stream, not bytes: given bytes, feedparser would first try them as a file name.
    parsed: Any = feedparser.parse(io.BytesIO(data), response_headers=headers)
    problem = parsed.get("bozo_exception") if parsed.get("bozo") else None
    if not parsed.entries and not parsed.get("version"):
        raise FeedUnavailable("not an RSS or Atom feed (no feed elements found)")
    title = _text(parsed.feed.get("title", ""), parsed.feed.get("title_detail"))
    if not title:
        title = (urlsplit(source.url).hostname or source.label) if source.url else (
            source.path.stem if source.path else source.label)
    entries, undated, unlinked = [], 0, 0
    for item in parsed.entries:
        published = _published(item)
        if published is None:
            undated += 1
            continue
        link = str(item.get("link") or "").strip()
        if urlsplit(link).scheme.lower() not in ("http", "https") or not urlsplit(link).netloc:
            unlinked += 1
            continue
        entries.append(Entry(
            title=_text(item.get("title", ""), item.get("title_detail")) or "Untitled",
            link=link,
            summary=_summary(item),
            published=published,
            source=title,
            feed=index,
        ))
    note = None
    if problem is not None and not isinstance(problem, _HARMLESS):
        # A malformed feed counts only for the entries that could be read in full.
        line = _line_of(problem)
        if not entries:
            raise FeedUnavailable(f"malformed, no usable entry: {_describe(problem)}", line)
        note = (f"is malformed ({_describe(problem)}{f' on line {line}' if line else ''}); "
                f"used the {plural(len(entries), 'entry')} read before the error")
    return Feed(source, title, tuple(entries), undated, unlinked, note)


def read_feeds(feed_sources: Sequence[Source], timeout: float,
               allow_private: bool = False) -> list[Feed | Failure]:
    """Read every feed (several at once), in the order given; each is a Feed or a Failure."""

    def one(numbered: tuple[int, Source]) -> Feed | Failure:
        index, source = numbered
        try:
            data, headers = fetch(source, timeout, allow_private)
            return parse(source, data, headers, index)
        except FeedUnavailable as exc:
            return Failure(source, exc.reason, exc.line)

    if not feed_sources:
        return []
    with ThreadPoolExecutor(max_workers=min(MAX_WORKERS, len(feed_sources))) as pool:
        return list(pool.map(one, enumerate(feed_sources)))


def _published(item: Any) -> datetime | None:
    """When an entry was published (or, lacking that, last updated), in UTC."""
    for key in ("published_parsed", "updated_parsed", "created_parsed"):
        value = item.get(key)
        if value:
            try:
                return datetime.fromtimestamp(calendar.timegm(value), UTC)
            except (TypeError, ValueError, OverflowError, OSError):
                continue
    return None


def _describe(problem: BaseException) -> str:
    message = getattr(problem, "getMessage", None)
    text = str(message() if callable(message) else problem).strip()
    return text or type(problem).__name__


def _line_of(problem: BaseException) -> int | None:
    getter = getattr(problem, "getLineNumber", None)
    if callable(getter):
        line = getter()
        return line if isinstance(line, int) and line > 0 else None
    return None


# --------------------------------------------------------------------------- text


def plain_text(markup: str) -> str:
    """HTML as one line of text: parsed and stripped by nh3, then unescaped."""
    cleaned = nh3.clean(markup, tags=set(_SPACED), attributes={}, link_rel=None)
    # nh3's output is well-formed with no attributes left, and every "<" of the text is
    # escaped as "&lt;": what remains between angle brackets is a bare tag.
    return " ".join(html.unescape(_TAG.sub(" ", cleaned)).split())


def _text(value: object, detail: Any = None) -> str:
    """A feed's text construct as plain text (plain-text titles are kept as they are)."""
    text = str(value or "")
    kind = detail.get("type", "") if isinstance(detail, dict) else ""
    if kind == "text/plain":
        return " ".join(text.split())
    return plain_text(text)


def _summary(item: Any) -> str:
    text = _text(item.get("summary", ""), item.get("summary_detail"))
    if not text:
        for content in item.get("content") or ():
            text = _text(content.get("value", ""), content)
            if text:
                break
    return shorten(text)


def shorten(text: str, limit: int = SUMMARY_LENGTH) -> str:
    """At most ``limit`` characters, cut at a word with an ellipsis."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    if " " in cut:
        cut = cut.rsplit(" ", 1)[0]
    return cut.rstrip(" ,;:.-\u2013\u2014") + "\u2026"


def markdown_text(text: str) -> str:
    """Text that Markdown shows as written: no emphasis, link, heading or raw HTML."""
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _MARKDOWN_SPECIAL.sub(r"\\\1", text)


def markdown_url(url: str) -> str:
    """A URL that is safe between ``(`` and ``)``: spaces, parentheses and brackets encoded."""
    return quote(url, safe=":/?#@!$&'*+,;=%~-._[]")


def normal_link(link: str) -> str:
    """A link as compared for duplicates: no fragment, no trailing slash, lowercase host."""
    parts = urlsplit(link.strip())
    path = parts.path.rstrip("/")
    return urlunsplit((parts.scheme.lower(), parts.netloc.lower(), path, parts.query, ""))
