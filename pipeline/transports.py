"""Transports: how one message leaves, over SMTP (smtplib: plain, STARTTLS or TLS, a login
from the environment, the reply classified as a temporary or permanent failure) or into the
outbox folder (an ``.eml`` file each, written atomically). :mod:`pipeline.delivery` drives them.
"""

from __future__ import annotations

import contextlib
import os
import re
import smtplib
import socket
import ssl
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol
from urllib.parse import urlsplit

from .errors import PipelineError

if TYPE_CHECKING:
    from typing_extensions import Buffer  # typeshed's, for mypy: not needed at run time

_MAILBOX_GONE = re.compile(
    r"\b5\.1\.[0-3]\b|no such (user|mailbox)|user unknown|mailbox (unavailable|not found)|"
    r"does not exist|unknown (user|recipient)|recipient address rejected", re.IGNORECASE)


class TemporaryFailure(Exception):
    """A 4xx reply or a dropped connection: worth trying again."""


class ConnectFailure(TemporaryFailure):
    """The server cannot be reached at all."""


class PermanentFailure(Exception):
    """A 5xx reply: this message will not be delivered."""

    def __init__(self, message: str, mailbox_gone: bool) -> None:
        super().__init__(message)
        self.mailbox_gone = mailbox_gone


class Transport(Protocol):
    """Hands one message to its next hop.

    ``send_when`` sends it only if ``ready()``, asked at the last moment before the message is
    handed over (just before the end of SMTP's DATA), says yes; False when it said no and
    nothing was handed over. What comes before that moment (connecting, the envelope, the
    body) may overlap with the work ``ready`` waits for.
    """

    def send(self, sender: str, recipient: str, message_id: str, data: bytes) -> None: ...
    def send_when(self, sender: str, recipient: str, message_id: str, data: bytes,
                  ready: Callable[[], bool]) -> bool: ...
    def close(self) -> None: ...


#: ``.<name>.eml.<pid>.<thread>.tmp``: a message being written to the outbox.
_OUTBOX_TMP = re.compile(r"^\..+\.eml\.(?P<pid>\d+)\.\d+\.tmp$")


class OutboxTransport:
    """Writes each message as ``<outbox>/<message-id>.eml``, atomically.

    The folder is made (and proven writable) when the transport is made, so a folder that
    cannot be made is a clear error before anything is sent. Temporary files that a killed
    writer left (their process is gone) are removed then too, unless ``clean`` is False (the
    web app makes one for each confirmation email, and cleans once, at start-up).
    """

    def __init__(self, folder: Path, clean: bool = True) -> None:
        self.folder = folder
        try:
            folder.mkdir(parents=True, exist_ok=True)
            probe = folder / f".probe.{os.getpid()}.{threading.get_ident()}.tmp"
            probe.touch()
            probe.unlink()
        except OSError as exc:
            raise PipelineError(
                f"{folder}: cannot use this folder as the outbox: {exc.strerror or exc}"
                f"{' (a file is in the way)' if folder.exists() and not folder.is_dir() else ''}"
                "; nothing was sent. Choose another folder with --outbox or delivery.outbox "
                "in newsletter.toml, or make this one writable") from None
        self.cleaned = self._clean() if clean else 0

    def _clean(self) -> int:
        """Remove the temporary files of writers that are gone (killed mid-write); how many."""
        cleaned = 0
        for path in self.folder.iterdir():
            match = _OUTBOX_TMP.match(path.name)
            if not match or _alive(int(match["pid"])):
                continue
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
                cleaned += 1
        return cleaned

    def send(self, sender: str, recipient: str, message_id: str, data: bytes) -> None:
        name = re.sub(r"[^A-Za-z0-9.@_-]", "_", message_id.strip("<>")) + ".eml"
        tmp = self.folder / f".{name}.{os.getpid()}.{threading.get_ident()}.tmp"
        try:
            with open(tmp, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, self.folder / name)
        except OSError as exc:
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise PipelineError(f"{self.folder}: cannot write {name} to the outbox: "
                                f"{exc.strerror or exc}") from None

    def send_when(self, sender: str, recipient: str, message_id: str, data: bytes,
                  ready: Callable[[], bool]) -> bool:
        if not ready():
            return False
        self.send(sender, recipient, message_id, data)
        return True

    def close(self) -> None:
        pass


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int
    security: str  # "none", "starttls" or "tls"
    username: str | None
    password: str | None
    timeout: float = 30.0

    @classmethod
    def from_url(cls, url: str, username: str | None, password: str | None) -> SmtpSettings:
        problem = f"'{url}' is not an SMTP URL: use smtp://HOST:PORT, " \
                  "smtp+starttls://HOST:587 or smtps://HOST:465"
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError:  # an unclosed [, a port that is no number or out of range
            raise PipelineError(problem) from None
        security = {"smtp": "none", "smtp+starttls": "starttls", "smtps": "tls"}.get(parts.scheme)
        if security is None or not parts.hostname:
            raise PipelineError(problem)
        default_port = {"none": 25, "starttls": 587, "tls": 465}[security]
        return cls(parts.hostname, port or default_port, security, username, password)


_LINE_STARTING_WITH_A_PERIOD = re.compile(rb"\n\.")


