"""One body's Markdown as the render cache keeps it: the bodies of an issue with where each
lives (:func:`body_contexts`), a body's key, its rendering and its JSON form, and the key of
its ids. :mod:`pipeline.memo` looks them up in the cache; a worker, or the process a build
starts ahead (:mod:`pipeline.ahead`), renders them. This module loads the Markdown engines and
the cache's keys only, not the templates, so such a process starts rendering at once.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import Any

from . import errors
from .config import Config
from .digests import key
from .engines import MarkdownOptions
from .errors import Problem, Problems
from .links import Context
from .markup import Body, render
from .markup import anchors as markup_anchors
from .model import Issue

#: The ids of one body: :func:`pipeline.markup.anchors`, or one that uses the cache.
AnchorFinder = Callable[[str, MarkdownOptions], tuple[str, ...]]


def body_contexts(issue: Issue, config: Config,
                  anchors: AnchorFinder = markup_anchors) -> list[tuple[str, Context]]:
    """The Markdown of the letter (if any) and of every piece, each with its
    :class:`~pipeline.links.Context`: where it lives, and the anchors of every body on the
    issue page, so an in-page link can land on another piece's heading."""
    url = config.issue_url(issue.issue_id)
    bodies: list[tuple[str, str, Path, int]] = []
    if issue.letter.strip() and issue.letter_path is not None:
        bodies.append(("_letter", issue.letter, issue.letter_path, issue.letter_line))
    bodies += [(p.slug, p.body, p.path, p.body_line) for p in issue.pieces]
    found = tuple((slug, anchors(source, config.markdown)) for slug, source, _, _ in bodies)
    drafts = frozenset(p.slug for p in issue.pieces if p.is_draft)
    return [(source, Context(issue.path, url, slug, path, line, config.markdown, found, drafts))
            for slug, source, path, line in bodies]


@lru_cache(maxsize=64)
def real_folder(folder: Path) -> str:
    """Where an issue folder really is (asked once per process: every body's key has it; a
    folder moved meanwhile changes its inputs' digest, which the pages' key has too)."""
    return str(folder.resolve())


def piece_key(source: str, ctx: Context) -> str:
    """The cache key of one body: its Markdown, where it lives and the engine. What the
    other bodies of its page answered about its in-page links is stored with it and asked
    again before it is used (:func:`pipeline.links.ask`), so an edit of one piece renders
    another only when that changes where one of its links lands."""
    return key("piece", source, str(ctx.issue_dir), real_folder(ctx.issue_dir),
               ctx.issue_url, ctx.slug, str(ctx.path), ctx.first_line, ctx.markdown.key(),
               ctx.anchors is None)


def anchors_key(source: str, options: MarkdownOptions) -> str:
    """The cache key of one body's ids: its Markdown and the engine."""
    return key("anchors", source, options.key())


def render_body(source: str, ctx: Context) -> tuple[Body, tuple[Problem, ...]]:
    """One body rendered, and what rendering it found."""
    found = Problems()
    return render(source, ctx, found), tuple(found.items)


def body_json(made: tuple[Body, tuple[Problem, ...]]) -> dict[str, Any]:
    """What the cache keeps of a rendered body."""
    # Not html_absolute: it is made again from html in one pass (markup.absolute). The plain
    # text only when the build made it (a teaser's is not): made again when first asked.
    body, found = made
    plain = body.plain_made()
    return {"html": body.html, "assets": [str(a) for a in body.assets], "probes": body.probes,
            "lookups": body.lookups, "plain": [plain[0], plain[1]] if plain else None,
            "problems": errors.problems_json(found)}


def render_piece(source: str, ctx: Context) -> tuple[str, dict[str, Any]]:
    """Render one body (in another process); its key and what to store (the process that
    asked stores it with the other bodies of its issue, :meth:`pipeline.cache.Cache.bodies_of`),
    with the absolute HTML made with it, which that process uses but does not store."""
    made = render_body(source, ctx)
    return piece_key(source, ctx), {**body_json(made), "html_absolute": made[0].html_absolute}
