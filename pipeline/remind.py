"""``newsletter remind [ISSUE]``: remind the contributors before the submission deadline.

Each author of a piece that is not ready (a draft, or failing the build's checks) gets one
email: their pieces, each with its state and what ``newsletter check`` still finds, and the
deadline. With ``[remind] silent_issues = N``, the members of each team that has not written
for the last N issues are asked for a piece too. Addresses come from the ``email`` of each
person in ``contributors.toml``.

Messages go through the delivery transport (the outbox folder unless ``delivery.smtp_url`` is
set). Every reminder sent is recorded in ``reminders.json`` at the root, under a key made of
the issue, the kind, the address and what it is about (the pieces, or the team), so running
``remind`` again sends only what is new: never the same reminder twice. Its Message-ID is made
from the same key, so a reminder sent again after a crash is recognisably the same message.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, formataddr, parseaddr
from pathlib import Path
from typing import Any, Literal

from . import plaintext
from .check import Finding
from .config import Config
from .content import list_issues, load_issue
from .errors import PipelineError, Problems, display_path, in_days, long_date, plural
from .model import Contributor
from .status import Target, issue_status
from .transports import PermanentFailure, TemporaryFailure, Transport
from .writer import Output, write_all

LEDGER = "reminders.json"
Kind = Literal["draft", "silent-team"]


@dataclass(frozen=True)
class Reminder:
    """One email to one person, and the key that says whether it was sent already."""

    key: str
    kind: Kind
    name: str
    address: str
    subject: str
    text: str


@dataclass(frozen=True)
class Plan:
    """The reminders for an issue, and the people who cannot be reached."""

    reminders: tuple[Reminder, ...]
    unreachable: tuple[str, ...]  # names without an email in contributors.toml


# --------------------------------------------------------------------------- messages


def plain_email(config: Config, name: str, address: str, subject: str, text: str,
                message_id: str, moment: datetime) -> bytes:
    """A plain-text UTF-8 email from the newsletter's sender, with CRLF line endings."""
    message = EmailMessage(policy=SMTP)
    message["From"] = config.sender
    message["To"] = formataddr((name, address)) if name else address
    message["Subject"] = subject
    message["Date"] = format_datetime(moment)
    message["Message-ID"] = message_id
    if config.editors_address:
        message["Reply-To"] = config.editors_address
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(text, charset="utf-8")
    return message.as_bytes()


def message_id(config: Config, key: str) -> str:
    """A Message-ID made from ``key``: the same reminder always has the same one."""
    domain = Address(addr_spec=parseaddr(config.sender)[1]).domain or "newsletter.invalid"
    return f"<{hashlib.sha256(key.encode()).hexdigest()[:32]}.remind@{domain}>"


def deliver(config: Config, transport: Transport, name: str, address: str, subject: str,
            text: str, msg_id: str, moment: datetime) -> str | None:
    """Hand one message to the transport; None when it went, else why it did not."""
    data = plain_email(config, name, address, subject, text, msg_id, moment)
    try:
        transport.send(parseaddr(config.sender)[1], address, msg_id, data)
    except (TemporaryFailure, PermanentFailure) as exc:
        return str(exc)
    return None


# --------------------------------------------------------------------------- planning



def _person(name: str, people: dict[str, Contributor] | None) -> Contributor | None:
    if people is None:
        return None
    return people.get(name) or people.get(name.casefold())


