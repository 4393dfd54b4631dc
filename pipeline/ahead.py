"""A new issue's bodies rendered ahead, on another core, while ``build-issue`` loads the rest
of the build.

``build-issue`` knows it must build (the last build is not still the build) long before it
has loaded what the build needs (the templates, the email's CSS inliner, the stages). It
starts a process of its own at that moment (:func:`serve`): the process reads the issue,
checks its links to other issues' pieces and sends that, then finds its bodies' ids and
renders every body the render cache does not have, on the other core, while the build loads
and reads the other issues. The build takes the issue as read, with what reading it found
and the digest of the folder taken before it was read (what is made from it is stored only
if the folder still has that digest when it is stored), and what was rendered into its
cache (:func:`pipeline.workers.prerendering`), under the keys the process computed from what
it read, so a body the build reads otherwise is rendered again, never mixed up. The process
only reads: it stores nothing, in the cache or elsewhere (a corrupt cache entry it finds is
deleted, as the build would). If it fails, the build reads and renders the issue itself.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from .bodies import anchors_key, body_contexts, piece_key, render_piece
from .cache import CACHE_DIR, Cache, inputs
from .config import Config
from .content import list_issues, load_issue
from .contributors import load_contributors
from .crossings import check_crossings
from .engines import MarkdownOptions
from .errors import ContentError, Problem, Problems
from .forks import Forked
from .markup import anchors
from .model import Issue
from .publication import load_record
from .seasons import IssueId

#: An entry of the render cache the process made: its kind, its key and its payload.
Entry = tuple[str, str, dict[str, Any]]

#: An issue with fewer bodies to render than this is rendered by the build itself (as
#: :data:`pipeline.workers.PRERENDER_MIN`): the process would cost more than it saves.
AHEAD_MIN = 6


@dataclass(frozen=True)
class Read:
    """The issue as the process read it (as a build reads it: no drafts, not yet dated with
    a recorded publication), with what reading it found, the digest of its folder's inputs
    taken before (:func:`pipeline.cache.inputs`), and what its links to other issues' pieces
    found (:func:`pipeline.crossings.check_crossings`; None if that could not be asked)."""

    inputs: str
    issue: Issue
    problems: tuple[Problem, ...]
    crossings: tuple[Problem, ...] | None = None


def serve(config: Config, issue_id: IssueId, folder: Path, use_cache: bool,
          now: datetime) -> Iterator[Any]:
    """What the process ``build-issue`` forks does (:func:`pipeline.forks.fork`, by name, so
    this module and the Markdown engines are loaded there): send the build the issue as it
    read it (:class:`Read`), then what it rendered (:func:`rendered`); nothing if reading
    fails, and no rendering if rendering fails (the build then does it itself, and says
    what is wrong)."""
    cache = Cache(config.root / CACHE_DIR if use_cache else None)
    try:
        read = _read(config, issue_id, folder, cache, now)
    except Exception:
        return
    yield read
    try:
        made = rendered(config, read.issue, cache)
    except Exception:
        made = []
    yield made


def _read(config: Config, issue_id: IssueId, folder: Path, cache: Cache,
          now: datetime) -> Read:
    found = inputs(folder, cache.folder, keep=False) if cache.folder else ""
    problems = Problems()
    people = load_contributors(config.root, Problems(), remember=False)
    issue = load_issue(issue_id, folder, config, people, problems)
    crossings = Problems()
    try:  # as the build asks it (the issue's own publication does not count)
        check_crossings(issue, config, dict(list_issues(config, Problems())), people,
                        load_record(config.root), now, crossings)
    except ContentError:  # published.toml has errors: the build says so
        return Read(found, issue, tuple(problems.items))
    return Read(found, issue, tuple(problems.items), tuple(crossings.items))


def issue_read(forked: Forked) -> Read | None:
    """The issue as the process read it (the first thing it sends), or None."""
    read = forked.receive(None)
    return read if isinstance(read, Read) else None


def entries(forked: Forked) -> list[Entry]:
    """What the process rendered (the second thing it sends: the first is passed over if
    it was not asked for), or nothing."""
    made: Any = forked.receive([])
    if isinstance(made, Read):
        made = forked.receive([])
    return made if isinstance(made, list) else []


def rendered(config: Config, issue: Issue, cache: Cache) -> list[Entry]:
    """The ids and renderings of the bodies of ``issue`` that ``cache`` does not have, as
    entries of the cache (none for an issue of fewer than :data:`AHEAD_MIN` bodies to
    render)."""
    made: list[Entry] = []

    def ids(source: str, options: MarkdownOptions) -> tuple[str, ...]:
        entry_key = anchors_key(source, options)
        known = cache.get("anchors", entry_key)
        if known is not None:
            return tuple(known["ids"])
        found = anchors(source, options)
        made.append(("anchors", entry_key, {"ids": list(found)}))
        return found

    with cache.bodies_of(issue.path):  # only read: nothing is stored in this process
        jobs = body_contexts(issue, config, ids)
        missing = [(s, ctx) for s, ctx in jobs if not cache.has("piece", piece_key(s, ctx))]
    if len(missing) < AHEAD_MIN:
        return []
    for source, ctx in missing:
        entry_key, payload = render_piece(source, ctx)
        made.append(("piece", entry_key, payload))
    return made
