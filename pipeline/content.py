"""Read and validate the newsletter's content: contributors, issue folders, pieces.

Front matter is split and parsed with python-frontmatter's YAML handler and checked against one
declared table of fields (:data:`PIECE_FIELDS`, :data:`ISSUE_FIELDS`). Every problem is
collected with the line of the offending key, so one run reports them all.
"""

from __future__ import annotations

import os
import re
import reprlib
import stat
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any, Literal

import frontmatter.default_handlers
import yaml

from .config import Config
from .contributors import resolve_people
from .errors import Problems, did_you_mean, printable
from .model import Contributor, Correction, Issue, LeftOut, Piece
from .seasons import IssueId, IssueIdError
from .slugs import slugify

__all__ = ["slugify"]  # where check and new-piece have always found it

ISSUE_FILE = "issue.md"
STATUSES = ("draft", "ready")
EMAIL_CHOICES = ("full", "teaser")

Kind = Literal["text", "names", "number", "status", "corrections", "email"]


@dataclass(frozen=True)
class Field:
    """One front-matter key: its kind, whether it is required, and what it is for."""

    key: str
    kind: Kind
    required: Literal["always", "ready", "no"]
    help: str
    example: str


#: The front matter of a piece. ``new-piece`` writes these, in this order, with their help.
PIECE_FIELDS: tuple[Field, ...] = (
    Field("title", "text", "always", "the headline readers see", "Consent is not a checkbox"),
    Field("authors", "names", "always", "names or ids from contributors.toml",
          "[Ada Example, Grace Example]"),
    Field("team", "text", "no", "your team; optional when contributors.toml knows you",
          "Policy"),
    Field("section", "text", "no", "one of the sections in newsletter.toml", "Research"),
    Field("summary", "text", "ready", "one or two sentences: teaser, preheader and feed text",
          "One or two sentences."),
    Field("status", "status", "no", "draft while writing, ready to publish", "draft"),
    Field("order", "number", "no", "position within the section (lower comes first)", "20"),
    Field("tags", "names", "no", "a few topic words", "[consent, data]"),
    Field("reviewed_by", "names", "no", "who read it before it went in (not an author)",
          "[Lin Example]"),
    Field("content_note", "text", "no", "shown before the piece, e.g. a sensitive topic",
          "Discusses online harassment"),
    Field("ai_disclosure", "text", "no", "how AI tools were or were not used",
          "Drafted without AI tools"),
    Field("email", "email", "no",
          "when the email is too long: full keeps this piece in full, teaser always shows "
          "its summary and a link to the web edition", "teaser"),
    Field("corrections", "corrections", "no",
          "changes after publication, each with its date and what changed",
          "[{date: 2027-01-10, text: The energy figure was 540 kWh, not 450.}]"),
)

#: The front matter of ``issue.md``; its body is the editor's letter.
ISSUE_FIELDS: tuple[Field, ...] = (
    Field("title", "text", "no", "the issue's theme", "The cost of computation"),
    Field("summary", "text", "no", "one or two sentences about the whole issue",
          "What our models cost the planet, and who pays."),
    Field("editors", "names", "no", "who edited this issue", "[Ada Example]"),
)

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


@dataclass(frozen=True)
class Document:
    """A Markdown file split into its front matter (with each key's line) and its body."""

    meta: dict[str, Any]
    lines: dict[str, int]
    body: str
    body_line: int


_YAML = frontmatter.default_handlers.YAMLHandler()
_COMPOSER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # the same parser frontmatter uses


