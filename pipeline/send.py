"""``newsletter send``: check, build, personalise and deliver an issue, resumably.

The issue is rebuilt with strict checks first (an email cannot be recalled); then every active
subscriber gets one message through the ledger (:mod:`pipeline.delivery`). ``--test-to``
sends one copy and ``--dry-run`` builds every message and sends nothing; neither touches the
ledger.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from email.utils import parseaddr
from pathlib import Path
from urllib.parse import urlsplit

from .build import build_issue
from .config import Config, load_config
from .delivery import (
    OutboxTransport,
    Progress,
    RateLimiter,
    SmtpSettings,
    SmtpTransport,
    Transport,
    run_send,
)
from .errors import PipelineError, UsageError
from .messages import Dkim, IssueMessage, Recipient
from .model import Issue
from .store import Database, Store, StoreError, open_store
from .subscribers import AddressError, normalise
from .tokens import Tokens, secret_from_env

#: Energy model for the summary: the Sustainable Web Design model (v3, 2022) estimates
#: 0.81 kWh per GB transferred (data centres, networks and devices together), and the
#: global average grid intensity it uses is 442 g CO2e per kWh.
KWH_PER_GB = 0.81
GRAMS_CO2E_PER_KWH = 442.0
ENERGY_MODEL = ("Sustainable Web Design model v3 (sustainablewebdesign.org): 0.81 kWh/GB, "
                "442 g CO2e/kWh")


@dataclass(frozen=True)
class SendOptions:
    issue: str
    smtp_url: str | None = None
    outbox: Path | None = None
    rate: float | None = None
    connections: int | None = None
    test_to: str | None = None
    dry_run: bool = False
    db: Database | None = None


@dataclass(frozen=True)
class SendReport:
    issue: Issue
    mode: str  # "send", "test", "dry-run"
    transport: str
    recipients: int
    sent: int
    failed: int
    skipped: int
    deferred: int
    size: int
    seconds: float
    this_run: Progress

    @property
    def kwh(self) -> float:
        return self.size / 1e9 * KWH_PER_GB

    @property
    def grams_co2e(self) -> float:
        return self.kwh * GRAMS_CO2E_PER_KWH


def send_issue(
    root: Path, options: SendOptions, now: Callable[[], datetime],
    monotonic: Callable[[], float], environ: dict[str, str] | None = None,
    on_progress: Callable[[Progress, int], None] | None = None,
) -> SendReport:
    """Send (or test, or dry-run) one issue; see the module docstring."""
    env = dict(os.environ) if environ is None else environ
    config = load_config(root)
    result = build_issue(root, options.issue, now=now(), strict=True)
    issue = result.issues[0]
    folder = config.output_dir / str(issue.issue_id)
    html = (folder / "email.html").read_text(encoding="utf-8")
    text = (folder / "email.txt").read_text(encoding="utf-8")
    tokens = Tokens(secret_from_env(config.delivery.token_secret_env, env))
    try:
        store = open_store(options.db or config.delivery.database,
                           config.delivery.database_password_env, env)
    except StoreError as exc:
        raise StoreError(f"{exc}; nothing was sent") from None
    started = monotonic()
    sending = False
    try:
        if options.test_to:
            return _test_send(config, options, issue, html, text, tokens, now, env, started,
                              monotonic)
        if options.dry_run:
            return _dry_run(config, store, issue, html, text, tokens, now, started, monotonic)
        message = _message(config, issue, html, text, tokens, now(), str(issue.issue_id))
        message.build(Recipient(0, "check@example.org"))  # fails here, before the ledger
        transports, label = transports_for(config, options, env)
        with store.send_lock(str(issue.issue_id), now) as lease:
            if not store.has_send(str(issue.issue_id)) and store.count("active") == 0:
                raise PipelineError("there are no active subscribers: nothing to send (add "
                                    "some with 'newsletter subscribers add' or 'import')")
            send_id, _ = store.begin_send(str(issue.issue_id), now())
            store.requeue(send_id, now())
            # Dated when the send first started, so a message re-sent on resume is identical.
            message = _message(config, issue, html, text, tokens, store.send_started(send_id),
                               str(issue.issue_id))
            total = store.summary(send_id).counts
            recipients = sum(total.values())
            sending = True
            progress = run_send(
                store, send_id, message, config.sender, transports,
                retries=config.delivery.retries,
                limiter=RateLimiter(options.rate if options.rate is not None
                                    else config.delivery.rate),
                now=now,
                on_progress=(lambda p: on_progress(p, recipients)) if on_progress else None,
                lease=lease, return_path=return_path(config, tokens),
            )
            summary = store.summary(send_id)
            counts = summary.counts
            return SendReport(issue, "send", label, recipients, counts.get("sent", 0),
                              counts.get("failed", 0), counts.get("skipped", 0),
                              counts.get("deferred", 0), summary.size, monotonic() - started,
                              progress)
    except StoreError as exc:
        if sending:
            raise StoreError(f"{exc}; the send stopped: what was sent before is recorded, and "
                             "the same command resumes it once the database is repaired") \
                from None
        raise StoreError(f"{exc}; nothing was sent") from None
    finally:
        store.close()


def _message(config: Config, issue: Issue, html: str, text: str, tokens: Tokens,
             date: datetime, key: str) -> IssueMessage:
    d = config.delivery
    dkim = None
    if d.dkim_key and d.dkim_selector:
        domain = config.sender.rsplit("@", 1)[-1].rstrip(">").strip()
        dkim = Dkim.load(d.dkim_key, d.dkim_selector, domain)

    def unsubscribe_url(recipient: Recipient) -> str:
        token = tokens.unsubscribe(recipient.subscriber_id, recipient.email)
        return f"{d.unsubscribe_url}?token={token}"

    return IssueMessage(
        sender=config.sender, subject=issue.full_title, list_name=config.title,
        list_id_domain=urlsplit(config.base_url).hostname or "localhost",
        html=html, text=text, date=date, message_key=key, unsubscribe_url=unsubscribe_url,
        unsubscribe_mailto=d.unsubscribe_mailto, dkim=dkim,
    )


def return_path(config: Config, tokens: Tokens) -> Callable[[Recipient], str]:
    """Each recipient's envelope sender: ``delivery.return_path`` (default: the sender's
    address), with ``+ID-DIGEST`` (a signed VERP tag) in its local part when
    ``delivery.verp`` is set, so a delivery report names its reader by the address it is
    sent to, whatever its body says."""
    address = config.delivery.return_path or parseaddr(config.sender)[1]
    if not config.delivery.verp:
        return lambda recipient: address
    local, _, domain = address.rpartition("@")
    return lambda recipient: (f"{local}+{tokens.verp_tag(recipient.subscriber_id, recipient.email)}"
                              f"@{domain}")


def transports_for(config: Config, options: SendOptions, env: dict[str, str],
                   count: int | None = None, clean: bool = True,
                   ) -> tuple[list[Transport], str]:
    """The transports a send uses (``count`` SMTP connections, or the outbox, whose leftover
    temporary files are removed unless ``clean`` is False), and a label."""
    smtp_url = None if options.outbox else (options.smtp_url or config.delivery.smtp_url)
    if not smtp_url:
        folder = options.outbox or config.delivery.outbox
        return [OutboxTransport(folder, clean)], f"outbox {folder}"
    d = config.delivery
    username = env.get(d.username_env) or None
    password = env.get(d.password_env) or None
    if username and not password:
        raise PipelineError(f"{d.username_env} is set but {d.password_env} is not: set the "
                            "SMTP password in that environment variable")
    settings = SmtpSettings.from_url(smtp_url, username, password)
    count = count or options.connections or d.connections
    return [SmtpTransport(settings) for _ in range(count)], \
        f"{urlsplit(smtp_url).scheme}://{settings.host}:{settings.port} x{count}"


def _test_send(config: Config, options: SendOptions, issue: Issue, html: str, text: str,
               tokens: Tokens, now: Callable[[], datetime], env: dict[str, str],
               started: float, monotonic: Callable[[], float]) -> SendReport:
    try:
        address = normalise(options.test_to or "")
    except AddressError as exc:
        raise UsageError(f"--test-to {options.test_to}: {exc}") from None
    message = _message(config, issue, html, text, tokens, now(), f"{issue.issue_id}.test."
                       f"{int(now().timestamp())}")
    message_id, data = message.build(Recipient(0, address))
    transports, label = transports_for(config, options, env)
    try:
        transports[0].send(parseaddr(config.sender)[1], address, message_id, data)
    finally:
        for transport in transports:
            transport.close()
    progress = Progress(done=1, sent=1, size=len(data))
    return SendReport(issue, "test", label, 1, 1, 0, 0, 0, len(data),
                      monotonic() - started, progress)


def _dry_run(config: Config, store: Store, issue: Issue, html: str, text: str, tokens: Tokens,
             now: Callable[[], datetime], started: float, monotonic: Callable[[], float],
             ) -> SendReport:
    message = _message(config, issue, html, text, tokens, now(), f"{issue.issue_id}.dry-run")
    progress = Progress()
    for subscriber in store.subscribers("active"):
        _, data = message.build(Recipient(subscriber.id, subscriber.email, subscriber.name))
        progress.done += 1
        progress.size += len(data)
    return SendReport(issue, "dry-run", "none", progress.done, 0, 0, 0, 0, progress.size,
                      monotonic() - started, progress)
