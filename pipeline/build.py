"""The build, start to finish: open the site, read the issue, render its pages, read the
other issues, feed entries, archive, feeds, write.

:func:`build_issue` is the editor's main job; :func:`build_all` rebuilds every issue of the
archive. Both run the stages of :mod:`pipeline.stages` in that order, through the render cache
(:mod:`pipeline.memo`), so only what changed is rendered, and on every core
(:mod:`pipeline.workers`): a whole-archive build one issue per worker; a new issue's bodies
in the process ``build-issue`` started for them (:mod:`pipeline.ahead`), or one piece per
worker, and its feeds in a process of their own while its email is made. What the build needs
of the issues it does not render is :mod:`pipeline.others`. Every stage returns the problems
it found; ``--strict`` is applied once, at the end, and nothing is written unless the whole
build succeeded.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

from . import cache as c
from . import feeds as feeds_mod
from . import memo, others, stages, workers
from . import render as r
from .ahead import issue_read
from .cache import Stats
from .config import Config
from .crossings import check_crossings
from .errors import (
    ContentError,
    PipelineError,
    Problem,
    Problems,
    count_errors,
    has_errors,
    strictly,
)
from .forks import Forked
from .model import Issue
from .others import Made
from .publication import is_published, load_record, record_output
from .render import run_template
from .seasons import IssueId
from .site import OpenSite, check_out_dir, open_site, out_dir_for, remove_unpublished
from .writer import Output, Written, commit, discard, stage


@dataclass(frozen=True)
class BuildResult:
    """What a build made, and what it noticed on the way."""

    issues: tuple[Issue, ...]
    written: tuple[Written, ...]
    problems: tuple[Problem, ...]
    email_sizes: dict[str, int]  # as sent
    feeds_written: bool
    budget_kb: int
    cache: Stats = field(default_factory=Stats)  # what the render cache had, and had not
    #: Of an issue whose email shows teasers: its size in full, and how many are teasers.
    teasers: dict[str, tuple[int, int]] = field(default_factory=dict)
    out_dir: Path | None = None  # where the issues and the archive were written
    preview: bool = False  # the target's moment has not come (or --drafts): not the site
    early: bool = False  # published before its moment now, as --early asked
    removed: tuple[Path, ...] = ()  # folders of issues not published yet, taken off the site
    published: datetime | None = None  # the target's recorded publication, if it has one
    #: The bytes of the images each issue's email loads (its weight is these plus its HTML).
    image_weights: dict[str, int] = field(default_factory=dict)
    #: A feed date waited for the clock (it is in the future): the feeds change with time.
    clocked: bool = False


def build_issue(
    config: Config, issue_id: IssueId, now: datetime, *, out: Path | None = None,
    drafts: bool = False, strict: bool = False, cache: bool = True, early: bool = False,
    publish: bool = False, ahead: Forked | None = None,
) -> BuildResult:
    """Build one issue, the archive page and (unless it is a preview) the feeds.

    Whether the issue goes to the site is :func:`pipeline.publication.is_published`: once
    its moment has come (``now``) or it is recorded as published. Before that the build is a
    preview, written to ``<root>/preview`` (or ``out``), with no feeds, and the site folder is
    not touched; ``early`` publishes it now instead, and records that it did. ``publish``
    (``newsletter publish``) records the publication of an issue whose moment has come, if
    it has no record yet. A ``drafts`` build is always a preview. The archive and the feeds
    cover every published issue and this one; a published issue whose folder is missing from
    the output folder is written too, so every issue the archive links is there. With
    ``cache`` the render cache is used, so only what changed since an earlier build is
    rendered (:mod:`pipeline.memo`). ``strict`` judges this issue only. ``ahead`` is the
    process rendering the issue's bodies already (:mod:`pipeline.ahead`), if one was
    started (not for ``drafts``: it renders the issue as published).
    """
    root = config.root
    record = load_record(root)
    public = is_published(issue_id, now, record)
    recording = not drafts and issue_id not in record and (early or (publish and public))
    if recording:
        record = {**record, issue_id: now.astimezone(UTC).replace(microsecond=0)}
    preview = drafts or not is_published(issue_id, now, record)

    site = open_site(config, cache, record)
    store = c.Cache(site.rendering.cache_folder)
    folder = site.folders[issue_id]
    first = issue_read(ahead) if ahead is not None and not drafts else None
    if first is not None and first.issue.path != folder:
        first = None
    issue, found, inputs = memo.read_issue(site.rendering, issue_id, folder, drafts, first)
    if not drafts:  # what the next build of another issue needs to know of this one
        memo.store_summary(site.rendering, store, issue, inputs, found)
    problems = [*site.found, *found, *_left_out(issue)]
    if first is not None and first.crossings is not None:  # asked as it read the issue
        problems += first.crossings
    else:
        crossings = Problems()
        check_crossings(issue, config, site.folders, site.people, record, now, crossings)
        problems += crossings.items
    if not issue.pieces and not has_errors(strictly(problems, strict)):
        problems.append(Problem(issue.path, None, "error", "nothing to publish: the issue has "
                                "no ready piece (the notes say why each piece was left out)",
                                "nothing-to-publish"))
    out_dir = out_dir_for(site.config, issue_id, out, preview)
    targets, elsewhere, digests = [issue], [], {issue_id: inputs}
    for other in sorted(site.folders):
        if other == issue_id or not is_published(other, now, record):
            continue
        if (out_dir / str(other) / "index.html").is_file():
            elsewhere.append(other)
            continue
        # Published, but not in the output folder: written too, so the archive's link lands.
        more, read, more_inputs = memo.read_issue(site.rendering, other, site.folders[other])
        memo.store_summary(site.rendering, store, more, more_inputs, read)
        # Its problems are its own: with errors it is one of the others (named in a note).
        if more.pieces and not has_errors(read):
            targets.append(more)
            digests[other] = more_inputs
        else:
            elsewhere.append(other)
    extra = [record_output(root, record)] if recording else []
    result = _build(site, store, _Plan(targets, elsewhere, out_dir, feeds=not preview,
                                       drafts=drafts, inputs=digests, now=now,
                                       ahead=None if drafts else ahead),
                    problems, strict, extra)
    removed = () if preview else remove_unpublished(out_dir, site, now, record)
    return replace(result, preview=preview, early=recording and not public, removed=removed,
                   published=record.get(issue_id))


def build_all(config: Config, now: datetime, *, out: Path | None = None, strict: bool = False,
              cache: bool = True) -> BuildResult:
    """Rebuild every published issue (its moment has come), the archive and the feeds.

    The issues are read and rendered on every core, and through the render cache unless
    ``cache`` is False."""
    record = load_record(config.root)
    site = open_site(config, cache, record)
    problems = list(site.found)
    published = []
    for issue_id in sorted(site.folders):
        if not is_published(issue_id, now, record):
            problems.append(Problem(
                site.folders[issue_id], None, "note", "not published yet (its moment is "
                f"{issue_id.moment():%Y-%m-%d %H:%M} UTC), so not in the site; preview it "
                f"with build-issue {issue_id}", "not-published"))
        else:
            published.append(issue_id)
    out_dir = check_out_dir(out, site.config) if out is not None else site.config.output_dir
    result = _build(site, c.Cache(site.rendering.cache_folder),
                    _Plan([], published, out_dir, feeds=True, drafts=False, every=True, now=now),
                    problems, strict)
    return replace(result, removed=remove_unpublished(out_dir, site, now, record))


def _left_out(issue: Issue) -> list[Problem]:
    return [Problem(left.path, None, "note", f"left out: {left.reason}", "left-out")
            for left in issue.left_out]


@dataclass(frozen=True)
class _Plan:
    """What a build renders and writes: ``targets`` (their ``inputs`` digests given) or,
    with ``every``, each of ``others``, with the archive and (with ``feeds``) the feeds,
    which also cover ``others``. No date in the feeds is later than ``now``."""

    targets: list[Issue]
    others: list[IssueId]
    out_dir: Path
    feeds: bool
    drafts: bool
    every: bool = False
    inputs: dict[IssueId, str] = field(default_factory=dict)
    now: datetime | None = None
    ahead: Forked | None = None  # the first target's bodies, rendering ahead


def _build(site: OpenSite, store: c.Cache, plan: _Plan, problems: list[Problem], strict: bool,
           extra: list[Output] | None = None) -> BuildResult:
    """Render what ``plan`` asks, then write it all with ``extra``, or nothing at all:
    render the issues -> read the others -> feed entries -> archive -> feeds -> write."""
    made = Made(problems, outputs=list(extra or []))
    try:
        # The others are read while the target's pieces render on the other cores.
        targets, summaries = _render(site, store, plan, made)
        targets = [t for t in targets if t.issue_id not in made.broken]
        entries = others.feed_entries(site, store, targets, summaries, made) \
            if plan.feeds else {}
        archive = others.archive(site, store, targets, summaries, entries, made)
        site_files = _site_files(site, archive, plan.out_dir)
        clocked, feeds = False, list[Output]()
        early = made.early_feeds
        use_early = early is not None and plan.feeds and \
            early.chosen == stages.chosen_entries(site.config, entries)
        if plan.feeds:
            if early is not None and not use_early:  # of other entries than the build chose
                made.early_feeds = None
                early.discard()
            apart = early.names if early is not None and use_early else ()
            rest = tuple(name for name in feeds_mod.FEEDS if name not in apart)
            feeds, clocked = stages.feed_files(site.config, entries, plan.out_dir, plan.now,
                                               rest)
        found = strictly(made.problems, strict)
        if has_errors(found):
            raise ContentError(found)
        # Staged in the order they are reported: the issues, the feeds, the site's pages.
        made.staged.append(stage(made.outputs))
        if early is not None and use_early:  # the feeds staged while the build went on
            made.early_feeds = None
            staged, clocked = early.files()
            made.staged.append(staged)
        made.staged.append(stage([*feeds, *site_files]))
        written = commit(made.staged)
    except BaseException:
        # What workers staged, and the feeds made apart, for a build that is not written.
        discard(made.staged)
        if made.early_feeds is not None:
            made.early_feeds.discard()
        raise
    if not plan.drafts:
        for issue in targets:
            memo.store_good(store, issue.path, stages.archive_entry(issue),
                            made.entries.get(issue.issue_id))
    config = site.config
    return BuildResult(tuple(targets), tuple(written), tuple(found), made.sizes, plan.feeds,
                       config.size_budget_kb, store.stats, teasers=made.teasers,
                       image_weights=made.weights, out_dir=plan.out_dir, clocked=clocked)


def _render(site: OpenSite, store: c.Cache, plan: _Plan,
            made: Made) -> tuple[list[Issue], dict[IssueId, memo.Summary]]:
    """Render the plan's issues: its targets here, or (``every``) all of them on every core;
    and read the other issues, while the first target's pieces render on the other cores.
    The first target's problems are the build's; another target is written only because it
    was missing from the site, so its problems are its own: with errors it is not written
    (and a note names it). A single target's feeds are made in a worker from the moment its
    entry is made, while its email and web pages render (when they are worth a worker)."""
    reading = [] if plan.every else plan.others
    if plan.every:
        return _render_every(site, plan, made, store.stats), others.summaries(site, store, reading,
                                                                              made)
    summaries: dict[IssueId, memo.Summary] = {}
    single = plan.feeds and len(plan.targets) == 1

    def feeds_aside(entry: feeds_mod.Entry) -> None:
        # The target is in the feeds whatever its pages find: with errors nothing is written.
        made.entries[plan.targets[0].issue_id] = entry
        made.early_feeds = workers.feeds_aside(
            site.config, others.feed_entries(site, store, plan.targets, summaries, made),
            plan.out_dir, plan.now)

    for index, issue in enumerate(plan.targets):
        with store.bodies_of(issue.path):
            with workers.prerendering(site.rendering, issue, store,
                                      None if index else plan.ahead):
                if not index:
                    summaries = others.summaries(site, store, reading, made)
                    if single:  # the other issues' feed entries too, from the cache
                        made.read_ahead = others.read_ahead(site, store, plan.targets,
                                                            summaries, made)
            pages = memo.pages(site.rendering, store, site.env, issue,
                               plan.inputs[issue.issue_id], plan.drafts,
                               on_entry=feeds_aside if single else None)
        errors = count_errors(pages.problems)
        if index and errors:
            made.broken[issue.issue_id] = errors
        else:
            made.take(issue, pages, pages.outputs(issue, plan.out_dir), problems=not index)
    if not plan.targets:
        summaries = others.summaries(site, store, reading, made)
    return list(plan.targets), summaries


def _render_every(site: OpenSite, plan: _Plan, made: Made, stats: c.Stats) -> list[Issue]:
    """Every issue of the plan, read and rendered one per task on every core; the ones that
    have a ready piece (each issue's problems reported in order: reading, left out,
    rendering)."""
    newest = set(sorted(plan.others, reverse=True)[: site.config.feed_issues])

    def feeds_early(done: dict[IssueId, workers.Rendered]) -> None:
        # The feeds of the newest issues, made while the older ones still render; used if
        # they are the feeds the build chooses in the end (when none of them has errors).
        if plan.feeds and all(d.pages is not None and d.pages.entry is not None and
                              not has_errors([*d.found, *d.pages.problems])
                              for d in done.values()):
            entries = {i: d.pages.entry for i, d in done.items()
                       if d.pages is not None and d.pages.entry is not None}
            made.early_feeds = workers.staged_feeds(site.config, entries, plan.out_dir,
                                                    plan.now)

    results = workers.render_every_issue(site.rendering, plan.others, site.folders,
                                         plan.out_dir, newest, feeds_early)
    made.staged.extend(done.staged for done in results if done.staged is not None)
    targets = []
    for done in results:
        made.problems += [*done.found, *_left_out(done.issue)]
        stats.merge(done.stats)
        if done.unwritable:
            raise PipelineError(done.unwritable)
        if done.pages is not None:
            targets.append(done.issue)
            made.take(done.issue, done.pages, [])
    if not targets and not has_errors(made.problems):
        made.problems.append(Problem(site.config.issues_dir, None, "error", "no published "
                                     "issue has a ready piece; nothing to build",
                                     "nothing-to-publish"))
    return targets


def _site_files(site: OpenSite, archive: list[r.ArchiveEntry], out_dir: Path) -> list[Output]:
    """The archive page, the style sheet, robots.txt and ai.txt."""
    config, env = site.config, site.env
    return [Output(out_dir, "index.html", run_template(lambda: r.archive(archive, config, env))),
            Output(out_dir, "style.css", run_template(lambda: r.stylesheet(env))),
            Output(out_dir, "robots.txt", r.robots_txt(config).encode("utf-8")),
            Output(out_dir, "ai.txt", r.ai_txt(config).encode("utf-8"))]

