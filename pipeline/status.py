"""``newsletter status``: the coming issue at a glance, for editors.

``status`` shows an issue at a glance: its moment, the days left to the submission deadline
and to publication, its pieces by state (ready, draft, failing the build's checks), the
sections that have no ready piece yet, who is contributing and from which teams, and how many
pieces have a reviewer who is not one of their authors. The checks are the build's own
(:func:`pipeline.build.analyse_issue`), so "failing" means "would stop ``build-issue``".
(``call-for-pieces`` is :mod:`pipeline.call`.)
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from . import plaintext
from .analysis import analyse_issue
from .config import Config, load_config
from .content import ISSUE_FILE, list_issues, read_text, resolve_issue
from .errors import Problem, Problems, UsageError, display_path, join_names, long_date, plural
from .front_matter import split_document
from .model import Contributor, Issue, Piece
from .seasons import IssueId, next_issue

State = Literal["ready", "draft", "failing"]
STATES: tuple[State, ...] = ("ready", "draft", "failing")
NO_TEAM = "(no team)"  # how people and pieces without a team are listed


def team_order(team: str) -> tuple[bool, str]:
    """The order teams are listed in: by name, :data:`NO_TEAM` last."""
    return team == NO_TEAM, team.casefold()


# --------------------------------------------------------------------------- choosing the issue


@dataclass(frozen=True)
class Target:
    """The issue a command is about, whether or not its folder exists yet."""

    config: Config
    issue_id: IssueId
    folder: Path
    today: date
    chosen: bool  # given on the command line (rather than the coming issue)

    @property
    def exists(self) -> bool:
        return self.folder.is_dir()


def choose_issue(root: Path, ref: str | None, moment: datetime, must_exist: bool) -> Target:
    """The issue named by ``ref`` (an id or the path of its folder), or the coming one.

    A named issue whose folder is missing is a usage error when ``must_exist``; the coming
    issue (no ``ref``) may not have a folder yet, and the caller says how to create it.
    """
    config = load_config(root)
    today = moment.astimezone(config.time_zone).date()
    if ref is None:
        issue_id = next_issue(today, config.time_zone)
        return Target(config, issue_id, config.issues_dir / str(issue_id), today, False)
    folders = dict(list_issues(config, Problems()))
    issue_id = resolve_issue(ref, config, folders, must_exist=False)
    target = Target(config, issue_id, config.issues_dir / str(issue_id), today, True)
    if must_exist and not target.exists:
        known = ", ".join(str(i) for i in sorted(folders)) or "none yet"
        raise UsageError(f"no issue folder {display_path(target.folder)}: {how_to_create(issue_id)}"
                         f"; existing issues: {known}")
    return target


def how_to_create(issue_id: IssueId) -> str:
    return (f"create it with 'newsletter new-piece --issue {issue_id} --title \"...\" "
            "--author \"...\"' (which also writes its issue.md), or make the folder yourself")


def deadline_of(config: Config, issue_id: IssueId) -> date:
    return issue_id.publication_date(config.time_zone) - timedelta(
        days=config.submission_lead_days)


def has_independent_reviewer(piece: Piece) -> bool:
    """At least one reviewer who is not one of the piece's authors."""
    authors = {a.name.casefold() for a in piece.authors}
    return any(r.name.casefold() not in authors for r in piece.reviewed_by)


# --------------------------------------------------------------------------- status


@dataclass(frozen=True)
class PieceState:
    """One Markdown file of the issue and where it stands."""

    path: Path
    state: State
    title: str  # the file name when the piece cannot be read
    section: str | None
    errors: tuple[Problem, ...]
    warnings: int
    reviewed: bool  # a reviewer who is not an author (as written, for a failing piece)
    authors: tuple[str, ...] = ()  # who wrote it (as written, for a failing piece)


