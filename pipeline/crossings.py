"""Links from one issue to a piece of another: ``../2026-09-equinox/consent.md#heading``.

Such a link lands only if the other issue is public (the publication rule of
:mod:`pipeline.publication`), the piece is a ready piece of it, and a heading it names is one
of that piece's. What another issue holds changes without this one changing, so this is
checked from each body's Markdown on every build, and none of it is cached.
"""

from __future__ import annotations

import html as html_mod
import re
from datetime import datetime
from pathlib import Path
from urllib.parse import unquote, urlsplit

from .config import Config
from .content import load_issue
from .errors import Problems, did_you_mean
from .links import place_of
from .markup import anchors, draft
from .model import Contributor, Issue
from .publication import Record, is_published, when
from .seasons import IssueId, IssueIdError
from .slugs import slugify

_HREF = re.compile(r'\shref="([^"]*)"')


def check_crossings(issue: Issue, config: Config, folders: dict[IssueId, Path],
                    people: dict[str, Contributor] | None, record: Record,
                    now: datetime | None, problems: Problems) -> None:
    """Report each link of ``issue`` to a piece of another issue that lands nowhere: an
    issue not published yet (with ``now``), a piece that is not ready there (a draft, or no
    such piece), or a heading that piece does not have."""
    bodies = [(p.path, p.body, p.body_line) for p in issue.pieces]
    if issue.letter_path is not None:
        bodies.insert(0, (issue.letter_path, issue.letter, issue.letter_line))
    read: dict[IssueId, Issue] = {}
    for path, source, first_line in bodies:
        if ".md" not in source:  # no link to a piece: no need to render the body for one
            continue
        for match in _HREF.finditer(draft(source, config.markdown).html):
            value = html_mod.unescape(match[1])
            target = _target(value, issue, folders)
            if target is None:
                continue
            other_id, slug, fragment = target
            line, column = place_of(source, first_line, value, unquote(value),
                                    value.split("#", 1)[0])
            if now is not None and not is_published(other_id, now, record):
                moment = when(other_id.moment(), now, config.time_zone)
                problems.error(path, line, f"'{value}' links a piece of {other_id}, which is "
                               f"not published yet (its moment is {moment}), so readers "
                               "would find nothing there; link it once it is out",
                               rule="not-a-piece", column=column)
                continue
            if other_id not in read:
                read[other_id] = load_issue(other_id, folders[other_id], config, people,
                                            Problems())
            piece = next((p for p in read[other_id].pieces if p.slug == slug), None)
            if piece is None:
                problems.error(path, line, f"'{value}' is not a ready piece of {other_id} (a "
                               "draft, or a file that is left out), so the link would land "
                               "nowhere; link a published piece", rule="not-a-piece", column=column)
            elif fragment:
                ids = anchors(piece.body, config.markdown)
                if fragment not in ids:
                    hint = did_you_mean(fragment, [i for i in ids
                                                   if not re.match(r"fn(ref)?[-:]", i)])
                    problems.warning(path, line, f"the link '{value}' lands on no heading of "
                                     f"{piece.path.name} in {other_id}{hint}",
                                     rule="dangling-anchor", column=column)


def _target(value: str, issue: Issue,
            folders: dict[IssueId, Path]) -> tuple[IssueId, str, str] | None:
    """(issue, piece slug, heading) when ``value`` links a ``.md`` file of another issue's
    folder (a link within the issue is the markup's to check)."""
    parts = urlsplit(value)
    if parts.scheme or parts.netloc or not parts.path.endswith(".md"):
        return None
    try:
        local = (issue.path / unquote(parts.path)).resolve()
        other_id = IssueId.parse(local.parent.name)
    except (OSError, ValueError, RuntimeError, IssueIdError):
        return None
    folder = folders.get(other_id)
    if other_id == issue.issue_id or folder is None or local.parent != folder.resolve() \
            or not local.is_file():
        return None  # the same issue, or a missing file: the markup's errors
    return other_id, slugify(local.stem), unquote(parts.fragment)
