"""A new issue's bodies rendered ahead, on another core, while ``build-issue`` loads the rest
of the build.

``build-issue`` knows it must build (the last build is not still the build) long before it
has loaded what the build needs (the templates, the email's CSS inliner, the stages). It
starts a process of its own at that moment (:func:`rendering_ahead`): the process reads the
issue, finds its bodies' ids and renders every body the render cache does not have, on the
other core, while the build loads and reads the other issues. The build then takes what it
rendered into its cache (:func:`pipeline.workers.prerendering`), under the keys the process
computed from what it read, so a body the build reads otherwise (a file saved meanwhile) is
rendered again, never mixed up. The process only reads: it writes nothing, not even the
cache, and what it finds wrong the build finds and reports itself.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
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


class Forked:
    """A process forked from this one (so nothing is copied to it) to make one thing, and
    the pipe it sends that back on (:func:`fork`)."""

    def __init__(self, receive: Any, process: Any) -> None:
        self._receive, self._process = receive, process
        self._received = False
        self._value: Any = None

    def result(self) -> Any:
        """What it sent (waiting for it); EOFError or OSError if it stopped without, or if
        this was closed first."""
        if not self._received:
            try:
                self._value = self._receive.recv()
                self._received = True
            finally:
                self.close()
        return self._value

    def close(self) -> None:
        """Stop waiting for it: a build that ends without asking leaves no process behind."""
        self._receive.close()
        if not self._received and self._process.is_alive():
            self._process.terminate()
        self._process.join()


def fork(target: Callable[..., None], args: tuple[Any, ...], name: str) -> Forked | None:
    """``target(send, *args)`` in a process forked from this one, ``send`` the end of the
    pipe it sends its result on; None on one core, or where processes cannot be forked (the
    caller then does the work itself). Call it when no other thread runs (a fork copies
    one)."""
    import multiprocessing

    if (os.cpu_count() or 1) < 2 or "fork" not in multiprocessing.get_all_start_methods():
        return None
    forking = multiprocessing.get_context("fork")
    receive, send = forking.Pipe(duplex=False)
    process = forking.Process(target=target, args=(send, *args), name=name, daemon=True)
    process.start()
    send.close()
    return Forked(receive, process)


class Ahead:
    """The process rendering an issue's bodies ahead, and what it rendered."""

    def __init__(self, forked: Forked) -> None:
        self._forked = forked

    def entries(self) -> list[Entry]:
        """What it rendered (waiting for it to finish); nothing if it stopped."""
        try:
            made: list[Entry] = self._forked.result()
        except (EOFError, OSError):
            return []
        return made

    def close(self) -> None:
        self._forked.close()


@contextmanager
def rendering_ahead(config: Config, issue_id: IssueId, folder: Path,
                    use_cache: bool) -> Iterator[Ahead | None]:
    """The process rendering the bodies of the issue in ``folder`` ahead, for the ``with``
    (None on one core, or where processes cannot be forked: the build renders them)."""
    forked = fork(_ahead, (config, issue_id, folder, use_cache), "newsletter-ahead")
    if forked is None:
        yield None
        return
    ahead = Ahead(forked)
    try:
        yield ahead
    finally:
        ahead.close()


def _ahead(send: Any, config: Config, issue_id: IssueId, folder: Path,
           use_cache: bool) -> None:
    """The process :func:`rendering_ahead` starts: what it rendered, sent to the build."""
    try:
        made = rendered(config, issue_id, folder, use_cache)
    except Exception:  # the build reads and renders the issue itself, and says what is wrong
        made = []
    try:
        send.send(made)
    except OSError:  # the build ended without asking
        pass
    finally:
        send.close()


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
