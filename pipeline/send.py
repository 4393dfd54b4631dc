"""``newsletter send``: check, build, personalise and deliver an issue, resumably.

The issue is rebuilt with strict checks first (an email cannot be recalled); then every active
subscriber gets one message through the ledger (:mod:`pipeline.delivery`). Before the issue's
moment a send is refused unless ``early`` (:mod:`pipeline.publication`); ``confirm`` is asked
how many people are about to be mailed before the first message leaves. ``--test-to`` sends
one copy to each address given, its subject marked ``[TEST]``, and ``--dry-run`` builds every
message and sends nothing; neither touches the ledger, the site or the publication record,
and both work on the preview before the moment.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from email.utils import parseaddr
from pathlib import Path
from urllib.parse import urlsplit

from .analysis import delivery_email
from .build import build_issue
from .config import Config, load_config
from .content import resolve_issue
from .databases import Database
from .delivery import Progress, RateLimiter, run_send
from .errors import PipelineError, UsageError
from .messages import Dkim, IssueMessage, Recipient
from .model import Issue
from .publication import when
from .render import unsubscribe_marker
from .store import Store, StoreError, open_store
from .subscribers import AddressError, normalise
from .tokens import Tokens, secret_from_env, unsubscribe_link
from .transports import OutboxTransport, SmtpSettings, SmtpTransport, Transport

#: Energy model for the summary: the Sustainable Web Design model (v3, 2022) estimates
#: 0.81 kWh per GB transferred (data centres, networks and devices together), and the
#: global average grid intensity it uses is 442 g CO2e per kWh.
KWH_PER_GB = 0.81
GRAMS_CO2E_PER_KWH = 442.0
ENERGY_MODEL = ("Sustainable Web Design model v3 (sustainablewebdesign.org): 0.81 kWh/GB, "
                "442 g CO2e/kWh")


#: An issue's email for delivery: its HTML, its plain text, and the marker of the place of
#: each subscriber's unsubscribe link in both.
Email = tuple[str, str, str]


@dataclass(frozen=True)
class SendOptions:
    issue: str
    smtp_url: str | None = None
    outbox: Path | None = None
    rate: float | None = None
    connections: int | None = None
    test_to: tuple[str, ...] = ()
    dry_run: bool = False
    db: Database | None = None
    early: bool = False  # send (and so publish) before the issue's moment


class NotYet(PipelineError):
    """The issue's moment has not come, and nobody said --early."""


class NoSubscribers(PipelineError):
    """A send that has no one to go to."""


class NotConfirmed(PipelineError):
    """The editor answered no (or nothing) to the question before mailing."""

#: ``confirm(issue, recipients)``: may the send mail this many people now?
Confirm = Callable[[Issue, int], bool]
TEST_MARK = "[TEST] "


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
    #: The bytes of the images the email loads: each reader who opens it downloads them.
    image_weight: int = 0

    @property
    def opened_size(self) -> int:
        """The bytes delivered, plus the images if every recipient sent it opens it."""
        return self.size + self.sent * self.image_weight

    @property
    def kwh(self) -> float:
        return self.opened_size / 1e9 * KWH_PER_GB

    @property
    def grams_co2e(self) -> float:
        return self.kwh * GRAMS_CO2E_PER_KWH


