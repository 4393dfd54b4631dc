"""Read and validate the newsletter's content: issue folders, ``issue.md`` and pieces.

A file is read safely (:func:`read_text`: never through a link out of the root, never a FIFO
or device, never over the size limit), its front matter checked against the declared fields
(:mod:`pipeline.front_matter`), and every problem collected with the line of the offending key,
so one run reports them all.
"""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path
from typing import Any

from .config import Config
from .contributors import resolve_people
from .errors import Problems, UsageError, did_you_mean
from .front_matter import ISSUE_FIELDS, PIECE_FIELDS, check_fields, split_document
from .model import Contributor, Issue, LeftOut, Piece
from .seasons import IssueId, IssueIdError
from .slugs import slugify

__all__ = ["slugify"]  # where check and new-piece have always found it

ISSUE_FILE = "issue.md"
# --------------------------------------------------------------------------- reading text


#: The rules of files that are refused without reading a byte of them (``check`` does not
#: look into them for a column either).
UNREAD_RULES = ("outside-root", "not-a-file", "too-large")


def outside(path: Path, root: Path) -> Path | None:
    """Where ``path`` leads if that is outside ``root`` (through a symbolic link), else None."""
    try:
        resolved = path.resolve()
        inside = resolved.is_relative_to(root.resolve())
    except (OSError, RuntimeError):  # RuntimeError: a symlink loop
        return path
    return None if inside else resolved


def read_text(path: Path, problems: Problems, root: Path | None = None,
              limit: int | None = None) -> str | None:
    """The file as text with LF line endings, or None (and an error) if it cannot be read.

    A FIFO, a device or a folder is never read: the file is opened without blocking and
    checked before a byte is taken. With ``root``, a file that a symbolic link leads outside
    it is not opened; with ``limit``, a file of more bytes than that is not read.
    """
    if root is not None and (target := outside(path, root)) is not None:
        problems.error(path, None, f"is a link to {target}, outside the newsletter root, so "
                       "it is not read; copy the file into the issue folder instead",
                       rule="outside-root")
        return None
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY)
        with os.fdopen(fd, "rb") as handle:
            info = os.fstat(handle.fileno())
            if stat.S_ISDIR(info.st_mode):
                problems.error(path, None, "cannot read the file: it is a folder",
                               rule="unreadable")
                return None
            if not stat.S_ISREG(info.st_mode):
                problems.error(path, None, "is not a regular file (a FIFO, a device or a "
                               "socket), so it is not read; replace it with a Markdown file",
                               rule="not-a-file")
                return None
            if limit is not None and info.st_size > limit:
                problems.error(path, None, f"is {info.st_size / 1024:,.0f} KB, over the "
                               f"limit of {limit // 1024:,} KB for a piece, so it is not read; "
                               "split it into shorter pieces (or raise max_piece_kb in "
                               "newsletter.toml)", rule="too-large")
                return None
            data = handle.read() if limit is None else handle.read(limit + 1)
    except OSError as exc:
        problems.error(path, None, f"cannot read the file: {exc.strerror or exc}",
                       rule="unreadable")
        return None
    if limit is not None and len(data) > limit:  # it grew while being read
        problems.error(path, None, f"is over the limit of {limit // 1024:,} KB for a piece, "
                       "so it is not read; split it into shorter pieces", rule="too-large")
        return None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        problems.error(path, line, f"not UTF-8 text (byte 0x{data[exc.start]:02x} at offset "
                       f"{exc.start}); save the file as UTF-8", rule="not-utf8")
        return None
    return text.replace("\r\n", "\n").replace("\r", "\n")


#: C1 control characters: invisible in every output. Word's curly quotes and dashes become
#: these (U+0091-U+0097) when Windows-1252 text is read as Latin-1 and saved as UTF-8.
_C1 = re.compile("[\u0080-\u009f]")
_CP1252 = {"\u0091": "\u2018", "\u0092": "\u2019", "\u0093": "\u201c", "\u0094": "\u201d",
           "\u0096": "\u2013", "\u0097": "\u2014", "\u0085": "\u2026"}


def check_body_text(path: Path, body: str, first_line: int, problems: Problems) -> None:
    """A warning at each line of a body that holds an invisible control character (readers
    see nothing where the author saw a quote or a dash)."""
    if _C1.search(body) is None:  # nearly every body: one search, not one per line
        return
    for index, line in enumerate(body.split("\n")):
        found = _C1.search(line)
        if found is None:
            continue
        char = found[0]
        meant = _CP1252.get(char)
        hint = (f" (it was probably '{meant}': Windows-1252 text read as Latin-1)" if meant
                else "")
        problems.warning(path, first_line + index, f"an invisible control character "
                         f"U+{ord(char):04X}{hint} is in this line, and readers see nothing "
                         "there; retype it, or save the file again as UTF-8 from its source",
                         rule="control-character", column=found.start() + 1)


