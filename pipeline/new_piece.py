"""``newsletter new-piece``: start a piece in the coming issue (or the one given).

The new file is ``issues/<issue-id>/<slug-of-the-title>.md``. Its front matter has every field
of :data:`~pipeline.front_matter.PIECE_FIELDS`, in order, each with its help as a YAML comment: the
fields the command can fill in (title, authors, team, section, status) are set, the others are
commented out with an example, so the piece loads without errors as it is. The issue folder and
its ``issue.md`` are created when the issue has no folder yet. Nothing is ever overwritten.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

from .config import Config
from .content import ISSUE_FILE, resolve_issue, slugify
from .contributors import CONTRIBUTORS_NAME
from .errors import (
    PipelineError,
    Problems,
    UsageError,
    did_you_mean,
    display_path,
    in_days,
    long_date,
)
from .front_matter import (
    ISSUE_FIELDS,
    PIECE_FIELDS,
    Field,
    check_fields,
    split_document,
    yaml_value,
)
from .model import Contributor
from .seasons import IssueId, entry, next_issue
from .writer import Output, write_all

#: Where the ``# comment`` of a front-matter line starts (longer lines get two spaces).
COMMENT_COLUMN = 34


@dataclass(frozen=True)
class NewPiece:
    """What ``new-piece`` will write, worked out before anything is written."""

    issue_id: IssueId
    folder: Path
    piece_path: Path
    piece_text: str
    issue_text: str | None  # issue.md for a new issue folder, else None
    warnings: tuple[str, ...]


def plan_piece(
    config: Config, people: dict[str, Contributor] | None, title: str, authors: list[str],
    *, issue: str | None, section: str | None, team: str | None, slug: str | None,
    today: date,
) -> NewPiece:
    """Work out the new piece (and issue.md) and check it; raise on bad usage or a clash."""
    title = _one_line(title, "--title")
    names = [_one_line(name, "--author") for name in authors]
    issue_id = _issue_id(issue, config, today)
    folder = config.issues_dir / str(issue_id)
    if folder.exists() and not folder.is_dir():
        raise PipelineError(f"{display_path(folder)} is a file, not an issue folder; move it "
                            "away and run new-piece again")
    chosen_section = _section(section, config)
    file_slug = _slug(slug, title)
    piece_path = folder / f"{file_slug}.md"
    _refuse_existing(piece_path, folder)

    warnings: list[str] = []
    resolved: list[str] = []
    teams: list[str] = []
    unknown: list[str] = []
    for name in names:
        person = None
        if people is not None:
            person = people.get(name) or people.get(name.casefold())
        if person is None:
            resolved.append(name)
            unknown.append(name)
        else:
            resolved.append(person.name)
            if person.team:
                teams.append(person.team)
    chosen_team = team.strip() if team and team.strip() else (teams[0] if teams else None)
    for name in unknown:
        add = f"add {name} (name and team) to {CONTRIBUTORS_NAME} so every issue can credit them"
        if people is None:
            if chosen_team is None:
                warnings.append(f"there is no {CONTRIBUTORS_NAME}, so the piece has no team. "
                                f"Give the piece 'team: ...' (new-piece --team), or {add}")
            continue
        hint = did_you_mean(name, sorted({p.name for p in people.values()})) or "."
        if chosen_team is None:
            warnings.append(f"'{name}' is not in {CONTRIBUTORS_NAME}, so the piece has no "
                            f"team{hint} {add[0].upper()}{add[1:]}, or give the piece "
                            "'team: ...' (new-piece --team)")
        else:
            warnings.append(f"'{name}' is not in {CONTRIBUTORS_NAME}{hint} "
                            f"{add[0].upper()}{add[1:]}")
    published = issue_id.publication_date(config.time_zone)
    if published < today:
        warnings.append(f"{issue_id} was published on {published:%d %B %Y}; a piece added "
                        "now changes the archive (the coming issue is "
                        f"{next_issue(today, config.time_zone)})")

    values: dict[str, str] = {
        "title": yaml_value(title),
        "authors": yaml_value(list(dict.fromkeys(resolved))),
        "section": yaml_value(chosen_section),
        "status": "draft",
    }
    if chosen_team:
        values["team"] = yaml_value(chosen_team)
    notes = {
        "section": f"{', '.join(config.sections)}",
        "summary": "required once the piece is ready",
        "status": "set it to ready when the piece is finished",
    }
    piece_text = front_matter(PIECE_FIELDS, values, notes) + _piece_body(issue_id, config)
    _must_load(piece_path, piece_text, PIECE_FIELDS, title)
    issue_text = None
    if not folder.exists():
        issue_text = front_matter(ISSUE_FIELDS, {}, {
            "title": f"without it the title is '{issue_id.name(config.season_names)}'",
        }) + ISSUE_BODY
        _must_load(folder / ISSUE_FILE, issue_text, ISSUE_FIELDS, None)
    return NewPiece(issue_id, folder, piece_path, piece_text, issue_text, tuple(warnings))


ISSUE_BODY = ("\n<!-- The editor's letter goes here, in Markdown, in place of this line; it "
              "opens the issue. -->\n")


def write_piece(config: Config, plan: NewPiece) -> None:
    """Write the planned piece (and the new issue folder's issue.md); never overwrite."""
    outputs = [Output(config.issues_dir, f"{plan.issue_id}/{plan.piece_path.name}",
                      plan.piece_text.encode("utf-8"))]
    if plan.issue_text is not None:
        outputs.insert(0, Output(config.issues_dir, f"{plan.issue_id}/{ISSUE_FILE}",
                                 plan.issue_text.encode("utf-8")))
    _refuse_existing(plan.piece_path, plan.folder)  # once more, just before writing
    write_all(outputs)


def front_matter(fields: tuple[Field, ...], values: dict[str, str],
                 notes: dict[str, str]) -> str:
    """Every field in order: set ones as ``key: value``, the others commented out with their
    example; each followed by ``# help`` (and a note)."""
    lines = ["---"]
    for field in fields:
        if field.key in values:
            text = f"{field.key}: {values[field.key]}"
        else:
            text = f"# {field.key}: {field.example}"
        comment = field.help + (f" ({notes[field.key]})" if field.key in notes else "")
        lines.append(f"{text:<{COMMENT_COLUMN - 2}}  # {comment}")
    lines.append("---")
    return "\n".join(lines) + "\n"


def _piece_body(issue_id: IssueId, config: Config) -> str:
    return (
        "\n<!-- Write your piece here in Markdown, in place of this note (readers never see "
        "it).\n"
        f"     Up to {config.workflow.word_limit:,} words. The title above is the headline: "
        "start with a paragraph, and use ## for headings inside the piece.\n"
        "     Images go in the issue folder (e.g. images/chart.png), each with a description "
        "for readers who cannot see it:\n"
        "     ![A bar chart of the energy used by four training runs](images/chart.png)\n"
        f"     Then run: newsletter check {issue_id} -->\n"
    )


def next_steps(config: Config, issue_id: IssueId, path: Path, today: date) -> list[str]:
    """What to do after new-piece, with the issue's deadline."""
    when = entry(issue_id, config.time_zone, config.submission_lead_days,
                 config.season_names)
    days = (when.deadline - today).days
    if days >= 0:
        deadline = f"by the deadline, {long_date(when.deadline)} ({in_days(days)})"
    else:
        deadline = (f"as soon as you can: the deadline was {long_date(when.deadline)}, so ask the "
                    f"editors whether it can still go into {issue_id} or waits for "
                    f"{issue_id.following()}")
    review = " and a reviewer who is not an author" if config.workflow.require_review else ""
    return [
        "Next:",
        f"  1. write the piece in {display_path(path)}, below its front matter, in Markdown "
        f"(up to {config.workflow.word_limit:,} words);",
        f"  2. add a summary (uncomment 'summary:'){review};",
        f"  3. run 'newsletter check {issue_id}' and fix what it finds;",
        f"  4. set 'status: ready' {deadline}. The issue comes out on "
        f"{long_date(when.publication_date)}.",
    ]



def _one_line(text: str, option: str) -> str:
    if any(not ch.isprintable() for ch in text):
        raise UsageError(f"{option}: write it on one line, without control characters")
    cleaned = " ".join(text.split())
    if not cleaned:
        raise UsageError(f"{option} is empty; give some text")
    return cleaned


def _issue_id(ref: str | None, config: Config, today: date) -> IssueId:
    if ref is None:
        return next_issue(today, config.time_zone)
    return resolve_issue(ref, config, must_exist=False, option="--issue")


def _section(section: str | None, config: Config) -> str:
    if section is None:
        return config.sections[0]
    for name in config.sections:
        if name.casefold() == section.strip().casefold():
            return name
    hint = did_you_mean(section, config.sections).removeprefix(" — ")
    raise UsageError(f"--section {section}: unknown section; {hint + ' ' if hint else ''}"
                     f"The sections are: {', '.join(config.sections)}")


def _slug(slug: str | None, title: str) -> str:
    if slug is None:
        made = slugify(title)
        if made == "piece" and slugify(title + " x") != "piece-x":
            raise UsageError(f"--title '{title}' has no letters or digits a file name can "
                             "use; give the file a name with --slug, e.g. --slug my-piece")
        return made
    if slugify(slug) != slug:
        raise UsageError(f"--slug {slug}: use lowercase letters, digits and '-', e.g. "
                         f"--slug {slugify(slug)}")
    return slug


def _refuse_existing(path: Path, folder: Path) -> None:
    """Never overwrite: the file itself, or another file with the same anchor (slug)."""
    clash = path if path.exists() or path.is_symlink() else None
    if clash is None and folder.is_dir():
        slug = path.stem
        clash = next((p for p in sorted(folder.iterdir())
                      if p.suffix == ".md" and p.name != ISSUE_FILE and slugify(p.stem) == slug),
                     None)
    if clash is not None:
        raise PipelineError(f"{display_path(clash)} already exists; new-piece never "
                            "overwrites a file: choose another --title (or --slug), or edit "
                            "that file")


def _must_load(path: Path, text: str, fields: tuple[Field, ...], title: str | None) -> None:
    """The file as written must load without errors (a safety net: never write junk)."""
    problems = Problems()
    doc = split_document(path, text, problems)
    values = check_fields(path, doc, fields, problems, ready=False) if doc else {}
    errors = [p.message for p in problems.items if p.level == "error"]
    if title is not None and values.get("title") != title:
        errors.append(f"the title reads back as {values.get('title')!r}")
    if errors:
        raise PipelineError(f"cannot write {display_path(path)}: {'; '.join(errors)} "
                            "(a bug in new-piece: please report it)")
