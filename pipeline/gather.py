"""``newsletter gather ISSUE``: a draft reading list from the organisation's and teams' feeds.

Each feed (an http(s) URL, or a file) is read into bytes here and parsed with feedparser. The
entries published in the issue's window (from the previous issue's moment, inclusive, to this
issue's moment, exclusive) are kept, duplicates by link removed (fragment and trailing slash
ignored), and ``issues/<ISSUE>/reading-list.md`` is written as a draft piece: one section per
source, newest first, each entry with its title, link, date and a one-line summary. A feed that
is down, slow or not a feed is reported and skipped; the others still count.

Time comes from the issue ids (and the ``now`` passed in); nothing here reads the clock except
a monotonic timer that bounds how long one feed may take: a total deadline, from connecting to
the last byte and across redirects, enforced by closing the connection when it passes (so a
server that trickles a byte at a time cannot hold the command).

A feed URL must not reach this machine's or the network's own services: loopback, private,
link-local and other non-public addresses are refused, before connecting (the host's
addresses) and after (the address actually connected to), for the first request and every
redirect, unless ``allow_private`` says otherwise (a feed on an intranet).
"""

from __future__ import annotations

import argparse
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
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit
from zoneinfo import ZoneInfo

import feedparser
import nh3

from . import __version__
from .build import resolve_issue
from .config import Config, load_config
from .console import Console, newsletter_root, now
from .content import (
    ISSUE_FIELDS,
    ISSUE_FILE,
    check_fields,
    list_issues,
    read_text,
    split_document,
    yaml_value,
)
from .errors import (
    ContentError,
    PipelineError,
    Problem,
    Problems,
    UsageError,
    did_you_mean,
    plural,
)
from .errors import display_path as shown
from .seasons import IssueId, IssueIdError
from .writer import Output, Written, write_all

READING_LIST = "reading-list.md"
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


@dataclass(frozen=True)
class Selection:
    """The entries kept for the issue's window, newest first, and what was dropped."""

    entries: tuple[Entry, ...]
    duplicates: int
    outside: int


@dataclass
class GatherResult:
    """What one run of ``gather`` read, kept and wrote."""

    issue_id: IssueId
    path: Path
    feeds: list[Feed] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)
    selection: Selection | None = None
    written: list[Written] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    window_open: bool = False


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


# --------------------------------------------------------------------------- selecting


def window(issue_id: IssueId) -> tuple[datetime, datetime]:
    """From the previous issue's moment (inclusive) to this issue's moment (exclusive)."""
    return issue_id.previous().moment(), issue_id.moment()


def select(feeds: Sequence[Feed], start: datetime, end: datetime) -> Selection:
    """The entries published in [start, end), once per link, newest first.

    Of entries sharing a link, the one from the feed listed first is kept (list the
    organisation's own feed first to credit it), then the earliest published.
    """
    inside = [e for f in feeds for e in f.entries if start <= e.published < end]
    outside = sum(len(f.entries) for f in feeds) - len(inside)
    kept: dict[str, Entry] = {}
    for entry in sorted(inside, key=lambda e: (e.feed, e.published, e.link)):
        kept.setdefault(normal_link(entry.link), entry)
    entries = sorted(kept.values(), key=lambda e: (-e.published.timestamp(), e.feed, e.title))
    return Selection(tuple(entries), len(inside) - len(kept), outside)


# --------------------------------------------------------------------------- writing


def _day(moment: datetime, tz: ZoneInfo) -> str:
    local = moment.astimezone(tz)
    return f"{local.day} {local:%B %Y}"


def reading_list(
    issue_id: IssueId, selection: Selection, feeds: Sequence[Feed], *, config: Config,
    authors: Sequence[str], section: str,
) -> str:
    """The Markdown of ``reading-list.md``: a draft piece, one section per source."""
    start, end = window(issue_id)
    naming = config.season_names
    since, until = issue_id.previous().name(naming), issue_id.name(naming)
    by_feed: dict[int, list[Entry]] = {}
    for entry in selection.entries:
        by_feed.setdefault(entry.feed, []).append(entry)
    used = [f for f in feeds if f.entries and f.entries[0].feed in by_feed]
    titles = [f.title for f in used]
    sources_count = f"{len(used)} source{'s' if len(used) != 1 else ''}"
    count = len(selection.entries)
    lines = [
        "---",
        "# Gathered by 'newsletter gather' for the editors to curate: keep what readers",
        "# should see, say in a sentence why it matters, then set 'status: ready'.",
        f"# Entries published from {start:%Y-%m-%d %H:%M} UTC ({since}) to before "
        f"{end:%Y-%m-%d %H:%M} UTC ({until}).",
        f"title: {yaml_value('Reading list')}",
        f"authors: {yaml_value(list(authors))}",
        f"section: {yaml_value(section)}",
        "summary: " + yaml_value(
            f"{count} piece{'s' if count != 1 else ''} from {sources_count} published since "
            f"the {since}, gathered for this issue."),
        "status: draft",
        "---",
        "",
        f"What our teams and colleagues published since the {markdown_text(since)}.",
    ]
    for feed in used:
        heading = feed.title
        if titles.count(feed.title) > 1:
            heading = f"{feed.title} ({feed.source.label})"
        lines += ["", f"## {markdown_text(heading)}", ""]
        for entry in by_feed[feed.entries[0].feed]:
            line = (f"- **[{markdown_text(entry.title)}]({markdown_url(entry.link)})** "
                    f"({_day(entry.published, config.time_zone)})")
            if entry.summary:
                line += f": {markdown_text(entry.summary)}"
            lines.append(line)
    return "\n".join(lines) + "\n"