# --------------------------------------------------------------------------- issues


def list_issues(config: Config, problems: Problems) -> list[tuple[IssueId, Path]]:
    """Every issue folder under ``issues/``, oldest first; misnamed folders are warned about."""
    found = []
    if not config.issues_dir.is_dir():
        return []
    for entry in sorted(config.issues_dir.iterdir()):
        if entry.name.startswith("."):
            continue
        if entry.is_dir() and (target := outside(entry, config.root)) is not None:
            problems.error(entry, None, f"is a link to {target}, outside the newsletter root, "
                           "so nothing in it is read; move the issue folder into issues/ "
                           "instead", rule="outside-root")
            continue
        if entry.is_dir():
            try:
                found.append((IssueId.parse(entry.name), entry))
            except IssueIdError as exc:
                problems.warning(entry, None, f"not an issue folder, so nothing in it is "
                                 f"published: {exc}", rule="issue-folder-name")
        elif entry.suffix.lower() in (".md", ".markdown"):
            problems.warning(entry, None, "pieces go inside an issue folder such as "
                             "issues/2026-12-solstice/; move this file there",
                             rule="misplaced-piece")
    return sorted(found)


def resolve_issue(ref: str, config: Config, folders: dict[IssueId, Path] | None = None, *,
                  must_exist: bool = True, option: str = "") -> IssueId:
    """Which issue ``ref`` means: an issue id (``2026-12-solstice``) or the path of its folder,
    which must be a folder of ``issues/``. Every command that takes an issue asks this.

    With ``must_exist`` the issue's folder must be among ``folders`` (default: those of
    ``issues/``), else a usage error lists the ones there are; without it, the folder may not
    exist yet (a path to it names its issue). ``option`` (``--issue``) starts the message of an
    id that is not one. Raises :class:`UsageError` (exit 2).
    """
    if "/" in ref or Path(ref).is_dir():
        path = Path(ref)
        inside = path.resolve().parent == config.issues_dir.resolve()
        if not path.is_dir() and (must_exist or not inside):
            raise UsageError(f"{ref}: no such issue folder")
        if not inside:
            raise UsageError(f"{ref} is not a folder of {config.issues_dir}; pass --root for "
                             "the newsletter it belongs to, or give the issue id")
        ref = path.resolve().name
    try:
        issue_id = IssueId.parse(ref)
    except IssueIdError as exc:
        raise UsageError(f"{option} {ref}: {exc}" if option else str(exc)) from None
    if must_exist:
        if folders is None:
            folders = dict(list_issues(config, Problems()))
        if issue_id not in folders:
            known = ", ".join(str(i) for i in sorted(folders)) or "none yet"
            raise UsageError(f"no issue folder {config.issues_dir / str(issue_id)}; create it "
                             "(newsletter calendar lists the coming ids) — existing issues: "
                             f"{known}")
    return issue_id


