"""Subscribers and the send ledger, behind one small interface (:class:`Store`).

The package: this module (the interface, its values and :func:`open_store`),
:mod:`~pipeline.store.schema` (one schema for both backends, with a per-dialect type map),
:mod:`~pipeline.store.sql` and :mod:`~pipeline.store.ledger` (the queries both backends share:
subscribers, consent and reports; the send lease and the ledger), :mod:`~pipeline.store.sqlite`
(:class:`SqliteStore`, the default: one file, WAL mode, no server) and
:mod:`~pipeline.store.postgres` (``PostgresStore``, for several app servers and senders sharing
one database). :func:`open_store` picks a backend from the ``subscribers.database`` setting: a
file path, or a ``postgresql://`` URL. Each keeps its schema version in the database and applies
the versions it lacks in order.

Every method that changes state takes ``now`` (never reads the clock) and is one transaction.
The ledger holds one row per recipient of a send; a row is claimed (``sending``) before its
message leaves and marked ``sent`` right after, so a send killed at any moment and started again
resumes with exactly the recipients not yet done.
"""

from __future__ import annotations

import itertools
import os
import socket
import threading
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Literal, Protocol

from ..databases import DEFAULT_PASSWORD_ENV, Database, Status, is_url
from ..errors import PipelineError
from .schema import MIGRATIONS as MIGRATIONS  # for the tests and tools that count versions

DeliveryStatus = Literal["pending", "sending", "sent", "deferred", "failed", "skipped"]


@dataclass(frozen=True)
class Subscriber:
    id: int
    email: str
    name: str | None
    status: Status
    consent_at: str | None
    consent_source: str | None
    created_at: str
    updated_at: str


@dataclass(frozen=True)
class NewSubscriber:
    """A subscriber to add: an already normalised address and how consent was given."""

    email: str
    name: str | None
    status: Status
    consent_at: str | None
    consent_source: str


@dataclass(frozen=True)
class Claimed:
    """A ledger row handed to a sender: who, and whether they are still subscribed."""

    subscriber_id: int
    email: str
    name: str | None
    active: bool
    attempts: int


@dataclass(frozen=True)
class Outcome:
    subscriber_id: int
    status: DeliveryStatus
    message_id: str | None = None
    size: int = 0
    detail: str | None = None
    bounced: bool = False


@dataclass(frozen=True)
class SendSummary:
    send_id: int
    issue_id: str
    counts: dict[str, int]
    size: int


@dataclass(frozen=True)
class Event:
    """One step of a subscriber's consent history: when, what, and how."""

    at: str
    kind: Literal["requested", "confirmed", "unsubscribed"]
    detail: str


ReportKind = Literal["permanent", "temporary", "complaint"]


@dataclass(frozen=True)
class Finding:
    """What one delivery report says about one subscriber (see :mod:`pipeline.bounces`)."""

    key: str  # the report's own key and the subscriber: the same report read again is known
    subscriber_id: int
    kind: ReportKind
    at: datetime  # when the report was made
    detail: str


@dataclass(frozen=True)
class Recorded:
    """What recording a finding did: ``new`` is False for a report processed before."""

    finding: Finding
    new: bool
    effect: str
    changed: Status | None = None  # the subscriber's new status, if it changed


#: How long a sender's lease lasts without a heartbeat (seconds), and how often it beats.
LEASE_SECONDS = 60.0
HEARTBEAT_SECONDS = 10.0
_owners = itertools.count(1)


@dataclass(frozen=True)
class Holder:
    """Who holds a send's lease: the row of the ``leases`` table."""

    owner: str
    lock: str
    heartbeat_at: str
    expires_at: str


@dataclass
class Lease:
    """The lease a sender holds on the send of one issue, in the database itself.

    ``owner`` names this sender (host, process and a number unique in the process);
    ``lock`` names the process-bound lock it holds besides (a lock file's device and inode, or
    a PostgreSQL advisory lock), which the next sender finds free only when this one is gone.
    ``lost`` is set when a heartbeat finds the lease taken or cannot write it: the send stops.
    """

    name: str
    owner: str
    lock: str
    seconds: float = LEASE_SECONDS
    lost: threading.Event = field(default_factory=threading.Event)
    reason: str = ""