def _issue_editors(folder: Path) -> tuple[tuple[str, ...], list[Problem]]:
    """The editors named in the issue's ``issue.md`` (none when it has none or is invalid)."""
    path = folder / ISSUE_FILE
    problems = Problems()
    if not path.is_file():
        return (), []
    text = read_text(path, problems, folder.parent.parent)  # never one linked from outside
    doc = split_document(path, text, problems) if text is not None else None
    if doc is None:
        return (), problems.items
    values = check_fields(path, doc, ISSUE_FIELDS, problems, ready=True)
    return tuple(values.get("editors", ())), [p for p in problems.items if p.level == "error"]


def _resolve(ref: str, config: Config) -> IssueId:
    problems = Problems()
    folders = dict(list_issues(config, problems))
    candidate = Path(ref)
    if "/" in ref or candidate.is_dir():
        return resolve_issue(ref, config, folders)
    try:
        return IssueId.parse(ref)
    except IssueIdError as exc:
        raise UsageError(str(exc)) from None


def gather(
    root: Path, ref: str, *, now: datetime, feeds: Sequence[str] | None = None,
    timeout: float | None = None, authors: Sequence[str] = (), section: str | None = None,
    force: bool = False, allow_private: bool | None = None,
) -> GatherResult:
    """Read the feeds and write the issue's draft reading list; see the module's docstring.

    ``feeds`` given here (the command line's) are relative to the current folder; the ones
    of newsletter.toml to the root. Raises :class:`UsageError` for a bad request,
    :class:`PipelineError` when the list exists (without ``force``). When no feed could be
    read, the result has failures and no feeds, and nothing is written.
    """
    config = load_config(root)
    issue_id = _resolve(ref, config)
    folder = config.issues_dir / str(issue_id)
    target = folder / READING_LIST
    result = GatherResult(issue_id, target, window_open=now < issue_id.moment())
    if section is None:
        section = config.sections[-1]
    elif section not in config.sections:
        hint = did_you_mean(section, config.sections)
        raise UsageError(f"--section {section}: not a section{hint}; the sections are: "
                         f"{', '.join(config.sections)}")
    if (target.exists() or target.is_symlink()) and not force:
        raise PipelineError(f"{shown(target)} already exists and may have been curated: "
                            "nothing was read or written; pass --force to replace it")
    if not authors:
        authors, problems = _issue_editors(folder)
        if not authors:
            issue_file = folder / ISSUE_FILE
            if problems:
                why = "cannot tell the issue's editors from this file (see above)"
            elif issue_file.is_file():
                why = "names no editors"
            else:
                why = "does not exist, so it names no editors"
            raise ContentError([*problems, Problem(
                issue_file, None, "error",
                f"{why}: the reading list needs authors; add 'editors: [Name]' to the "
                "issue.md, or pass --author NAME (once per author)", "gather-author")])
    if feeds is None:
        feed_sources = sources(config.workflow.gather_feeds, root)
    else:
        feed_sources = sources(feeds, Path.cwd())
    if not feed_sources:
        raise UsageError("no feeds to read: list them in newsletter.toml ([gather] feeds = "
                         "[\"https://...\", \"feeds-in/team.xml\"]: URLs, or files relative "
                         "to the root) or pass --feed URL_OR_FILE")
    wait = float(timeout if timeout is not None else config.workflow.gather_timeout)
    private = config.workflow.gather_allow_private if allow_private is None else allow_private

    for outcome in read_feeds(feed_sources, wait, private):
        if isinstance(outcome, Failure):
            result.failures.append(outcome)
        else:
            result.feeds.append(outcome)
    if not result.feeds:
        return result
    start, end = window(issue_id)
    result.selection = select(result.feeds, start, end)
    if not result.selection.entries:
        return result
    text = reading_list(issue_id, result.selection, result.feeds, config=config,
                        authors=authors, section=section)
    result.written = write_all([Output(root, f"issues/{issue_id}/{READING_LIST}",
                                       text.encode("utf-8"))])
    return result


# --------------------------------------------------------------------------- command line