def split_document(path: Path, text: str, problems: Problems) -> Document | None:
    """Split and parse the front matter; None (with errors recorded) when it cannot be read."""
    stripped = text.lstrip("\n")
    offset = len(text) - len(stripped)
    if not _YAML.detect(stripped):
        problems.error(path, 1, "no front matter: start the file with a line '---', then "
                       "'title: ...' and the other keys, then another '---'",
                       rule="no-front-matter")
        return None
    try:
        fm_text, body = _YAML.split(stripped)
    except ValueError:
        problems.error(path, offset + 1, "the front matter is not closed: add a line '---' "
                       "after its last key", rule="front-matter-unclosed")
        return None
    opening = _YAML.FM_BOUNDARY.match(stripped)
    # The file line of the front matter's first line (the rest of the opening --- line).
    first = offset + 1 + (stripped[: opening.end()].count("\n") if opening else 0)
    node = None
    try:
        node = yaml.compose(fm_text, Loader=_COMPOSER)
        meta = _YAML.load(fm_text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = first + mark.line if mark else first
        problems.error(path, line, f"YAML syntax error: {exc.problem or exc.context}; "
                       "check the quoting and indentation of this line (text with ': ' or "
                       "a leading special character needs quotes)", rule="yaml-syntax")
        return None
    except yaml.reader.ReaderError as exc:  # a character YAML does not allow, e.g. ESC
        problems.error(path, first + fm_text[: exc.position].count("\n"),
                       f"YAML error: unacceptable character {exc.character!r}: write it as an "
                       "escape in double quotes (\\e, \\x07) or remove it", rule="yaml-syntax")
        return None
    except yaml.YAMLError as exc:
        problems.error(path, first, f"YAML error: {exc}", rule="yaml-syntax")
        return None
    except (ValueError, OverflowError):
        # YAML reads the value, Python cannot hold it: 2026-02-30, an integer of 5000 digits.
        key, bad = _unholdable(node)
        where = f"'{printable(key)}' has" if key is not None else "the front matter has"
        problems.error(path, first + bad.start_mark.line if bad else first,
                       f"{where} the value {_short(bad.value if bad else '?')}, which YAML "
                       "reads as a date or a number that cannot exist; put it in quotes if it "
                       "is text, or correct it (a real date YYYY-MM-DD, a shorter number)",
                       rule="wrong-type")
        return None
    if meta is None:
        meta, node = {}, None
    if not isinstance(meta, dict):
        problems.error(path, first + 1, "the front matter must be 'key: value' lines",
                       rule="front-matter-shape")
        return None
    lines: dict[str, int] = {}
    if isinstance(node, yaml.MappingNode):
        for key_node, _ in node.value:
            key = str(key_node.value)
            if key in lines:
                problems.error(path, first + key_node.start_mark.line,
                               f"'{printable(key)}' is given twice (first on line "
                               f"{lines[key]}); keep one",
                               rule="duplicate-key")
            lines.setdefault(key, first + key_node.start_mark.line)
    body_line = offset + stripped[: len(stripped) - len(body)].count("\n") + 1
    return Document({str(k): v for k, v in meta.items()}, lines, body, body_line)


def _unholdable(node: yaml.Node | None) -> tuple[str | None, yaml.ScalarNode | None]:
    """The first scalar of the front matter (and its top-level key) that YAML reads as a
    value Python cannot hold, found by constructing each scalar on its own."""
    constructor = yaml.SafeLoader("")
    pairs: list[tuple[Any, Any]] = \
        node.value if isinstance(node, yaml.MappingNode) else [(None, node)]
    for key_node, value_node in pairs:
        stack: list[Any] = [value_node] if key_node is None else [key_node, value_node]
        while stack:
            current = stack.pop(0)
            if isinstance(current, yaml.ScalarNode):
                try:
                    constructor.construct_object(current, deep=True)
                except (ValueError, OverflowError):
                    return (str(key_node.value) if key_node is not None else None), current
            elif isinstance(current, yaml.SequenceNode):
                stack[:0] = current.value
            elif isinstance(current, yaml.MappingNode):
                stack[:0] = [part for pair in current.value for part in pair]
    return None, None


#: C1 control characters: invisible in every output. Word's curly quotes and dashes become
#: these (U+0091-U+0097) when Windows-1252 text is read as Latin-1 and saved as UTF-8.
_C1 = re.compile("[\u0080-\u009f]")
_CP1252 = {"\u0091": "\u2018", "\u0092": "\u2019", "\u0093": "\u201c", "\u0094": "\u201d",
           "\u0096": "\u2013", "\u0097": "\u2014", "\u0085": "\u2026"}


def check_body_text(path: Path, body: str, first_line: int, problems: Problems) -> None:
    """A warning at each line of a body that holds an invisible control character (readers
    see nothing where the author saw a quote or a dash)."""
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
                         rule="control-character")


def yaml_value(value: str | list[str]) -> str:
    """A front-matter value, plain where YAML reads it back unchanged, else quoted."""
    plain = value if isinstance(value, str) else "[" + ", ".join(value) + "]"
    try:
        if yaml.safe_load(f"key: {plain}") == {"key": value}:
            return plain
    except yaml.YAMLError:
        pass
    dumped: str = yaml.safe_dump(value, default_flow_style=True, allow_unicode=True,
                                 width=10_000)
    return dumped.removesuffix("\n...\n").strip()


def check_fields(
    path: Path, doc: Document, fields: Sequence[Field], problems: Problems, ready: bool
) -> dict[str, Any]:
    """Validate ``doc.meta`` against ``fields``; return the good values (lists as tuples)."""
    known = {f.key: f for f in fields}
    values: dict[str, Any] = {}
    for key, value in doc.meta.items():
        line = doc.lines.get(key)
        field = known.get(key)
        if field is None:
            problems.error(path, line, f"unknown key '{printable(key)}'"
                           f"{did_you_mean(key, known)}; "
                           f"the keys are: {', '.join(known)}", rule="unknown-key")
            continue
        checked = _check_value(field, value)
        if isinstance(checked, _Bad):
            problems.error(path, line, f"'{printable(key)}' {checked.message}",
                           rule="bad-status" if field.kind == "status" else "wrong-type")
        elif checked is not None:
            values[key] = checked
    for field in fields:
        needed = field.required == "always" or (field.required == "ready" and ready)
        if needed and field.key not in values and field.key not in doc.meta:
            when = "" if field.required == "always" else " once the piece is ready"
            problems.error(path, 1, f"missing '{field.key}' ({field.help}), required{when}; "
                           f"add e.g. '{field.key}: {field.example}'", rule="missing-field")
    return values