@dataclass(frozen=True)
class Status:
    """An issue at a glance."""

    issue_id: IssueId
    name: str
    theme: str | None
    moment: datetime
    publication_date: date
    deadline: date
    today: date
    folder: Path
    exists: bool
    pieces: tuple[PieceState, ...]
    left_out: tuple[tuple[Path, str], ...]
    sections: tuple[tuple[str, int], ...]  # ready pieces per configured section
    contributors: tuple[Contributor, ...]
    require_review: bool
    other_problems: tuple[Problem, ...]  # errors outside the pieces (issue.md, contributors)
    #: The HTML email as sent (drafts included): its size, its size with every piece in
    #: full, how many pieces are teasers, and the budget (KB).
    email: tuple[int, int, int, int] | None = None

    @property
    def days_to_deadline(self) -> int:
        return (self.deadline - self.today).days

    @property
    def days_to_publication(self) -> int:
        return (self.publication_date - self.today).days

    def by_state(self, state: State) -> tuple[PieceState, ...]:
        return tuple(p for p in self.pieces if p.state == state)

    @property
    def empty_sections(self) -> tuple[str, ...]:
        return tuple(name for name, count in self.sections if count == 0)

    @property
    def teams(self) -> tuple[str, ...]:
        return tuple(sorted({p.team for p in self.contributors if p.team}))

    @property
    def reviewable(self) -> tuple[PieceState, ...]:
        """Every piece, failing ones included (judged on their front matter as written), so
        fixing a piece does not change the count."""
        return self.pieces

    @property
    def unreviewed(self) -> tuple[PieceState, ...]:
        return tuple(p for p in self.reviewable if not p.reviewed)

    def as_json(self) -> dict[str, Any]:
        def piece(p: PieceState) -> dict[str, Any]:
            return {"path": display_path(p.path), "state": p.state, "title": p.title,
                    "authors": list(p.authors), "section": p.section,
                    "errors": len(p.errors), "warnings": p.warnings, "reviewed": p.reviewed}

        reviewable = self.reviewable
        return {
            "issue_id": str(self.issue_id),
            "name": self.name,
            "theme": self.theme,
            "folder": display_path(self.folder),
            "exists": self.exists,
            "moment_utc": self.moment.isoformat().replace("+00:00", "Z"),
            "publication_date": self.publication_date.isoformat(),
            "deadline": self.deadline.isoformat(),
            "today": self.today.isoformat(),
            "days_to_deadline": self.days_to_deadline,
            "days_to_publication": self.days_to_publication,
            "counts": {state: len(self.by_state(state)) for state in STATES},
            "pieces": [piece(p) for p in self.pieces],
            "left_out": [{"path": display_path(path), "reason": reason}
                         for path, reason in self.left_out],
            "sections": dict(self.sections),
            "empty_sections": list(self.empty_sections),
            "contributors": [{"name": c.name, "team": c.team} for c in self.contributors],
            "teams": list(self.teams),
            "review": {
                "required": self.require_review,
                "reviewed": len(reviewable) - len(self.unreviewed),
                "total": len(reviewable),
                "missing": [display_path(p.path) for p in self.unreviewed],
            },
            "problems": [p.format() for p in self.other_problems],
            "email": None if self.email is None else {
                "size": self.email[0], "full_size": self.email[1], "teasers": self.email[2],
                "budget_kb": self.email[3]},
        }


def issue_status(target: Target) -> Status:
    """Load, validate and summarise the target issue (drafts included)."""
    config, issue_id = target.config, target.issue_id
    common: dict[str, Any] = {
        "issue_id": issue_id, "name": issue_id.name(config.season_names),
        "moment": issue_id.moment(),
        "publication_date": issue_id.publication_date(config.time_zone),
        "deadline": deadline_of(config, issue_id), "today": target.today,
        "folder": target.folder, "require_review": config.workflow.require_review,
    }
    if not target.exists:
        return Status(theme=None, exists=False, pieces=(), left_out=(),
                      sections=tuple((s, 0) for s in config.sections), contributors=(),
                      other_problems=(), **common)
    analysis = analyse_issue(config, issue_id, drafts=True)
    issue = analysis.issue
    errors: dict[Path, list[Problem]] = {}
    warnings: dict[Path, int] = {}
    for problem in analysis.problems:
        key = problem.path.resolve()
        if problem.level == "error":
            errors.setdefault(key, []).append(problem)
        elif problem.level == "warning":
            warnings[key] = warnings.get(key, 0) + 1
    loaded = {p.path.resolve(): p for p in issue.pieces}
    states: list[PieceState] = []
    for path in _piece_files(target.folder):
        key = path.resolve()
        found, own = loaded.get(key), tuple(errors.pop(key, ()))
        if own or found is None:
            authors, reviewed = _as_written(path)
            if found is not None:
                authors = tuple(a.name for a in found.authors)
                reviewed = has_independent_reviewer(found)
            states.append(PieceState(path, "failing", found.title if found else path.name,
                                     found.section if found else None, own,
                                     warnings.get(key, 0), reviewed, authors))
        else:
            states.append(PieceState(path, "draft" if found.is_draft else "ready",
                                     found.title, found.section, (), warnings.get(key, 0),
                                     has_independent_reviewer(found),
                                     tuple(a.name for a in found.authors)))
    ready = [p for p in states if p.state == "ready"]
    sections = tuple((s, sum(1 for p in ready if p.section == s)) for s in config.sections)
    order = {s: i for i, s in enumerate(config.sections)}
    states.sort(key=lambda p: (STATES.index(p.state), order.get(p.section or "", len(order)),
                               p.title.casefold()))
    return Status(
        theme=theme_of(issue), exists=True, pieces=tuple(states),
        left_out=tuple((lo.path, lo.reason) for lo in issue.left_out if not _is_piece(lo.path)),
        sections=sections, contributors=issue.contributors(),
        other_problems=tuple(p for found in errors.values() for p in found),
        email=(analysis.email_size, analysis.email_full_size, analysis.teasers,
               config.size_budget_kb), **common,
    )


