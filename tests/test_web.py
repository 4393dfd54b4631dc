"""``newsletter serve`` over real HTTP: the archive and feeds with their content types, the
security headers, double opt-in, one-click unsubscribe (RFC 8058), the honeypot, rate limits,
cross-site refusals and error pages. A real uvicorn server, a real SQLite file, the outbox."""

from __future__ import annotations

import re
import socket
import sqlite3
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import feedparser
import httpx
import pytest

from pipeline.serving import KEEP_ALIVE_TIMEOUT, REQUEST_TIMEOUT, bind
from pipeline.serving import server as make_server
from pipeline.store import Store, Subscriber
from pipeline.web import create_app

from .conftest import REPO, RunCli
from .databases import Databases
from .web_server import SECRET, Site, serving

LIMITS = "[web]\nclient_limit = 50\naddress_limit = 5\n"


@pytest.fixture
def site(tmp_path: Path, databases: Databases) -> Iterator[Site]:
    """The sample newsletter served by the app, on SQLite and on PostgreSQL."""
    made = Site(tmp_path / "site", LIMITS, databases)
    with serving(made.app(), made.sock):
        yield made
    made.store.close()


@pytest.fixture
def http(site: Site) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=site.url, follow_redirects=False, timeout=20) as client:
        yield client


def form_token(client: httpx.Client, path: str = "/subscribe") -> str:
    page = client.get(path)
    assert page.status_code == 200
    found = re.search(r'name="form_token" value="([^"]+)"', page.text)
    assert found, page.text
    return found[1]


def subscribe(client: httpx.Client, email: str, **extra: str) -> httpx.Response:
    data = {"email": email, "name": "", "website": "", "form_token": form_token(client),
            **extra}
    return client.post("/subscribe", data=data)


def confirm(client: httpx.Client, link: str) -> httpx.Response:
    page = client.get(link)
    assert page.status_code == 200, page.text
    token = re.search(r'name="token" value="([^"]+)"', page.text)
    ftoken = re.search(r'name="form_token" value="([^"]+)"', page.text)
    assert token and ftoken
    return client.post("/confirm", data={"token": token[1], "form_token": ftoken[1]})


def paragraphs(html: str) -> list[str]:
    main = html.split("<main", 1)[1].split("</main>", 1)[0]
    return re.findall(r"<(?:h1|p)[^>]*>(.*?)</(?:h1|p)>", main, re.S)


def active(site: Site, email: str) -> Subscriber:
    person, _ = site.store.request(email, None, "test", site.clock.now())
    assert site.store.confirm(person.id, "test", site.clock.now())
    return person


# ---------------------------------------------------------------------- the archive and feeds


def test_archive_issues_and_feeds_with_their_content_types(site: Site,
                                                           http: httpx.Client) -> None:
    expected = {
        "/": "text/html; charset=utf-8",
        "/2026-12-solstice/": "text/html; charset=utf-8",
        "/2026-12-solstice/email.html": "text/html; charset=utf-8",
        "/2026-12-solstice/email.txt": "text/plain; charset=utf-8",
        "/style.css": "text/css; charset=utf-8",
        "/robots.txt": "text/plain; charset=utf-8",
        "/ai.txt": "text/plain; charset=utf-8",
        "/feeds/rss.xml": "application/rss+xml; charset=utf-8",
        "/feeds/atom.xml": "application/atom+xml; charset=utf-8",
        "/feeds/feed.json": "application/feed+json; charset=utf-8",
    }
    for path, kind in expected.items():
        answer = http.get(path)
        assert answer.status_code == 200, path
        assert answer.headers["content-type"] == kind, path
    assert "Who made this issue" in http.get("/2026-12-solstice/").text
    for name in ("rss.xml", "atom.xml", "feed.json"):
        body = http.get(f"/feeds/{name}").content
        assert body == (site.root / "feeds" / name).read_bytes()
    parsed = feedparser.parse(http.get("/feeds/atom.xml").content)
    assert not parsed.bozo and len(parsed.entries) == 2


