"""Which subscriber database a newsletter names: a SQLite file, or a PostgreSQL URL.

The configuration checks ``subscribers.database`` with :func:`database_problem`; the store
(:mod:`pipeline.store`) opens what it names. Nothing here opens a database.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal
from urllib.parse import parse_qs, urlsplit

__all__ = ["DEFAULT_PASSWORD_ENV", "STATUSES", "URL_SCHEMES", "Database", "Status",
           "database_problem", "is_url"]

#: The states of a subscriber (the store keeps them; the command line names them).
Status = Literal["pending", "active", "unsubscribed", "bounced"]
STATUSES: tuple[Status, ...] = ("pending", "active", "unsubscribed", "bounced")

#: ``subscribers.database``: a SQLite file, or the URL of a PostgreSQL database.
Database = Path | str
DEFAULT_PASSWORD_ENV = "NEWSLETTER_DB_PASSWORD"
URL_SCHEMES = ("postgresql", "postgres")


def is_url(value: Database) -> bool:
    """Whether ``value`` names a PostgreSQL database rather than a SQLite file."""
    return isinstance(value, str) and value.split("://", 1)[0].lower() in URL_SCHEMES


def database_problem(value: str) -> str | None:
    """What is wrong with a ``subscribers.database`` value (None: nothing)."""
    if "://" not in value:
        return None if value.strip() else "must name a SQLite file or a postgresql:// URL"
    parts = urlsplit(value)
    if parts.scheme.lower() not in URL_SCHEMES:
        return (f"'{parts.scheme}://' is not a database this pipeline knows: give a SQLite "
                "file path or a URL like postgresql://USER@HOST:5432/DBNAME")
    if parts.password is not None or "password" in parse_qs(parts.query):
        return ("must not carry a password: put the password in the environment variable "
                f"named by subscribers.password_env (default {DEFAULT_PASSWORD_ENV})")
    try:
        parts.port  # noqa: B018 (raises on a bad port)
    except ValueError:
        return "has a port that is not a number"
    return None
