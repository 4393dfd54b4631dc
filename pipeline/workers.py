"""The build on every core: a whole archive one issue per worker process, one big new issue
one piece per worker, and its feeds in a process of their own while its email is made.

Each job is a stage of :mod:`pipeline.stages` through the cache (:mod:`pipeline.memo`), pure
but for the cache and the staging of its own files, so no process holds the whole archive's
pages and a build that fails commits nothing any worker staged.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

from . import bodies, memo, stages
from . import cache as c
from . import render as r
from .ahead import entries as rendered_ahead
from .config import Config
from .errors import PipelineError, Problem, has_errors
from .feeds import FEEDS, Entry
from .forks import Forked, fork
from .model import Issue
from .seasons import IssueId
from .writer import Staged, discard, stage

T = TypeVar("T")


def on_every_core(job: Callable[..., T], jobs: Sequence[Sequence[Any]],
                  workers: int | None = None, first: Sequence[int] | None = None,
                  each: Callable[[int, T], None] | None = None) -> list[T]:
    """``job(*args)`` for each of ``jobs``, on every core when there are several jobs and
    cores (``workers`` processes at most); the results in the order of ``jobs``. They are
    started in the order ``first`` gives (the longest first keeps every core busy to the
    end), and ``each(index, result)`` is called here as each one is done."""
    workers = min(len(jobs), workers or os.cpu_count() or 1)
    order = list(first) if first is not None else list(range(len(jobs)))
    done: dict[int, T] = {}
    if workers < 2:
        for index in order:
            done[index] = job(*jobs[index])
            if each is not None:
                each(index, done[index])
        return [done[index] for index in range(len(jobs))]
    from concurrent.futures import ProcessPoolExecutor, as_completed  # only on several cores

    with ProcessPoolExecutor(max_workers=workers) as pool:
        futures = {pool.submit(job, *jobs[index]): index for index in order}
        for future in as_completed(futures):
            index = futures[future]
            done[index] = future.result()
            if each is not None:
                each(index, done[index])
    return [done[index] for index in range(len(jobs))]


@dataclass(frozen=True)
class Rendered:
    """One issue of a whole-archive build as its worker leaves it: what reading it found, its
    pages (without their files, which the worker staged) when it has a ready piece, what the
    cache had, and a message if its files could not be staged."""

    issue: Issue
    found: tuple[Problem, ...]
    pages: stages.Pages | None
    stats: c.Stats
    staged: Staged | None = None
    unwritable: str = ""


def read_and_render(site: stages.Site, issue_id: IssueId, folder: Path, out_dir: Path,
                    keep_entry: bool) -> Rendered:
    """Read one issue and, if it has a ready piece, render it and stage its files (unless it
    has errors: then the build writes nothing). Only the newest issues' feed entries
    (``keep_entry``) come back, and only theirs are stored for the builds of other issues."""
    cache = c.Cache(site.cache_folder)
    issue, found, inputs = memo.read_issue(site, issue_id, folder)
    memo.store_summary(site, cache, issue, inputs, found)
    if not issue.pieces:
        return Rendered(issue, found, None, cache.stats)
    pages = memo.pages(site, cache, memo.environment(site), issue, inputs, drafts=False,
                       in_feeds=keep_entry)
    staged = None
    if not has_errors([*found, *pages.problems]):
        try:
            staged = stage(pages.outputs(issue, out_dir))
        except PipelineError as exc:
            return Rendered(issue, found, pages, cache.stats, None, str(exc))
    kept = replace(pages, files={}, derived={}, entry=pages.entry if keep_entry else None)
    return Rendered(issue, found, kept, cache.stats, staged)


def render_every_issue(site: stages.Site, issue_ids: Sequence[IssueId],
                       folders: dict[IssueId, Path], out_dir: Path, newest: set[IssueId],
                       when_newest: Callable[[dict[IssueId, Rendered]], None] | None = None,
                       ) -> list[Rendered]:
    """:func:`read_and_render` for each issue, one issue per task on every core: the
    ``newest`` first, then the largest first (so no core waits long for the last); then
    ``when_newest`` is given the newest issues' results as soon as they are all done, while
    the others still render (the feeds need only those)."""
    jobs = [(site, i, folders[i], out_dir, i in newest) for i in issue_ids]
    largest = sorted(range(len(jobs)), key=lambda n: (issue_ids[n] not in newest,
                                                     -_markdown_bytes(folders[issue_ids[n]])))
    waiting = {issue_id for issue_id in issue_ids if issue_id in newest}
    found: dict[IssueId, Rendered] = {}

    def each(index: int, result: Rendered) -> None:
        issue_id = issue_ids[index]
        if issue_id not in waiting or when_newest is None:
            return
        found[issue_id] = result
        if len(found) == len(waiting):
            when_newest(found)

    return on_every_core(read_and_render, jobs, first=largest, each=each)


def _markdown_bytes(folder: Path) -> int:
    """How much Markdown an issue folder holds (how long its rendering takes, roughly)."""
    try:
        return sum(entry.stat().st_size for entry in os.scandir(folder)
                   if entry.name.endswith(".md") and entry.is_file())
    except OSError:
        return 0


#: Below this many pieces to render, starting worker processes costs more than it saves.
PRERENDER_MIN = 6


@contextmanager
def prerendering(site: stages.Site, issue: Issue, cache: c.Cache,
                 ahead: Forked | None = None) -> Iterator[None]:
    """Render the Markdown of an issue's changed pieces on every core while the body of the
    ``with`` runs (what the build can do meanwhile), then put what the workers rendered in
    ``cache`` (in memory, stored with the issue's bodies when they are used: use it inside
    :meth:`pipeline.cache.Cache.bodies_of` the issue's folder). One big new issue so keeps
    every core busy too; a few changed pieces are left to the pages' own rendering. With
    ``ahead`` (:mod:`pipeline.ahead`), its process is rendering them already: what it
    rendered is taken instead."""
    if ahead is not None:
        yield
        for kind, entry_key, payload in rendered_ahead(ahead):
            cache.remember(kind, entry_key, payload)
        return
    jobs = r.body_contexts(issue, site.config, memo.cached_anchors(cache))
    missing = [(source, ctx) for source, ctx in jobs
               if not cache.has("piece", bodies.piece_key(source, ctx))]
    workers = min(len(missing) // (PRERENDER_MIN // 2 or 1), os.cpu_count() or 1)
    if len(missing) < PRERENDER_MIN or workers < 2:
        yield
        return
    from concurrent.futures import ProcessPoolExecutor  # only a build on several cores

    with ProcessPoolExecutor(max_workers=workers) as pool:
        made = pool.map(bodies.render_piece, *zip(*missing, strict=True),
                        chunksize=max(1, len(missing) // (workers * 2)))
        yield
        for entry_key, payload in made:
            cache.remember("piece", entry_key, payload)


@dataclass
class AsideFeeds:
    """Feeds made and staged apart from the rest of a build (in a process of their own, or
    while the older issues of a whole archive still render): of which entries (the build
    uses them only if they are the entries it chooses in the end), and their staged files
    when they are done (with whether a date in them waited for the clock)."""

    chosen: list[Entry]
    names: tuple[str, ...]  # which feeds (:data:`pipeline.feeds.FEEDS`)
    _done: Callable[[], tuple[Staged, bool]]
    _files: tuple[Staged, bool] | None = field(default=None, init=False)

    def files(self) -> tuple[Staged, bool]:
        """The staged feeds (waiting for them); a feed that could not be staged raises
        :class:`~pipeline.errors.PipelineError`."""
        if self._files is None:
            self._files = self._done()
        return self._files

    def discard(self) -> None:
        """Remove the staged feeds (once they are done) of a build that does not use them."""
        try:
            staged, _ = self.files()
        except PipelineError:  # nothing was staged
            return
        discard([staged])


def staged_feeds(config: Config, entries: Mapping[IssueId, Entry], out_dir: Path,
                 now: datetime | None, names: tuple[str, ...] = tuple(FEEDS)) -> AsideFeeds:
    """The feeds (or those ``names``) of ``entries``, made and staged here, now."""
    outputs, clocked = stages.feed_files(config, entries, out_dir, now, names)
    made = (stage(outputs), clocked)
    return AsideFeeds(stages.chosen_entries(config, entries), names, lambda: made)


#: Feeds carrying less HTML than this are made with the rest of the build: a process of
#: their own would cost more than it saves.
ASIDE_MIN = 512 * 1024
#: The feeds made apart: two of the three, as the build has about a feed's work left when
#: it starts them, and makes the third when it is done.
ASIDE = ("rss.xml", "atom.xml")


def feeds_aside(config: Config, entries: Mapping[IssueId, Entry], out_dir: Path,
                now: datetime | None) -> AsideFeeds | None:
    """Start making and staging the feeds :data:`ASIDE` of ``entries`` in a process of their
    own, forked from this one (so nothing is copied to it: the entries are megabytes), while
    the build goes on here; or None when that is not worth it (one core, small feeds, no
    fork): then they are made with the rest. Call it when no other thread runs (a fork
    copies one)."""
    chosen = stages.chosen_entries(config, entries)
    if sum(len(e.content_html) for e in chosen) < ASIDE_MIN:
        return None
    forked = fork(_feeds_apart, (config, entries, out_dir, now))
    if forked is None:
        return None

    def done() -> tuple[Staged, bool]:
        made: tuple[Staged | None, bool, str] | None = forked.receive(None)
        forked.close()  # it sends nothing more: ended, and reaped
        if made is None:  # the process failed: they are made here (an error is then told)
            return staged_feeds(config, entries, out_dir, now, ASIDE).files()
        staged, clocked, unwritable = made
        if staged is None:
            raise PipelineError(unwritable)
        return staged, clocked

    return AsideFeeds(chosen, ASIDE, done)


def _feeds_apart(config: Config, entries: Mapping[IssueId, Entry], out_dir: Path,
                 now: datetime | None) -> tuple[Staged | None, bool, str]:
    """:func:`staged_feeds` in the process :func:`feeds_aside` started: what it staged, or
    why it could not (as :func:`read_and_render` says it)."""
    try:
        staged, clocked = staged_feeds(config, entries, out_dir, now, ASIDE).files()
    except PipelineError as exc:
        return None, False, str(exc)
    return staged, clocked, ""