def test_every_answer_has_the_security_headers_and_sets_no_cookie(http: httpx.Client) -> None:
    for method, path in [("GET", "/"), ("GET", "/subscribe"), ("GET", "/missing"),
                         ("GET", "/feeds/rss.xml"), ("POST", "/subscribe"),
                         ("GET", "/confirm?token=x"), ("DELETE", "/subscribe")]:
        answer = http.request(method, path)
        csp = answer.headers["content-security-policy"]
        assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp, path
        assert "script-src" not in csp and "unsafe-inline" not in csp, path
        assert answer.headers["x-frame-options"] == "DENY"
        assert answer.headers["x-content-type-options"] == "nosniff"
        assert answer.headers["referrer-policy"] == "no-referrer"
        assert "set-cookie" not in answer.headers
        assert "server" not in answer.headers
    # The built email keeps its inlined styles; still no script.
    email = http.get("/2026-12-solstice/email.html").headers["content-security-policy"]
    assert "style-src 'self' 'unsafe-inline'" in email and "script-src" not in email


def test_robots_ai_txt_and_meta_tags_state_the_training_policy(http: httpx.Client) -> None:
    robots = http.get("/robots.txt").text
    assert "User-agent: GPTBot\nDisallow: /" in robots
    assert "User-agent: *\nDisallow: /subscribe" in robots and robots.endswith("Allow: /\n")
    assert "User-Agent: *\nDisallow: /" in http.get("/ai.txt").text
    for path in ("/", "/2026-12-solstice/", "/subscribe"):
        assert '<meta name="robots" content="noai, noimageai">' in http.get(path).text


def test_allowing_ai_training_changes_robots_ai_txt_and_meta_tags(tmp_path: Path) -> None:
    allowed = Site(tmp_path / "allowed", "[web]\nai_training = true\n")
    with serving(allowed.app(), allowed.sock), httpx.Client(base_url=allowed.url) as client:
        assert "GPTBot" not in client.get("/robots.txt").text
        assert "User-Agent: *\nAllow: /" in client.get("/ai.txt").text
        assert 'content="noai' not in client.get("/2026-12-solstice/").text
    allowed.store.close()


def test_missing_pages_and_wrong_methods_are_4xx_pages(http: httpx.Client) -> None:
    missing = http.get("/no-such-issue/")
    assert missing.status_code == 404 and "Page not found" in missing.text
    wrong = http.delete("/subscribe")
    assert wrong.status_code == 405 and "Not allowed" in wrong.text
    assert http.get("/../newsletter.toml").status_code == 404
    assert http.get("/%2e%2e/newsletter.toml").status_code == 404


# ---------------------------------------------------------------------- subscribe and confirm


def test_double_opt_in(site: Site, http: httpx.Client) -> None:
    answer = subscribe(http, "Ada@Example.org", name="Ada Example")
    assert answer.status_code == 200 and "Check your inbox" in answer.text
    person = site.store.get("Ada@example.org")
    assert person is not None and person.status == "pending" and person.name == "Ada Example"
    [mail] = site.mails()
    assert mail["To"] == "Ada@example.org"
    assert mail["Auto-Submitted"] == "auto-generated"
    assert mail["Subject"] == "Confirm your subscription to Ethics & Society"
    link = site.link_in(mail, "confirm")

    # Following the link (as a mail scanner would) changes nothing.
    for _ in range(3):
        page = http.get(link)
        assert page.status_code == 200 and "Confirm my subscription" in page.text
    assert site.status("Ada@example.org") == "pending"

    site.clock.advance(3600)
    done = confirm(http, link)
    assert done.status_code == 200 and "You are subscribed" in done.text
    person = site.store.get("Ada@example.org")
    assert person is not None and person.status == "active"
    assert person.consent_at == site.clock.now().isoformat(timespec="seconds")
    assert person.consent_source is not None and "double opt-in" in person.consent_source
    assert [e.kind for e in site.store.history(person.id)] == ["requested", "confirmed"]
    # Confirming twice is harmless.
    assert confirm(http, link).status_code == 200


def test_names_are_one_line_and_not_too_long(site: Site, http: httpx.Client) -> None:
    subscribe(http, "long@example.org", name="Line\r\nBcc: x@y.z " + "n" * 500)
    person = site.store.get("long@example.org")
    assert person is not None and person.name is not None
    assert person.name.startswith("Line Bcc: x@y.z nnn") and len(person.name) <= 200
    assert site.mails()[0]["Bcc"] is None


