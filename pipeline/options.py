"""The declared table of ``newsletter.toml``: every key (:data:`OPTIONS`), its type, its
default, what it is for, and the check of its value. :mod:`pipeline.config` reads the file
against it; ``newsletter init`` writes a file from it; the README's configuration reference
lists it (a test keeps them the same).
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .databases import DEFAULT_PASSWORD_ENV, database_problem
from .engines import FLAVOURS, GFM, extension_problem
from .errors import did_you_mean
from .seasons import NAMINGS

_LANG_RE = re.compile(r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$")


@dataclass(frozen=True)
class Option:
    """One key of ``newsletter.toml``: its type, default and what it is for."""

    key: str
    kind: type
    default: Any
    help: str
    check: Callable[[Any], str | None] | None = None

    @property
    def address(self) -> bool:
        """Whether the value holds an email address, which :mod:`pipeline.addresses` judges
        once its form passed ``check``."""
        return self.check in (_check_address, _check_bare_address)


def _check_url(value: str) -> str | None:
    if re.search(r"[\s\"'<>\\]", value):
        return "must not contain spaces, quotes or angle brackets"
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return "must be an absolute http(s) URL, e.g. https://newsletter.example.org"
    if parts.query or parts.fragment:
        return "must not have a query or fragment"
    return None


def _check_zone(value: str) -> str | None:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        return f"unknown time zone '{value}': use an IANA name such as Europe/London"
    return None


def _check_language(value: str) -> str | None:
    return None if _LANG_RE.match(value) else "must be a BCP 47 language tag such as en or en-GB"


def address_of(value: str) -> str:
    """The address of ``Name <address>`` or of a bare address."""
    return value.rsplit("<", 1)[-1].rstrip(">").strip()


def _check_address(value: str) -> str | None:
    """What is wrong with the form of an address value; the address itself is judged by
    :mod:`pipeline.addresses` (an option with ``address``)."""
    if any(not ch.isprintable() for ch in value):
        return "must be on one line, without control characters"
    return None


def _check_bare_address(value: str) -> str | None:
    """An address without a display name (an envelope address)."""
    if "<" in value or ">" in value or " " in value.strip():
        return "must be a bare address such as bounces@example.org (no name, no <>)"
    if "+" in value.split("@", 1)[0]:
        return "must not contain '+' in its local part: delivery.verp adds '+TAG' there"
    return _check_address(value)


IMAP_SCHEMES = {"imap": 143, "imap+starttls": 143, "imaps": 993}


def imap_url_problem(url: str) -> str | None:
    """What is wrong with an IMAP URL (None: nothing)."""
    form = "imaps://HOST:993/MAILBOX, imap+starttls://HOST:143/MAILBOX or imap://HOST:143/MAILBOX"
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 (raises on a bad port)
    except ValueError:
        return f"is not a URL: use {form}"
    if parts.scheme not in IMAP_SCHEMES or not parts.hostname:
        return f"must look like {form}"
    if parts.username or parts.password:
        return ("must not carry a login: put it in the environment variables "
                "delivery.imap_username_env and imap_password_env name")
    return None


def _check_sections(value: list[Any]) -> str | None:
    if not value:
        return "must list at least one section"
    if not all(isinstance(s, str) and s.strip() for s in value):
        return "must be a list of section names (text)"
    if len({s.strip() for s in value}) != len(value):
        return "lists a section twice"
    return None


def _check_names(value: list[Any]) -> str | None:
    if not all(isinstance(item, str) and item.strip() for item in value):
        return 'must be a list of text in quotes, like ["a", "b"]'
    return None


def _check_folder(value: str) -> str | None:
    """A folder inside the root that is not one of the newsletter's own."""
    if not value.strip() or "\x00" in value:
        return "must name a folder, e.g. \"public\""
    path = Path(value)
    if path.is_absolute() or ".." in path.parts:
        return "must be a folder inside the newsletter root (no absolute path, no '..')"
    if path.parts[0] in ("issues", "templates", "feeds", "."):
        return f"cannot be '{value}': that folder holds the newsletter's own files"
    return None


def smtp_url_problem(value: str) -> str | None:
    """What is wrong with an SMTP URL (``delivery.smtp_url`` or ``--smtp``); None: nothing."""
    form = "smtp://HOST:PORT, smtp+starttls://HOST:587 or smtps://HOST:465"
    try:
        parts = urlsplit(value)
    except ValueError:  # an unclosed [IPv6 address
        return f"is not a URL (an unclosed '[': an IPv6 address is written [::1]); use {form}"
    if parts.scheme not in ("smtp", "smtp+starttls", "smtps") or not parts.hostname:
        return f"must look like {form}"
    if parts.username or parts.password:
        return "must not carry a login: put it in the environment variables username_env and " \
               "password_env name"
    try:
        port = parts.port
    except ValueError:
        return "has a port that is not a number from 1 to 65535"
    if port == 0:
        return "has a port that is not a number from 1 to 65535"
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        return f"must not have a path, query or fragment: use {form}"
    return None