def load_issue(
    issue_id: IssueId, folder: Path, config: Config, people: dict[str, Contributor] | None,
    problems: Problems, drafts: bool = False,
) -> Issue:
    """Read and validate one issue folder: ``issue.md`` and every piece in it."""
    pieces: list[Piece] = []
    left_out: list[LeftOut] = []
    letter, letter_path, letter_line = "", None, 1
    meta: dict[str, Any] = {}
    editors_line: int | None = None
    editors_columns: tuple[int | None, ...] = ()
    issue_file = folder / ISSUE_FILE
    if issue_file.exists() and not issue_file.is_file():
        problems.error(issue_file, None, "issue.md must be a file (the issue's front matter "
                       "and the editor's letter)", rule="issue-file")
    elif issue_file.is_symlink() and not issue_file.exists():
        problems.error(issue_file, None, "issue.md is a link to a file that does not exist",
                       rule="issue-file")
    if issue_file.is_file():
        text = read_text(issue_file, problems, config.root, config.max_piece_bytes)
        doc = split_document(issue_file, text, problems) if text is not None else None
        if doc is not None:
            meta = check_fields(issue_file, doc, ISSUE_FIELDS, problems, ready=True)
            editors_line = doc.lines.get("editors")
            editors_columns = doc.item_columns("editors")
            letter, letter_path, letter_line = doc.body, issue_file, doc.body_line
            check_body_text(issue_file, doc.body, doc.body_line, problems)
    editors = resolve_people(meta.get("editors", ()), people, None, issue_file,
                             editors_line, problems, editors_columns)

    slugs: dict[str, Path] = {}
    for path in sorted(folder.iterdir()):
        if path.name.startswith(".") or path.name == ISSUE_FILE:
            continue
        if path.is_dir():
            if path.suffix.lower() in (".md", ".markdown"):
                left_out.append(LeftOut(path, "a folder, not a Markdown file"))
            continue
        if path.suffix != ".md":
            hint = " — rename it to .md" if path.suffix.lower() in (".markdown", ".mdown",
                                                                       ".txt", ".md") else ""
            left_out.append(LeftOut(path, f"not a .md file{hint}"))
            continue
        piece = load_piece(path, config, people, problems)
        if piece is None:
            continue
        if piece.slug in slugs:
            problems.error(path, 1, f"its anchor '{piece.slug}' is the same as "
                           f"{slugs[piece.slug].name}'s; rename one of the files",
                           rule="duplicate-slug")
            continue
        slugs[piece.slug] = path
        if piece.is_draft and not drafts:
            left_out.append(LeftOut(path, "status is draft (set status: ready to publish it; "
                                          "--drafts previews it)"))
            continue
        pieces.append(piece)

    section_rank = {name: i for i, name in enumerate(config.sections)}
    pieces.sort(key=lambda p: (section_rank[p.section], p.order is None, p.order or 0,
                               p.title.casefold()))
    name = issue_id.name(config.season_names)
    summary = meta.get("summary") or (pieces[0].summary if pieces else "")
    return Issue(
        issue_id=issue_id, path=folder, name=name, moment=issue_id.moment(),
        publication_date=issue_id.publication_date(config.time_zone),
        title=meta.get("title", name), summary=summary, editors=editors,
        letter=letter, letter_path=letter_path, letter_line=letter_line,
        pieces=tuple(pieces), left_out=tuple(left_out),
    )


def load_piece(
    path: Path, config: Config, people: dict[str, Contributor] | None, problems: Problems
) -> Piece | None:
    """Read and validate one piece; None (with the errors recorded) when it is invalid."""
    before = len(problems.items)
    text = read_text(path, problems, config.root, config.max_piece_bytes)
    doc = split_document(path, text, problems) if text is not None else None
    if doc is None:
        return None
    status = doc.meta.get("status", "draft")
    if "status" not in doc.meta:
        problems.note(path, 1, "no 'status': the piece is a draft until it says 'status: ready'",
                      rule="no-status")
    values = check_fields(path, doc, PIECE_FIELDS, problems, ready=status == "ready")
    section = values.get("section", config.sections[0])
    if section not in config.sections:
        problems.error(path, doc.lines.get("section"), f"unknown section '{section}'"
                       f"{did_you_mean(section, config.sections)}; the sections are: "
                       f"{', '.join(config.sections)}", rule="unknown-section",
                       column=doc.value_column("section"))
    if not doc.body.strip():
        problems.warning(path, doc.body_line, "the piece has no text after its front matter",
                         rule="empty-piece")
    check_body_text(path, doc.body, doc.body_line, problems)
    if any(p.level == "error" for p in problems.items[before:]):
        return None

    team = values.get("team")
    authors = resolve_people(values["authors"], people, team, path,
                             doc.lines.get("authors"), problems, doc.item_columns("authors"))
    if team is None:
        team = next((a.team for a in authors if a.team), None)
    if team is None:
        problems.warning(path, doc.lines.get("authors"), "no team for this piece: add "
                         "'team: ...' or list its authors in contributors.toml", rule="no-team")
    reviewers = resolve_people(values.get("reviewed_by", ()), people, None, path,
                               doc.lines.get("reviewed_by"), problems,
                               doc.item_columns("reviewed_by"))
    return Piece(
        slug=slugify(path.stem), path=path, title=values["title"], authors=authors,
        team=team, section=section, summary=values.get("summary", ""),
        status=values.get("status", "draft"), order=values.get("order"),
        tags=values.get("tags", ()), reviewed_by=reviewers,
        content_note=values.get("content_note"), ai_disclosure=values.get("ai_disclosure"),
        corrections=values.get("corrections", ()),
        body=doc.body, body_line=doc.body_line, email=values.get("email"),
    )
