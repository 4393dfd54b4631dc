"""Delivery reports read: one message of a mailbox parsed with the standard ``email`` package
and classified with ``flufl.bounce`` (the bounce detectors GNU Mailman uses: RFC 3464 delivery
status notifications and the many non-standard shapes mail servers send) into a
:class:`Report`: its failed recipients, permanent or temporary. An RFC 5965 (ARF) feedback
report is a complaint. Anything else (an automatic reply, a delivery report that says
"delivered") is not a failure and is ignored. What a report is applied to is
:mod:`pipeline.bounces`'s business.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass
from datetime import datetime
from email import message_from_bytes
from email.message import Message
from email.parser import HeaderParser
from email.utils import getaddresses, parsedate_to_datetime
from typing import Literal

from flufl.bounce import all_failures

# flufl.bounce logs a detector that trips over a malformed message as an exception, which
# would print a traceback for a message that is simply not a report (no From:, empty): it is
# listed as ignored instead (parse_report).
_FLUFL_LOG = logging.getLogger("flufl.bounce")
_FLUFL_LOG.addHandler(logging.NullHandler())
_FLUFL_LOG.propagate = False

Kind = Literal["permanent", "temporary", "complaint", "ignored"]


@dataclass(frozen=True)
class Report:
    """One message of the mailbox, as far as its content tells."""

    source: str  # where it was read: "bounces.mbox#3", "Maildir/new/1712.M1.host"
    key: str  # its Message-ID, else a digest of its bytes
    kind: Kind
    at: datetime
    detail: str  # a one-line summary: who reported what
    failed: tuple[str, ...] = ()  # addresses the report names as failing
    delivered_to: tuple[str, ...] = ()  # the addresses the report itself was sent to
    original: Message | None = None  # the headers of our message, when included


def parse_report(source: str, data: bytes, now: datetime) -> Report:
    """What one message says: a complaint, a permanent or temporary failure, or nothing."""
    msg = message_from_bytes(data)
    key = (msg.get("Message-ID") or "").strip() or \
        "sha256:" + hashlib.sha256(data).hexdigest()
    at = _date(msg, now)
    sender = _one_line(str(msg.get("From") or "unknown sender"))

    def report(kind: Kind, detail: str, failed: tuple[str, ...] = ()) -> Report:
        return Report(source, key, kind, at, detail, failed, _delivered_to(msg), _original(msg))

    feedback = _feedback(msg)
    if feedback is not None:
        kind = (feedback.get("Feedback-Type") or "abuse").strip().lower()
        reporter = _one_line(str(feedback.get("User-Agent") or feedback.get("Reporting-MTA")
                                 or sender))
        failed = _addresses(feedback.get_all("Original-Rcpt-To") or [])
        if kind == "not-spam":
            return report("ignored", f"a not-spam feedback report from {reporter}", failed)
        return report("complaint", f"{kind} report (ARF) from {reporter} on {at:%Y-%m-%d}",
                      failed)
    try:
        temporary, permanent = all_failures(msg)
    except Exception:  # a detector of flufl.bounce tripping over a malformed message
        # (no From:, an empty file): not a report we can read, so not one we act on.
        return report("ignored", f"a message the report readers cannot parse, from "
                                 f"{sender or 'nobody'}: "
                                 f"{_one_line(str(msg.get('Subject') or ''))[:80]}")
    if permanent:
        return report("permanent", f"permanent failure reported by {sender} on "
                                   f"{at:%Y-%m-%d}{_status(msg)}", _decoded(permanent))
    if temporary:
        return report("temporary", f"temporary failure reported by {sender} on "
                                   f"{at:%Y-%m-%d}{_status(msg)}", _decoded(temporary))
    why = "an automatic reply" if _auto_reply(msg) else "not a delivery failure"
    return report("ignored", f"{why} from {sender}: "
                             f"{_one_line(str(msg.get('Subject') or ''))[:80]}")


def _date(msg: Message, now: datetime) -> datetime:
    """When the report was made: its Date header, but never later than now."""
    try:
        moment = parsedate_to_datetime(str(msg.get("Date") or ""))
    except (TypeError, ValueError, IndexError):
        return now
    if moment.tzinfo is None:
        return now
    return min(moment, now)


def _feedback(msg: Message) -> Message | None:
    """The machine-readable part of an RFC 5965 feedback report, if this is one."""
    for part in msg.walk():
        if part.get_content_type() == "message/feedback-report":
            payload = part.get_payload()
            if isinstance(payload, list) and payload and isinstance(payload[0], Message):
                return payload[0]
            if isinstance(payload, str):
                return HeaderParser().parsestr(payload)
    return None


def _original(msg: Message) -> Message | None:
    """The headers of the message the report is about (``message/rfc822`` or
    ``text/rfc822-headers``), when the report includes them."""
    for part in msg.walk():
        kind = part.get_content_type()
        if kind == "message/rfc822":
            payload = part.get_payload()
            if isinstance(payload, list) and payload and isinstance(payload[0], Message):
                return payload[0]
        if kind == "text/rfc822-headers":
            text = part.get_payload(decode=True)
            if isinstance(text, bytes):
                return HeaderParser().parsestr(text.decode("utf-8", "replace"))
    return _inline_original(msg)


def _inline_original(msg: Message) -> Message | None:
    """Some mail servers (Exim's default bounce) quote the original after a marker line in a
    plain text body: its headers are read from there."""
    if msg.is_multipart():
        return None
    body = msg.get_payload(decode=True)
    if not isinstance(body, bytes):
        return None
    text = body.decode("utf-8", "replace")
    marker = re.search(r"^-+ This is a copy of the message.*?-+\s*$", text, re.M | re.I)
    if not marker:
        return None
    return HeaderParser().parsestr(text[marker.end():].lstrip("\r\n"))


def _delivered_to(msg: Message) -> tuple[str, ...]:
    values: list[str] = []
    for name in ("Delivered-To", "X-Original-To", "Envelope-To", "To"):
        values += [str(v) for v in msg.get_all(name) or []]
    return _addresses(values)


def _addresses(values: list[str] | list[object]) -> tuple[str, ...]:
    found: list[str] = []
    for _, address in getaddresses([str(v) for v in values]):
        address = address.strip().lower()
        if "@" in address and address not in found:
            found.append(address)
    return tuple(found)


def _decoded(addresses: frozenset[bytes]) -> tuple[str, ...]:
    return tuple(sorted(a.decode("ascii", "replace").strip().lower() for a in addresses))


def _status(msg: Message) -> str:
    """The first ``Status`` and ``Diagnostic-Code`` of a DSN, for the detail."""
    for part in msg.walk():
        if part.get_content_type() != "message/delivery-status":
            continue
        for block in part.get_payload() or []:
            if isinstance(block, Message) and block.get("Status"):
                diagnostic = _one_line(str(block.get("Diagnostic-Code") or ""))
                return f" (status {block['Status'].strip()}" + (
                    f": {diagnostic[:120]}" if diagnostic else "") + ")"
    return ""


def _auto_reply(msg: Message) -> bool:
    auto = str(msg.get("Auto-Submitted") or "").strip().lower()
    return auto.startswith("auto-replied") or bool(msg.get("X-Autoreply")) or bool(
        re.search(r"out of (the )?office|automatic reply|auto.?reply|vacation",
                  str(msg.get("Subject") or ""), re.I))


def _one_line(text: str) -> str:
    return " ".join(text.split())
