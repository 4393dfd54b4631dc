"""``newsletter serve``: the archive, the feeds, and the pages where readers subscribe and leave.

:func:`create_app` is the app factory: it takes the configuration and every part it needs (the
subscriber store, the signing key, the transport for confirmation emails, the clocks), so tests
pass their own. The app (Starlette) serves the built archive and the feeds with the right
content types, and four pages:

- ``/subscribe``: an address (validated), a honeypot field and a signed form token; the same
  answer whether the address is known or not, so nobody can learn who subscribes. A client may
  ask ``web.client_limit`` times an hour, an address gets ``web.address_limit`` emails a day.
- ``/confirm?token=…``: double opt-in. The emailed link opens a page with a button; only the
  button's POST confirms, so a mail scanner that follows links confirms nothing. A reader who
  has just confirmed gets a short welcome email (``web.welcome``) with a link to the latest
  published issue, through the same transport as the confirmation.
- ``/unsubscribe?token=…``: a page with a button; a POST with ``List-Unsubscribe=One-Click``
  (RFC 8058, form-urlencoded or multipart) unsubscribes at once and answers 200.

Every answer carries security headers, and a form POST from another site is refused, except the
one-click unsubscribe (:mod:`pipeline.web_security`). No cookie is set. A visitor never sees a
stack trace: an unexpected error is logged and answered with a plain page.
"""

from __future__ import annotations

import sys
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from email.utils import make_msgid, parseaddr
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

from . import __version__
from . import render as r
from .config import Config
from .errors import short_date
from .messages import notice
from .publication import latest_issue, load_record
from .seasons import next_issue
from .store import Store, Subscriber
from .subscribers import AddressError, clean_name, normalise
from .tokens import TokenError, Tokens, address_digest
from .transports import Transport
from .web_security import (
    CSP,
    SECURITY_HEADERS,
    Limiter,
    SecurityHeaders,
    check_same_origin,
    read_form,
)

ONE_CLICK = ("List-Unsubscribe", "One-Click")
FORM_MAX_AGE = 6 * 3600  # a subscribe or confirm page may stay open this long
MAX_NAME = 200  # characters of a subscriber's name that are kept
CONTENT_TYPES = {
    "rss.xml": "application/rss+xml; charset=utf-8",
    "atom.xml": "application/atom+xml; charset=utf-8",
    "feed.json": "application/feed+json; charset=utf-8",
    ".html": "text/html; charset=utf-8",
    ".txt": "text/plain; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".xml": "application/xml; charset=utf-8",
    ".json": "application/json; charset=utf-8",
    ".ics": "text/calendar; charset=utf-8",
    ".svg": "image/svg+xml",
}


@dataclass(frozen=True)
class WebParts:
    """What the app needs besides the configuration; tests pass their own."""

    store: Store
    tokens: Tokens
    transport: Callable[[], Transport]  # a transport for one confirmation email
    now: Callable[[], datetime]
    monotonic: Callable[[], float]
    log: Callable[[str], None] = field(default=lambda line: print(line, file=sys.stderr))


class Files(StaticFiles):
    """Static files with the content types feeds and text need (charset included)."""

    def file_response(self, full_path: Any, stat_result: Any, scope: Scope,
                      status_code: int = 200) -> Response:
        response = super().file_response(full_path, stat_result, scope, status_code)
        path = Path(str(full_path))
        kind = CONTENT_TYPES.get(path.name) or CONTENT_TYPES.get(path.suffix)
        if kind:
            response.headers["content-type"] = kind
        return response


def create_app(config: Config, parts: WebParts, *, scripts: bool = False,
               extra_routes: tuple[BaseRoute, ...] = (),
               output_dir: Path | None = None) -> Starlette:
    """The web app of one newsletter: its archive, feeds and subscription pages."""
    pages = _Pages(config, parts, output_dir or config.output_dir)
    routes: list[BaseRoute] = [
        *extra_routes,
        Route("/subscribe", pages.subscribe_page, methods=["GET", "HEAD"]),
        Route("/subscribe", pages.subscribe, methods=["POST"]),
        Route("/confirm", pages.confirm_page, methods=["GET", "HEAD"]),
        Route("/confirm", pages.confirm, methods=["POST"]),
        Route("/unsubscribe", pages.unsubscribe_page, methods=["GET", "HEAD"]),
        Route("/unsubscribe", pages.unsubscribe, methods=["POST"]),
        Mount("/feeds", app=Files(directory=config.feeds_dir, check_dir=False)),
        Mount("/", app=Files(directory=output_dir or config.output_dir, html=True,
                             check_dir=False)),
    ]
    app = Starlette(routes=routes, exception_handlers={
        HTTPException: pages.http_error, Exception: pages.server_error})
    app.add_middleware(SecurityHeaders, scripts=scripts)
    return app


