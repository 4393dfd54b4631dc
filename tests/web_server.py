"""A real uvicorn server on 127.0.0.1 running the newsletter's app, for the web tests.

:class:`Site` is a copy of the sample newsletter whose ``base_url`` is the server's own
address (so emailed links come back to it), built, with a real SQLite store, the outbox
transport, and a clock the test moves by hand.
"""

from __future__ import annotations

import re
import shutil
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import Any

from pipeline.build import build_all
from pipeline.config import load_config
from pipeline.serving import bind
from pipeline.serving import server as make_server
from pipeline.store import Store, open_store
from pipeline.tokens import Tokens
from pipeline.transports import OutboxTransport
from pipeline.web import WebParts, create_app

from .conftest import REPO
from .databases import Databases

SECRET = "web-tests-signing-key-0123456789"
START = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


class Clock:
    """Wall clock and monotonic clock in one, moved by the test."""

    def __init__(self, start: datetime = START) -> None:
        self.t = start.timestamp()

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.t, UTC)

    def time(self) -> float:
        return self.t

    def advance(self, seconds: float) -> None:
        self.t += seconds


@contextmanager
def serving(app: Any, sock: Any, **options: Any) -> Iterator[None]:
    """Run ``app`` with uvicorn on ``sock`` in a thread until the block ends (``options``:
    those of :func:`pipeline.serving.server`)."""
    server = make_server(app, **options)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the test server did not start")
        time.sleep(0.02)
    try:
        yield
    finally:
        server.should_exit = True
        thread.join(timeout=15)


class Site:
    """The sample newsletter served by the real app on a free port of 127.0.0.1."""

    def __init__(self, root: Path, settings: str = "", databases: Databases | None = None,
                 ) -> None:
        self.root = root
        root.mkdir(parents=True)
        for name in ("newsletter.toml", "contributors.toml"):
            shutil.copy(REPO / name, root / name)
        shutil.copytree(REPO / "issues", root / "issues")
        self.sock = bind("127.0.0.1", 0)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        toml = (root / "newsletter.toml").read_text(encoding="utf-8")
        toml = re.sub(r'(?m)^base_url = .*$', f'base_url = "{self.url}"', toml)
        (root / "newsletter.toml").write_text(toml + "\n" + settings, encoding="utf-8")
        if databases is not None:  # SQLite (the default file) or a fresh PostgreSQL database
            databases.attach(root)
        self.config = load_config(root)
        build_all(load_config(root), datetime(2027, 1, 1, tzinfo=UTC))
        self.clock = Clock()
        self.tokens = Tokens(SECRET, clock=self.clock.time)
        self.outbox = root / "outbox"
        self.store = self.open_store()
        self.log: list[str] = []
        self.parts = WebParts(store=self.store, tokens=self.tokens,
                              transport=lambda: OutboxTransport(self.outbox),
                              now=self.clock.now, monotonic=self.clock.time,
                              log=self.log.append)

    def open_store(self) -> Store:
        return open_store(self.config.delivery.database,
                          self.config.delivery.database_password_env)

    def app(self) -> Any:
        return create_app(self.config, self.parts)

    def mails(self) -> list[EmailMessage]:
        """The messages in the outbox, oldest first."""
        found = []
        files = sorted(self.outbox.glob("*.eml"), key=lambda p: p.stat().st_mtime_ns) \
            if self.outbox.is_dir() else []
        for path in files:
            message = BytesParser(policy=policy.default).parsebytes(path.read_bytes())
            assert isinstance(message, EmailMessage)
            found.append(message)
        return found

    def link_in(self, message: EmailMessage, page: str) -> str:
        body = message.get_body(("plain",))
        assert body is not None
        text = body.get_content()
        found = re.findall(rf"{re.escape(self.url)}/{page}\?token=[A-Za-z0-9_.\-%]+", text)
        assert found, text
        return str(found[0])

    def send_issue(self, cli: Any, monkeypatch: Any) -> EmailMessage:
        """``newsletter send 2026-12-solstice --outbox ROOT/sent --yes`` (one active
        subscriber); the one message it sent."""
        monkeypatch.setenv("NEWSLETTER_TOKEN_SECRET", SECRET)
        code, _, err = cli("send", "2026-12-solstice", "--root", str(self.root), "--outbox",
                           str(self.root / "sent"), "--yes")
        assert code == 0, err
        [sent] = (self.root / "sent").glob("*.eml")
        message = BytesParser(policy=policy.default).parsebytes(sent.read_bytes())
        assert isinstance(message, EmailMessage)
        return message

    def status(self, email: str) -> str | None:
        person = self.store.get(email)
        return person.status if person else None