def test_the_answer_is_the_same_whether_or_not_the_address_is_known(
        site: Site, http: httpx.Client) -> None:
    active(site, "known@example.org")
    known = subscribe(http, "known@example.org")
    unknown = subscribe(http, "stranger@example.org")
    assert known.status_code == unknown.status_code == 200
    assert paragraphs(known.text) == [p.replace("stranger@", "known@")
                                      for p in paragraphs(unknown.text)]
    assert site.status("known@example.org") == "active"
    # The known address's owner is told, by email only, with a way to leave.
    already, confirmation = site.mails()
    assert already["Subject"].startswith("You are already subscribed")
    assert "/unsubscribe?token=" in site.link_in(already, "unsubscribe")
    assert confirmation["To"] == "stranger@example.org"


def test_a_confirmation_link_expires(site: Site, http: httpx.Client) -> None:
    subscribe(http, "late@example.org")
    link = site.link_in(site.mails()[0], "confirm")
    page = http.get(link)
    token = re.search(r'name="token" value="([^"]+)"', page.text)
    ftoken = re.search(r'name="form_token" value="([^"]+)"', page.text)
    assert token and ftoken
    site.clock.advance(49 * 3600)  # the page was opened in time, the button pressed too late
    late = http.post("/confirm", data={"token": token[1], "form_token": ftoken[1]})
    assert late.status_code == 400 and "expired" in late.text
    assert http.get(link).status_code == 400
    assert site.status("late@example.org") == "pending"


def test_forged_and_foreign_tokens_confirm_nothing(site: Site, http: httpx.Client) -> None:
    subscribe(http, "ada@example.org")
    person = site.store.get("ada@example.org")
    assert person is not None
    good = site.tokens.confirm(person.id, person.email)
    ftoken = form_token(http)  # a subscribe form's token is not a confirm form's
    for token, form in [(good[:-2] + "xx", form_token(http, f"/confirm?token={good}")),
                        (site.tokens.unsubscribe(person.id, person.email),
                         form_token(http, f"/confirm?token={good}")),
                        (good, ftoken), (good, "")]:
        answer = http.post("/confirm", data={"token": token, "form_token": form})
        assert answer.status_code == 400, token
    assert site.status("ada@example.org") == "pending"


def test_the_honeypot_gets_the_same_answer_and_nothing_happens(site: Site,
                                                               http: httpx.Client) -> None:
    answer = subscribe(http, "bot@example.org", website="https://spam.example")
    assert answer.status_code == 200 and "Check your inbox" in answer.text
    assert site.store.get("bot@example.org") is None and site.mails() == []
    assert any("honeypot" in line for line in site.log)


@pytest.mark.parametrize("address", ["not-an-address", "a@b", "ada@example.org\r\nBcc: x@y.z",
                                     "x" * 300 + "@example.org"])
def test_a_bad_address_is_explained_and_stored_nowhere(site: Site, http: httpx.Client,
                                                       address: str) -> None:
    answer = subscribe(http, address)
    assert answer.status_code == 400
    assert "That address does not look right" in answer.text
    assert 'aria-invalid="true"' in answer.text and site.store.count() == 0
    assert site.mails() == []


def test_a_form_without_a_valid_token_is_refused(site: Site, http: httpx.Client) -> None:
    for token in ("", "forged", form_token(http)[:-3] + "abc"):
        answer = http.post("/subscribe", data={"email": "ada@example.org", "form_token": token})
        assert answer.status_code == 400 and "reload" in answer.text
    stale = form_token(http)
    site.clock.advance(7 * 3600)
    answer = http.post("/subscribe", data={"email": "ada@example.org", "form_token": stale})
    assert answer.status_code == 400 and "expired" in answer.text
    assert site.store.count() == 0


def test_cross_site_posts_are_refused(site: Site, http: httpx.Client) -> None:
    data = {"email": "ada@example.org", "form_token": form_token(http)}
    for headers in ({"sec-fetch-site": "cross-site"}, {"sec-fetch-site": "same-site"},
                    {"origin": "https://evil.example"}):
        answer = http.post("/subscribe", data=data, headers=headers)
        assert answer.status_code == 403, headers
    assert site.store.count() == 0
    ours = http.post("/subscribe", data=data, headers={"sec-fetch-site": "same-origin",
                                                       "origin": site.url})
    assert ours.status_code == 200