def plan_reminders(target: Target, people: dict[str, Contributor] | None,
                   findings: Sequence[Finding]) -> Plan:
    """Who is reminded of what, for the issue of ``target`` (nothing is sent here)."""
    config, issue_id = target.config, target.issue_id
    status = issue_status(target)
    deadline, published = status.deadline, status.publication_date
    days = (deadline - target.today).days
    name = status.name
    found: dict[Path, list[Finding]] = {}
    for finding in findings:
        found.setdefault(finding.path.resolve(), []).append(finding)

    # Each author's pieces that are not ready, by address.
    pieces: dict[str, list[Any]] = {}
    names: dict[str, str] = {}
    unreachable: list[str] = []
    for piece in status.pieces:
        if piece.state == "ready":
            continue
        for author in piece.authors:
            person = _person(author, people)
            if person is None or not person.email:
                if author not in unreachable:
                    unreachable.append(author)
                continue
            pieces.setdefault(person.email, []).append(piece)
            names[person.email] = person.name

    reminders: list[Reminder] = []
    for address, own in pieces.items():
        lines = [f"Hello {names[address]},", ""]
        lines.append(plaintext.wrap(
            f"Submissions for {name} of {config.title} close on {long_date(deadline)} "
            f"({in_days(days)}); the issue comes out on {long_date(published)}. "
            f"{'This piece is' if len(own) == 1 else 'These pieces are'} not ready yet:"))
        for piece in own:
            state = "a draft" if piece.state == "draft" else "failing the build's checks"
            where = display_path(piece.path, config.root)
            named = where if piece.title == piece.path.name else f"{piece.title} ({where})"
            lines += ["", f"* {named}: {state}"]
            notes = found.get(piece.path.resolve(), [])
            if notes:
                lines.append(f"  'newsletter check {issue_id}' still finds:")
                for note in notes:
                    where = f"line {note.line}: " if note.line else ""
                    lines.append(f"  - {where}{note.severity}: {note.message} [{note.rule}]")
            else:
                lines.append("  'newsletter check' finds nothing to fix.")
        lines += ["", plaintext.wrap(
            "When a piece is finished, give it a summary, set 'status: ready' and run "
            f"'newsletter check {issue_id}'. Drafts wait for the next issue."), ""]
        paths = ",".join(sorted(display_path(p.path, config.root) for p in own))
        reminders.append(Reminder(
            key=f"{issue_id}|draft|{address.casefold()}|{paths}", kind="draft",
            name=names[address], address=address,
            subject=f"{name}: your {'piece is' if len(own) == 1 else 'pieces are'} due "
                    f"{long_date(deadline)}",
            text="\n".join(lines)))

    for team, members in _silent_teams(target, people):
        for person in members:
            if not person.email:
                if person.name not in unreachable:
                    unreachable.append(person.name)
                continue
            n = config.workflow.remind_silent_issues
            text = "\n".join([
                f"Hello {person.name},", "",
                plaintext.wrap(
                    f"{team} has not written for {config.title} in the last "
                    f"{plural(n, 'issue')}. Would you, or someone in {team}, "
                    f"write a short piece for {name}? Submissions close on {long_date(deadline)} "
                    f"({in_days(days)})."),
                "", "Start one with:", "",
                f"    newsletter new-piece --issue {issue_id} --title \"...\" "
                f"--author \"{person.name}\"", ""])
            reminders.append(Reminder(
                key=f"{issue_id}|silent-team|{person.email.casefold()}|{team}",
                kind="silent-team", name=person.name, address=person.email,
                subject=f"{name}: a piece from {team}?", text=text))
    return Plan(tuple(reminders), tuple(unreachable))


def _silent_teams(target: Target, people: dict[str, Contributor] | None,
                  ) -> list[tuple[str, list[Contributor]]]:
    """The teams of contributors.toml with no piece in the last N issues before this one
    (nor any piece in this one yet), with their members; none when N is 0 or the archive
    has fewer than N issues."""
    config = target.config
    window = config.workflow.remind_silent_issues
    if window == 0 or not people:
        return []
    folders = [(i, f) for i, f in list_issues(config, Problems()) if i < target.issue_id]
    if len(folders) < window:
        return []
    wrote: set[str] = set()
    for issue_id, folder in folders[-window:]:
        issue = load_issue(issue_id, folder, config, people, Problems())
        for piece in issue.pieces:
            wrote |= {piece.team or ""} | {a.team or "" for a in piece.authors}
    for state in issue_status(target).pieces:  # a piece on the way counts
        for author in state.authors:
            person = _person(author, people)
            if person and person.team:
                wrote.add(person.team)
    members: dict[str, list[Contributor]] = {}
    for person in {p.id: p for p in people.values()}.values():
        if person.team and person.team not in wrote:
            members.setdefault(person.team, []).append(person)
    return sorted(members.items())


# --------------------------------------------------------------------------- the ledger


def read_ledger(root: Path) -> dict[str, Any]:
    path = root / LEDGER
    if not path.exists():
        return {"sent": []}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise PipelineError(f"{display_path(path)}: cannot read the record of reminders sent "
                            f"({exc}); fix or remove it (then everyone may be reminded "
                            "again)") from None
    if not isinstance(data, dict) or not isinstance(data.get("sent"), list):
        raise PipelineError(f"{display_path(path)} is not a record of reminders sent; fix or "
                            "remove it (then everyone may be reminded again)")
    return data


def record(root: Path, ledger: dict[str, Any], reminder: Reminder, moment: datetime) -> None:
    ledger["sent"].append({"key": reminder.key, "to": reminder.address,
                           "at": moment.isoformat()})
    text = json.dumps(ledger, indent=2, ensure_ascii=False) + "\n"
    write_all([Output(root, LEDGER, text.encode("utf-8"))])


