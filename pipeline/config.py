"""``newsletter.toml``: one declared table of options, validated on load.

Every problem is reported at once as ``newsletter.toml:LINE: message``; unknown keys are rejected
with a suggestion. The result is a frozen :class:`Config`.
"""

from __future__ import annotations

import hashlib
import json
import re
import tomllib
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from email_validator import EmailNotValidError, validate_email

from .databases import DEFAULT_PASSWORD_ENV, Database, database_problem, is_url
from .engines import DEFAULT as DEFAULT_MARKDOWN
from .engines import FLAVOURS, GFM, PYTHON_MARKDOWN, MarkdownOptions, extension_problem
from .errors import ContentError, Problems, did_you_mean
from .seasons import NAMINGS, Naming

CONFIG_NAME = "newsletter.toml"
_LANG_RE = re.compile(r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$")


@dataclass(frozen=True)
class Delivery:
    """How email reaches subscribers: ``[subscribers]`` and ``[delivery]`` of newsletter.toml.

    Secrets are never here: only the names of the environment variables that hold them.
    """

    database: Database  # a SQLite file, or a postgresql:// URL
    database_password_env: str
    smtp_url: str | None
    outbox: Path
    username_env: str
    password_env: str
    token_secret_env: str
    rate: float
    connections: int
    retries: int
    unsubscribe_url: str
    unsubscribe_mailto: str | None
    dkim_key: Path | None
    dkim_selector: str | None
    return_path: str | None = None  # the envelope sender of issues (bounces go there)
    verp: bool = False  # a signed tag per recipient in return_path's local part
    soft_bounce_limit: int = 3
    soft_bounce_days: int = 30
    imap_url: str | None = None  # the mailbox 'newsletter bounces' reads by default
    imap_username_env: str = "NEWSLETTER_IMAP_USERNAME"
    imap_password_env: str = "NEWSLETTER_IMAP_PASSWORD"


@dataclass(frozen=True)
class Workflow:
    """The editorial workflow: ``[check]`` and ``[gather]`` of newsletter.toml."""

    disabled_rules: tuple[str, ...]
    require_review: bool
    word_limit: int
    gather_feeds: tuple[str, ...]
    gather_timeout: int
    gather_allow_private: bool = False
    call_address: str | None = None  # where call-for-pieces --send writes
    remind_silent_issues: int = 0  # remind teams silent for this many issues (0: never)


@dataclass(frozen=True)
class Web:
    """The subscription web app (``newsletter serve``): ``[web]`` of newsletter.toml."""

    ai_training: bool
    confirm_hours: int
    client_limit: int
    address_limit: int
    welcome: bool = True  # a welcome email after a reader confirms

    @property
    def confirm_seconds(self) -> int:
        return self.confirm_hours * 3600


@dataclass(frozen=True)
class Config:
    """The validated configuration of one newsletter root."""

    root: Path
    title: str
    description: str
    base_url: str
    language: str
    time_zone: ZoneInfo
    sections: tuple[str, ...]
    season_names: Naming
    submission_lead_days: int
    output_dir: Path
    sender: str
    editors_address: str | None
    size_budget_kb: int
    image_budget_kb: int
    feed_issues: int
    delivery: Delivery
    workflow: Workflow
    web: Web
    markdown: MarkdownOptions = DEFAULT_MARKDOWN
    email_overflow: str = "teasers"  # or "refuse"
    tagline: str = ""
    colophon: str = ""
    #: The SHA-256 of the bytes of newsletter.toml this configuration was parsed from: what
    #: the render cache's keys include of it, so the file is read once per command.
    digest: str = ""
    max_piece_kb: int = 1024

    @property
    def max_piece_bytes(self) -> int:
        """The largest piece (or issue.md) that is read; a bigger one is refused unread."""
        return self.max_piece_kb * 1024

    @property
    def issues_dir(self) -> Path:
        return self.root / "issues"

    @property
    def feeds_dir(self) -> Path:
        return self.root / "feeds"

    @property
    def templates_dir(self) -> Path:
        return self.root / "templates"

    def issue_url(self, issue_id: object) -> str:
        return f"{self.base_url}/{issue_id}/"

    def feed_url(self, name: str) -> str:
        return f"{self.base_url}/feeds/{name}"


@dataclass(frozen=True)
class Option:
    """One key of ``newsletter.toml``: its type, default and what it is for."""

    key: str
    kind: type
    default: Any
    help: str
    check: Callable[[Any], str | None] | None = None


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


def _check_address(value: str) -> str | None:
    if any(not ch.isprintable() for ch in value):
        return "must be on one line, without control characters"
    address = value.rsplit("<", 1)[-1].rstrip(">").strip()
    try:
        validate_email(address, check_deliverability=False)
    except EmailNotValidError as exc:
        return f"'{address}' is not a valid email address: {exc}"
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


def _extensions(value: list[Any]) -> tuple[tuple[str, str], ...] | str:
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


def _control_character(value: Any) -> str | None:
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
_BY_KEY = {option.key: option for option in OPTIONS}
_TABLES = {key.split(".")[0] for key in _BY_KEY if "." in key}

_HEADER_RE = re.compile(r"^\s*\[\s*([A-Za-z0-9_.\-\" ]+?)\s*\]\s*(#.*)?$")
_KEY_RE = re.compile(r"^\s*([A-Za-z0-9_\-\"'. ]+?)\s*=")


def key_lines(text: str) -> dict[str, int]:
    """Map each dotted key of a TOML document to the line it is set on (for messages).

    This only locates lines for error messages; the document itself is parsed by tomllib.
    """
    lines: dict[str, int] = {}
    table = ""
    for number, line in enumerate(text.splitlines(), start=1):
        header = _HEADER_RE.match(line)
        if header:
            table = header[1].replace('"', "").replace(" ", "")
            lines.setdefault(table, number)
            continue
        key = _KEY_RE.match(line)
        if key:
            name = key[1].replace('"', "").replace("'", "").replace(" ", "")
            lines.setdefault(f"{table}.{name}" if table else name, number)
    return lines


def read_toml(path: Path, problems: Problems,
              raw: bytes | None = None) -> tuple[dict[str, Any], dict[str, int]] | None:
    """A TOML file's data and the line of each key (from ``raw``, its bytes, when they have
    been read already), or None with the problem recorded."""
    try:
        text = (path.read_bytes() if raw is None else raw).decode("utf-8-sig")
    except OSError as exc:
        problems.error(path, None, f"cannot read the file: {exc.strerror or exc}")
        return None
    except UnicodeDecodeError as exc:
        problems.error(path, None, f"not UTF-8 text ({exc.reason}); save the file as UTF-8")
        return None
    try:
        return tomllib.loads(text), key_lines(text)
    except tomllib.TOMLDecodeError as exc:
        match = re.search(r"line (\d+)", str(exc))
        problems.error(path, int(match[1]) if match else None, f"TOML syntax error: {exc}")
        return None


def load_config(root: Path) -> Config:
    """Read and validate ``<root>/newsletter.toml``; raise ContentError with every problem."""
    path = root / CONFIG_NAME
    problems = Problems()
    if not path.exists():
        problems.error(path, None, f"no {CONFIG_NAME} here: is {root} a newsletter root? "
                       "Pass --root DIR or run the command inside the newsletter's folder; "
                       "to start a new newsletter here, run newsletter init")
    raw = None
    if path.exists():
        try:
            raw = path.read_bytes()  # read once: parsed, and hashed for the render cache
        except OSError as exc:
            problems.error(path, None, f"cannot read the file: {exc.strerror or exc}")
    parsed = read_toml(path, problems, raw) if raw is not None else None
    if parsed is None or raw is None:
        raise ContentError(problems.items)
    data, lines = parsed
    flat: dict[str, Any] = {}
    for key, value in data.items():
        if key in _TABLES and isinstance(value, dict):
            for sub, subvalue in value.items():
                flat[f"{key}.{sub}"] = subvalue
        else:
            flat[key] = value

    values: dict[str, Any] = {}
    for key, value in flat.items():
        line = lines.get(key)
        option = _BY_KEY.get(key)
        if option is None:
            problems.error(path, line, f"unknown key '{key}'{did_you_mean(key, _BY_KEY)}")
            continue
        if option.kind is int and (isinstance(value, bool) or not isinstance(value, int)):
            problems.error(path, line, f"'{key}' must be a whole number, not {value!r}")
            continue
        if not isinstance(value, option.kind):
            kind = {str: "text in quotes", bool: "true or false"}.get(
                option.kind, 'a list like ["a", "b"]')
            problems.error(path, line, f"'{key}' must be {kind}, not {value!r}")
            continue
        control = _control_character(value)
        if control:
            problems.error(path, line, f"'{key}' has a control character ({control}): write "
                           "it on one line, without control characters (line breaks, tabs)")
            continue
        message = option.check(value) if option.check else None
        if message:
            problems.error(path, line, f"'{key}' {message}")
            continue
        values[key] = value
    for option in OPTIONS:
        if option.default is REQUIRED and option.key not in flat:
            problems.error(path, None, f"missing required key '{option.key}': {option.help}")
    if ("delivery.dkim_key" in values) != ("delivery.dkim_selector" in values):
        problems.error(path, lines.get("delivery.dkim_key", lines.get("delivery.dkim_selector")),
                       "DKIM needs both 'dkim_key' and 'dkim_selector' in [delivery]")
    extensions: tuple[tuple[str, str], ...] | None = None
    if "markdown.extensions" in values:
        line = lines.get("markdown.extensions")
        if values.get("markdown.flavour", GFM) != PYTHON_MARKDOWN:
            problems.error(path, line, "'markdown.extensions' applies to the python-markdown "
                           "flavour only; set flavour = \"python-markdown\" or remove the key "
                           "(GitHub Flavored Markdown has its extensions built in)")
        else:
            checked = _extensions(values["markdown.extensions"])
            if isinstance(checked, str):
                problems.error(path, line, f"'markdown.extensions' {checked}")
            else:
                extensions = checked
    problems.raise_if_errors()

    def get(key: str) -> Any:
        return values.get(key, _BY_KEY[key].default)

    base_url = get("base_url").rstrip("/")
    dkim_key = get("delivery.dkim_key")
    database = get("subscribers.database")
    delivery = Delivery(
        database=database if is_url(database) else root / database,
        database_password_env=get("subscribers.password_env"),
        smtp_url=get("delivery.smtp_url"),
        outbox=root / get("delivery.outbox"),
        username_env=get("delivery.username_env"),
        password_env=get("delivery.password_env"),
        token_secret_env=get("delivery.token_secret_env"),
        rate=float(get("delivery.rate")),
        connections=get("delivery.connections"),
        retries=get("delivery.retries"),
        unsubscribe_url=get("delivery.unsubscribe_url") or f"{base_url}/unsubscribe",
        unsubscribe_mailto=get("delivery.unsubscribe_mailto"),
        dkim_key=root / dkim_key if dkim_key else None,
        dkim_selector=get("delivery.dkim_selector"),
        return_path=get("delivery.return_path"),
        verp=get("delivery.verp"),
        soft_bounce_limit=get("delivery.soft_bounce_limit"),
        soft_bounce_days=get("delivery.soft_bounce_days"),
        imap_url=get("delivery.imap_url"),
        imap_username_env=get("delivery.imap_username_env"),
        imap_password_env=get("delivery.imap_password_env"),
    )

    return Config(
        root=root,
        digest=hashlib.sha256(raw).hexdigest(),
        title=get("title").strip(),
        description=get("description").strip(),
        base_url=base_url,
        language=get("language"),
        time_zone=ZoneInfo(get("time_zone")),
        sections=tuple(s.strip() for s in get("sections")),
        season_names=get("season_names"),
        submission_lead_days=get("submission_lead_days"),
        output_dir=root / get("output_dir"),
        sender=get("email.sender"),
        editors_address=get("email.editors_address"),
        size_budget_kb=get("email.size_budget_kb"),
        image_budget_kb=get("email.image_budget_kb"),
        feed_issues=get("feeds.issues"),
        max_piece_kb=get("max_piece_kb"),
        delivery=delivery,
        workflow=Workflow(
            disabled_rules=tuple(get("check.disabled")),
            require_review=get("check.require_review"),
            word_limit=get("check.word_limit"),
            gather_feeds=tuple(get("gather.feeds")),
            gather_timeout=get("gather.timeout_seconds"),
            gather_allow_private=get("gather.allow_private"),
            call_address=get("email.call_address"),
            remind_silent_issues=get("remind.silent_issues"),
        ),
        web=Web(
            ai_training=get("web.ai_training"),
            confirm_hours=get("web.confirm_hours"),
            client_limit=get("web.client_limit"),
            address_limit=get("web.address_limit"),
            welcome=get("web.welcome"),
        ),
        email_overflow=get("email.overflow"),
        markdown=MarkdownOptions(get("markdown.flavour"), extensions)
        if extensions is not None else MarkdownOptions(get("markdown.flavour")),
        tagline=" ".join(get("tagline").split()),
        colophon=" ".join(get("colophon").split()),
    )
