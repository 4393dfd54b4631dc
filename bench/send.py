"""How fast the newsletter personalises and sends the sample issue.

    python bench/send.py [--recipients 20000] [--subscribers 2000] [--connections 1 4] [--json]

In one run, in a temporary folder holding a copy of the sample newsletter:

(a) builds: ``IssueMessage.build`` for RECIPIENTS made-up recipients of the sample issue
    (2026-12-solstice), each with its own signed unsubscribe link; best of 3 rounds. The target
    from the issue is at least 10,000 messages per second.
(b) pipeline: ``send_issue`` (the code behind ``newsletter send``: ledger, claims, worker
    threads, one SMTP connection each) sending to SUBSCRIBERS subscribers over N connections,
    to a local SMTP sink;
(c) bare: plain ``smtplib`` over N connections (one thread each) sending the very same bytes,
    built beforehand, to the same sink.

The sink is aiosmtpd in a separate process on 127.0.0.1 (started here, ``--sink`` mode of this
file): it accepts every message and discards it. Nothing leaves 127.0.0.1. Progress goes to
stderr; the table (or ``--json``) to stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shutil
import smtplib
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from pipeline.config import load_config
from pipeline.messages import IssueMessage, Recipient
from pipeline.send import SendOptions, send_issue
from pipeline.store import NewSubscriber, SqliteStore, Subscriber
from pipeline.tokens import Tokens

REPO = Path(__file__).resolve().parent.parent
ISSUE = "2026-12-solstice"
NOW = datetime(2026, 12, 22, 9, 0, tzinfo=UTC)
SECRET_ENV = "NEWSLETTER_TOKEN_SECRET"
SECRET = "bench-signing-key-0123456789abcdef"
TARGET_BUILDS_PER_SECOND = 10_000
BUILD_ROUNDS = 3


@dataclass(frozen=True)
class Figure:
    what: str
    messages: int
    connections: int | None
    seconds: float
    size: int

    @property
    def per_second(self) -> float:
        return self.messages / self.seconds if self.seconds else 0.0

    @property
    def mb_per_second(self) -> float:
        return self.size / 1e6 / self.seconds if self.seconds else 0.0

    def as_json(self) -> dict[str, Any]:
        return {**asdict(self), "per_second": round(self.per_second, 1),
                "mb_per_second": round(self.mb_per_second, 2)}


def log(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


# ---------------------------------------------------------------------- the sink process


def serve_sink() -> None:
    """Accept and discard mail on 127.0.0.1; print the port, then, at EOF on stdin, the count."""
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import SMTP, Envelope, Session

    class Discard:
        def __init__(self) -> None:
            self.count = 0

        async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
            self.count += 1
            return "250 OK"

    class AnyPort(Controller):
        def _trigger_server(self) -> None:
            assert isinstance(self.server, asyncio.Server)
            self.port = int(self.server.sockets[0].getsockname()[1])
            super()._trigger_server()  # type: ignore[no-untyped-call]

    handler = Discard()
    controller = AnyPort(handler, hostname="127.0.0.1", port=0)
    controller.start()
    print(controller.port, flush=True)
    sys.stdin.read()
    controller.stop()
    print(handler.count, flush=True)


class Sink:
    """The sink process, seen from the benchmark."""

    def __init__(self) -> None:
        self.process = subprocess.Popen([sys.executable, __file__, "--sink"],
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        text=True)
        assert self.process.stdout is not None
        self.port = int(self.process.stdout.readline())

    def stop(self) -> int:
        """Stop the sink; how many messages it accepted."""
        out, _ = self.process.communicate(timeout=30)
        return int(out.strip() or 0)


# ---------------------------------------------------------------------- the newsletter


def copy_sample(root: Path) -> None:
    root.mkdir(parents=True)
    for name in ("newsletter.toml", "contributors.toml"):
        shutil.copy(REPO / name, root / name)
    for name in ("issues", "templates"):
        shutil.copytree(REPO / name, root / name)


def add_subscribers(db: Path, count: int) -> list[Subscriber]:
    store = SqliteStore(db)
    try:
        store.import_many((NewSubscriber(f"reader{n:05d}@example.net", f"Reader {n}", "active",
                                         None, "bench") for n in range(count)), NOW)
        return list(store.subscribers("active"))
    finally:
        store.close()


def issue_message(root: Path, full_title: str) -> IssueMessage:
    """The issue's message, made as ``newsletter send`` makes it (no DKIM)."""
    config = load_config(root)
    folder = config.output_dir / ISSUE
    tokens = Tokens(SECRET)
    base = config.delivery.unsubscribe_url

    def unsubscribe_url(recipient: Recipient) -> str:
        return f"{base}?token={tokens.unsubscribe(recipient.subscriber_id, recipient.email)}"

    return IssueMessage(
        sender=config.sender, subject=full_title, list_name=config.title,
        list_id_domain=urlsplit(config.base_url).hostname or "localhost",
        html=(folder / "email.html").read_text(encoding="utf-8"),
        text=(folder / "email.txt").read_text(encoding="utf-8"),
        date=NOW, message_key=ISSUE, unsubscribe_url=unsubscribe_url,
        unsubscribe_mailto=config.delivery.unsubscribe_mailto)


# ---------------------------------------------------------------------- the measurements


def measure_builds(message: IssueMessage, count: int) -> Figure:
    recipients = [Recipient(n + 1, f"reader{n:05d}@example.net", f"Reader {n}")
                  for n in range(count)]
    best: Figure | None = None
    for _ in range(BUILD_ROUNDS):
        size = 0
        start = time.perf_counter()
        for recipient in recipients:
            size += len(message.build(recipient)[1])
        seconds = time.perf_counter() - start
        if best is None or seconds < best.seconds:
            best = Figure("(a) IssueMessage.build", count, None, seconds, size)
    assert best is not None
    return best


