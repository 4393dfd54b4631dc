"""RSS 2.0, Atom 1.0 and JSON Feed 1.1 over the archive, one entry per issue, newest first.

The XML feeds are built as element trees with the standard library and serialised by it, never
by string concatenation; characters that XML 1.0 forbids are removed first. Every URL is
absolute; ids are the issues' permalinks, so they never change. Summaries are plain text in
every feed: Atom's ``summary`` and JSON Feed's ``summary`` say so, and RSS's ``description``,
which readers take as HTML, carries them escaped as text (:func:`as_html`).
"""

from __future__ import annotations

import html
import json
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from . import GENERATOR, SOFTWARE, __version__
from .config import Config

ATOM = "http://www.w3.org/2005/Atom"
CONTENT = "http://purl.org/rss/1.0/modules/content/"
DC = "http://purl.org/dc/elements/1.1/"

#: The control characters XML 1.0 cannot carry, as bytes (all but tab, newline and return).
_CONTROLS = bytes(c for c in range(0x20) if c not in (0x09, 0x0A, 0x0D))


@lru_cache(maxsize=1)
def _forbidden() -> re.Pattern[str]:
    """Every character XML 1.0 cannot carry (compiled when first needed: it takes
    milliseconds, and most texts have none)."""
    return re.compile("[^\u0009\u000a\u000d\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


@lru_cache(maxsize=64)
def xml_safe(text: str) -> str:
    """``text`` without the characters XML 1.0 cannot carry (control characters, lone
    surrogates, U+FFFE/U+FFFF). Kept for the last texts: RSS and Atom carry the same
    entries, each a whole issue."""
    try:
        data = text.encode("utf-8")  # a lone surrogate cannot be encoded
    except UnicodeEncodeError:
        return _forbidden().sub("", text)
    if len(data.translate(None, _CONTROLS)) == len(data) and "\ufffe" not in text \
            and "\uffff" not in text:
        return text  # what nearly every text is: nothing to take out, found in one pass
    return _forbidden().sub("", text)


def as_html(text: str) -> str:
    """Plain text as the HTML that RSS's ``description`` carries (readers render it as HTML,
    so ``<b>`` in a summary must arrive as the characters, not as markup)."""
    return html.escape(text, quote=False)


@dataclass(frozen=True)
class Entry:
    """One issue as the feeds see it."""

    url: str
    title: str
    summary: str
    content_html: str
    published: datetime
    updated: datetime
    authors: tuple[str, ...]
    categories: tuple[str, ...]

    def as_json(self) -> dict[str, Any]:
        """The entry as JSON (the render cache keeps it)."""
        return {"url": self.url, "title": self.title, "summary": self.summary,
                "content_html": self.content_html, "published": self.published.isoformat(),
                "updated": self.updated.isoformat(), "authors": self.authors,
                "categories": self.categories}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Entry:
        """The entry :meth:`as_json` wrote."""
        return cls(url=data["url"], title=data["title"], summary=data["summary"],
                   content_html=data["content_html"],
                   published=datetime.fromisoformat(data["published"]),
                   updated=datetime.fromisoformat(data["updated"]),
                   authors=tuple(data["authors"]), categories=tuple(data["categories"]))


def _sub(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
    element = ET.SubElement(parent, tag, {k: xml_safe(v) for k, v in attrs.items()})
    if text is not None:
        element.text = xml_safe(text)
    return element


_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def _rfc822(moment: datetime) -> str:
    """A UTC moment as RSS dates it: what ``email.utils.format_datetime(moment,
    usegmt=True)`` writes, without importing the email package for it."""
    if moment.tzinfo != UTC:
        raise ValueError("an RSS date is written in UTC")
    t = moment.timetuple()
    return (f"{_DAYS[t.tm_wday]}, {t.tm_mday:02d} {_MONTHS[t.tm_mon - 1]} {t.tm_year:04d} "
            f"{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d} GMT")


def _rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _serialise(root: ET.Element) -> bytes:
    ET.indent(root)
    # Written as text and encoded once (ElementTree's own encoding writes each piece
    # through a codec), after the declaration it would write.
    text = ET.tostring(root, encoding="unicode")
    return f"<?xml version='1.0' encoding='utf-8'?>\n{text}\n".encode()


def _newest(entries: list[Entry]) -> datetime:
    newest = max((e.updated for e in entries), default=datetime(1970, 1, 1, tzinfo=UTC))
    return newest.astimezone(UTC)


def rss(entries: list[Entry], config: Config) -> bytes:
    """RSS 2.0 with ``content:encoded`` and an ``atom:link rel="self"``."""
    ET.register_namespace("atom", ATOM)
    ET.register_namespace("content", CONTENT)
    ET.register_namespace("dc", DC)
    root = ET.Element("rss", {"version": "2.0"})
    channel = _sub(root, "channel")
    _sub(channel, "title", config.title)
    _sub(channel, "link", config.base_url + "/")
    _sub(channel, "description", as_html(config.description or config.title))
    _sub(channel, "language", config.language)
    _sub(channel, f"{{{ATOM}}}link", href=config.feed_url("rss.xml"), rel="self",
         type="application/rss+xml")
    _sub(channel, "lastBuildDate", _rfc822(_newest(entries)))
    _sub(channel, "generator", GENERATOR)
    _sub(channel, "docs", "https://www.rssboard.org/rss-specification")
    for entry in entries:
        item = _sub(channel, "item")
        _sub(item, "title", entry.title)
        _sub(item, "link", entry.url)
        _sub(item, "guid", entry.url, isPermaLink="true")
        _sub(item, "pubDate", _rfc822(entry.published.astimezone(UTC)))
        _sub(item, "description", as_html(entry.summary))
        _sub(item, f"{{{CONTENT}}}encoded", entry.content_html)
        for author in entry.authors:
            _sub(item, f"{{{DC}}}creator", author)
        for category in entry.categories:
            _sub(item, "category", category)
    return _serialise(root)


def atom(entries: list[Entry], config: Config) -> bytes:
    """Atom 1.0 (RFC 4287)."""
    ET.register_namespace("", ATOM)

    def sub(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
        return _sub(parent, f"{{{ATOM}}}{tag}", text, **attrs)

    root = ET.Element(f"{{{ATOM}}}feed", {"xml:lang": config.language})
    sub(root, "title", config.title)
    if config.description:
        sub(root, "subtitle", config.description)
    sub(root, "id", config.base_url + "/")
    sub(root, "link", rel="self", type="application/atom+xml", href=config.feed_url("atom.xml"))
    sub(root, "link", rel="alternate", type="text/html", href=config.base_url + "/")
    sub(root, "updated", _rfc3339(_newest(entries)))
    sub(sub(root, "author"), "name", config.title)
    sub(root, "generator", SOFTWARE, version=__version__)
    for entry in entries:
        element = sub(root, "entry")
        sub(element, "title", entry.title)
        sub(element, "id", entry.url)
        sub(element, "link", rel="alternate", type="text/html", href=entry.url)
        sub(element, "published", _rfc3339(entry.published))
        sub(element, "updated", _rfc3339(entry.updated))
        for author in entry.authors:
            sub(sub(element, "author"), "name", author)
        for category in entry.categories:
            sub(element, "category", term=category)
        sub(element, "summary", entry.summary)
        sub(element, "content", entry.content_html, type="html")
    return _serialise(root)


def json_feed(entries: list[Entry], config: Config) -> bytes:
    """JSON Feed 1.1."""
    feed = {
        "version": "https://jsonfeed.org/version/1.1",
        "title": config.title,
        "home_page_url": config.base_url + "/",
        "feed_url": config.feed_url("feed.json"),
        "description": config.description,
        "language": config.language,
        "authors": [{"name": config.title}],
        "items": [
            {
                "id": entry.url,
                "url": entry.url,
                "title": entry.title,
                "summary": entry.summary,
                "content_html": entry.content_html,
                "date_published": _rfc3339(entry.published),
                "date_modified": _rfc3339(entry.updated),
                "authors": [{"name": name} for name in entry.authors],
                "tags": list(entry.categories),
            }
            for entry in entries
        ],
    }
    return (json.dumps(feed, ensure_ascii=False, indent=2) + "\n").encode("utf-8")


#: The feeds by file name.
FEEDS = {"rss.xml": rss, "atom.xml": atom, "feed.json": json_feed}


def all_feeds(entries: list[Entry], config: Config,
              names: tuple[str, ...] = tuple(FEEDS)) -> dict[str, bytes]:
    """The feeds (the three, or those ``names``) by file name, entries newest first, at most
    ``config.feed_issues``."""
    chosen = sorted(entries, key=lambda e: e.published, reverse=True)[: config.feed_issues]
    return {name: FEEDS[name](chosen, config) for name in names}
