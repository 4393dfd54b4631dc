"""Front matter: the declared fields of a piece and of ``issue.md`` (:data:`PIECE_FIELDS`,
:data:`ISSUE_FIELDS`), a Markdown file split into its front matter (with each key's line) and
its body, and the check of each value against its field. Front matter is split and parsed with
python-frontmatter's YAML handler; every problem is recorded with the line of its key and, from
the YAML parser's marks, the column of what is wrong on it.
"""

from __future__ import annotations

import reprlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any, Literal

import frontmatter.default_handlers
import yaml

from .errors import Problems, did_you_mean, printable
from .model import Correction

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


@dataclass(frozen=True)
class Place:
    """Where a key of the front matter is written, 1-based: the column of the key, and the line
    and column of its value and of each item of a list value."""

    column: int
    value: tuple[int, int]
    items: tuple[tuple[int, int], ...] = ()


@dataclass(frozen=True)
class Document:
    """A Markdown file split into its front matter (with each key's line) and its body."""

    meta: dict[str, Any]
    lines: dict[str, int]
    body: str
    body_line: int
    places: dict[str, Place] = field(default_factory=dict)

    def key_column(self, key: str) -> int | None:
        place = self.places.get(key)
        return place.column if place else None

    def value_column(self, key: str) -> int | None:
        """The column of the value of ``key`` when it starts on the key's line, else the
        key's (the line problems about the value are reported at)."""
        place = self.places.get(key)
        if place is None:
            return None
        line, column = place.value
        return column if line == self.lines.get(key) else place.column

    def item_columns(self, key: str) -> tuple[int | None, ...]:
        """The column of each item of the list value of ``key`` (of a single value: its
        own) when it is on the key's line; None for an item on a line of its own."""
        place = self.places.get(key)
        if place is None:
            return ()
        line = self.lines.get(key)
        return tuple(column if at == line else None for at, column in place.items or (place.value,))


_YAML = frontmatter.default_handlers.YAMLHandler()
_COMPOSER = frontmatter.default_handlers.SafeLoader  # the loader frontmatter uses


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
        # One parse for the values and the node (the line and column of each key): what
        # yaml.load with frontmatter's loader gives, and yaml.compose.
        loader = _COMPOSER(fm_text)
        try:
            node = loader.get_single_node()
            meta = loader.construct_document(node) if node is not None else None
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = first + mark.line if mark else first
        problems.error(path, line, f"YAML syntax error: {exc.problem or exc.context}; "
                       "check the quoting and indentation of this line (text with ': ' or "
                       "a leading special character needs quotes)", rule="yaml-syntax",
                       column=mark.column + 1 if mark else None)
        return None
    except yaml.reader.ReaderError as exc:  # a character YAML does not allow, e.g. ESC
        before = fm_text[: exc.position]
        problems.error(path, first + before.count("\n"),
                       f"YAML error: unacceptable character {exc.character!r}: write it as an "
                       "escape in double quotes (\\e, \\x07) or remove it", rule="yaml-syntax",
                       column=len(before) - before.rfind("\n"))
        return None
    except yaml.YAMLError as exc:
        problems.error(path, first, f"YAML error: {exc}", rule="yaml-syntax")
        return None
    except (ValueError, OverflowError):
        # YAML reads a value Python cannot hold: 2026-02-30, an integer of 5000 digits. Each
        # key is read on its own, so that one is reported and the others still checked.
        meta = _each_key(path, node, first, problems)
        if meta is None:
            return None
    if meta is None:
        meta, node = {}, None
    if not isinstance(meta, dict):
        problems.error(path, first + 1, "the front matter must be 'key: value' lines",
                       rule="front-matter-shape")
        return None
    lines: dict[str, int] = {}
    places: dict[str, Place] = {}

    def at(mark: yaml.Mark) -> tuple[int, int]:
        return first + mark.line, mark.column + 1

    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = str(key_node.value)
            line, column = at(key_node.start_mark)
            if key in lines:
                problems.error(path, line, f"'{printable(key)}' is given twice (first on line "
                               f"{lines[key]}); keep one", rule="duplicate-key", column=column)
                continue
            lines[key] = line
            items = value_node.value if isinstance(value_node, yaml.SequenceNode) else []
            places[key] = Place(column, at(value_node.start_mark),
                                tuple(at(item.start_mark) for item in items))
    body_line = offset + stripped[: len(stripped) - len(body)].count("\n") + 1
    return Document({str(k): v for k, v in meta.items()}, lines, body, body_line, places)


class _Unreadable:
    """A value that was reported as unreadable already (see :func:`_each_key`)."""

    def __repr__(self) -> str:
        return "<unreadable>"


UNREADABLE = _Unreadable()


def _each_key(path: Path, node: yaml.Node | None, first: int,
              problems: Problems) -> dict[str, Any] | None:
    """The front matter read key by key, each value Python cannot hold reported at its line
    and kept as :data:`UNREADABLE` (so it is neither checked again nor called missing); None
    when it is not a mapping of keys."""
    if not isinstance(node, yaml.MappingNode):
        key, bad = _unholdable(node)
        _report_unholdable(path, first, key, bad, problems)
        return None
    constructor = yaml.SafeLoader("")
    meta: dict[str, Any] = {}
    for key_node, value_node in node.value:
        key = str(key_node.value)
        try:
            meta[key] = constructor.construct_object(value_node, deep=True)
        except (ValueError, OverflowError):
            _, bad = _unholdable(yaml.MappingNode("tag:yaml.org,2002:map",
                                                  [(key_node, value_node)]))
            _report_unholdable(path, first, key, bad, problems)
            meta[key] = UNREADABLE
    return meta


def _report_unholdable(path: Path, first: int, key: str | None,
                       bad: yaml.ScalarNode | None, problems: Problems) -> None:
    where = f"'{printable(key)}' has" if key is not None else "the front matter has"
    problems.error(path, first + bad.start_mark.line if bad else first,
                   f"{where} the value {_short(bad.value if bad else '?')}, which YAML "
                   "reads as a date or a number that cannot exist; put it in quotes if it "
                   "is text, or correct it (a real date YYYY-MM-DD, a shorter number)",
                   rule="wrong-type")


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
        if value is UNREADABLE:
            continue  # reported when the front matter was read
        line = doc.lines.get(key)
        field = known.get(key)
        if field is None:
            problems.error(path, line, f"unknown key '{printable(key)}'"
                           f"{did_you_mean(key, known)}; "
                           f"the keys are: {', '.join(known)}", rule="unknown-key",
                           column=doc.key_column(key))
            continue
        checked = _check_value(field, value)
        if isinstance(checked, _Bad):
            problems.error(path, line, f"'{printable(key)}' {checked.message}",
                           rule="bad-status" if field.kind == "status" else "wrong-type",
                           column=doc.value_column(key))
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
            if not value.isprintable():  # most values are: then nothing to replace
                value = "".join(c if c.isprintable() else " " for c in value)
            text = " ".join(value.split())
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
