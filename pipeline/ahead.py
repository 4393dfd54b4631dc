"""A new issue's bodies rendered ahead, on another core, while ``build-issue`` loads the rest
of the build.

``build-issue`` knows it must build (the last build is not still the build) long before it
has loaded what the build needs (the templates, the email's CSS inliner, the stages). It
starts a process of its own at that moment (:func:`serve`): the process reads the
issue, finds its bodies' ids and renders every body the render cache does not have, on the
other core, while the build loads and reads the other issues. The build then takes what it
rendered into its cache (:func:`pipeline.workers.prerendering`), under the keys the process
computed from what it read, so a body the build reads otherwise (a file saved meanwhile) is
rendered again, never mixed up. The process only reads: it writes nothing, not even the
cache, and what it finds wrong the build finds and reports itself.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .bodies import anchors_key, body_contexts, piece_key, render_piece
from .cache import CACHE_DIR, Cache
from .config import Config
from .content import load_issue
from .contributors import load_contributors
from .engines import MarkdownOptions
from .errors import Problems
from .markup import anchors
from .seasons import IssueId

#: An entry of the render cache the process made: its kind, its key and its payload.
Entry = tuple[str, str, dict[str, Any]]

#: An issue with fewer bodies to render than this is rendered by the build itself (as
#: :data:`pipeline.workers.PRERENDER_MIN`): the process would cost more than it saves.
AHEAD_MIN = 6


def serve(config: Config, issue_id: IssueId, folder: Path, use_cache: bool) -> list[Entry]:
    """What the process ``build-issue`` forks does (:func:`pipeline.forks.fork`, by name, so
    this module and the Markdown engines are loaded there): :func:`rendered`, or nothing if
    that fails (the build then reads and renders the issue itself, and says what is wrong)."""
    try:
        return rendered(config, issue_id, folder, use_cache)
    except Exception:
        return []


def rendered(config: Config, issue_id: IssueId, folder: Path, use_cache: bool) -> list[Entry]:
    """The ids and renderings of the bodies of an issue (as a build reads it: no drafts)
    that the render cache does not have, as entries of the cache (none for an issue of
    fewer than :data:`AHEAD_MIN` bodies to render)."""
    cache = Cache(config.root / CACHE_DIR if use_cache else None)
    people = load_contributors(config.root, Problems(), remember=False)
    issue = load_issue(issue_id, folder, config, people, Problems())
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
