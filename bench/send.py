"""How fast, and in how much memory, the newsletter sends the sample issue, next to bare smtplib.

    python bench/send.py [--subscribers 100000] [--connections 1 4] [--backends sqlite]
                         [--recipients 20000] [--sink-processes 1] [--json]

In one run, in a temporary folder holding a copy of the sample newsletter (2026-12-solstice):

(a) builds: ``IssueMessage.build`` for RECIPIENTS made-up recipients, each with its own signed
    unsubscribe link; best of 3 rounds. Target: at least 10,000 messages per second.
(b) ours: a child process runs ``send_issue`` (the code behind ``newsletter send``: strict
    build, ledger, claims, group commit, one SMTP connection per worker) to SUBSCRIBERS fresh
    active subscribers over N connections. Its time runs from just after the build (the ledger
    is created inside it) to the summary; its peak memory is the child's maximum resident set
    size (``os.wait4``). Target: under 150 MB.
(c) bare: another child process sends the very same bytes with plain ``smtplib`` over N
    connections (one thread each), reading the same subscribers from the same database and
    building their messages in batches of 1000 while its clock is stopped, so only sending is
    timed. Target: (b) reaches at least 0.8 of (c)'s messages per second.

Both send to one SMTP sink (``bench/sink.py``, a separate process on 127.0.0.1); after each
send the benchmark checks that the sink accepted exactly the messages and bytes the client says
it sent, and that (b) and (c) sent the same number of bytes. Nothing leaves 127.0.0.1. On
PostgreSQL (``--backends postgres``) the database is a private throwaway server started here
as the tests start theirs (``tests/postgres.py``). Progress goes to stderr, the table (or
``--json``) to stdout; the exit status is 1 when a target is not met.
"""

from __future__ import annotations

import argparse
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
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from itertools import islice
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from pipeline.config import load_config
from pipeline.console import Console, ProgressLine
from pipeline.messages import IssueMessage, Recipient
from pipeline.send import SendOptions, send_issue
from pipeline.store import Database, NewSubscriber, open_store
from pipeline.tokens import Tokens

REPO = Path(__file__).resolve().parent.parent
SINK = Path(__file__).resolve().parent / "sink.py"
ISSUE = "2026-12-solstice"
NOW = datetime(2026, 12, 22, 9, 0, tzinfo=UTC)
SECRET_ENV = "NEWSLETTER_TOKEN_SECRET"
SECRET = "bench-signing-key-0123456789abcdef"
TARGET_BUILDS_PER_SECOND = 10_000
TARGET_RATIO = 0.8
TARGET_RSS_MB = 150.0
BUILD_ROUNDS = 3
BARE_BATCH = 1000