def new_owner() -> str:
    """A sender's name, unique among the processes of all machines sharing a database."""
    return f"{socket.gethostname()} pid {os.getpid()}.{next(_owners)}"


def _most_within(moments: list[datetime], window: timedelta) -> int:
    """The most of the sorted ``moments`` that fall within any span shorter than ``window``
    (reports may arrive out of order, so every span is looked at, not only the latest)."""
    most = start = 0
    for end, moment in enumerate(moments):
        while moment - moments[start] >= window:
            start += 1
        most = max(most, end - start + 1)
    return most


class _RollBack(Exception):
    """Ends a dry run's transaction without committing it."""


class StoreError(PipelineError):
    """The subscriber database cannot be used: damaged, incomplete, or failing."""


class Store(Protocol):
    """What delivery and the CLI need from a subscriber database."""

    def add(self, subscriber: NewSubscriber, now: datetime) -> tuple[Subscriber, bool]: ...
    def import_many(self, rows: Iterable[NewSubscriber], now: datetime) -> tuple[int, int]: ...
    def get(self, email: str) -> Subscriber | None: ...
    def get_by_id(self, subscriber_id: int) -> Subscriber | None: ...
    def subscribers(self, status: Status | None = None) -> Iterator[Subscriber]: ...
    def set_status(self, subscriber_id: int, status: Status, now: datetime) -> None: ...
    def remove(self, email: str) -> bool: ...
    def count(self, status: Status | None = None) -> int: ...
    def has_send(self, issue_id: str) -> bool: ...
    def send_started(self, send_id: int) -> datetime: ...
    def begin_send(self, issue_id: str, now: datetime) -> tuple[int, bool]: ...
    def requeue(self, send_id: int, now: datetime) -> int: ...
    def claim(self, send_id: int, limit: int, after: int = 0,
              owner: str | None = None) -> list[Claimed]: ...
    def record(self, send_id: int, outcomes: Iterable[Outcome], now: datetime, *,
               check: Collection[int] = ()) -> set[int]: ...
    def summary(self, send_id: int) -> SendSummary: ...
    def request(self, email: str, name: str | None, source: str,
                now: datetime) -> tuple[Subscriber, Status | None]: ...
    def confirm(self, subscriber_id: int, source: str, now: datetime) -> bool: ...
    def unsubscribe(self, subscriber_id: int, source: str, now: datetime) -> bool: ...
    def history(self, subscriber_id: int) -> list[Event]: ...
    def record_findings(self, findings: Iterable[Finding], *, soft_limit: int, soft_days: int,
                        dry_run: bool = False) -> list[Recorded]: ...
    def complained(self) -> set[int]: ...
    def was_sent(self, issue_id: str, subscriber_id: int) -> bool: ...
    def send_lock(self, issue_id: str, now: Callable[[], datetime],
                  seconds: float = LEASE_SECONDS,
                  heartbeat: float = HEARTBEAT_SECONDS) -> AbstractContextManager[Lease]: ...
    def take_lease(self, lease: Lease, now: datetime) -> Holder | None: ...
    def renew_lease(self, lease: Lease, now: datetime) -> bool: ...
    def release_lease(self, lease: Lease) -> None: ...
    def lease_holder(self, name: str) -> Holder | None: ...
    def close(self) -> None: ...


def open_store(database: Database, password_env: str = DEFAULT_PASSWORD_ENV,
               environ: Mapping[str, str] | None = None) -> Store:
    """The store ``database`` names: a SQLite file, or a PostgreSQL database by its URL,
    whose password (if any) is in the environment variable ``password_env``."""
    if not is_url(database):
        from .sqlite import SqliteStore  # the store imports its backends when used

        return SqliteStore(Path(database))
    try:
        from .postgres import PostgresStore
    except ModuleNotFoundError as exc:
        if not (exc.name or "").startswith("psycopg"):
            raise
        raise PipelineError("subscribers.database is a PostgreSQL URL, but psycopg is not "
                            "installed: pip install 'ethics-society-pipeline[postgres]'") from None
    return PostgresStore(str(database), password_env, environ)
