"""The welcome email: sent once when a reader confirms, through the real app (uvicorn on
127.0.0.1) and a real SMTP server (aiosmtpd), on SQLite and on PostgreSQL."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from email.message import EmailMessage
from pathlib import Path

import httpx

from pipeline.transports import SmtpSettings, SmtpTransport
from pipeline.web import create_app

from .databases import Databases
from .smtp_sink import SmtpSink
from .test_delivery import parse
from .test_web import confirm, subscribe
from .web_server import Site, serving


@contextmanager
def served(tmp_path: Path, databases: Databases, sink: SmtpSink,
           settings: str = "") -> Iterator[tuple[Site, httpx.Client]]:
    """The sample newsletter served by the real app, its emails going to the SMTP sink."""
    site = Site(tmp_path / "site", "[web]\nclient_limit = 50\n" + settings, databases)
    settings_smtp = SmtpSettings.from_url(sink.url, None, None)
    parts = replace(site.parts, transport=lambda: SmtpTransport(settings_smtp))
    with serving(create_app(site.config, parts), site.sock), \
            httpx.Client(base_url=site.url, timeout=20) as client:
        yield site, client
    site.store.close()


def mails(sink: SmtpSink) -> list[EmailMessage]:
    return [parse(m.data) for m in sink.messages]


def text_of(message: EmailMessage) -> str:
    body = message.get_body(("plain",))
    assert body is not None
    return str(body.get_content())


def link(site: Site, message: EmailMessage, page: str) -> str:
    found = re.findall(rf"{re.escape(site.url)}/{page}\?token=[A-Za-z0-9_.\-%]+",
                       text_of(message))
    assert found, text_of(message)
    return str(found[0])


def test_a_confirmed_reader_is_welcomed_once(tmp_path: Path, databases: Databases,
                                             sink: SmtpSink) -> None:
    with served(tmp_path, databases, sink) as (site, http):
        assert subscribe(http, "Ada@Example.org").status_code == 200
        [confirmation] = mails(sink)
        assert confirm(http, link(site, confirmation, "confirm")).status_code == 200
        confirmation, welcome = mails(sink)
        assert str(welcome["Subject"]) == "Welcome to Ethics & Society"
        for header in ("From", "To", "Auto-Submitted"):  # as the confirmation has them
            assert welcome[header] == confirmation[header], header
        assert welcome["Message-ID"] != confirmation["Message-ID"]
        assert sink.messages[1].rcpt_tos == ("Ada@example.org",)
        text = text_of(welcome)
        # On 1 December 2026 (the app's clock) the September issue is the latest published;
        # the December one, though built into the site by the test, is not public yet.
        assert "The latest issue, September Equinox 2026, is on the web:" in text
        assert f"{site.url}/2026-09-equinox/" in text and "2026-12-solstice/" not in text
        assert "The next one is December Solstice 2026, due on 21 December 2026." in text
        leave = http.get(link(site, welcome, "unsubscribe"))
        assert leave.status_code == 200 and "Unsubscribe" in leave.text
        # confirming again welcomes nobody twice
        assert confirm(http, link(site, confirmation, "confirm")).status_code == 200
        assert sink.count() == 2


def test_the_welcome_can_be_switched_off(tmp_path: Path, databases: Databases,
                                         sink: SmtpSink) -> None:
    with served(tmp_path, databases, sink, "welcome = false\n") as (site, http):
        subscribe(http, "lin@example.org")
        [confirmation] = mails(sink)
        answer = confirm(http, link(site, confirmation, "confirm"))
        assert answer.status_code == 200 and "You are subscribed" in answer.text
        assert site.status("lin@example.org") == "active"
        assert sink.count() == 1