class _Pages:
    def __init__(self, config: Config, parts: WebParts, site: Path) -> None:
        self.config, self.parts, self.site = config, parts, site
        self.env = r.environment(config)
        hour = 3600.0
        self.clients = Limiter(config.web.client_limit, hour, parts.monotonic)
        self.addresses = Limiter(config.web.address_limit, 24 * hour, parts.monotonic)
        self.origin = urlsplit(config.base_url).netloc

    # ------------------------------------------------------------------ rendering

    def page(self, template: str, status: int = 200, headers: Mapping[str, str] | None = None,
             **values: Any) -> HTMLResponse:
        html = self.env.get_template(template).render(
            config=self.config, feeds=r.feed_links(self.config), version=__version__,
            **values)
        return HTMLResponse(html, status, headers={"cache-control": "no-store", **(headers or {})})

    def message(self, title: str, *paragraphs: str, status: int = 200,
                form: dict[str, Any] | None = None,
                headers: Mapping[str, str] | None = None) -> HTMLResponse:
        return self.page("message.html", status, headers, title=title, paragraphs=paragraphs,
                         form=form)

    def subscribe_form(self, status: int = 200, error: str | None = None,
                       email: str = "", name: str = "") -> HTMLResponse:
        return self.page("subscribe.html", status, error=error, email=email, name=name,
                         form_token=self.parts.tokens.form("subscribe"),
                         confirm_hours=self.config.web.confirm_hours)

    async def http_error(self, request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        titles = {403: "Not allowed", 404: "Page not found", 405: "Not allowed"}
        text = {404: "There is nothing at this address. The archive lists every issue.",
                405: "This page does not answer that kind of request."}
        return self.message(titles.get(exc.status_code, "Bad request"),
                            text.get(exc.status_code, str(exc.detail)),
                            status=exc.status_code, headers=exc.headers)

    async def server_error(self, request: Request, exc: Exception) -> Response:
        self.parts.log(f"error: {request.method} {request.url.path}: "
                       + "".join(traceback.format_exception(exc)).rstrip())
        response = self.message("Something went wrong on our side",
                                "Nothing you did caused this, and nothing was changed. Please "
                                "try again in a few minutes.", status=500)
        # This answer leaves by Starlette's outermost middleware, around SecurityHeaders.
        response.headers.update({**SECURITY_HEADERS, "content-security-policy": CSP})
        return response

    # ------------------------------------------------------------------ request checks

    def check_form_token(self, form: FormData, purpose: str) -> str | None:
        try:
            self.parts.tokens.check_form(_text(form, "form_token"), purpose, FORM_MAX_AGE)
        except TokenError as exc:
            return str(exc)
        return None

    # ------------------------------------------------------------------ subscribe

    async def subscribe_page(self, request: Request) -> Response:
        return self.subscribe_form()

    async def subscribe(self, request: Request) -> Response:
        check_same_origin(request, self.origin)
        form = await read_form(request)
        email, name = _text(form, "email").strip(), _text(form, "name").strip()
        problem = self.check_form_token(form, "subscribe")
        if problem:
            return self.subscribe_form(400, problem, email, name)
        client = request.client.host if request.client else "unknown"
        if not self.clients.allow(client):
            return self.message(
                "Too many requests", "This connection has asked to subscribe too often. "
                "Please try again in an hour.", status=429, headers={"retry-after": "3600"})
        if _text(form, "website"):  # the honeypot: only robots fill it in
            self.parts.log("note: subscribe: honeypot filled; ignored")  # no address kept
            return self.check_inbox(email)
        try:
            address = normalise(email)
        except AddressError as exc:
            return self.subscribe_form(400, f"That address does not look right: {exc}",
                                       email, name)
        await run_in_threadpool(self.request_subscription, address,
                                clean_name(name[:MAX_NAME]))
        return self.check_inbox(address)

    def check_inbox(self, email: str) -> Response:
        return self.message(
            "Check your inbox",
            f"If {email} can receive email, a message from us is on its way to it. Open the "
            f"link in it within {self.config.web.confirm_hours} hours to confirm your "
            "subscription.",
            "If nothing arrives in a few minutes, look in your spam folder. If you did not "
            "ask to subscribe, ignore the message: you will not hear from us again.")

    def request_subscription(self, email: str, name: str | None) -> None:
        """Record the request and email the address; the same steps whoever it is."""
        parts, now = self.parts, self.parts.now()
        person, before = parts.store.request(email, name, "web form", now)
        if not self.addresses.allow(email):
            parts.log(f"note: subscribe: {self.config.web.address_limit} emails to this "
                      "address today already; none sent")
            return
        if before == "active":
            link = self.link("unsubscribe", parts.tokens.unsubscribe(person.id, person.email))
            subject = f"You are already subscribed to {self.config.title}"
            text = self.render_text("already_subscribed.txt", link=link)
        else:
            link = self.link("confirm", parts.tokens.confirm(person.id, person.email))
            subject = f"Confirm your subscription to {self.config.title}"
            text = self.render_text("confirm.txt", link=link,
                                    hours=self.config.web.confirm_hours)
        self.send(person, subject, text, now)

    def link(self, page: str, token: str) -> str:
        if page == "unsubscribe":
            return f"{self.config.delivery.unsubscribe_url}?{urlencode({'token': token})}"
        return f"{self.config.base_url}/{page}?{urlencode({'token': token})}"

    def render_text(self, template: str, **values: Any) -> str:
        return self.env.get_template(template).render(config=self.config, **values)

    def send(self, person: Subscriber, subject: str, text: str, now: datetime) -> None:
        sender = self.config.sender
        domain = parseaddr(sender)[1].rpartition("@")[2] or "localhost"
        message_id = make_msgid("subscription", domain=domain)
        data = notice(sender=sender, to=person.email, subject=subject, text=text, date=now,
                      message_id=message_id)
        transport = self.parts.transport()
        try:
            transport.send(parseaddr(sender)[1], person.email, message_id, data)
        except Exception as exc:  # the visitor's answer stays the same; the operator is told
            self.parts.log(f"error: subscribe: the email to subscriber {person.id} was not "
                           f"sent: {exc}")
        finally:
            transport.close()

    # ------------------------------------------------------------------ confirm

    def subscriber_for(self, token_pair: tuple[int, str]) -> Subscriber | None:
        subscriber_id, digest = token_pair
        person = self.parts.store.get_by_id(subscriber_id)
        if person is None or address_digest(person.email) != digest:
            return None
        return person

    def invalid_link(self, why: str) -> Response:
        return self.message("This link does not work", why,
                            "You can subscribe again on the subscribe page.", status=400)

    async def confirm_page(self, request: Request) -> Response:
        token = request.query_params.get("token", "")
        try:
            self.parts.tokens.check_confirm(token, self.config.web.confirm_seconds)
        except TokenError as exc:
            return self.invalid_link(str(exc))
        return self.message(
            "Confirm your subscription",
            f"Press the button to receive {self.config.title} by email, four times a year.",
            form={"action": "/confirm", "button": "Confirm my subscription",
                  "fields": {"token": token, "form_token": self.parts.tokens.form("confirm")}})

    async def confirm(self, request: Request) -> Response:
        check_same_origin(request, self.origin)
        form = await read_form(request)
        problem = self.check_form_token(form, "confirm")
        if problem:
            raise HTTPException(400, problem)
        try:
            pair = self.parts.tokens.check_confirm(_text(form, "token"),
                                                   self.config.web.confirm_seconds)
        except TokenError as exc:
            return self.invalid_link(str(exc))
        person = await run_in_threadpool(self.subscriber_for, pair)
        if person is None:
            return self.invalid_link("This confirmation link is not valid.")
        when = self.parts.now()
        changed = await run_in_threadpool(
            self.parts.store.confirm, person.id,
            f"double opt-in: web form, confirmed by the emailed link on {when:%Y-%m-%d}", when)
        if not changed and person.status != "active":
            return self.invalid_link("This subscription was ended after the link was sent.")
        if changed and self.config.web.welcome:
            await run_in_threadpool(self.welcome, person, when)
        return self.message(
            "You are subscribed",
            f"Thank you. The next issue of {self.config.title} will reach {person.email}.",
            "Every email has a link to unsubscribe in one click. We do not track opens or "
            "clicks.")

    def welcome(self, person: Subscriber, now: datetime) -> None:
        """The welcome email of a reader who has just confirmed: the latest published issue
        in the site, the next one, and how to leave."""
        latest = latest_issue(self.site, now, load_record(self.config.root))
        tz = self.config.time_zone
        coming = next_issue(now.astimezone(tz).date(), tz)
        if latest is not None and coming <= latest:
            coming = latest.following()
        text = self.render_text(
            "welcome.txt",
            latest={"name": latest.name(self.config.season_names),
                    "url": self.config.issue_url(latest)} if latest else None,
            coming={"name": coming.name(self.config.season_names),
                    "date": short_date(coming.publication_date(tz))},
            link=self.link("unsubscribe", self.parts.tokens.unsubscribe(person.id,
                                                                        person.email)))
        self.send(person, f"Welcome to {self.config.title}", text, now)

    # ------------------------------------------------------------------ unsubscribe

    def not_subscribed(self) -> Response:
        """The answer for a link whose address does not receive the newsletter."""
        return self.message(
            "You are already unsubscribed",
            f"This address does not receive {self.config.title} by email: there is nothing "
            "more to do.",
            "Changed your mind? You can subscribe again at any time, or follow the "
            "newsletter by feed.")

    async def unsubscribe_page(self, request: Request) -> Response:
        token = request.query_params.get("token", "")
        try:
            subscriber_id, digest = self.parts.tokens.check_unsubscribe(token)
        except TokenError as exc:
            return self.message("This link does not work", str(exc), status=400)
        person = await run_in_threadpool(self.parts.store.get_by_id, subscriber_id)
        if person is None or (person.status == "unsubscribed"
                              and address_digest(person.email) == digest):
            return self.not_subscribed()
        return self.message(
            "Unsubscribe",
            f"Press the button to stop receiving {self.config.title} by email.",
            form={"action": f"/unsubscribe?{urlencode({'token': token})}",
                  "button": "Unsubscribe", "fields": dict([ONE_CLICK])})

    async def unsubscribe(self, request: Request) -> Response:
        # No origin check: mail providers send the one-click POST from their own servers,
        # and the signed per-subscriber token is what authorises it.
        form = await read_form(request)
        if _text(form, ONE_CLICK[0]) != ONE_CLICK[1]:
            raise HTTPException(400, "An unsubscribe request carries List-Unsubscribe=One-Click "
                                     "(RFC 8058).")
        token = request.query_params.get("token") or _text(form, "token")
        try:
            pair = self.parts.tokens.check_unsubscribe(token)
        except TokenError as exc:
            return self.message("This link does not work", str(exc), status=400)
        subscriber_id, digest = pair
        person = await run_in_threadpool(self.parts.store.get_by_id, subscriber_id)
        if person is None:  # no such reader (a [TEST] copy's link, a removed reader): as GET
            return self.not_subscribed()
        if address_digest(person.email) != digest:
            return self.message("This link does not work",
                                "This unsubscribe link is not valid.", status=400)
        how = "unsubscribe page" if request.headers.get("sec-fetch-site") \
            else "one-click (RFC 8058)"
        await run_in_threadpool(self.parts.store.unsubscribe, person.id, how,
                                self.parts.now())
        return self.message(
            "You are unsubscribed",
            f"You will not receive {self.config.title} by email any more.",
            "Changed your mind? You can subscribe again at any time, or follow the newsletter "
            "by feed.")


def _text(form: FormData, name: str) -> str:
    value = form.get(name)
    return value if isinstance(value, str) else ""