def _env_name(value: str) -> str | None:
    if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", value):
        return None
    return "must be the NAME of an environment variable (letters, digits, _), not its value"


def _positive(value: int) -> str | None:
    return None if value > 0 else "must be a positive number"


def _not_negative(value: int) -> str | None:
    return None if value >= 0 else "must be zero or more"


def _naming(value: str) -> str | None:
    return None if value in NAMINGS else f"must be one of {', '.join(NAMINGS)}"


def _overflow(value: str) -> str | None:
    choices = ("teasers", "refuse")
    return None if value in choices else \
        f"must be teasers or refuse{did_you_mean(value, choices)}"


def _flavour(value: str) -> str | None:
    if value in FLAVOURS:
        return None
    return f"must be one of {', '.join(FLAVOURS)}{did_you_mean(value, FLAVOURS)}"


def check_extensions(value: list[Any]) -> tuple[tuple[str, str], ...] | str:
    """``markdown.extensions`` as MkDocs writes it: names, or one-key tables of settings
    (``["abbr", { toc = { permalink = true } }]``); a message when it is not that."""
    found: list[tuple[str, str]] = []
    settings: dict[str, Any]
    for item in value:
        if isinstance(item, str) and item.strip():
            name, settings = item.strip(), {}
        elif isinstance(item, dict) and len(item) == 1 and \
                isinstance(next(iter(item.values())), dict):
            name, settings = next(iter(item.items()))
        else:
            return ('must list extension names or one-key tables of their settings, like '
                    '["abbr", { toc = { permalink = true } }], not ' f"{item!r}")
        problem = extension_problem(name, settings)
        if problem:
            return problem
        found.append((name, json.dumps(settings, sort_keys=True, default=str)))
    return tuple(found)


def _nonempty(value: str) -> str | None:
    return None if value.strip() else "must not be empty"


def control_character(value: Any) -> str | None:
    """The first control character (a line break, a tab, ...) of a text value, as U+XXXX;
    a line break in a title would break the headers, calendars and feeds it goes into."""
    texts = value if isinstance(value, list) else [value]
    for text in texts:
        if isinstance(text, str):
            for ch in text:
                if unicodedata.category(ch) == "Cc":
                    return f"U+{ord(ch):04X}"
    return None


REQUIRED = object()