def measure_pipeline(root: Path, db: Path, port: int, connections: int) -> Figure:
    report = send_issue(
        root, SendOptions(ISSUE, smtp_url=f"smtp://127.0.0.1:{port}", connections=connections,
                          db=db),
        now=lambda: NOW, monotonic=time.perf_counter, environ={SECRET_ENV: SECRET})
    if report.sent != report.recipients or report.failed or report.deferred:
        raise SystemExit(f"the send did not deliver everything: {report}")
    return Figure("(b) send_issue -> sink", report.sent, connections, report.seconds,
                  report.size)


def measure_bare(messages: list[tuple[str, bytes]], sender: str, port: int,
                 connections: int) -> Figure:
    """Plain smtplib, one connection per thread, each taking the next message from a list."""
    lock = threading.Lock()
    position = 0
    failures: list[BaseException] = []

    def worker() -> None:
        nonlocal position
        try:
            with smtplib.SMTP("127.0.0.1", port, timeout=60) as client:
                while True:
                    with lock:
                        if position >= len(messages):
                            return
                        recipient, data = messages[position]
                        position += 1
                    client.sendmail(sender, [recipient], data)
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(connections)]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - start
    if failures:
        raise SystemExit(f"bare smtplib failed: {failures[0]!r}")
    return Figure("(c) bare smtplib -> sink", len(messages), connections, seconds,
                  sum(len(data) for _, data in messages))


# ---------------------------------------------------------------------- the report


def table(builds: Figure, pairs: list[tuple[Figure, Figure]], message_kb: float,
          accepted: int) -> str:
    lines = [f"{'what':<28} {'messages':>8} {'conns':>5} {'seconds':>8} {'msgs/s':>8} "
             f"{'MB/s':>7}"]

    def row(f: Figure) -> str:
        conns = "-" if f.connections is None else str(f.connections)
        return (f"{f.what:<28} {f.messages:>8} {conns:>5} {f.seconds:>8.2f} "
                f"{f.per_second:>8.0f} {f.mb_per_second:>7.1f}")

    lines.append(row(builds))
    verdict = "met" if builds.per_second >= TARGET_BUILDS_PER_SECOND else "NOT met"
    lines.append(f"  target >= {TARGET_BUILDS_PER_SECOND:,} builds/s: {verdict}")
    for pipeline, bare in pairs:
        lines.append(row(pipeline))
        lines.append(row(bare))
        lines.append(f"  ratio pipeline/bare with {pipeline.connections} connection(s): "
                     f"{pipeline.per_second / bare.per_second:.2f}")
    lines.append(f"message {message_kb:.1f} KB; sink accepted {accepted} messages; "
                 f"{os.cpu_count()} CPUs; Python {platform.python_version()}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--recipients", type=int, default=20_000,
                        help="messages to build for (a) (20000)")
    parser.add_argument("--subscribers", type=int, default=2000,
                        help="subscribers for each send of (b) and (c) (2000)")
    parser.add_argument("--connections", type=int, nargs="+", default=[1, 4],
                        help="connection counts to measure (1 4)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--sink", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.sink:
        serve_sink()
        return 0

    with tempfile.TemporaryDirectory(prefix="newsletter-bench-send-") as tmp:
        root = Path(tmp) / "newsletter"
        copy_sample(root)
        log("building the sample issue (strict) ...")
        built = send_issue(root, SendOptions(ISSUE, dry_run=True, db=Path(tmp) / "empty.db"),
                           now=lambda: NOW, monotonic=time.perf_counter,
                           environ={SECRET_ENV: SECRET})
        message = issue_message(root, built.issue.full_title)
        message_kb = len(message.build(Recipient(1, "reader00000@example.net"))[1]) / 1024

        log(f"(a) building {args.recipients} personalised messages x{BUILD_ROUNDS} ...")
        builds = measure_builds(message, args.recipients)

        sink = Sink()
        pairs: list[tuple[Figure, Figure]] = []
        expected = 0
        try:
            for connections in args.connections:
                db = Path(tmp) / f"send-{connections}.sqlite3"
                people = add_subscribers(db, args.subscribers)
                log(f"(b) send_issue: {len(people)} messages over {connections} "
                    "connection(s) ...")
                pipeline = measure_pipeline(root, db, sink.port, connections)
                same = [(p.email, message.build(Recipient(p.id, p.email, p.name))[1])
                        for p in people]
                log(f"(c) bare smtplib: {len(same)} messages over {connections} "
                    "connection(s) ...")
                sender = load_config(root).sender.rsplit("<", 1)[-1].rstrip(">")
                bare = measure_bare(same, sender, sink.port, connections)
                pairs.append((pipeline, bare))
                expected += pipeline.messages + bare.messages
        finally:
            accepted = sink.stop()
        if accepted != expected:
            raise SystemExit(f"the sink accepted {accepted} messages, expected {expected}")

    if args.json:
        print(json.dumps({
            "issue": ISSUE, "message_kb": round(message_kb, 1),
            "target_builds_per_second": TARGET_BUILDS_PER_SECOND,
            "builds": builds.as_json(),
            "sends": [{"connections": p.connections, "pipeline": p.as_json(),
                       "bare": b.as_json(), "ratio": round(p.per_second / b.per_second, 3)}
                      for p, b in pairs],
            "sink_accepted": accepted, "cpus": os.cpu_count(),
            "python": platform.python_version(),
        }, indent=2))
    else:
        print(table(builds, pairs, message_kb, accepted))
    return 0


if __name__ == "__main__":
    sys.exit(main())