def _short(value: Any) -> str:
    """A value as written back to the user: short, and safe however deeply it nests."""
    shortener = reprlib.Repr()
    shortener.maxlevel, shortener.maxstring, shortener.maxother = 3, 60, 60
    return shortener.repr(value)


@dataclass(frozen=True)
class _Bad:
    message: str


def _check_corrections(value: Any) -> Any:
    how = ("must be a list of corrections, each with a date and a text, e.g.\n"
           "  corrections:\n    - date: 2027-01-10\n      text: What changed.")
    if not isinstance(value, list) or not value:
        return _Bad(how)
    found = []
    for item in value:
        if not isinstance(item, dict) or set(item) != {"date", "text"}:
            return _Bad(how)
        when, text = item["date"], item["text"]
        if isinstance(when, str):
            try:
                when = date.fromisoformat(when.strip())
            except ValueError:
                return _Bad(f"has the date {_short(when)}; write it as YYYY-MM-DD")
        if isinstance(when, datetime) or not isinstance(when, date):
            return _Bad(f"has the date {_short(when)}; write it as YYYY-MM-DD")
        if not isinstance(text, str) or not text.strip():
            return _Bad("has a correction without text; say what changed")
        found.append(Correction(when, " ".join(text.split())))
    return tuple(sorted(found, key=lambda c: c.date))


def _check_value(field: Field, value: Any) -> Any:
    if field.kind == "corrections":
        return _check_corrections(value)
    if field.kind == "text":
        if isinstance(value, str):
            # one line of printable text: control characters never reach a reader
            text = " ".join("".join(c if c.isprintable() else " " for c in value).split())
            return text or _Bad("is empty; write some text or remove the key")
        if value is None:
            return _Bad("is empty; write some text or remove the key")
        return _Bad(f"must be text, not {type(value).__name__} {_short(value)}; put it in "
                    "quotes")
    if field.kind == "names":
        items = [value] if isinstance(value, str) else value
        if not isinstance(items, list) or not items:
            return _Bad(f"must be a list like [First Name, Other Name], not {_short(value)}")
        if not all(isinstance(i, str) and i.strip() for i in items):
            return _Bad(f"must be a list of names (text), not {_short(value)}")
        return tuple(i.strip() for i in items)
    if field.kind == "number":
        if isinstance(value, bool) or not isinstance(value, int):
            return _Bad(f"must be a whole number such as 10, not {_short(value)}")
        return value
    if field.kind == "email":
        if value in EMAIL_CHOICES:
            return value
        hint = did_you_mean(str(value).strip().lower(), EMAIL_CHOICES) or \
            " — use 'full' or 'teaser'"
        return _Bad(f"must be 'full' or 'teaser', not {_short(value)}{hint}")
    if value not in STATUSES:
        hint = did_you_mean(str(value).strip().lower(), STATUSES) or " — use 'draft' or 'ready'"
        return _Bad(f"must be 'draft' or 'ready', not {_short(value)}{hint}")
    return value


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
            letter, letter_path, letter_line = doc.body, issue_file, doc.body_line
            check_body_text(issue_file, doc.body, doc.body_line, problems)
    editors = resolve_people(meta.get("editors", ()), people, None, issue_file,
                             editors_line, problems)

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
                       f"{', '.join(config.sections)}", rule="unknown-section")
    if not doc.body.strip():
        problems.warning(path, doc.body_line, "the piece has no text after its front matter",
                         rule="empty-piece")
    check_body_text(path, doc.body, doc.body_line, problems)
    if any(p.level == "error" for p in problems.items[before:]):
        return None

    team = values.get("team")
    authors = resolve_people(values["authors"], people, team, path,
                             doc.lines.get("authors"), problems)
    if team is None:
        team = next((a.team for a in authors if a.team), None)
    if team is None:
        problems.warning(path, doc.lines.get("authors"), "no team for this piece: add "
                         "'team: ...' or list its authors in contributors.toml", rule="no-team")
    reviewers = resolve_people(values.get("reviewed_by", ()), people, None, path,
                               doc.lines.get("reviewed_by"), problems)
    return Piece(
        slug=slugify(path.stem), path=path, title=values["title"], authors=authors,
        team=team, section=section, summary=values.get("summary", ""),
        status=values.get("status", "draft"), order=values.get("order"),
        tags=values.get("tags", ()), reviewed_by=reviewers,
        content_note=values.get("content_note"), ai_disclosure=values.get("ai_disclosure"),
        corrections=values.get("corrections", ()),
        body=doc.body, body_line=doc.body_line, email=values.get("email"),
    )