def test_rate_limits_per_client_and_per_address(tmp_path: Path) -> None:
    strict = Site(tmp_path / "strict", "[web]\nclient_limit = 3\naddress_limit = 2\n")
    with serving(strict.app(), strict.sock), httpx.Client(base_url=strict.url) as client:
        codes = [subscribe(client, "same@example.org").status_code for _ in range(4)]
        assert codes == [200, 200, 200, 429]
        assert len(strict.mails()) == 2  # the third request got the same page, no email
        refused = subscribe(client, "other@example.org")
        assert refused.headers["retry-after"] == "3600"
        assert strict.store.get("other@example.org") is None
        strict.clock.advance(3601)
        assert subscribe(client, "other@example.org").status_code == 200
        assert subscribe(client, "same@example.org").status_code == 200
        assert len(strict.mails()) == 3  # still two a day for same@
        strict.clock.advance(24 * 3600)
        assert subscribe(client, "same@example.org").status_code == 200
        assert len(strict.mails()) == 4
    strict.store.close()


# ---------------------------------------------------------------------- unsubscribe


def test_one_click_unsubscribe_form_urlencoded_and_multipart(site: Site,
                                                             http: httpx.Client) -> None:
    ada, grace = active(site, "ada@example.org"), active(site, "grace@example.org")
    for person, multipart in ((ada, False), (grace, True)):
        url = f"/unsubscribe?token={site.tokens.unsubscribe(person.id, person.email)}"
        if multipart:
            answer = http.post(url, files={"List-Unsubscribe": (None, "One-Click")})
        else:
            answer = http.post(url, content=b"List-Unsubscribe=One-Click",
                               headers={"content-type": "application/x-www-form-urlencoded"})
        assert answer.status_code == 200 and "You are unsubscribed" in answer.text
        assert "location" not in answer.headers
        assert site.status(person.email) == "unsubscribed"
        assert site.store.history(person.id)[-1].detail == "one-click (RFC 8058)"
        again = http.post(url, data={"List-Unsubscribe": "One-Click"})
        assert again.status_code == 200  # idempotent


def test_the_unsubscribe_link_opens_a_page_and_changes_nothing(site: Site,
                                                               http: httpx.Client) -> None:
    ada = active(site, "ada@example.org")
    url = f"/unsubscribe?token={site.tokens.unsubscribe(ada.id, ada.email)}"
    page = http.get(url)
    assert page.status_code == 200 and '<button type="submit">Unsubscribe</button>' in page.text
    assert 'name="List-Unsubscribe" value="One-Click"' in page.text
    assert site.status("ada@example.org") == "active"
    answer = http.post(url, data={"List-Unsubscribe": "One-Click"},
                       headers={"sec-fetch-site": "same-origin"})
    assert answer.status_code == 200 and site.status("ada@example.org") == "unsubscribed"
    assert site.store.history(ada.id)[-1].detail == "unsubscribe page"


def test_the_unsubscribe_page_of_an_address_already_unsubscribed_says_so(
        site: Site, http: httpx.Client) -> None:
    """Opening the link again after unsubscribing offers no button to press: it says the
    address is already unsubscribed."""
    ada = active(site, "ada@example.org")
    url = f"/unsubscribe?token={site.tokens.unsubscribe(ada.id, ada.email)}"
    http.post(url, data={"List-Unsubscribe": "One-Click"})
    assert site.status("ada@example.org") == "unsubscribed"
    page = http.get(url)
    assert page.status_code == 200
    assert "already unsubscribed" in page.text
    assert "<button" not in page.text and "Press the button" not in page.text


