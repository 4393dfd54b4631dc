"""``newsletter bounces``: delivery reports that arrive after the relay has said 250.

A report is read from an mbox file, a Maildir folder (or one message file) or an IMAP mailbox
(read only: nothing is marked, moved or deleted there), here, and classified by
:mod:`pipeline.bounce_reports` (a complaint, a permanent or temporary failure, or nothing to act
on).

Each report is attributed to subscribers by, in this order of trust:

1. the address it was sent to, when that is a recipient's own return path (``delivery.verp``:
   ``bounces+ID-DIGEST@…``, a signed tag), so a report whose body a provider rewrote still
   names its reader;
2. the signed unsubscribe token in the original message's ``List-Unsubscribe`` header, when
   the report includes the original's headers;
3. the original's ``Message-ID`` (``<ISSUE.ID@domain>``), when ``ISSUE`` is a send of ours and
   the subscriber was one of its recipients;
4. the failed addresses the report names, when one is a subscriber's.

A report that names no subscriber this way is listed, never guessed. What a report says is
recorded per report and subscriber (:meth:`pipeline.store.sql.SqlStore.record_findings`), so the
same report read twice changes nothing.
"""

from __future__ import annotations

import contextlib
import imaplib
import mailbox
import re
import ssl
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from urllib.parse import unquote, urlsplit

from .bounce_reports import Report, parse_report
from .errors import PipelineError, UsageError
from .options import IMAP_SCHEMES
from .store import Finding, Recorded, Store
from .subscribers import AddressError, normalise
from .tokens import TokenError, Tokens, address_digest

_UNSUBSCRIBE_TOKEN = re.compile(r"[?&]token=([A-Za-z0-9_.\-]+)")


@dataclass(frozen=True)
class Verdict:
    """A report and what was done with it."""

    report: Report
    recorded: tuple[Recorded, ...] = ()
    unattributed: bool = False


@dataclass
class BounceSummary:
    verdicts: list[Verdict] = field(default_factory=list)

    def count(self, kind: str) -> int:
        return sum(1 for v in self.verdicts if v.report.kind == kind and not v.unattributed)

    @property
    def unattributed(self) -> list[Verdict]:
        return [v for v in self.verdicts if v.unattributed]

    @property
    def changed(self) -> list[Recorded]:
        return [r for v in self.verdicts for r in v.recorded if r.changed]

    @property
    def seen_before(self) -> int:
        return sum(1 for v in self.verdicts for r in v.recorded if not r.new)


# ---------------------------------------------------------------------- reading


def read_messages(path: Path) -> Iterator[tuple[str, bytes]]:
    """(where, bytes) of every message in an mbox file, a Maildir folder (``cur``, ``new``
    and ``tmp``) or one message file, in a stable order."""
    if path.is_dir():
        if not all((path / sub).is_dir() for sub in ("cur", "new", "tmp")):
            raise UsageError(f"{path}: a folder that is not a Maildir (it needs cur/, new/ and "
                             "tmp/); give a Maildir folder or an mbox file")
        box = mailbox.Maildir(path, create=False)
        for key in sorted(box.keys()):
            with box.get_file(key) as handle:
                yield f"{path}/{key}", handle.read()
        return
    if not path.is_file():
        raise UsageError(f"{path}: no such file or folder")
    with open(path, "rb") as handle:
        start = handle.read(5)
    if start != b"From ":
        yield str(path), path.read_bytes()  # one message
        return
    box_file = mailbox.mbox(path, create=False)
    try:
        for number, key in enumerate(box_file.keys(), start=1):
            yield f"{path}#{number}", box_file.get_bytes(key)
    finally:
        box_file.close()


def read_imap(url: str, username: str, password: str,
              timeout: float = 30.0) -> Iterator[tuple[str, bytes]]:
    """(where, bytes) of every message in the IMAP mailbox ``url`` names (INBOX when it
    names none), in UID order. The mailbox is opened read-only (EXAMINE), so nothing there
    changes: reading a report again is harmless, as its key is recorded."""
    parts = urlsplit(url)
    host, mailbox_name = parts.hostname or "", unquote(parts.path.strip("/")) or "INBOX"
    port = parts.port or IMAP_SCHEMES[parts.scheme]
    where = f"{parts.scheme}://{host}:{port}/{mailbox_name}"
    try:
        client: imaplib.IMAP4
        if parts.scheme == "imaps":
            client = imaplib.IMAP4_SSL(host, port, ssl_context=ssl.create_default_context(),
                                       timeout=timeout)
        else:
            client = imaplib.IMAP4(host, port, timeout=timeout)
            if parts.scheme == "imap+starttls":
                client.starttls(ssl.create_default_context())
    except (OSError, imaplib.IMAP4.error) as exc:
        raise PipelineError(f"cannot connect to the IMAP server {host}:{port}: {exc}; check "
                            "the URL and that the server accepts connections from here") from None
    try:
        try:
            client.login(username, password)
        except imaplib.IMAP4.error as exc:
            raise PipelineError(f"the IMAP server {host}:{port} refused the login: "
                                f"{_imap_text(exc)}; check the user name and password in the "
                                "environment variables delivery.imap_username_env and "
                                "imap_password_env name") from None
        status, data = client.select(_quote(mailbox_name), readonly=True)
        if status != "OK":
            raise PipelineError(f"{where}: cannot open the mailbox: "
                                f"{_imap_text(data)}") from None
        status, data = client.uid("SEARCH", "ALL")
        uids = data[0].split() if status == "OK" and data and data[0] else []
        for uid in (u.decode() for u in uids):
            status, fetched = client.uid("FETCH", uid, "(BODY.PEEK[])")
            for item in fetched if status == "OK" else []:
                if isinstance(item, tuple) and len(item) == 2:
                    yield f"{where};UID={uid}", bytes(item[1])
    except (OSError, imaplib.IMAP4.abort) as exc:
        raise PipelineError(f"the IMAP server {host}:{port} failed: {exc}") from None
    finally:
        with contextlib.suppress(OSError, imaplib.IMAP4.error):
            client.logout()