def register(commands: Any, common: Callable[[argparse.ArgumentParser, bool], None]) -> None:
    """Add ``newsletter gather`` to the ``newsletter`` parser."""
    parser = commands.add_parser(
        "gather", help="draft the issue's reading list from the teams' and organisation's feeds",
        description="Read the feeds listed in newsletter.toml ([gather] feeds: URLs, or files "
                    "relative to the root), keep the entries published between the previous "
                    "issue's moment and this issue's, drop duplicate links, and write "
                    f"issues/ISSUE/{READING_LIST} as a draft piece for an editor to curate. "
                    "A feed that is down, slow or not a feed is reported and skipped.",
        epilog="Exit status: 0 written (or nothing in the window), 1 no feed could be read or "
               f"{READING_LIST} exists already, 2 bad usage.")
    common(parser, True)
    parser.add_argument("issue", metavar="ISSUE",
                        help="an issue id such as 2026-12-solstice, or the path of its folder")
    parser.add_argument("--feed", action="append", dest="feeds", metavar="URL_OR_FILE",
                        help="read this feed instead of newsletter.toml's (repeat for more; "
                             "a file is relative to the current folder)")
    parser.add_argument("--timeout", type=_seconds, metavar="S",
                        help="seconds one feed may take in all, from connecting to its last "
                             "byte (default: [gather] timeout_seconds, 10)")
    parser.add_argument("--allow-private", action="store_true", default=None,
                        help="also read feeds on loopback, private and link-local addresses "
                             "(an intranet); refused by default (default: [gather] "
                             "allow_private)")
    parser.add_argument("--author", action="append", dest="authors", default=[],
                        metavar="NAME",
                        help="author of the reading list (repeat for more; default: the "
                             "editors in the issue's issue.md)")
    parser.add_argument("--section", metavar="S",
                        help="its section (default: the last one in newsletter.toml)")
    parser.add_argument("--force", action="store_true",
                        help=f"replace an existing {READING_LIST} (an editor's curation is lost)")
    parser.set_defaults(run=run)


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a number of seconds") from None
    if not 0 < value <= 600:
        raise argparse.ArgumentTypeError("must be more than 0 and at most 600 seconds")
    return value


def run(args: argparse.Namespace, console: Console) -> int:
    """Run ``newsletter gather`` and report what it read and wrote."""
    root = newsletter_root(args)
    authors = [a.strip() for a in args.authors if a.strip()]
    result = gather(root, args.issue, now=now(), feeds=args.feeds, timeout=args.timeout,
                    authors=authors, section=args.section, force=args.force,
                    allow_private=args.allow_private)
    _report(result, console)
    if not result.feeds:
        count = len(result.failures)
        console.message("error", f"{'the feed' if count == 1 else f'none of the {count} feeds'}"
                        " could be read (see the warnings above); nothing was written")
        return 1
    return 0


def _report(result: GatherResult, console: Console) -> None:
    for failure in result.failures:
        if failure.source.path is not None:
            console.problem(Problem(failure.source.path, failure.line, "warning",
                                    f"feed skipped: {failure.reason}", "gather-feed"))
        else:
            line = f" (line {failure.line})" if failure.line else ""
            console.message("warning", f"{failure.source.label}: feed skipped: "
                            f"{failure.reason}{line}")
    selection = result.selection
    for feed in result.feeds:
        if feed.note:
            _note(console, feed.source, feed.note)
        kept = sum(1 for e in selection.entries if e.feed == feed.entries[0].feed) \
            if selection and feed.entries else 0
        skipped = []
        if feed.undated:
            skipped.append(f"{feed.undated} without a date")
        if feed.unlinked:
            skipped.append(f"{feed.unlinked} without an http(s) link")
        console.result(f"{feed.title} ({feed.source.label}): {kept} of "
                       f"{plural(len(feed.entries) + feed.undated + feed.unlinked, 'entry')} kept"
                       + (f"; skipped {', '.join(skipped)}" if skipped else ""))
    read = len(result.feeds)
    total = read + len(result.failures)
    if selection is None:
        return
    start, end = window(result.issue_id)
    counts = (f"{plural(len(selection.entries), 'entry')} from {read} of {plural(total, 'feed')} "
              f"({plural(selection.duplicates, 'duplicate')} removed, {selection.outside} outside "
              f"{start:%Y-%m-%d %H:%M} to {end:%Y-%m-%d %H:%M} UTC)")
    if not result.written:
        console.result(f"nothing to gather for {result.issue_id}: {counts}; nothing was written")
    else:
        console.result(f"wrote {shown(result.path)}: {counts}; it is a draft: curate it, "
                       "then set 'status: ready'")
    if result.window_open and console.verbosity >= 0:
        console.message("note", f"{result.issue_id} is still to come: run gather again nearer "
                        "its deadline with --force for the latest entries")


def _note(console: Console, source: Source, text: str) -> None:
    if source.path is not None:
        console.problem(Problem(source.path, None, "note", f"this feed {text}", "gather-feed"))
    elif console.verbosity >= 0:
        console.message("note", f"{source.label}: this feed {text}")