def _as_written(path: Path) -> tuple[tuple[str, ...], bool]:
    """The authors of a piece that does not load, and whether a reviewer who is not one of
    them is named, read from its front matter as written (nothing when that cannot be read)."""
    problems = Problems()
    text = read_text(path, problems)
    doc = split_document(path, text, problems) if text is not None else None
    if doc is None:
        return (), False

    def names(key: str) -> list[str]:
        value = doc.meta.get(key)
        value = [value] if isinstance(value, str) else value
        return [str(v).strip() for v in value if str(v).strip()] \
            if isinstance(value, list) else []

    authors = names("authors")
    folded = {a.casefold() for a in authors}
    return tuple(authors), any(r.casefold() not in folded for r in names("reviewed_by"))


def _is_piece(path: Path) -> bool:
    return path.suffix == ".md" and path.is_file() and path.name != ISSUE_FILE


def _piece_files(folder: Path) -> list[Path]:
    """The files ``load_issue`` reads as pieces."""
    return [p for p in sorted(folder.iterdir())
            if not p.name.startswith(".") and _is_piece(p)]


def theme_of(issue: Issue) -> str | None:
    """The issue's theme (its issue.md title), or None when it has none."""
    return issue.title if issue.title != issue.name else None


def _days(count: int, future: str, past: str) -> str:
    if count == 0:
        return "today"
    unit = "day" if abs(count) == 1 else "days"
    return future.format(f"{count} {unit}") if count > 0 else past.format(f"{-count} {unit}")




def status_text(status: Status) -> list[str]:
    """The status as lines of text for a terminal."""
    title = f"{status.name}: {status.theme}" if status.theme else status.name
    lines = [f"{status.issue_id}  {title}", ""]
    moment = status.moment
    lines += [
        f"  moment       {moment:%Y-%m-%d %H:%M} UTC",
        f"  deadline     {long_date(status.deadline)}: "
        + _days(status.days_to_deadline, "in {}", "closed {} ago"),
        f"  publication  {long_date(status.publication_date)}: "
        + _days(status.days_to_publication, "in {}", "published {} ago"),
        "",
    ]
    if not status.exists:
        lines += [f"No folder {display_path(status.folder)} yet, so no pieces. The first piece "
                  "creates it (and its issue.md):",
                  f"  newsletter new-piece --issue {status.issue_id} --title \"...\" "
                  "--author \"...\""]
        return lines
    counts = {state: len(status.by_state(state)) for state in STATES}
    lines.append(f"Pieces: {counts['ready']} ready, {counts['draft']} draft, "
                 f"{counts['failing']} failing checks")
    width = max((plaintext.display_width(p.section or "") for p in status.pieces), default=0)
    for piece in status.pieces:
        section = piece.section or ""
        pad = " " * (width - plaintext.display_width(section))
        by = f" (by {join_names(piece.authors)})" if piece.authors else ""
        if piece.state == "failing":
            first = piece.errors[0].message if piece.errors else "could not be read"
            lines.append(f"  {piece.state:<8} {section}{pad}  {display_path(piece.path)}{by}: "
                         f"{plural(len(piece.errors), 'error')}, first: {first}")
        else:
            lines.append(f"  {piece.state:<8} {section}{pad}  {piece.title}{by}")
    if counts["failing"]:
        lines.append(f"  (every problem: newsletter check {status.issue_id})")
    for path, reason in status.left_out:
        lines.append(f"  left out  {display_path(path)}: {reason}")
    lines.append("")
    if status.email is not None:
        size, full, teasers, budget = status.email
        lines.append(f"Email: {size / 1024:.1f} KB of {budget} KB as sent"
                     + (f" ({full / 1024:.1f} KB in full; {plural(teasers, 'piece')} as "
                        "teasers)" if teasers else "") + " (drafts included)")
    lines.append("Sections (ready pieces): "
                 + ", ".join(f"{name} {count}" for name, count in status.sections))
    empty = status.empty_sections
    lines.append(f"Empty sections: {', '.join(empty) if empty else 'none'}")
    lines.append("")
    people = status.contributors
    lines.append(f"Contributors: {len(people)} {'person' if len(people) == 1 else 'people'} "
                 f"from {plural(len(status.teams), 'team')} (authors, reviewers and editors, "
                 "drafts included)")
    by_team: dict[str, list[str]] = {}
    for person in people:
        by_team.setdefault(person.team or NO_TEAM, []).append(person.name)
    for team in sorted(by_team, key=team_order):
        lines.append(f"  {team}: {', '.join(by_team[team])}")
    lines.append("")
    reviewable = status.reviewable
    missing = status.unreviewed
    verb = "has" if len(reviewable) == 1 else "have"
    lines.append(f"Review coverage: {len(reviewable) - len(missing)} of "
                 f"{plural(len(reviewable), 'piece')} {verb} a reviewer who is not an author"
                 + (" (failing pieces as written)" if status.by_state("failing") else "")
                 + (" (required)" if status.require_review else ""))
    if status.require_review:
        for piece in missing:
            lines.append(f"  needs a reviewer: {display_path(piece.path)} ({piece.title})")
    return lines
