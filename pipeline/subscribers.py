"""Subscriber addresses and the CSV files other newsletter tools import and export.

Addresses are validated and normalised with email-validator (syntax only: no DNS look-ups).
An import reads the whole file first and reports every bad row with its line number; only a
file without errors is imported, in one transaction, so a failed import changes nothing.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from pathlib import Path
from typing import TextIO

from email_validator import EmailNotValidError, validate_email

from .databases import STATUSES, Status
from .errors import Problems
from .store import NewSubscriber, Subscriber

EMAIL_COLUMNS = ("email", "email address", "e-mail", "email_address", "e-mail address", "mail")
NAME_COLUMNS = ("name", "full name", "full_name", "display name")
FIRST_COLUMNS = ("first name", "first_name", "firstname", "fname", "given name")
LAST_COLUMNS = ("last name", "last_name", "lastname", "lname", "family name", "surname")
CONSENT_COLUMNS = ("consent_at", "optin_time", "confirm_time", "subscribed_at", "created_at",
                   "created", "date added", "signup date")
STATUS_WORDS: dict[str, Status] = {
    "active": "active", "subscribed": "active", "confirmed": "active",
    "pending": "pending", "unconfirmed": "pending",
    "unsubscribed": "unsubscribed", "unsubscribe": "unsubscribed",
    "bounced": "bounced", "cleaned": "bounced",
}
EXPORT_FIELDS = ("email", "name", "status", "consent_at", "consent_source", "created_at",
                 "updated_at")


class AddressError(ValueError):
    """Not a usable email address; the message says why."""


def normalise(address: str) -> str:
    """The normalised form of an address (domain lower-cased, IDNA), or AddressError."""
    cleaned = address.strip()
    if any(ch in cleaned for ch in "\r\n"):
        raise AddressError("an address cannot contain a line break")
    try:
        return str(validate_email(cleaned, check_deliverability=False).normalized)
    except EmailNotValidError as exc:
        raise AddressError(str(exc)) from None


def clean_name(name: str | None) -> str | None:
    """A display name without control characters (so it can never break a header)."""
    if name is None:
        return None
    text = " ".join("".join(ch if ch.isprintable() else " " for ch in name).split())
    return text or None


def _column(header: list[str], names: Iterable[str]) -> int | None:
    folded = [h.strip().lower() for h in header]
    for name in names:
        if name in folded:
            return folded.index(name)
    return None


def read_csv(path: Path, source: str, problems: Problems) -> list[NewSubscriber]:
    """Parse a subscriber CSV with a header row; duplicates (by address) are merged."""
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        problems.error(path, None, f"not UTF-8 text ({exc.reason}); export the file as UTF-8")
        return []
    rows = list(csv.reader(io.StringIO(text, newline="")))
    if not rows:
        problems.error(path, 1, "the file is empty; it needs a header row with an 'email' column")
        return []
    header = rows[0]
    email_at = _column(header, EMAIL_COLUMNS)
    if email_at is None:
        problems.error(path, 1, f"no email column in the header ({', '.join(header)}); name "
                       "one of the columns 'email' or 'Email Address'")
        return []
    name_at = _column(header, NAME_COLUMNS)
    first_at, last_at = _column(header, FIRST_COLUMNS), _column(header, LAST_COLUMNS)
    consent_at = _column(header, CONSENT_COLUMNS)
    status_at = _column(header, ("status", "member_status", "state"))
    source_at = _column(header, ("consent_source", "source", "optin_source"))

    found: dict[str, NewSubscriber] = {}
    for line, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue

        def cell(at: int | None, row: list[str] = row) -> str:
            return row[at].strip() if at is not None and at < len(row) else ""

        try:
            email = normalise(cell(email_at))
        except AddressError as exc:
            problems.error(path, line, f"'{cell(email_at)}' is not a valid address: {exc}")
            continue
        status: Status = "active"
        if status_at is not None and cell(status_at):
            word = cell(status_at).lower()
            if word not in STATUS_WORDS:
                problems.error(path, line, f"unknown status '{cell(status_at)}'; use one of "
                               f"{', '.join(STATUSES)}")
                continue
            status = STATUS_WORDS[word]
        name = cell(name_at) or " ".join(p for p in (cell(first_at), cell(last_at)) if p)
        key = email.lower()
        if key in found:
            problems.note(path, line, f"{email} is listed twice; the first row is kept")
            continue
        found[key] = NewSubscriber(email, clean_name(name), status, cell(consent_at) or None,
                                   cell(source_at) or source)
    return list(found.values())


def write_csv(subscribers: Iterable[Subscriber], out: TextIO) -> int:
    """Write subscribers as CSV with a header row; how many rows."""
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(EXPORT_FIELDS)
    count = 0
    for s in subscribers:
        writer.writerow([s.email, s.name or "", s.status, s.consent_at or "",
                         s.consent_source or "", s.created_at, s.updated_at])
        count += 1
    return count