#: Every key of newsletter.toml. A dotted key lives in a table (``[email]``, ``[feeds]``).
OPTIONS: tuple[Option, ...] = (
    Option("title", str, REQUIRED, "The newsletter's name.", _nonempty),
    Option("description", str, "", "One sentence for feeds and the archive page."),
    Option("tagline", str, "",
           "A sentence after each issue's credits ('N contributors from M teams.'), "
           "e.g. your newsletter's motto (empty: none)."),
    Option("colophon", str, "",
           "The last line of every web page's footer (empty: 'Made with' the software's "
           "name and version)."),
    Option("base_url", str, REQUIRED, "Where public/ is served, e.g. https://news.example.org.",
           _check_url),
    Option("language", str, "en", "BCP 47 language of the content (the pages' lang).",
           _check_language),
    Option("time_zone", str, "UTC", "IANA time zone that decides each publication day.",
           _check_zone),
    Option("sections", list, REQUIRED, "The ordered sections; pieces name one of them.",
           _check_sections),
    Option("season_names", str, "neutral",
           "neutral ('December Solstice 2026'), northern or southern ('Winter Solstice 2026').",
           _naming),
    Option("submission_lead_days", int, 14,
           "Days before publication that submissions close.", _not_negative),
    Option("max_piece_kb", int, 1024,
           "Largest piece (or issue.md) in KB; a bigger file is refused before it is read.",
           _positive),
    Option("output_dir", str, "public", "Where built issues go, relative to the root.",
           _check_folder),
    Option("email.sender", str, REQUIRED, "From address, e.g. 'Our News <news@example.org>'.",
           _check_address),
    Option("email.editors_address", str, None,
           "Address readers can write to (shown in the footer).", _check_address),
    Option("email.size_budget_kb", int, 95,
           "Largest HTML email in KB (Gmail clips at 102).", _positive),
    Option("email.image_budget_kb", int, 1024,
           "Most KB of images an issue's email may load (a warning names the largest).",
           _positive),
    Option("email.overflow", str, "teasers",
           "teasers (over the budget, the last pieces become teasers linking the web edition) "
           "or refuse (over the budget, the build fails).", _overflow),
    Option("markdown.flavour", str, GFM,
           "gfm (GitHub Flavored Markdown, rendered by cmark-gfm) or python-markdown.",
           _flavour),
    Option("markdown.extensions", list, None,
           "python-markdown only: its extensions, MkDocs-style (names, or one-key tables of "
           "settings); default attr_list, sane_lists, def_list, abbr, md_in_html. tables, "
           "fenced_code and footnotes are always on."),
    Option("email.call_address", str, None,
           "Where 'call-for-pieces --send' sends the call, e.g. an all-staff list.",
           _check_address),
    Option("feeds.issues", int, 10, "How many of the latest issues the feeds carry.", _positive),
    Option("check.disabled", list, [], "Rule ids that 'newsletter check' does not apply.",
           _check_names),
    Option("check.require_review", bool, False,
           "Every piece needs a reviewer who is not one of its authors."),
    Option("check.word_limit", int, 1500, "Most words a piece may have.", _positive),
    Option("gather.feeds", list, [],
           "Feeds (URLs or files relative to the root) that 'newsletter gather' reads.",
           _check_names),
    Option("gather.timeout_seconds", int, 10,
           "How long one feed may take in all, from connecting to its last byte.", _positive),
    Option("gather.allow_private", bool, False,
           "May gather read feeds on loopback, private and link-local addresses (an "
           "intranet)? Off, so a feed URL cannot reach this machine's or the network's "
           "internal services."),
    Option("remind.silent_issues", int, 0,
           "'remind' also writes to the teams that have not written for this many issues "
           "(0: never).", _not_negative),
    Option("web.ai_training", bool, False,
           "May the contributors' words be used to train AI models? Stated in robots.txt, "
           "ai.txt and each page's meta tags."),
    Option("web.confirm_hours", int, 48, "How long a subscription confirmation link works.",
           _positive),
    Option("web.client_limit", int, 10,
           "Subscribe requests one client (IP address) may make per hour.", _positive),
    Option("web.address_limit", int, 3,
           "Confirmation emails one address may be sent per day.", _positive),
    Option("web.welcome", bool, True,
           "After a reader confirms, email them a short welcome with a link to the latest "
           "published issue (false: no welcome email)."),
    Option("subscribers.database", str, "subscribers.sqlite3",
           "Subscribers and the send ledger: a SQLite file relative to the root, or a "
           "PostgreSQL URL postgresql://USER@HOST:PORT/DBNAME (no password).", database_problem),
    Option("subscribers.password_env", str, DEFAULT_PASSWORD_ENV,
           "Environment variable holding the PostgreSQL password (unset: none, or libpq's "
           "PGPASSWORD or ~/.pgpass).", _env_name),
    Option("delivery.smtp_url", str, None,
           "smtp://HOST:PORT (plain, for a local relay), smtp+starttls://HOST:587 or "
           "smtps://HOST:465; without it, messages go to the outbox folder.", smtp_url_problem),
    Option("delivery.outbox", str, "outbox", "Folder of .eml files when there is no SMTP URL.",
           _check_folder),
    Option("delivery.username_env", str, "NEWSLETTER_SMTP_USERNAME",
           "Environment variable holding the SMTP login name (unset: no login).", _env_name),
    Option("delivery.password_env", str, "NEWSLETTER_SMTP_PASSWORD",
           "Environment variable holding the SMTP password.", _env_name),
    Option("delivery.token_secret_env", str, "NEWSLETTER_TOKEN_SECRET",
           "Environment variable holding the key that signs unsubscribe tokens.", _env_name),
    Option("delivery.rate", int, 0, "Messages per second at most (0: no limit).",
           _not_negative),
    Option("delivery.connections", int, 1, "Parallel SMTP connections.", _positive),
    Option("delivery.retries", int, 5,
           "Tries for a message that gets a temporary (4xx) reply.", _positive),
    Option("delivery.unsubscribe_url", str, None,
           "One-click unsubscribe endpoint (default: <base_url>/unsubscribe).", _check_url),
    Option("delivery.unsubscribe_mailto", str, None,
           "Address for mailto: unsubscribe requests in List-Unsubscribe.", _check_address),
    Option("delivery.dkim_key", str, None,
           "Path of the PEM private key for DKIM signing (with dkim_selector)."),
    Option("delivery.dkim_selector", str, None, "DKIM selector, e.g. 'news2026'.", _nonempty),
    Option("delivery.return_path", str, None,
           "Envelope sender of the issues, where delivery reports go (default: the sender's "
           "address).", _check_bare_address),
    Option("delivery.verp", bool, False,
           "Give each recipient their own return path, return_path's local part plus a signed "
           "tag (bounces+TAG@…), so a report names its reader even when its body does not."),
    Option("delivery.soft_bounce_limit", int, 3,
           "Temporary failures within soft_bounce_days that mark a reader bounced.", _positive),
    Option("delivery.soft_bounce_days", int, 30,
           "The window, in days, in which temporary failures are counted.", _positive),
    Option("delivery.imap_url", str, None,
           "The mailbox of delivery reports that 'newsletter bounces' reads when given no "
           "path: imaps://HOST:993/MAILBOX (or imap+starttls://, imap://).", imap_url_problem),
    Option("delivery.imap_username_env", str, "NEWSLETTER_IMAP_USERNAME",
           "Environment variable holding the IMAP login name.", _env_name),
    Option("delivery.imap_password_env", str, "NEWSLETTER_IMAP_PASSWORD",
           "Environment variable holding the IMAP password.", _env_name),
)
BY_KEY = {option.key: option for option in OPTIONS}
TABLES = {key.split(".")[0] for key in BY_KEY if "." in key}
