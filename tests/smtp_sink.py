"""A real SMTP server on 127.0.0.1 for tests: records what it accepts and injects faults.

:class:`SmtpSink` runs aiosmtpd in a thread on a free port. Every accepted message is kept as
a :class:`Received` (envelope and raw bytes), under a lock, so a test thread can read them while
the server runs. Faults, set before or during a send:

- ``sink.defer(address, times)``: reply ``451 4.3.0 try again`` to RCPT TO for that address the
  first ``times`` times;
- ``sink.reject(address)``: reply ``550 5.1.1 no such user`` (or the ``reply`` given) to RCPT
  TO for that address, every time;
- ``sink.drop_on_data(n)``: close the connection without a reply at the end of the ``n``-th
  DATA (counted over all connections, from 1); that message is not recorded;
- ``sink.on_message``: a callback run for each accepted message before the ``250`` reply.

Use the ``sink`` fixture (started and stopped around one test; conftest loads this module as
a plugin), or ``python -m tests.smtp_sink`` to keep one running by hand.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from email.parser import BytesHeaderParser
from email.policy import default as default_policy
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

HOST = "127.0.0.1"
TRY_AGAIN = "451 4.3.0 try again"
NO_SUCH_USER = "550 5.1.1 no such user"


@dataclass(frozen=True)
class Received:
    """One message the sink accepted."""

    mail_from: str
    rcpt_tos: tuple[str, ...]
    data: bytes

    def header(self, name: str) -> str | None:
        """A header of the message, unfolded (None when absent)."""
        value = BytesHeaderParser(policy=default_policy).parsebytes(self.data)[name]
        return None if value is None else str(value)

    @property
    def message_id(self) -> str | None:
        return self.header("Message-ID")


class SinkHandler:
    """The aiosmtpd handler: faults at RCPT and DATA, and a record of accepted messages."""

    def __init__(self) -> None:
        self.lock = threading.Condition()
        self.messages: list[Received] = []
        self.deferrals: dict[str, int] = {}
        self.rejected: dict[str, str] = {}
        self.drops: set[int] = set()
        self.data_commands = 0
        self.replies: Counter[str] = Counter()
        self.on_message: Callable[[Received], None] | None = None

    async def handle_RCPT(self, server: SMTP, session: Session, envelope: Envelope,
                          address: str, rcpt_options: list[str]) -> str:
        key = address.lower()
        with self.lock:
            if self.deferrals.get(key, 0) > 0:
                self.deferrals[key] -= 1
                self.replies[TRY_AGAIN] += 1
                return TRY_AGAIN
            if key in self.rejected:
                reply = self.rejected[key]
                self.replies[reply] += 1
                return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        with self.lock:
            self.data_commands += 1
            drop = self.data_commands in self.drops
        if drop:
            # Hang up instead of answering: the client cannot know whether it was accepted.
            assert isinstance(server.transport, asyncio.Transport)
            server.transport.abort()
            return "421 4.3.0 closing"  # never reaches the client
        content = envelope.original_content or b""
        received = Received(str(envelope.mail_from), tuple(envelope.rcpt_tos), content)
        if self.on_message is not None:
            self.on_message(received)
        with self.lock:
            self.messages.append(received)
            self.lock.notify_all()
        return "250 OK: queued"


class _Controller(Controller):
    """aiosmtpd's threaded controller, listening on a port the system chose (port 0)."""

    def _trigger_server(self) -> None:
        assert isinstance(self.server, asyncio.Server)
        self.port = int(self.server.sockets[0].getsockname()[1])
        super()._trigger_server()  # type: ignore[no-untyped-call]


class SmtpSink:
    """A running SMTP server on 127.0.0.1 with :class:`SinkHandler`."""

    def __init__(self) -> None:
        self.handler = SinkHandler()
        self.controller = _Controller(self.handler, hostname=HOST, port=0,
                                      enable_SMTPUTF8=True, decode_data=False)

    def start(self) -> SmtpSink:
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()

    @property
    def port(self) -> int:
        return int(self.controller.port)

    @property
    def url(self) -> str:
        return f"smtp://{HOST}:{self.port}"

    # ------------------------------------------------------------------ faults

    def defer(self, address: str, times: int) -> None:
        with self.handler.lock:
            self.handler.deferrals[address.lower()] = times

    def reject(self, address: str, reply: str = NO_SUCH_USER) -> None:
        with self.handler.lock:
            self.handler.rejected[address.lower()] = reply

    def drop_on_data(self, n: int) -> None:
        with self.handler.lock:
            self.handler.drops.add(n)

    @property
    def on_message(self) -> Callable[[Received], None] | None:
        return self.handler.on_message

    @on_message.setter
    def on_message(self, hook: Callable[[Received], None] | None) -> None:
        self.handler.on_message = hook

    # ------------------------------------------------------------------ what arrived

    @property
    def messages(self) -> list[Received]:
        with self.handler.lock:
            return list(self.handler.messages)

    def count(self) -> int:
        with self.handler.lock:
            return len(self.handler.messages)

    def replies(self, reply: str) -> int:
        """How many times the sink gave this fault reply."""
        with self.handler.lock:
            return self.handler.replies[reply]

    def wait_for(self, count: int, timeout: float, stop: Callable[[], bool] | None = None,
                 ) -> bool:
        """Wait until ``count`` messages arrived (True) or ``timeout`` or ``stop()`` (False)."""
        deadline = time.monotonic() + timeout
        with self.handler.lock:
            while len(self.handler.messages) < count:
                left = deadline - time.monotonic()
                if left <= 0 or (stop is not None and stop()):
                    return False
                self.handler.lock.wait(min(left, 0.05))
        return True

    def clear(self) -> None:
        with self.handler.lock:
            self.handler.messages.clear()

    def __enter__(self) -> SmtpSink:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()


@pytest.fixture
def sink() -> Iterator[SmtpSink]:
    """A fresh SMTP sink on 127.0.0.1 for one test."""
    with SmtpSink() as running:
        yield running


if __name__ == "__main__":
    with SmtpSink() as running:
        print(f"SMTP sink listening on {running.url}; Ctrl-C to stop", flush=True)
        try:
            while True:
                time.sleep(1)
                print(f"{running.count()} messages", flush=True)
        except KeyboardInterrupt:
            pass