def send_issue(
    root: Path, options: SendOptions, now: Callable[[], datetime],
    monotonic: Callable[[], float], environ: dict[str, str] | None = None,
    on_progress: Callable[[Progress, int], None] | None = None,
    confirm: Confirm | None = None,
) -> SendReport:
    """Send (or test, or dry-run) one issue; see the module docstring."""
    env = dict(os.environ) if environ is None else environ
    config = load_config(root)
    full = not options.test_to and not options.dry_run
    at = now()
    result = build_issue(config, resolve_issue(options.issue, config), at, strict=True,
                         early=full and options.early)
    issue = result.issues[0]
    if full and result.preview:
        raise NotYet(f"{issue.issue_id} is not published yet: its moment is "
                     f"{when(issue.moment, at, config.time_zone)}, so nothing was sent. Run "
                     f"'newsletter publish {issue.issue_id} --wait' to publish and send it "
                     "then, or pass --early to send it now")
    # Rendered again with a marker no author can know: the built files mark the link with
    # a fixed placeholder, which a piece could contain to be sent each reader's own link.
    marker = unsubscribe_marker()
    html, text = delivery_email(config, issue, marker)
    email = (html, text, marker)
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
            return _test_send(config, options, issue, email, tokens, now, env, started,
                              monotonic)
        if options.dry_run:
            return _dry_run(config, store, issue, email, tokens, now, started, monotonic)
        message = _message(config, issue, html, text, tokens, now(), str(issue.issue_id),
                           marker)
        message.build(Recipient(0, "check@example.org"))  # fails here, before the ledger
        transports, label = transports_for(config, options, env)
        with store.send_lock(str(issue.issue_id), now) as lease:
            if store.has_send(str(issue.issue_id)):
                send_id, _ = store.begin_send(str(issue.issue_id), now())  # the same send
                counts = store.summary(send_id).counts
                waiting = sum(counts.get(s, 0) for s in ("pending", "sending", "deferred"))
            else:
                waiting = store.count("active")
                if waiting == 0:
                    raise NoSubscribers("there are no active subscribers: nothing to send "
                                        "(add some with 'newsletter subscribers add' or "
                                        "'import')")
            if waiting and confirm is not None and not confirm(issue, waiting):
                raise NotConfirmed(f"{issue.issue_id} was not sent: the answer was not yes")
            send_id, _ = store.begin_send(str(issue.issue_id), now())
            store.requeue(send_id, now())
            # Dated when the send first started, so a message re-sent on resume is identical.
            message = _message(config, issue, html, text, tokens, store.send_started(send_id),
                               str(issue.issue_id), marker)
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
                              progress, result.image_weights.get(str(issue.issue_id), 0))
    except StoreError as exc:
        if sending:
            raise StoreError(f"{exc}; the send stopped: what was sent before is recorded, and "
                             "the same command resumes it once the database is repaired") \
                from None
        raise StoreError(f"{exc}; nothing was sent") from None
    finally:
        store.close()


def _message(config: Config, issue: Issue, html: str, text: str, tokens: Tokens,
             date: datetime, key: str, marker: str, mark: str = "") -> IssueMessage:
    d = config.delivery
    dkim = None
    if d.dkim_key and d.dkim_selector:
        domain = config.sender.rsplit("@", 1)[-1].rstrip(">").strip()
        dkim = Dkim.load(d.dkim_key, d.dkim_selector, domain)

    def unsubscribe_url(recipient: Recipient) -> str:
        return unsubscribe_link(d.unsubscribe_url,
                                tokens.unsubscribe(recipient.subscriber_id, recipient.email))

    return IssueMessage(
        sender=config.sender, subject=mark + issue.full_title, list_name=config.title,
        list_id_domain=urlsplit(config.base_url).hostname or "localhost",
        html=html, text=text, date=date, message_key=key, unsubscribe_url=unsubscribe_url,
        unsubscribe_mailto=d.unsubscribe_mailto, dkim=dkim, placeholder=marker,
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


def _test_send(config: Config, options: SendOptions, issue: Issue, email: Email,
               tokens: Tokens, now: Callable[[], datetime], env: dict[str, str],
               started: float, monotonic: Callable[[], float]) -> SendReport:
    addresses = []
    for given in options.test_to:
        try:
            addresses.append(normalise(given))
        except AddressError as exc:
            raise UsageError(f"--test-to {given}: {exc}") from None
    message = _message(config, issue, *email[:2], tokens, now(), f"{issue.issue_id}.test."
                       f"{int(now().timestamp())}", email[2], mark=TEST_MARK)
    transports, label = transports_for(config, options, env, count=1)
    progress = Progress()
    try:
        for number, address in enumerate(dict.fromkeys(addresses), start=1):
            message_id, data = message.build(Recipient(-number, address))
            transports[0].send(parseaddr(config.sender)[1], address, message_id, data)
            progress.done += 1
            progress.sent += 1
            progress.size += len(data)
    finally:
        for transport in transports:
            transport.close()
    return SendReport(issue, "test", label, progress.done, progress.sent, 0, 0, 0,
                      progress.size, monotonic() - started, progress)


def _dry_run(config: Config, store: Store, issue: Issue, email: Email, tokens: Tokens,
             now: Callable[[], datetime], started: float, monotonic: Callable[[], float],
             ) -> SendReport:
    message = _message(config, issue, *email[:2], tokens, now(), f"{issue.issue_id}.dry-run",
                       email[2])
    progress = Progress()
    for subscriber in store.subscribers("active"):
        _, data = message.build(Recipient(subscriber.id, subscriber.email, subscriber.name))
        progress.done += 1
        progress.size += len(data)
    return SendReport(issue, "dry-run", "none", progress.done, 0, 0, 0, 0, progress.size,
                      monotonic() - started, progress)
