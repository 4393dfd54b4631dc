"""``newsletter init [DIR]``: a new newsletter root that builds as it is.

It writes ``newsletter.toml`` (every key of :data:`~pipeline.options.OPTIONS`: the required
ones set, the others commented out with their meaning and default), ``contributors.toml`` with
one example person, the coming issue's folder (from the ``today`` passed in) with an
``issue.md`` and one ready example piece, a ``.gitignore`` for the outputs, cache and
databases, and GitHub Actions workflows: a check and a preview build on every pull request,
and a scheduled publish at the publication moment. An existing file is never overwritten: it is
left alone and listed.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from .config import CONFIG_NAME
from .content import ISSUE_FILE
from .contributors import CONTRIBUTORS_NAME
from .errors import PipelineError, UsageError
from .init_workflows import workflows
from .options import OPTIONS, REQUIRED, Option
from .seasons import IssueId, next_issue
from .writer import Output, write_all

#: Values shown (commented out) for the keys that have no default.
EXAMPLES: dict[str, Any] = {
    "email.editors_address": "editors@example.org",
    "email.call_address": "all-staff@example.org",
    "delivery.smtp_url": "smtp+starttls://smtp.example.org:587",
    "delivery.unsubscribe_url": "https://newsletter.example.org/unsubscribe",
    "delivery.unsubscribe_mailto": "unsubscribe@example.org",
    "delivery.dkim_key": "secrets/dkim.pem",
    "delivery.dkim_selector": "news2026",
    "gather.feeds": ["https://blog.example.org/feed.xml", "feeds-in/team.xml"],
    "delivery.return_path": "bounces@example.org",
    "delivery.imap_url": "imaps://imap.example.org:993/INBOX",
    "check.disabled": ["link-text"],
    # The second Markdown flavour and its extensions: shown together, so uncommenting both
    # gives a valid configuration.
    "markdown.flavour": "python-markdown",
    "markdown.extensions": ["attr_list", "sane_lists", "def_list", "abbr", "md_in_html"],
}
BASE_URL = "https://newsletter.example.org"
SECTIONS = ("Features", "Notes", "Reading")
EXAMPLE_PERSON = ("alex-example", "Alex Example", "Editorial")
EXAMPLE_PIECE = "how-to-write-a-piece.md"


@dataclass(frozen=True)
class InitResult:
    """What ``init`` wrote and what it left alone, relative to the root."""

    root: Path
    issue_id: IssueId
    written: tuple[str, ...]
    kept: tuple[str, ...]
    #: Already a newsletter (it had newsletter.toml): no example issue was written into it.
    existing: bool = False


def init(root: Path, title: str | None, *, today: date) -> InitResult:
    """Write a working newsletter root into ``root``; never overwrite a file."""
    if root.exists() and not root.is_dir():
        raise UsageError(f"{root} is a file; give a folder to start the newsletter in")
    name = _title(title, root)
    issue_id = next_issue(today, ZoneInfo("UTC"))  # the default time_zone of a new root
    files = plan(name, issue_id)
    if (root / CONFIG_NAME).exists():
        # Already a newsletter: its issues are real ones. An example issue.md or piece would
        # go into the coming issue (or one already published) and be published with it.
        files = {path: text for path, text in files.items() if not path.startswith("issues/")}
    written, kept = [], []
    outputs = []
    for relpath, text in files.items():
        target = root / relpath
        if target.exists() or target.is_symlink():
            kept.append(relpath)
        else:
            written.append(relpath)
            outputs.append(Output(root, relpath, text.encode("utf-8")))
    try:
        write_all(outputs)
    except OSError as exc:
        raise PipelineError(f"cannot write into {root}: {exc.strerror or exc}") from None
    return InitResult(root, issue_id, tuple(written), tuple(kept),
                      existing=(root / CONFIG_NAME).exists() and CONFIG_NAME in kept)


def _title(title: str | None, root: Path) -> str:
    if title is not None:
        if any(not ch.isprintable() for ch in title):
            raise UsageError("--title: write it on one line, without control characters")
        cleaned = " ".join(title.split())
        if not cleaned:
            raise UsageError("--title is empty; give the newsletter's name")
        return cleaned
    words = re.split(r"[-_.\s]+", root.resolve().name)
    made = " ".join(w[:1].upper() + w[1:] for w in words if w)
    return made or "Newsletter"


def plan(title: str, issue_id: IssueId) -> dict[str, str]:
    """Every file of a new root, by path relative to it."""
    person_id, person, team = EXAMPLE_PERSON
    return {
        CONFIG_NAME: newsletter_toml(title),
        CONTRIBUTORS_NAME: CONTRIBUTORS.format(id=person_id, name=person, team=team),
        f"issues/{issue_id}/{ISSUE_FILE}": ISSUE_MD.format(title=title, name=person),
        f"issues/{issue_id}/{EXAMPLE_PIECE}": EXAMPLE_MD.format(
            name=person, section=SECTIONS[0], issue=issue_id),
        ".gitignore": GITIGNORE,
        **workflows(),
    }


# --------------------------------------------------------------------------- newsletter.toml


def toml_value(value: Any) -> str:
    """A TOML literal for a default: strings quoted and escaped, lists, numbers, booleans."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    return json.dumps(str(value), ensure_ascii=False)  # a JSON string is a TOML basic string


