"""Incoming feeds for ``newsletter gather``: each feed (an http(s) URL, or a file) read into
bytes and parsed with feedparser into values (:class:`Feed`, :class:`Entry`), and the text
helpers that make its entries' titles and summaries plain, short and safe in Markdown.

A feed URL must not reach this machine's or the network's own services: loopback, private,
link-local and other non-public addresses are refused, before connecting (the host's
addresses) and after (the address actually connected to), for the first request and every
redirect, unless ``allow_private`` says otherwise (a feed on an intranet). A monotonic timer
bounds how long one feed may take: a total deadline, from connecting to the last byte and
across redirects, enforced by closing the connection when it passes.
"""

from __future__ import annotations

import calendar
import contextlib
import html
import http.client
import io
import ipaddress
import re
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

import feedparser
import nh3

from . import __version__
from .errors import display_path as shown
from .errors import (
    plural,
)

USER_AGENT = f"ethics-society-pipeline/{__version__} (newsletter gather)"
MAX_FEED_BYTES = 10 * 1024 * 1024
SUMMARY_LENGTH = 200
MAX_WORKERS = 8
_ACCEPT = ("application/rss+xml, application/atom+xml, application/xml;q=0.9, "
           "text/xml;q=0.8, */*;q=0.1")
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
class Source:
    """A feed to read: an http(s) URL or a file. ``label`` is how messages name it."""

    label: str
    url: str | None = None
    path: Path | None = None


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


class FeedUnavailable(Exception):
    """Reading or parsing one feed failed; the message says why, for the editor."""

    def __init__(self, reason: str, line: int | None = None) -> None:
        super().__init__(reason)
        self.reason, self.line = reason, line






# --------------------------------------------------------------------------- reading feeds


def sources(feeds: Sequence[str], base: Path) -> list[Source]:
    """Feeds as given (URLs, or files relative to ``base``) into :class:`Source` values."""
    found = []
    for text in feeds:
        scheme = urlsplit(text).scheme.lower()
        if scheme in ("http", "https"):
            found.append(Source(text, url=text))
        elif len(scheme) > 1:  # "C:" is a Windows drive, not a scheme
            found.append(Source(text, url=text))  # refused with a reason when read
        else:
            path = base / text
            found.append(Source(shown(path), path=path))
    return found


IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
ALLOW_PRIVATE_HINT = ("gather reads only public addresses: for a feed on your own network, "
                      "pass --allow-private or set allow_private = true in [gather]")


def address_kind(ip: IpAddress) -> str | None:
    """What kind of non-public address ``ip`` is ("a loopback address", ...), or None for
    a public one."""
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip.is_loopback:
        return "a loopback address (this machine)"
    if ip.is_link_local:
        return "a link-local address (such as a cloud's metadata service)"
    if ip.is_unspecified or ip.is_multicast or ip.is_reserved:
        return "not a public address"
    if ip.is_private or not ip.is_global:
        return "a private address"
    return None


class _Guard:
    """One feed's limits: a total deadline over every connection and redirect, and the
    addresses it may reach. When the deadline passes, the open connections are shut down, so
    a read blocked on a trickling server returns at once."""

    def __init__(self, timeout: float, allow_private: bool,
                 kind: Callable[[IpAddress], str | None]) -> None:
        self.timeout, self.allow_private, self.kind = timeout, allow_private, kind
        self.deadline = time.monotonic() + timeout
        self.expired = False
        self.lock = threading.Lock()
        self.sockets: list[socket.socket] = []
        self.timer = threading.Timer(timeout, self._expire)
        self.timer.daemon = True

    def _expire(self) -> None:
        with self.lock:
            self.expired = True
            for sock in self.sockets:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)

    def check_host(self, host: str, port: int | None, what: str = "") -> None:
        """Refuse a host any of whose addresses is not public (before connecting)."""
        if self.allow_private:
            return
        try:
            infos = socket.getaddrinfo(host, port or 80, type=socket.SOCK_STREAM)
        except (OSError, UnicodeError):
            return  # connecting fails too, and says why
        for info in infos:
            self.check_address(str(info[4][0]), host, what)

    def check_address(self, address: str, host: str, what: str = "") -> None:
        if self.allow_private:
            return
        try:
            ip = ipaddress.ip_address(address.split("%", 1)[0])
        except ValueError:
            return
        kind = self.kind(ip)
        if kind is not None:
            shown = host if host == address else f"{host} ({address})"
            raise FeedUnavailable(f"{what}{shown} is {kind}; {ALLOW_PRIVATE_HINT}")

    def attach(self, sock: socket.socket, host: str, proxied: bool) -> None:
        """A new connection: within the deadline, and (unless through a proxy) to a public
        address, whatever the name resolved to a moment ago."""
        with self.lock:
            if self.expired:
                sock.close()
                raise TimeoutError("the deadline passed")
            self.sockets.append(sock)
        if not proxied:
            try:
                peer = str(sock.getpeername()[0])
            except OSError:
                return
            self.check_address(peer, host)


