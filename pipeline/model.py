"""The content model: frozen values that every later stage reads and none changes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from functools import cached_property
from pathlib import Path

from .seasons import IssueId


@dataclass(frozen=True)
class Contributor:
    """A person credited in an issue. ``known`` is False for a name not in contributors.toml."""

    name: str
    team: str | None = None
    id: str | None = None
    pronouns: str | None = None
    link: str | None = None
    known: bool = True
    email: str | None = None  # where 'newsletter remind' writes; never shown to readers


@dataclass(frozen=True)
class Correction:
    """A change made to a piece after it was published."""

    date: date
    text: str


@dataclass(frozen=True)
class Piece:
    """One Markdown piece of an issue, validated."""

    slug: str
    path: Path
    title: str
    authors: tuple[Contributor, ...]
    team: str | None
    section: str
    summary: str
    status: str
    order: int | None
    tags: tuple[str, ...]
    reviewed_by: tuple[Contributor, ...]
    content_note: str | None
    ai_disclosure: str | None
    corrections: tuple[Correction, ...]
    body: str
    body_line: int
    #: How the email shows it when the issue is over the size budget: None (the pipeline
    #: chooses), "full" (always in full) or "teaser" (always a teaser with a link to the web).
    email: str | None = None

    @property
    def is_draft(self) -> bool:
        return self.status == "draft"


@dataclass(frozen=True)
class LeftOut:
    """A file of an issue folder that is not in the build, and why."""

    path: Path
    reason: str


@dataclass(frozen=True)
class Issue:
    """One issue: its season, the editor's letter and its pieces in reading order."""

    issue_id: IssueId
    path: Path
    name: str
    moment: datetime
    publication_date: date
    title: str
    summary: str
    editors: tuple[Contributor, ...]
    letter: str
    letter_path: Path | None
    letter_line: int
    pieces: tuple[Piece, ...]
    left_out: tuple[LeftOut, ...]
    published: datetime | None = None  # when it was published, as recorded (publication)

    @property
    def published_at(self) -> datetime:
        """When a reader is told it was published: the recorded time, else its moment."""
        return self.published or self.moment

    @property
    def full_title(self) -> str:
        """``December Solstice 2026: The cost of computation``."""
        return f"{self.name}: {self.title}" if self.title != self.name else self.name

    @property
    def last_corrected(self) -> date | None:
        """The date of the latest correction of any piece, if there is one."""
        return max((c.date for p in self.pieces for c in p.corrections), default=None)

    def contributors(self) -> tuple[Contributor, ...]:
        """Everyone who wrote, reviewed or edited this issue, each once, in order of credit."""
        return self._credited

    @cached_property
    def _credited(self) -> tuple[Contributor, ...]:
        # Worked out once: the templates, the archive line and the report all ask for it.
        seen: dict[str, Contributor] = {}  # by case-folded name
        for piece in self.pieces:  # authors first: their piece can give them a team
            for person in piece.authors:
                key = person.name.casefold()
                if key not in seen or (seen[key].team is None and (person.team or piece.team)):
                    seen[key] = Contributor(person.name, person.team or piece.team, person.id,
                                            person.pronouns, person.link, person.known)
        for piece in self.pieces:
            for person in piece.reviewed_by:
                seen.setdefault(person.name.casefold(), person)
        for person in self.editors:
            seen.setdefault(person.name.casefold(), person)
        return tuple(seen.values())

    def teams(self) -> tuple[str, ...]:
        return tuple(sorted({p.team for p in self.contributors() if p.team}))