def test_a_link_of_no_reader_says_the_same_on_the_page_and_on_the_button(
        site: Site, http: httpx.Client) -> None:
    """A [TEST] copy's link (a token of no subscriber): the page and the one-click POST both
    say the address is not subscribed, with 200 and no change."""
    ada = active(site, "ada@example.org")
    url = f"/unsubscribe?token={site.tokens.unsubscribe(-1, 'tester@example.org')}"
    page = http.get(url)
    answer = http.post(url, data={"List-Unsubscribe": "One-Click"})
    assert page.status_code == answer.status_code == 200
    assert "already unsubscribed" in page.text and "already unsubscribed" in answer.text
    assert site.status(ada.email) == "active"


def test_an_unsubscribe_token_works_only_for_its_own_address(
        site: Site, http: httpx.Client, databases: Databases) -> None:
    ada = active(site, "ada@example.org")
    old = site.tokens.unsubscribe(ada.id, ada.email)
    assert site.store.remove("ada@example.org")
    grace = active(site, "grace@example.org")
    # A genuine token whose subscriber id is now someone else's address: refused.
    foreign = site.tokens.unsubscribe(grace.id, "ada@example.org")
    answer = http.post(f"/unsubscribe?token={foreign}", data={"List-Unsubscribe": "One-Click"})
    assert answer.status_code == 400
    if databases.backend == "sqlite":
        assert grace.id == ada.id  # SQLite gives the freed id to the next subscriber
        assert old == foreign
    assert site.status("grace@example.org") == "active"
    for token in ("", "garbage", old[:-3] + "abc",
                  site.tokens.confirm(grace.id, grace.email)):
        bad = http.post(f"/unsubscribe?token={token}", data={"List-Unsubscribe": "One-Click"})
        assert bad.status_code == 400, token
    assert site.status("grace@example.org") == "active"


def test_an_unsubscribe_post_without_the_one_click_body_is_refused(
        site: Site, http: httpx.Client) -> None:
    ada = active(site, "ada@example.org")
    url = f"/unsubscribe?token={site.tokens.unsubscribe(ada.id, ada.email)}"
    for body in ({}, {"List-Unsubscribe": "Yes"}):
        assert http.post(url, data=body).status_code == 400
    assert site.status("ada@example.org") == "active"


# ---------------------------------------------------------------------- errors


def test_malformed_and_oversized_bodies_are_4xx(site: Site, http: httpx.Client) -> None:
    broken = http.post("/subscribe", content=b"--x\r\nnonsense",
                       headers={"content-type": "multipart/form-data; boundary=x"})
    assert broken.status_code == 400 and "Traceback" not in broken.text
    huge = http.post("/subscribe", content=b"email=" + b"a" * 100_000,
                     headers={"content-type": "application/x-www-form-urlencoded"})
    assert huge.status_code == 413
    assert site.store.count() == 0


class FailingStore:
    """The site's store, but its disk has failed: every sign-up request raises."""

    def __init__(self, inner: Store) -> None:
        self.inner = inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def request(self, *args: object) -> None:
        raise sqlite3.OperationalError("disk I/O error")


def test_an_unexpected_error_shows_no_stack_trace(site: Site) -> None:
    failing = create_app(site.config, replace(site.parts, store=FailingStore(site.store)))
    sock = bind("127.0.0.1", 0)
    with serving(failing, sock), httpx.Client(
            base_url=f"http://127.0.0.1:{sock.getsockname()[1]}") as client:
        answer = client.post("/subscribe", data={"email": "ada@example.org",
                                                 "form_token": form_token(client)})
    assert answer.status_code == 500
    assert "Something went wrong on our side" in answer.text
    assert "Traceback" not in answer.text and "disk I/O" not in answer.text
    assert any("Traceback" in line and "disk I/O error" in line for line in site.log)
    assert "content-security-policy" in answer.headers


# ---------------------------------------------------------------------- the journey over HTTP


def test_subscribe_confirm_receive_an_issue_and_leave_in_one_click(
        site: Site, http: httpx.Client, cli: RunCli, monkeypatch: pytest.MonkeyPatch) -> None:
    subscribe(http, "reader@example.org")
    assert confirm(http, site.link_in(site.mails()[0], "confirm")).status_code == 200
    message = site.send_issue(cli, monkeypatch)
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    url = re.search(r"<([^>]+)>", message["List-Unsubscribe"])
    assert url and url[1].startswith(f"{site.url}/unsubscribe?token=")
    # What a mail provider does when the reader presses "Unsubscribe" in their inbox:
    answer = httpx.post(url[1], data={"List-Unsubscribe": "One-Click"})
    assert answer.status_code == 200
    assert site.status("reader@example.org") == "unsubscribed"


