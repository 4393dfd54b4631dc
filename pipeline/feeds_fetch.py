"""Fetching incoming feeds for ``newsletter gather``: each feed (an http(s) URL, or a file)
read into bytes, which :mod:`pipeline.feeds_in` parses.

A feed URL must not reach this machine's or the network's own services: loopback, private,
link-local and other non-public addresses are refused, before connecting (the host's
addresses) and after (the address actually connected to), for the first request and every
redirect, unless ``allow_private`` says otherwise (a feed on an intranet). A monotonic timer
bounds how long one feed may take: a total deadline, from connecting to the last byte and
across redirects, enforced by closing the connection when it passes.
"""

from __future__ import annotations

import contextlib
import http.client
import ipaddress
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from . import __version__
from .errors import display_path as shown

USER_AGENT = f"ethics-society-pipeline/{__version__} (newsletter gather)"
MAX_FEED_BYTES = 10 * 1024 * 1024
_ACCEPT = ("application/rss+xml, application/atom+xml, application/xml;q=0.9, "
           "text/xml;q=0.8, */*;q=0.1")


@dataclass(frozen=True)
class Source:
    """A feed to read: an http(s) URL or a file. ``label`` is how messages name it."""

    label: str
    url: str | None = None
    path: Path | None = None


class FeedUnavailable(Exception):
    """Reading or parsing one feed failed; the message says why, for the editor."""

    def __init__(self, reason: str, line: int | None = None) -> None:
        super().__init__(reason)
        self.reason, self.line = reason, line


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