def newsletter_toml(title: str) -> str:
    """Every option, by table: the required ones set, the others commented out."""
    required = {
        "title": title,
        "base_url": BASE_URL,
        "sections": list(SECTIONS),
        "email.sender": f"{_display_name(title)} <newsletter@example.org>",
    }
    lines = [
        f"# {title}: the newsletter's configuration, read by every 'newsletter' command.",
        "# The keys that are set are required; each commented line shows another key with its",
        "# default (or an example, where it has none): remove the '# ' to set it.",
        "# Secrets never go in this file, only the names of the environment variables that",
        "# hold them.",
        "",
    ]
    tables: dict[str, list[Option]] = {}
    for option in OPTIONS:  # top-level keys first, then each table once, in order
        tables.setdefault(option.key.rpartition(".")[0], []).append(option)
    for table, options in tables.items():
        if table:
            lines += ["", f"[{table}]"]
        for option in options:
            lines += _option_lines(option, option.key.rpartition(".")[2], required)
    return "\n".join(lines) + "\n"


def _option_lines(option: Option, key: str, required: dict[str, Any]) -> list[str]:
    help_lines = [f"# {line}" for line in _wrap(option.help, 96)]
    if option.key in required:
        return [*help_lines, f"{key} = {toml_value(required[option.key])}"]
    if option.default is None:
        example = EXAMPLES[option.key]
        return [*help_lines[:-1], help_lines[-1] + " No default.",
                f"# {key} = {toml_value(example)}"]
    if option.default is REQUIRED:  # pragma: no cover - every required key is set above
        raise AssertionError(f"init sets no value for the required key {option.key}")
    shown = EXAMPLES.get(option.key, option.default)
    note = "" if shown == option.default else f" Default: {toml_value(option.default)}."
    return [*help_lines[:-1], help_lines[-1] + note, f"# {key} = {toml_value(shown)}"]


def _wrap(text: str, width: int) -> list[str]:
    lines, line = [], ""
    for word in text.split():
        if line and len(line) + 1 + len(word) > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}" if line else word
    return [*lines, line]


def _display_name(title: str) -> str:
    """The title as an email display name: without the characters that end one."""
    return " ".join(re.sub(r'[<>"\\,;:@()\[\]]', " ", title).split()) or "Newsletter"


# --------------------------------------------------------------------------- the other files

CONTRIBUTORS = """\
# Who writes for the newsletter: one table per person, keyed by an id that a piece's
# 'authors' may use instead of the name. A piece's team comes from here.
# Keys: name and team (required); pronouns, link (an http(s) URL) and email (where
# 'newsletter remind' writes) are optional.

[{id}]
name = "{name}"
team = "{team}"
# pronouns = "they/them"
# link = "https://example.org/people/{id}"
# email = "{id}@example.org"
"""

ISSUE_MD = """\
---
# title: The issue's theme (without it, the title is the season's name)
# summary: One or two sentences about the whole issue.
editors: [{name}]
---

Welcome to the first issue of {title}. This letter from the editors opens every issue: say
what the issue is about and who made it. Replace it with your own in this file, issue.md.
"""

EXAMPLE_MD = """\
---
title: How to write a piece for this newsletter
authors: [{name}]
section: {section}
summary: Every piece is one Markdown file that starts with a few lines of front matter.
status: ready
# reviewed_by: [A Colleague]     # someone who read it and is not an author
# tags: [example]
---

This piece is an example written by `newsletter init`. Replace it with a real one, or
delete it, before the issue comes out.

## Adding a piece

Run `newsletter new-piece --title "Your headline" --author "Your Name"`. It writes a file
into this folder, `issues/{issue}/`, with every front-matter field explained. Write below
the front matter in Markdown, then run `newsletter check` to see anything that needs fixing.

## When it is ready

Set `status: ready` and add a one-sentence `summary`: it becomes the teaser in the email and
the text in the feeds. A piece without `status: ready` is a draft and is left out.
"""

GITIGNORE = """\
# Outputs, rebuilt by the pipeline: the site, the preview, the outbox of .eml files
/public/
/preview/
/outbox/
# The render cache
/.cache/
# The subscriber database (SQLite), its journal files and its send locks
*.sqlite3
*.sqlite3-wal
*.sqlite3-shm
*.send-lock
"""