# ---------------------------------------------------------------------- the command


def test_serve_without_a_signing_key_is_a_clear_error(cli: RunCli, sample_copy: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NEWSLETTER_TOKEN_SECRET", raising=False)
    code, _, err = cli("serve", "--root", str(sample_copy))
    assert code == 1 and "NEWSLETTER_TOKEN_SECRET" in err and "Traceback" not in err


def test_serve_on_a_port_in_use_is_bad_usage(cli: RunCli, sample_copy: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEWSLETTER_TOKEN_SECRET", SECRET)
    taken = bind("127.0.0.1", 0)
    port = taken.getsockname()[1]
    try:
        code, _, err = cli("serve", "--root", str(sample_copy), "--port", str(port))
    finally:
        taken.close()
    assert code == 2 and f"cannot listen on 127.0.0.1:{port}" in err


def test_bad_port_is_bad_usage(cli: RunCli, sample_copy: Path) -> None:
    code, _, err = cli("serve", "--root", str(sample_copy), "--port", "http")
    assert code == 2 and "not a port number" in err


# ---------------------------------------------------------------------- hardening


def test_an_opaque_origin_without_fetch_metadata_is_refused(site: Site,
                                                           http: httpx.Client) -> None:
    """``Origin: null`` (a sandboxed frame, a data: page) is another site, as Go's
    CrossOriginProtection has it; a client that sends no Origin at all is not a browser."""
    data = {"email": "ada@example.org", "form_token": form_token(http)}
    answer = http.post("/subscribe", data=data, headers={"origin": "null"})
    assert answer.status_code == 403
    assert site.store.count() == 0
    assert http.post("/subscribe", data=data).status_code == 200


def test_the_honeypot_log_line_keeps_no_address(site: Site, http: httpx.Client) -> None:
    subscribe(http, "bot@example.org", website="https://spam.example")
    [line] = [line for line in site.log if "honeypot" in line]
    assert "127.0.0.1" not in line and "bot@example.org" not in line


def _closed_within(sock: socket.socket, seconds: float) -> bool:
    """Whether the server closes the connection within ``seconds`` (reading what it sends)."""
    sock.settimeout(seconds)
    try:
        while sock.recv(4096):
            pass
    except TimeoutError:
        return False
    except ConnectionResetError:
        return True
    return True


def test_slow_and_idle_connections_are_closed(tmp_path: Path) -> None:
    """A client that sends half a request, or nothing, or keeps an idle keep-alive connection,
    is cut off after the timeouts; a whole request is answered."""
    made = Site(tmp_path / "site")
    try:
        with serving(made.app(), made.sock, request_timeout=0.5, keep_alive_timeout=1):
            port = made.sock.getsockname()[1]
            with socket.create_connection(("127.0.0.1", port)) as half:
                half.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
                assert _closed_within(half, 5), "half a request kept its connection"
            with socket.create_connection(("127.0.0.1", port)) as silent:
                assert _closed_within(silent, 5), "a silent connection was kept"
            with socket.create_connection(("127.0.0.1", port)) as idle:
                idle.sendall(b"GET /robots.txt HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
                idle.settimeout(5)
                assert idle.recv(4096).startswith(b"HTTP/1.1 200")
                assert _closed_within(idle, 5), "an idle keep-alive connection was kept"
    finally:
        made.store.close()


def test_the_timeouts_are_the_documented_ones(cli: RunCli) -> None:
    server = make_server(object())
    assert server.config.timeout_keep_alive == KEEP_ALIVE_TIMEOUT
    assert server.config.http.__name__ == "TimedH11Protocol"
    _, out, _ = cli("serve", "--help")
    said = " ".join(out.split())
    readme = " ".join((REPO / "README.md").read_text(encoding="utf-8").split())
    for text in (said, readme):
        assert f"{REQUEST_TIMEOUT:g} s to send a whole request" in text
        assert f"idle keep-alive connection is closed after {KEEP_ALIVE_TIMEOUT} s" in text