def log(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


# ---------------------------------------------------------------------- the sink


class Sink:
    """The sink process (bench/sink.py), seen from the benchmark."""

    def __init__(self, processes: int) -> None:
        self.process = subprocess.Popen(
            [sys.executable, str(SINK), "--processes", str(processes)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert self.process.stdout is not None
        self.port = int(self.process.stdout.readline())

    def totals(self) -> tuple[int, int]:
        """(messages, bytes) the sink has accepted so far."""
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write("count\n")
        self.process.stdin.flush()
        messages, size = self.process.stdout.readline().split()
        return int(messages), int(size)

    def stop(self) -> None:
        self.process.communicate(timeout=30)


# ---------------------------------------------------------------------- the newsletter


def copy_sample(root: Path) -> None:
    root.mkdir(parents=True)
    for name in ("newsletter.toml", "contributors.toml"):
        shutil.copy(REPO / name, root / name)
    for name in ("issues", "templates"):
        shutil.copytree(REPO / name, root / name)


def add_subscribers(db: Database, count: int) -> None:
    store = open_store(db)
    try:
        store.import_many((NewSubscriber(f"reader{n:06d}@example.net", f"Reader {n}", "active",
                                         None, "bench") for n in range(count)), NOW)
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


@contextmanager
def databases(backend: str) -> Iterator[Any]:
    """A maker of fresh databases of ``backend``: a function of a scratch folder and a name."""
    if backend == "sqlite":
        yield lambda folder, name: folder / f"{name}.sqlite3"
        return
    sys.path.insert(0, str(REPO))
    from tests.postgres import PostgresServer, find_binaries

    binaries = find_binaries()
    if binaries is None:
        raise SystemExit("PostgreSQL is not installed: run tests/install_postgres")
    server = PostgresServer(binaries)
    try:
        server.start()
        yield lambda folder, name: server.new()
    finally:
        server.stop()


# ---------------------------------------------------------------------- the children


@dataclass(frozen=True)
class Rate:
    messages: int
    seconds: float

    @property
    def per_second(self) -> float:
        return self.messages / self.seconds if self.seconds else 0.0


@dataclass(frozen=True)
class Child(Rate):
    """What a child process sent (messages, seconds, bytes), and its peak memory."""

    size: int
    rss_mb: float


def run_child(spec: dict[str, Any]) -> Child:
    """Run this file as a child with ``spec``; what it printed, and its maximum RSS."""
    process = subprocess.Popen([sys.executable, __file__, "--child", json.dumps(spec)],
                               stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    out = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise SystemExit(f"the {spec['mode']} child failed with status {process.returncode}")
    figures = json.loads(out)
    rss = usage.ru_maxrss / 2**20 if sys.platform == "darwin" else usage.ru_maxrss / 1024
    return Child(figures["messages"], figures["seconds"], figures["size"], rss)


def child_ours(spec: dict[str, Any]) -> dict[str, Any]:
    """``send_issue`` as ``newsletter send`` calls it, its progress line included."""
    progress = ProgressLine(Console(0, err=sys.stderr))
    report = send_issue(
        Path(spec["root"]), SendOptions(ISSUE, smtp_url=f"smtp://127.0.0.1:{spec['port']}",
                                        connections=spec["connections"], db=spec["db"]),
        now=lambda: NOW, monotonic=time.perf_counter, environ={SECRET_ENV: SECRET},
        on_progress=progress.update)
    progress.finish()
    if report.sent != report.recipients or report.failed or report.deferred:
        raise SystemExit(f"the send did not deliver everything: {report}")
    return {"messages": report.sent, "seconds": report.seconds, "size": report.size}


def child_bare(spec: dict[str, Any]) -> dict[str, Any]:
    """Plain smtplib over N connections, the messages built in batches off the clock."""
    root = Path(spec["root"])
    message = issue_message(root, spec["subject"])
    sender = load_config(root).sender.rsplit("<", 1)[-1].rstrip(">")
    connections = int(spec["connections"])
    gate = threading.Barrier(connections + 1, timeout=600)
    lock = threading.Lock()
    batch: list[tuple[str, bytes]] = []
    position = 0
    finished = False
    failures: list[BaseException] = []

    def worker() -> None:
        nonlocal position
        with smtplib.SMTP("127.0.0.1", int(spec["port"]), timeout=60) as client:
            while True:
                gate.wait()  # a batch is ready (or the end)
                if finished:
                    return
                try:
                    while True:
                        with lock:
                            if position >= len(batch):
                                break
                            recipient, data = batch[position]
                            position += 1
                        client.sendmail(sender, [recipient], data)
                except BaseException as exc:
                    failures.append(exc)
                gate.wait()  # the batch is sent

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(connections)]
    for thread in threads:
        thread.start()
    store = open_store(spec["db"])
    total = max(store.count("active"), 1)
    seconds = 0.0
    messages = size = 0
    try:
        people = store.subscribers("active")
        while chunk := list(islice(people, BARE_BATCH)):
            batch = [(p.email, message.build(Recipient(p.id, p.email, p.name))[1])
                     for p in chunk]
            position = 0
            gate.wait()
            start = time.perf_counter()
            gate.wait()
            seconds += time.perf_counter() - start
            if failures:
                raise SystemExit(f"bare smtplib failed: {failures[0]!r}")
            messages += len(batch)
            size += sum(len(data) for _, data in batch)
            if messages * 10 // total > (messages - len(batch)) * 10 // total:
                log(f"  bare: {messages}/{total}")
    finally:
        store.close()
        finished = True
        with suppress(threading.BrokenBarrierError):
            gate.wait()
        for thread in threads:
            thread.join(timeout=60)
    return {"messages": messages, "seconds": seconds, "size": size}


# ---------------------------------------------------------------------- the measurements


def measure_builds(message: IssueMessage, count: int) -> Rate:
    best: Rate | None = None
    for _ in range(BUILD_ROUNDS):
        start = time.perf_counter()
        for n in range(count):
            message.build(Recipient(n + 1, f"reader{n:06d}@example.net", f"Reader {n}"))
        seconds = time.perf_counter() - start
        if best is None or seconds < best.seconds:
            best = Rate(count, seconds)
    assert best is not None
    return best


@dataclass(frozen=True)
class Pair:
    backend: str
    subscribers: int
    connections: int
    ours: Child
    bare: Child

    @property
    def ratio(self) -> float:
        return self.ours.per_second / self.bare.per_second

    @property
    def ratio_met(self) -> bool:
        return self.ratio >= TARGET_RATIO

    @property
    def rss_met(self) -> bool:
        return self.ours.rss_mb < TARGET_RSS_MB

    def as_json(self) -> dict[str, Any]:
        return {"backend": self.backend, "subscribers": self.subscribers,
                "connections": self.connections,
                "ours": {**asdict(self.ours), "per_second": round(self.ours.per_second, 1)},
                "bare": {**asdict(self.bare), "per_second": round(self.bare.per_second, 1)},
                "ratio": round(self.ratio, 3), "target_ratio": TARGET_RATIO,
                "ratio_met": self.ratio_met, "target_rss_mb": TARGET_RSS_MB,
                "rss_met": self.rss_met}


def checked(sink: Sink, what: str, run: Any) -> Child:
    """Run one child and check that the sink got exactly what it says it sent."""
    before = sink.totals()
    child: Child = run()
    after = sink.totals()
    got = (after[0] - before[0], after[1] - before[1])
    if got != (child.messages, child.size):
        raise SystemExit(f"{what}: the sink accepted {got[0]} messages ({got[1]} bytes), the "
                         f"client sent {child.messages} ({child.size} bytes)")
    return child


def measure_pair(root: Path, db: Database, sink: Sink, backend: str, subscribers: int,
                 connections: int, subject: str) -> Pair:
    spec = {"root": str(root), "db": str(db), "port": sink.port, "connections": connections,
            "subject": subject}
    log(f"[{backend}] {subscribers} subscribers, {connections} connection(s): ours ...")
    ours = checked(sink, "ours", lambda: run_child({**spec, "mode": "ours"}))
    log(f"[{backend}] {subscribers} subscribers, {connections} connection(s): bare ...")
    bare = checked(sink, "bare", lambda: run_child({**spec, "mode": "bare"}))
    if (ours.messages, ours.size) != (bare.messages, bare.size):
        raise SystemExit(f"ours sent {ours.messages} messages ({ours.size} bytes), bare "
                         f"{bare.messages} ({bare.size} bytes): not the same bytes")
    return Pair(backend, subscribers, connections, ours, bare)


# ---------------------------------------------------------------------- the report


def verdict(met: bool) -> str:
    return "PASS" if met else "FAIL"


def table(builds: Rate, pairs: list[Pair], message_kb: float, accepted: int,
          sink_processes: int) -> str:
    lines = [f"(a) IssueMessage.build: {builds.per_second:,.0f} messages/s "
             f"(target >= {TARGET_BUILDS_PER_SECOND:,}): "
             f"{verdict(builds.per_second >= TARGET_BUILDS_PER_SECOND)}", "",
             f"{'backend':<9}{'subscribers':>12}{'conns':>6}{'ours msg/s':>12}"
             f"{'bare msg/s':>12}{'ratio':>7}  {'target':<7}{'':<5}{'sender RSS':>11}  "
             f"{'target':<9}"]
    for p in pairs:
        lines.append(
            f"{p.backend:<9}{p.subscribers:>12,}{p.connections:>6}{p.ours.per_second:>12.0f}"
            f"{p.bare.per_second:>12.0f}{p.ratio:>7.2f}  {'>= ' + str(TARGET_RATIO):<7}"
            f"{verdict(p.ratio_met):<5}{p.ours.rss_mb:>8.1f} MB  {'< 150 MB':<9}"
            f"{verdict(p.rss_met)}")
    lines.append("")
    lines.append(f"message {message_kb:.1f} KB; the sink ({sink_processes} process(es)) "
                 f"accepted {accepted:,} messages, as many as the clients sent; "
                 f"{os.cpu_count()} CPUs; Python {platform.python_version()}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--subscribers", type=int, default=100_000,
                        help="subscribers for each send of (b) and (c) (100000)")
    parser.add_argument("--connections", type=int, nargs="+", default=[1, 4],
                        help="connection counts to measure (1 4)")
    parser.add_argument("--backends", nargs="+", choices=("sqlite", "postgres"),
                        default=["sqlite"], help="subscriber stores to measure (sqlite)")
    parser.add_argument("--recipients", type=int, default=20_000,
                        help="messages to build for (a) (20000)")
    parser.add_argument("--sink-processes", type=int, default=1,
                        help="SMTP sink processes sharing the port (1)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        spec = json.loads(args.child)
        figures = child_ours(spec) if spec["mode"] == "ours" else child_bare(spec)
        print(json.dumps(figures))
        return 0

    with tempfile.TemporaryDirectory(prefix="newsletter-bench-send-") as tmp:
        folder = Path(tmp)
        root = folder / "newsletter"
        copy_sample(root)
        log("building the sample issue (strict) ...")
        built = send_issue(root, SendOptions(ISSUE, dry_run=True, db=folder / "empty.db"),
                           now=lambda: NOW, monotonic=time.perf_counter,
                           environ={SECRET_ENV: SECRET})
        subject = built.issue.full_title
        message = issue_message(root, subject)
        message_kb = len(message.build(Recipient(1, "reader000000@example.net"))[1]) / 1024

        log(f"(a) building {args.recipients} personalised messages x{BUILD_ROUNDS} ...")
        builds = measure_builds(message, args.recipients)

        sink = Sink(args.sink_processes)
        pairs: list[Pair] = []
        try:
            for backend in args.backends:
                with databases(backend) as new_database:
                    for connections in args.connections:
                        db = new_database(folder, f"{backend}-{connections}")
                        add_subscribers(db, args.subscribers)
                        pairs.append(measure_pair(root, db, sink, backend, args.subscribers,
                                                  connections, subject))
            accepted = sink.totals()[0]
        finally:
            sink.stop()

    met = builds.per_second >= TARGET_BUILDS_PER_SECOND and all(
        p.ratio_met and p.rss_met for p in pairs)
    if args.json:
        print(json.dumps({
            "issue": ISSUE, "message_kb": round(message_kb, 1),
            "builds": {"messages": builds.messages, "seconds": builds.seconds,
                       "per_second": round(builds.per_second, 1),
                       "target": TARGET_BUILDS_PER_SECOND},
            "sends": [p.as_json() for p in pairs], "sink_accepted": accepted,
            "sink_processes": args.sink_processes, "cpus": os.cpu_count(),
            "python": platform.python_version(), "met": met,
        }, indent=2))
    else:
        print(table(builds, pairs, message_kb, accepted, args.sink_processes))
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