def _opener(guard: _Guard) -> urllib.request.OpenerDirector:
    """An opener whose connections and redirects go through ``guard``."""

    def connection(base: type[http.client.HTTPConnection], req: urllib.request.Request) -> Any:
        proxied = req.has_proxy() or bool(getattr(req, "_tunnel_host", None))
        host = urlsplit(req.full_url).hostname or ""

        class Guarded(base):  # type: ignore[valid-type,misc]
            def connect(self) -> None:
                super().connect()
                guard.attach(self.sock, host, proxied)

        return Guarded

    class Http(urllib.request.HTTPHandler):
        def http_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
            return self.do_open(connection(http.client.HTTPConnection, req), req)

    class Https(urllib.request.HTTPSHandler):
        def https_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
            return self.do_open(connection(http.client.HTTPSConnection, req), req,
                                context=self._context)  # type: ignore[attr-defined]

    class Redirects(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, req: urllib.request.Request, fp: Any, code: int, msg: str,
                             headers: Any, newurl: str) -> urllib.request.Request | None:
            parts = urlsplit(newurl)
            if parts.hostname:
                guard.check_host(parts.hostname, parts.port, f"redirected to {newurl}: ")
            return super().redirect_request(req, fp, code, msg, headers, newurl)

    return urllib.request.build_opener(Http, Https, Redirects)


def fetch(source: Source, timeout: float, allow_private: bool = False,
          kind: Callable[[IpAddress], str | None] = address_kind,
          ) -> tuple[bytes, dict[str, str]]:
    """The bytes of a feed and, for a URL, the response headers feedparser can use.

    A URL gets ``timeout`` seconds in all, from connecting to its last byte, across
    redirects; a non-public address (``kind`` says which are) is refused unless
    ``allow_private``. A file is read from disk. Every failure is a :class:`FeedUnavailable`.
    """
    if source.path is not None:
        try:
            return source.path.read_bytes(), {}
        except FileNotFoundError:
            raise FeedUnavailable("no such file") from None
        except IsADirectoryError:
            raise FeedUnavailable("is a folder, not a feed file") from None
        except OSError as exc:
            raise FeedUnavailable(f"cannot read the file: {exc.strerror or exc}") from None
    url = source.url or ""
    if urlsplit(url).scheme.lower() not in ("http", "https"):
        raise FeedUnavailable("only http(s) URLs and files are read; give a file as a path "
                              "relative to the newsletter root")
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT, "Accept": _ACCEPT})
    guard = _Guard(timeout, allow_private, kind)
    parts = urlsplit(url)
    try:
        guard.check_host(parts.hostname or "", parts.port)
    except ValueError:  # a port that is not a number
        raise FeedUnavailable("the URL's port is not a number") from None
    guard.timer.start()
    answered = False
    try:
        # A fresh opener per feed: it reads the proxy settings of the environment now.
        with _opener(guard).open(request, timeout=timeout) as response:
            answered = True
            chunks: list[bytes] = []
            size = 0
            while chunk := response.read(64 * 1024):
                size += len(chunk)
                if size > MAX_FEED_BYTES:
                    raise FeedUnavailable(f"larger than {MAX_FEED_BYTES // 2**20} MB; is it "
                                          "a feed?")
                chunks.append(chunk)
                if guard.expired or time.monotonic() > guard.deadline:
                    break
            if guard.expired or time.monotonic() > guard.deadline:
                raise FeedUnavailable(f"not complete after {timeout:g} s (the timeout)")
            headers = {k.lower(): v for k, v in response.headers.items()}
            headers["content-location"] = response.geturl()
            return b"".join(chunks), headers
    except urllib.error.HTTPError as exc:
        exc.close()
        raise FeedUnavailable(f"the server answered HTTP {exc.code} {exc.reason}") from None
    except urllib.error.URLError as exc:
        if isinstance(exc.reason, TimeoutError) or guard.expired:
            raise FeedUnavailable(f"no answer within {timeout:g} s (the timeout)") from None
        reason = exc.reason
        text = reason.strerror if isinstance(reason, OSError) and reason.strerror else reason
        raise FeedUnavailable(f"cannot connect: {text}") from None
    except TimeoutError:
        raise FeedUnavailable(f"no answer within {timeout:g} s (the timeout)") from None
    except (http.client.HTTPException, OSError, ValueError) as exc:
        if guard.expired and answered:
            raise FeedUnavailable(f"not complete after {timeout:g} s (the timeout)") from None
        if guard.expired:
            raise FeedUnavailable(f"no answer within {timeout:g} s (the timeout)") from None
        raise FeedUnavailable(f"the connection failed: {exc or type(exc).__name__}") from None
    finally:
        guard.timer.cancel()


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
