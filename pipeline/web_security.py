"""What guards every request of ``newsletter serve`` (and of the live preview, which shares it):
the security headers, the size of a body, the origin of a form and how often a client may ask.

Every answer carries security headers (a Content-Security-Policy without scripts, no framing,
no referrer), and a body over :data:`MAX_BODY` is refused before it is read. A form POST from
another site is refused (``Sec-Fetch-Site`` and ``Origin``, the same check Go's
CrossOriginProtection makes, which also refuses ``Origin: null``); the one-click unsubscribe,
which mail providers send from their own servers and which the per-subscriber token authorises,
does not ask. :class:`Limiter` counts requests per client or address in a sliding window.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from urllib.parse import urlsplit

from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

MAX_BODY = 16 * 1024  # the largest request body read
#: No script, no framing, forms only to us. The built email (inlined CSS) may use inline styles.
CSP = ("default-src 'none'; style-src 'self'; img-src 'self' data: https:; "
       "form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
EMAIL_CSP = CSP.replace("style-src 'self'", "style-src 'self' 'unsafe-inline'")
SECURITY_HEADERS = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
    "cross-origin-opener-policy": "same-origin",
    "cross-origin-resource-policy": "same-origin",
    "permissions-policy": "interest-cohort=(), browsing-topics=(), camera=(), microphone=(), "
                          "geolocation=()",
}


class Limiter:
    """At most ``limit`` events per key in any ``window`` seconds (a sliding window, in this
    process's memory: several app servers each keep their own)."""

    def __init__(self, limit: int, window: float, clock: Callable[[], float]) -> None:
        self.limit, self.window, self.clock = limit, window, clock
        self.hits: dict[str, deque[float]] = {}

    def allow(self, key: str) -> bool:
        now = self.clock()
        if len(self.hits) > 10_000:  # forget keys whose window has passed
            self.hits = {k: q for k, q in self.hits.items() if q and q[-1] > now - self.window}
        times = self.hits.setdefault(key, deque())
        while times and times[0] <= now - self.window:
            times.popleft()
        if len(times) >= self.limit:
            return False
        times.append(now)
        return True


class SecurityHeaders:
    """Adds the security headers to every response, and refuses oversized bodies."""

    def __init__(self, app: ASGIApp, scripts: bool = False) -> None:
        self.app = app
        self.csp = CSP
        self.email_csp = EMAIL_CSP
        if scripts:  # the live preview's reload script, served by the app itself
            extra = "; script-src 'self'; connect-src 'self'"
            self.csp, self.email_csp = self.csp + extra, self.email_csp + extra

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", []):
            if name == b"content-length" and (not value.isdigit() or int(value) > MAX_BODY):
                response = Response("Request body too large.\n", 413,
                                    media_type="text/plain")
                await self._with_headers(response, scope, receive, send)
                return
        await self._with_headers(self.app, scope, receive, send)

    async def _with_headers(self, app: ASGIApp, scope: Scope, receive: Receive,
                            send: Send) -> None:
        csp = self.email_csp if scope["path"].endswith("/email.html") else self.csp

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                for name, value in {**SECURITY_HEADERS, "content-security-policy": csp}.items():
                    if name.encode() not in present:
                        headers.append((name.encode(), value.encode()))
                message = {**message, "headers": headers}
            await send(message)

        await app(scope, receive, send_with_headers)


def check_same_origin(request: Request, origin: str) -> None:
    """Refuse a form POST that a browser sent from another site (CSRF): ``Sec-Fetch-Site``,
    else an ``Origin`` that is neither the request's host nor ``origin`` (our base URL's)."""
    site = request.headers.get("sec-fetch-site")
    if site is not None:
        if site not in ("same-origin", "none"):
            raise HTTPException(403, "This form can only be sent from our own pages.")
        return
    sent = request.headers.get("origin")
    if not sent:  # not a browser, or a browser too old to say: as Go's check does
        return
    # "null" is an opaque origin (a sandboxed frame, a data: page, a file): another site.
    netloc = "" if sent == "null" else urlsplit(sent).netloc
    if not netloc or netloc not in (request.headers.get("host"), origin):
        raise HTTPException(403, "This form can only be sent from our own pages.")


async def read_form(request: Request) -> FormData:
    """The fields of a form POST (no files, at most 20 fields of :data:`MAX_BODY`); a body
    that cannot be read is a 400."""
    try:
        return await request.form(max_files=0, max_fields=20, max_part_size=MAX_BODY)
    except HTTPException:
        raise
    except Exception:  # a malformed body (python-multipart's own errors, bad encoding)
        raise HTTPException(400, "The form could not be read; reload the page and try "
                                 "again.") from None