def _quote(name: str) -> str:
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _imap_text(value: object) -> str:
    if isinstance(value, list):
        value = b" ".join(v for v in value if isinstance(v, bytes))
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


# ---------------------------------------------------------------------- attribution


@dataclass(frozen=True)
class Attribution:
    """How reports are matched to subscribers: the store, the signing key, our return path."""

    store: Store
    tokens: Tokens
    domain: str  # the domain of our Message-IDs (the sender's)
    return_path: str  # the envelope sender, whose "+TAG" form is a VERP address

    def subscribers(self, report: Report) -> list[tuple[int, str]]:
        """(subscriber id, how it was found) for each subscriber the report is about."""
        found = self._verp(report) or self._token(report) or self._message_id(report)
        if found:
            return [found]
        matched: list[tuple[int, str]] = []
        for address in report.failed:
            try:
                person = self.store.get(normalise(address))
            except AddressError:
                continue
            if person is not None and all(person.id != m[0] for m in matched):
                matched.append((person.id, f"the failed address {address}"))
        return matched

    def _verp(self, report: Report) -> tuple[int, str] | None:
        local, _, domain = self.return_path.lower().rpartition("@")
        for address in report.delivered_to:
            box, _, where = address.rpartition("@")
            if where != domain or not box.startswith(f"{local}+"):
                continue
            try:
                subscriber_id = self.tokens.check_verp_tag(
                    box[len(local) + 1:], lambda i: _email(self.store, i))
            except TokenError:
                continue
            return subscriber_id, f"the VERP address {address}"
        return None

    def _token(self, report: Report) -> tuple[int, str] | None:
        header = str(report.original.get("List-Unsubscribe") or "") if report.original else ""
        for token in _UNSUBSCRIBE_TOKEN.findall(header):
            try:
                subscriber_id, digest = self.tokens.check_unsubscribe(token)
            except TokenError:
                continue
            person = self.store.get_by_id(subscriber_id)
            if person is not None and address_digest(person.email) == digest:
                return subscriber_id, "the unsubscribe token of the original message"
        return None

    def _message_id(self, report: Report) -> tuple[int, str] | None:
        value = str(report.original.get("Message-ID") or "") if report.original else ""
        found = re.fullmatch(r"\s*<(?P<key>[^<>@]+)\.(?P<id>\d{1,18})@(?P<domain>[^<>@]+)>\s*",
                             value)
        if not found or found["domain"].lower() != self.domain.lower():
            return None
        subscriber_id = int(found["id"])
        if not self.store.was_sent(found["key"], subscriber_id):
            return None
        return subscriber_id, f"the original Message-ID {value.strip()}"


def _email(store: Store, subscriber_id: int) -> str | None:
    person = store.get_by_id(subscriber_id)
    return person.email if person else None


def process(messages: Iterable[tuple[str, bytes]], attribution: Attribution, *,
            now: datetime, soft_limit: int, soft_days: int, dry_run: bool) -> BounceSummary:
    """Classify, attribute and record every report of ``messages`` ((where, bytes) pairs, as
    :func:`read_messages` and :func:`read_imap` give them), in one transaction (rolled back
    with ``dry_run``)."""
    read: list[tuple[Report, list[tuple[int, str]]]] = []
    for source, data in messages:
        report = parse_report(source, data, now)
        found = [] if report.kind == "ignored" else attribution.subscribers(report)
        read.append((report, found))
    findings = [Finding(f"{report.key} {subscriber_id}", subscriber_id, report.kind,
                        report.at, f"{report.detail}; found by {how}")
                for report, found in read if report.kind != "ignored"
                for subscriber_id, how in found]
    findings.sort(key=lambda finding: finding.at)  # in the order the failures happened
    recorded = attribution.store.record_findings(findings, soft_limit=soft_limit,
                                                 soft_days=soft_days, dry_run=dry_run)
    by_key = {r.finding.key: r for r in recorded}
    summary = BounceSummary()
    for report, found in read:
        done = tuple(by_key[f"{report.key} {subscriber_id}"] for subscriber_id, _ in found)
        summary.verdicts.append(Verdict(report, done,
                                        unattributed=report.kind != "ignored" and not found))
    return summary
