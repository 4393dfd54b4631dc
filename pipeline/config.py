"""``newsletter.toml``: one declared table of options, validated on load.

Every problem is reported at once as ``newsletter.toml:LINE: message``; unknown keys are rejected
with a suggestion. The result is a frozen :class:`Config`.
"""

from __future__ import annotations

import difflib
import hashlib
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from .addresses import Addresses
from .databases import Database, is_url
from .engines import DEFAULT as DEFAULT_MARKDOWN
from .engines import GFM, PYTHON_MARKDOWN, MarkdownOptions
from .errors import ContentError, Problems, did_you_mean
from .options import (
    BY_KEY,
    OPTIONS,
    REQUIRED,
    TABLES,
    address_of,
    check_extensions,
    control_character,
)
from .seasons import Naming

CONFIG_NAME = "newsletter.toml"


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


_HEADER_RE = re.compile(r"^\s*\[\s*([A-Za-z0-9_.\-\" ]+?)\s*\]\s*(#.*)?$")
_KEY_RE = re.compile(r"^\s*([A-Za-z0-9_\-\"'. ]+?)\s*=")


def key_lines(text: str) -> dict[str, int]:
    """Map each dotted key of a TOML document to the line it is set on (for messages)."""
    return {key: line for key, (line, _) in key_places(text).items()}


def key_places(text: str) -> dict[str, tuple[int, int]]:
    """Map each dotted key (and table) of a TOML document to the line and column (1-based) it
    is written at.

    This only locates keys for error messages; the document itself is parsed by tomllib.
    """
    places: dict[str, tuple[int, int]] = {}
    table = ""
    for number, line in enumerate(text.splitlines(), start=1):
        header = _HEADER_RE.match(line)
        if header:
            table = header[1].replace('"', "").replace(" ", "")
            places.setdefault(table, (number, line.index("[") + 1))
            continue
        key = _KEY_RE.match(line)
        if key:
            name = key[1].replace('"', "").replace("'", "").replace(" ", "")
            places.setdefault(f"{table}.{name}" if table else name, (number, key.start(1) + 1))
    return places


def read_toml(path: Path, problems: Problems, raw: bytes | None = None,
              ) -> tuple[dict[str, Any], dict[str, int], dict[str, int]] | None:
    """A TOML file's data, the line of each key and its column (from ``raw``, its bytes, when
    they have been read already), or None with the problem recorded."""
    try:
        text = (path.read_bytes() if raw is None else raw).decode("utf-8-sig")
    except OSError as exc:
        problems.error(path, None, f"cannot read the file: {exc.strerror or exc}")
        return None
    except UnicodeDecodeError as exc:
        problems.error(path, None, f"not UTF-8 text ({exc.reason}); save the file as UTF-8")
        return None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        match = re.search(r"line (\d+)(?:, column (\d+))?", str(exc))
        problems.error(path, int(match[1]) if match else None, f"TOML syntax error: {exc}",
                       column=int(match[2]) if match and match[2] else None)
        return None
    places = key_places(text)
    return (data, {key: line for key, (line, _) in places.items()},
            {key: column for key, (_, column) in places.items()})


def _option_problem(key: str, value: Any, addresses: Addresses) -> str | None:
    """What is wrong with ``key = value`` of newsletter.toml (a flat, dotted key), or None."""
    option = BY_KEY.get(key)
    if option is None:
        if isinstance(value, dict):  # a table: [remnd] for [remind]
            close = difflib.get_close_matches(key, sorted(TABLES), n=1, cutoff=0.6)
            hint = f" — did you mean [{close[0]}]?" if close else ""
            return (f"unknown table [{key}]{hint}; the tables are: "
                    f"{', '.join(f'[{t}]' for t in sorted(TABLES))}")
        return f"unknown key '{key}'{did_you_mean(key, BY_KEY)}"
    if option.kind is int and (isinstance(value, bool) or not isinstance(value, int)):
        return f"'{key}' must be a whole number, not {value!r}"
    if not isinstance(value, option.kind):
        kind = {str: "text in quotes", bool: "true or false"}.get(
            option.kind, 'a list like ["a", "b"]')
        return f"'{key}' must be {kind}, not {value!r}"
    control = control_character(value)
    if control:
        return (f"'{key}' has a control character ({control}): write it on one line, without "
                "control characters (line breaks, tabs)")
    message = option.check(value) if option.check else None
    if message is None and option.address and isinstance(value, str):
        address = address_of(value)
        if (why := addresses.problem(address)) is not None:
            message = f"'{address}' is not a valid email address: {why}"
    return f"'{key}' {message}" if message else None


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
    data, lines, columns = parsed
    flat: dict[str, Any] = {}
    for key, value in data.items():
        if key in TABLES and isinstance(value, dict):
            for sub, subvalue in value.items():
                flat[f"{key}.{sub}"] = subvalue
        else:
            flat[key] = value

    values: dict[str, Any] = {}
    addresses = Addresses(root)
    for key, value in flat.items():
        problem = _option_problem(key, value, addresses)
        if problem is None:
            values[key] = value
        else:
            problems.error(path, lines.get(key), problem, column=columns.get(key))
    addresses.save()
    for option in OPTIONS:
        if option.default is REQUIRED and option.key not in flat:
            problems.error(path, None, f"missing required key '{option.key}': {option.help}")
    if ("delivery.dkim_key" in values) != ("delivery.dkim_selector" in values):
        given = "delivery.dkim_key" if "delivery.dkim_key" in lines else "delivery.dkim_selector"
        problems.error(path, lines.get(given),
                       "DKIM needs both 'dkim_key' and 'dkim_selector' in [delivery]",
                       column=columns.get(given))
    extensions: tuple[tuple[str, str], ...] | None = None
    if "markdown.extensions" in values:
        line = lines.get("markdown.extensions")
        if values.get("markdown.flavour", GFM) != PYTHON_MARKDOWN:
            problems.error(path, line, "'markdown.extensions' applies to the python-markdown "
                           "flavour only; set flavour = \"python-markdown\" or remove the key "
                           "(GitHub Flavored Markdown has its extensions built in)")
        else:
            checked = check_extensions(values["markdown.extensions"])
            if isinstance(checked, str):
                problems.error(path, line, f"'markdown.extensions' {checked}")
            else:
                extensions = checked
    problems.raise_if_errors()

    def get(key: str) -> Any:
        return values.get(key, BY_KEY[key].default)

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