def quote_periods(data: bytes) -> bytes:
    r"""The DATA transparency of RFC 5321 (4.5.2): a period starting a line gets another one.

    The same bytes as smtplib's own ``_quote_periods``, whose pattern ``(?m)^\.`` is tried at
    every position of the message; a newline followed by a period, a literal, is found by a
    fast scan for the newline, several times faster on a message of 70 KB.
    """
    quoted = _LINE_STARTING_WITH_A_PERIOD.sub(b"\n..", data)
    return b"." + quoted if quoted.startswith(b".") else quoted


class Withdrawn(Exception):
    """The message was not to leave after all: its DATA was left unended."""


class _FastData(smtplib.SMTP):
    """``smtplib.SMTP.data`` as the standard library has it, with :func:`quote_periods`, and
    ``before_end``: when set, asked once the body is sent and before the ``.`` that ends it;
    if it says no (or raises), the connection is closed with the DATA unended, which a server
    must treat as no message at all (RFC 5321, 4.1.1.4)."""

    before_end: Callable[[], bool] | None = None

    def data(self, msg: Buffer | str) -> tuple[int, bytes]:
        if not isinstance(msg, bytes):
            return super().data(msg)
        self.putcmd("data")
        code, reply = self.getreply()
        if code != 354:
            raise smtplib.SMTPDataError(code, reply)
        quoted = quote_periods(msg)
        if not quoted.endswith(b"\r\n"):
            quoted += b"\r\n"
        gate, self.before_end = self.before_end, None
        if gate is None:
            self.send(quoted + b".\r\n")
            return self.getreply()
        self.send(quoted)
        try:
            go = gate()
        except BaseException:
            self.close()
            raise
        if not go:
            self.close()
            raise Withdrawn
        self.send(b".\r\n")
        return self.getreply()


class _Smtp(_FastData):
    pass


class _SmtpSsl(_FastData, smtplib.SMTP_SSL):
    pass


class SmtpTransport:
    """One SMTP connection, opened on first use and reopened after a drop."""

    def __init__(self, settings: SmtpSettings) -> None:
        self.settings = settings
        self.client: _FastData | None = None

    def _connect(self) -> _FastData:
        s = self.settings
        context = ssl.create_default_context()
        try:
            client: _FastData
            if s.security == "tls":
                client = _SmtpSsl(s.host, s.port, timeout=s.timeout, context=context)
            else:
                client = _Smtp(s.host, s.port, timeout=s.timeout)
                if s.security == "starttls":
                    client.starttls(context=context)
            if s.username:
                client.login(s.username, s.password or "")
            # The end of a message goes as a small write of its own (see send_when): sent at
            # once, not held back until the body is acknowledged.
            if client.sock is not None:
                client.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except smtplib.SMTPAuthenticationError as exc:
            reply = exc.smtp_error
            text = reply.decode(errors="replace") if isinstance(reply, bytes) else str(reply)
            raise PipelineError(f"the SMTP server {s.host} refused the login: {exc.smtp_code} "
                                f"{text}") from None
        except (OSError, smtplib.SMTPException) as exc:
            raise ConnectFailure(f"cannot connect to {s.host}:{s.port}: {exc}") from None
        return client

    def send(self, sender: str, recipient: str, message_id: str, data: bytes) -> None:
        if self.client is None:
            self.client = self._connect()
        try:
            options = [] if recipient.isascii() else ["SMTPUTF8"]
            refused = self.client.sendmail(sender, [recipient], data, mail_options=options)
        except smtplib.SMTPRecipientsRefused as exc:
            code, reply = exc.recipients[recipient]
            raise _classify(code, reply) from None
        except smtplib.SMTPResponseException as exc:
            if exc.smtp_code in (421,):
                self._drop()
            raise _classify(exc.smtp_code, exc.smtp_error) from None
        except (smtplib.SMTPServerDisconnected, OSError) as exc:
            self._drop()
            raise TemporaryFailure(f"connection lost: {exc}") from None
        if refused:
            code, reply = refused[recipient]
            raise _classify(code, reply)

    def send_when(self, sender: str, recipient: str, message_id: str, data: bytes,
                  ready: Callable[[], bool]) -> bool:
        """:meth:`send`, with ``ready`` asked after the envelope and the body went and before
        the ``.`` that ends the DATA: if it says no (or raises), the connection is closed with
        the message unended, and the next message opens a new one."""
        if self.client is None:
            self.client = self._connect()
        client = self.client
        client.before_end = ready
        try:
            self.send(sender, recipient, message_id, data)
        except Withdrawn:
            return False
        finally:
            client.before_end = None
            if client.sock is None and self.client is client:  # closed with its DATA unended
                self.client = None
        return True

    def _drop(self) -> None:
        if self.client is not None:
            try:
                self.client.close()
            finally:
                self.client = None

    def close(self) -> None:
        if self.client is not None:
            with contextlib.suppress(smtplib.SMTPException, OSError):
                self.client.quit()
            self._drop()


def _classify(code: int, reply: bytes | str) -> Exception:
    text = reply.decode(errors="replace") if isinstance(reply, bytes) else reply
    message = f"{code} {text}".strip()
    if 400 <= code < 500:
        return TemporaryFailure(message)
    return PermanentFailure(message, mailbox_gone=code in (550, 551, 553)
                            and bool(_MAILBOX_GONE.search(text)))


def _alive(pid: int) -> bool:
    """Whether a process with this id runs on this machine."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True
