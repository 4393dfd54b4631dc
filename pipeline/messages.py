"""One MIME message per subscriber, built from the issue once and personalised cheaply.

The message is multipart/alternative (plain text first, HTML last), UTF-8, quoted-printable.
Everything that is the same for every subscriber (the headers but To, Message-ID and
List-Unsubscribe; both bodies around the unsubscribe link) is encoded once with the standard
library's header folding and quoted-printable encoder. Personalising a message then only
encodes the subscriber's own unsubscribe URL and joins bytes, so building thousands of messages
per second costs little. Quoted-printable soft line breaks (``=`` at the end of a line) join
the pieces, so the decoded bodies are exactly the built ``email.txt`` and ``email.html`` with
the link filled in. The link goes where ``placeholder`` is: ``newsletter send`` renders the
email with a marker of its own for each send, so text a piece contains is never taken for it.
Optional DKIM signing (dkimpy) covers the headers RFC 8058 asks for.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.quoprimime import body_encode
from email.utils import format_datetime, formataddr, parseaddr
from pathlib import Path

from .errors import PipelineError
from .render import UNSUBSCRIBE_PLACEHOLDER

CRLF = b"\r\n"
SOFT_BREAK = b"=\r\n"
DKIM_HEADERS = (b"from", b"to", b"subject", b"date", b"message-id", b"list-id",
                b"list-unsubscribe", b"list-unsubscribe-post", b"mime-version",
                b"content-type")


@dataclass(frozen=True)
class Recipient:
    subscriber_id: int
    email: str
    name: str | None = None


def one_line(text: str) -> str:
    """Text safe for a header: CR, LF and other control characters become spaces."""
    return " ".join("".join(ch if ch.isprintable() else " " for ch in text).split())


def _qp(text: str) -> bytes:
    """UTF-8, quoted-printable, CRLF lines of at most 76 characters (the stdlib encoder works
    on bytes given as latin-1 text, as the email package itself calls it)."""
    octets = text.replace("\r\n", "\n").encode("utf-8").decode("latin-1")
    return body_encode(octets, maxlinelen=76, eol="\r\n").encode("ascii")


def _fold(name: str, value: str) -> bytes:
    """One header, folded and (where needed) RFC 2047-encoded by the standard library."""
    return policy.SMTP.fold_binary(name, value)


@dataclass(frozen=True)
class Dkim:
    selector: bytes
    domain: bytes
    key: bytes

    @classmethod
    def load(cls, key_path: Path, selector: str, domain: str) -> Dkim:
        try:
            key = key_path.read_bytes()
        except OSError as exc:
            raise PipelineError(f"{key_path}: cannot read the DKIM key: {exc.strerror}") from None
        return cls(selector.encode(), domain.encode(), key)

    def sign(self, message: bytes) -> bytes:
        import dkim

        try:
            header: bytes = dkim.sign(message, self.selector, self.domain, self.key,
                                      include_headers=list(DKIM_HEADERS))
        except dkim.DKIMException as exc:
            raise PipelineError(f"DKIM signing failed: {exc}") from None
        return header + message


def _to(recipient: Recipient) -> bytes:
    name = one_line(recipient.name or "")
    if recipient.email.isascii():
        return b"To: " + formataddr((name, recipient.email), charset="utf-8").encode() + CRLF
    # An internationalised address (sent with SMTPUTF8): raw UTF-8 in the header.
    local, _, domain = recipient.email.rpartition("@")
    return policy.SMTPUTF8.fold_binary("To", str(Address(name, local, domain)))


class IssueMessage:
    """An issue's email, ready to be personalised for each subscriber."""

    def __init__(
        self, *, sender: str, subject: str, list_name: str, list_id_domain: str,
        html: str, text: str, date: datetime, message_key: str,
        unsubscribe_url: Callable[[Recipient], str], unsubscribe_mailto: str | None,
        dkim: Dkim | None = None, placeholder: str = UNSUBSCRIBE_PLACEHOLDER,
    ) -> None:
        self.domain = parseaddr(sender)[1].rpartition("@")[2] or "localhost"
        self.unsubscribe_url = unsubscribe_url
        self.unsubscribe_mailto = unsubscribe_mailto
        self.message_key = message_key
        self.dkim = dkim
        boundary = "=_" + hashlib.sha256(f"{message_key}{subject}".encode()).hexdigest()[:24]
        self.head = b"".join([
            _fold("From", sender),
            _fold("Subject", one_line(subject)),
            _fold("Date", format_datetime(date)),
            _fold("List-Id", f"{one_line(list_name)} <{list_id_domain}>"),
            b"List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n",
            b"MIME-Version: 1.0\r\n",
            f'Content-Type: multipart/alternative; boundary="{boundary}"\r\n'.encode(),
        ])
        part = f"\r\n--{boundary}\r\n".encode()
        self.text_parts = [_qp(p) for p in text.split(placeholder)]
        self.html_parts = [_qp(p) for p in html.split(placeholder)]
        self.text_head = (part + b'Content-Type: text/plain; charset="utf-8"\r\n'
                          b"Content-Transfer-Encoding: quoted-printable\r\n\r\n")
        self.html_head = (part + b'Content-Type: text/html; charset="utf-8"\r\n'
                          b"Content-Transfer-Encoding: quoted-printable\r\n\r\n")
        self.end = f"\r\n--{boundary}--\r\n".encode()

    def message_id(self, recipient: Recipient) -> str:
        """Stable for a subscriber and a send, so a resent message is recognisably the same."""
        return f"<{self.message_key}.{recipient.subscriber_id}@{self.domain}>"

    def build(self, recipient: Recipient) -> tuple[str, bytes]:
        """(Message-ID, the message as bytes with CRLF line endings) for one subscriber."""
        url = self.unsubscribe_url(recipient)
        link = SOFT_BREAK + _qp(url) + SOFT_BREAK
        message_id = self.message_id(recipient)
        unsubscribe = f"<{url}>"
        if self.unsubscribe_mailto:
            unsubscribe += f",\r\n <mailto:{self.unsubscribe_mailto}?subject=unsubscribe>"
        data = b"".join([
            self.head,
            _to(recipient),
            b"Message-ID: ", message_id.encode("ascii"), CRLF,
            b"List-Unsubscribe: ", unsubscribe.encode("ascii"), CRLF,
            self.text_head, link.join(self.text_parts),
            self.html_head, link.join(self.html_parts),
            self.end,
        ])
        return message_id, self.dkim.sign(data) if self.dkim else data


def notice(*, sender: str, to: str, subject: str, text: str, date: datetime,
           message_id: str) -> bytes:
    """A short plain-text message to one person (a subscription confirmation), marked as
    automatic (RFC 3834) so that vacation responders do not answer it."""
    message = EmailMessage(policy=policy.SMTP if to.isascii() else policy.SMTPUTF8)
    message["From"] = sender
    message["To"] = to
    message["Subject"] = one_line(subject)
    message["Date"] = format_datetime(date)
    message["Message-ID"] = message_id
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(text, cte="quoted-printable")
    return message.as_bytes()
