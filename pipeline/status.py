"""``newsletter status`` and ``newsletter call-for-pieces``: the coming issue, for editors.

``status`` shows an issue at a glance: its moment, the days left to the submission deadline
and to publication, its pieces by state (ready, draft, failing the build's checks), the
sections that have no ready piece yet, who is contributing and from which teams, and how many
pieces have a reviewer who is not one of their authors. The checks are the build's own
(:func:`pipeline.build.analyse_issue`), so "failing" means "would stop ``build-issue``".

``call-for-pieces`` writes the announcement an editor sends to everyone: the theme, the
deadline, how to add a piece, the sections that still want one and where to ask.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from . import plaintext
from .build import analyse_issue, resolve_issue
from .config import Config, load_config
from .console import Console, newsletter_root, now
from .content import ISSUE_FILE, list_issues, load_issue, read_text, split_document
from .errors import PipelineError, Problem, Problems, UsageError, display_path, plural
from .model import Contributor, Issue, Piece
from .seasons import IssueId, IssueIdError, next_issue

State = Literal["ready", "draft", "failing"]
STATES: tuple[State, ...] = ("ready", "draft", "failing")
NO_TEAM = "(no team)"


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
    if "/" in ref or Path(ref).is_dir():
        issue_id = resolve_issue(ref, config, folders)
    else:
        try:
            issue_id = IssueId.parse(ref)
        except IssueIdError as exc:
            raise UsageError(str(exc)) from None
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
    analysis = analyse_issue(config.root, str(issue_id), drafts=True, config=config)
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
        theme=_theme(issue), exists=True, pieces=tuple(states),
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


def _theme(issue: Issue) -> str | None:
    return issue.title if issue.title != issue.name else None


def _days(count: int, future: str, past: str) -> str:
    if count == 0:
        return "today"
    unit = "day" if abs(count) == 1 else "days"
    return future.format(f"{count} {unit}") if count > 0 else past.format(f"{-count} {unit}")


def _long(day: date) -> str:
    return f"{day:%A} {day.day} {day:%B %Y}"



def status_text(status: Status) -> list[str]:
    """The status as lines of text for a terminal."""
    title = f"{status.name}: {status.theme}" if status.theme else status.name
    lines = [f"{status.issue_id}  {title}", ""]
    moment = status.moment
    lines += [
        f"  moment       {moment:%Y-%m-%d %H:%M} UTC",
        f"  deadline     {_long(status.deadline)}: "
        + _days(status.days_to_deadline, "in {}", "closed {} ago"),
        f"  publication  {_long(status.publication_date)}: "
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
        by = f" (by {_join(piece.authors)})" if piece.authors else ""
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
    for team in sorted(by_team, key=lambda t: (t == NO_TEAM, t.casefold())):
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


def _run_status(args: argparse.Namespace, console: Console) -> int:
    target = choose_issue(newsletter_root(args), args.issue, now(), must_exist=True)
    status = issue_status(target)
    if args.json:
        console.result(json.dumps(status.as_json(), indent=2, ensure_ascii=False))
    else:
        for line in status_text(status):
            console.result(line)
    for problem in status.other_problems:
        console.problem(problem)
    if not status.exists:
        console.message("note", f"the coming issue {status.issue_id} has no folder yet")
    return 1 if status.other_problems else 0


# --------------------------------------------------------------------------- call for pieces

Span = tuple[Literal["", "b", "code"], str]
Block = tuple[Literal["h1", "h2", "p", "code", "list"], Any]


@dataclass(frozen=True)
class Call:
    """What a call for pieces says."""

    newsletter: str
    issue_id: IssueId
    name: str
    kind: str
    theme: str | None
    summary: str | None
    publication_date: date
    deadline: date
    sections: tuple[tuple[str, int], ...]
    editors: tuple[str, ...]
    editors_address: str | None
    require_review: bool
    word_limit: int


def make_call(target: Target) -> Call:
    config, issue_id = target.config, target.issue_id
    sections = tuple((s, 0) for s in config.sections)
    theme = summary = None
    editors: tuple[str, ...] = ()
    if target.exists:
        # Ready pieces only; a piece with errors is not counted (status shows it).
        issue = load_issue(issue_id, target.folder, config, None, Problems())
        theme = _theme(issue)
        # load_issue falls back to the first piece's summary: keep only issue.md's own.
        fallback = issue.pieces[0].summary if issue.pieces else ""
        summary = issue.summary if issue.summary and issue.summary != fallback else None
        editors = tuple(e.name for e in issue.editors)
        sections = tuple((s, sum(1 for p in issue.pieces if p.section == s))
                         for s in config.sections)
    return Call(
        newsletter=config.title, issue_id=issue_id, name=issue_id.name(config.season_names),
        kind=issue_id.kind, theme=theme, summary=summary,
        publication_date=issue_id.publication_date(config.time_zone),
        deadline=deadline_of(config, issue_id), sections=sections, editors=editors,
        editors_address=config.editors_address,
        require_review=config.workflow.require_review, word_limit=config.workflow.word_limit,
    )


#: The front matter a call for pieces reminds people of (new-piece writes every field).
FRONT_MATTER = (
    ("title: Your headline", "required"),
    ("authors: [Your Name, A Co-author]", "required; see contributors.toml"),
    ("summary: One or two sentences.", "required once ready"),
    ("status: ready", "draft while writing"),
    ("reviewed_by: [A Colleague]", "someone who is not an author"),
)


def call_blocks(call: Call) -> list[Block]:
    """The announcement as a list of blocks, written out as Markdown or plain text."""
    month = call.name.split()[0]
    blocks: list[Block] = [("h1", f"Call for pieces: {call.name}")]
    blocks.append(("p", [
        ("b", call.newsletter),
        ("", f" comes out on {_long(call.publication_date)}, the day of the {month} "
             f"{call.kind}, and we would like your piece in it."),
    ]))
    if call.theme:
        stop = "" if call.theme[-1] in ".?!" else "."
        theme: list[Span] = [("b", f"Theme: {call.theme}{stop}")]
        if call.summary:
            theme.append(("", f" {call.summary}"))
        blocks.append(("p", theme))
    blocks.append(("p", [
        ("b", f"Deadline: {_long(call.deadline)}."),
        ("", " Pieces marked "), ("code", "status: ready"),
        ("", " by the end of that day go into the issue; drafts wait for the next one."),
    ]))
    folder = f"issues/{call.issue_id}/"
    blocks.append(("h2", "How to add a piece"))
    blocks.append(("p", [("", "In the newsletter's repository, run:")]))
    blocks.append(("code", [f"newsletter new-piece --issue {call.issue_id} \\",
                            '    --title "Your title" --author "Your Name"']))
    blocks.append(("p", [
        ("", "It writes your piece into "), ("code", folder),
        ("", ", named after its title, with every front-matter field explained. Write below "
             f"the front matter in Markdown, in up to {call.word_limit:,} words, then run "),
        ("code", f"newsletter check {call.issue_id}"),
        ("", " to see anything that needs fixing before the deadline."),
    ]))
    blocks.append(("h2", "Sections we want"))
    items: list[list[Span]] = []
    for name, count in call.sections:
        if count:
            items.append([("", f"{name}: {plural(count, 'piece')} ready so far")])
        else:
            items.append([("b", f"{name}: nothing yet"),
                          ("", ", we would especially like a piece here")])
    blocks.append(("list", items))
    blocks.append(("h2", "The front matter"))
    blocks.append(("p", [("", "Your piece starts with these lines (new-piece writes them "
                             "for you, with the optional ones):")]))
    width = max(len(text) for text, _ in FRONT_MATTER)
    blocks.append(("code", ["---", *(f"{text:<{width}}  # {note}" for text, note in FRONT_MATTER),
                            "---"]))
    review = ("Every piece needs a reviewer who is not one of its authors: ask a colleague "
              "to read it and add them to ") if call.require_review else (
              "Ask a colleague to read your piece before it goes in, and add them to ")
    blocks.append(("p", [("", review), ("code", "reviewed_by"),
                         ("", ". Reviewing is contributing: reviewers are credited too.")]))
    blocks.append(("h2", "Questions"))
    if call.editors_address:
        ask: list[Span] = [("", "Write to the editors at "), ("code", call.editors_address),
                           ("", ".")]
    elif call.editors:
        ask = [("", f"Ask the editors of this issue, {_join(call.editors)}.")]
    else:
        ask = [("", "Reply to this message.")]
    blocks.append(("p", ask))
    return blocks


def _join(names: Sequence[str]) -> str:
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


_MD_SPECIAL = str.maketrans({c: f"\\{c}" for c in "\\`*_[]<>#|"})


def _md_spans(spans: list[Span]) -> str:
    out = []
    for style, text in spans:
        if style == "code":
            fence = "``" if "`" in text else "`"
            out.append(f"{fence}{text}{fence}")
        elif style == "b":
            out.append(f"**{text.translate(_MD_SPECIAL)}**")
        else:
            out.append(text.translate(_MD_SPECIAL))
    return "".join(out)


def call_markdown(blocks: list[Block]) -> str:
    out: list[str] = []
    for kind, value in blocks:
        if kind == "h1":
            out.append(f"# {str(value).translate(_MD_SPECIAL)}")
        elif kind == "h2":
            out.append(f"## {str(value).translate(_MD_SPECIAL)}")
        elif kind == "p":
            out.append(_md_spans(value))
        elif kind == "code":
            lang = "yaml" if value[0] == "---" else "sh"
            out.append("\n".join([f"```{lang}", *value, "```"]))
        else:
            out.append("\n".join(f"- {_md_spans(item)}" for item in value))
    return "\n\n".join(out) + "\n"


def _text_spans(spans: list[Span]) -> str:
    """Bold as ``*text*`` and code as `` `code` `` kept on one line, as in the text email."""
    out = []
    for style, text in spans:
        if style == "code":
            out.append("`" + text.replace(" ", plaintext.GLUE) + "`")
        else:
            out.append(f"*{text}*" if style == "b" else text)
    return "".join(out)


def call_text(blocks: list[Block], width: int = plaintext.WIDTH) -> str:
    out: list[str] = []
    for kind, value in blocks:
        if kind == "h1":
            out.append(plaintext.underline(plaintext.wrap(str(value), width), "="))
        elif kind == "h2":
            out.append(plaintext.underline(str(value), "-"))
        elif kind == "p":
            out.append(plaintext.wrap(_text_spans(value), width))
        elif kind == "code":
            out.append("\n".join(f"    {line}".rstrip() for line in value))
        else:
            out.append("\n".join(plaintext.wrap(_text_spans(item), width, first="  * ",
                                                rest="    ") for item in value))
    return "\n\n".join(out) + "\n"


def _run_call(args: argparse.Namespace, console: Console) -> int:
    target = choose_issue(newsletter_root(args), args.issue, now(), must_exist=False)
    config, issue_id = target.config, target.issue_id
    published = issue_id.publication_date(config.time_zone)
    if published < target.today:
        raise PipelineError(f"{issue_id} was published on {_long(published)}; call for "
                            "pieces for a coming issue ('newsletter calendar' lists them, the "
                            f"next is {next_issue(target.today, config.time_zone)})")
    call = make_call(target)
    days = (call.deadline - target.today).days
    if days < 0:
        console.message("warning", f"the deadline of {issue_id} was {_long(call.deadline)}, "
                        f"{plural(-days, 'day')} ago; for the issue after it, run "
                        f"'newsletter call-for-pieces {issue_id.following()}'")
    if not target.exists:
        console.message("note", f"{display_path(target.folder)} does not exist yet: the first "
                        "'newsletter new-piece' for this issue creates it")
    blocks = call_blocks(call)
    if args.send:
        return _send_call(target, call, call_text(blocks), console)
    text = call_markdown(blocks) if args.format == "markdown" else call_text(blocks)
    console.result(text.rstrip("\n"))
    return 0


def _send_call(target: Target, call: Call, text: str, console: Console) -> int:
    """Send the call, as plain text, to email.call_address through the delivery transport."""
    import os

    from .remind import deliver, message_id
    from .send import SendOptions, transports_for

    config = target.config
    address = config.workflow.call_address
    if not address:
        raise PipelineError("call-for-pieces --send: set call_address in [email] of "
                            "newsletter.toml (e.g. an all-staff list); nothing was sent")
    moment = now()
    transports, label = transports_for(config, SendOptions(issue=str(call.issue_id)),
                                       dict(os.environ), count=1)
    try:
        why = deliver(config, transports[0], "", address, f"Call for pieces: {call.name}",
                      text, message_id(config, f"call|{call.issue_id}|{moment.isoformat()}"),
                      moment)
    finally:
        transports[0].close()
    if why is not None:
        console.message("error", f"{address}: the call was not sent: {why}")
        return 1
    console.result(f"sent the call for pieces for {call.issue_id} to {address} via {label}")
    return 0


# --------------------------------------------------------------------------- the commands


def register(commands: Any, common: Callable[[argparse.ArgumentParser, bool], None]) -> None:
    """Add ``status`` and ``call-for-pieces`` to the ``newsletter`` parser."""
    status = commands.add_parser(
        "status", help="the coming issue at a glance: deadline, pieces by state, gaps, credit",
        description="Show an issue at a glance: its moment, the days left to the submission "
                    "deadline and to publication, its pieces by state (ready, draft, failing "
                    "the build's checks), the sections without a ready piece, its contributors "
                    "and teams, and how many pieces have a reviewer who is not an author. "
                    "Exit status 1 when issue.md, contributors.toml or the email budget has "
                    "an error.")
    common(status, True)
    status.add_argument("issue", metavar="ISSUE", nargs="?",
                        help="an issue id or the path of its folder (default: the coming "
                             "issue, from the calendar)")
    status.add_argument("--json", action="store_true", help="print JSON for tools")
    status.set_defaults(run=_run_status)

    call = commands.add_parser(
        "call-for-pieces", help="print a ready-to-send call for pieces for the coming issue",
        description="Print an announcement to send to every team: the theme, the deadline, "
                    "the publication day, how to add a piece, the sections that still want "
                    "one and where to ask.")
    common(call, True)
    call.add_argument("issue", metavar="ISSUE", nargs="?",
                      help="an issue id or the path of its folder (default: the coming issue); "
                           "the folder need not exist yet")
    call.add_argument("--format", choices=("markdown", "text"), default="markdown",
                      help="Markdown (default) or plain text wrapped at 72 columns")
    call.add_argument("--send", action="store_true",
                      help="send it (as plain text) to call_address in [email] of "
                           "newsletter.toml, e.g. an all-staff list, through the delivery "
                           "transport (the outbox unless delivery.smtp_url is set)")
    call.set_defaults(run=_run_call)
