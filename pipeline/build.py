"""The build, start to finish: open the site, read the issue, render its pages, read the
other issues, feed entries, archive, feeds, write.

:func:`build_issue` is the editor's main job; :func:`build_all` rebuilds every issue of the
archive. Both run the stages of :mod:`pipeline.stages` in that order, through the render cache
(:mod:`pipeline.memo`), so only what changed is rendered, and on every core
(:mod:`pipeline.workers`): a whole-archive build one issue per worker, a new issue one piece
per worker. Every stage returns the problems it found; ``--strict`` is applied once, at the
end, and nothing is written unless the whole build succeeded.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

import jinja2

from . import cache as c
from . import feeds as feeds_mod
from . import images as images_mod
from . import memo, stages, workers
from . import render as r
from .cache import Stats
from .config import Config, load_config
from .content import list_issues, load_issue
from .contributors import load_contributors
from .crossings import check_crossings
from .email_html import LAYOUT
from .errors import (
    ContentError,
    PipelineError,
    Problem,
    Problems,
    UsageError,
    count_errors,
    has_errors,
    plural,
    strictly,
)
from .model import Contributor, Issue
from .publication import Record, is_published, load_record, record_output
from .render import run_template
from .seasons import IssueId, IssueIdError
from .writer import Output, Staged, Written, commit, discard, stage

PREVIEW_DIR = "preview"
FEEDS_DIR = "feeds"  # the feeds inside the site folder, where every page links them


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


@dataclass(frozen=True)
class _Site:
    """What a build reads before any issue: the configuration, the contributors, the issue
    folders, the templates, and what reading them found."""

    config: Config
    people: dict[str, Contributor] | None
    folders: dict[IssueId, Path]
    env: jinja2.Environment
    rendering: stages.Site
    found: tuple[Problem, ...]


def _open_site(config: Config, use_cache: bool = False, record: Record | None = None) -> _Site:
    root = config.root
    problems = Problems()
    stamp = memo.site_stamp(root) if use_cache else ""  # before the site's files are read
    digest = memo.site_inputs(config) if use_cache else ""
    people = load_contributors(root, problems)
    folders = dict(list_issues(config, problems))
    folder = root / c.CACHE_DIR if use_cache else None
    rendering = stages.Site(config, people, digest, folder, dict(record or {}), stamp)
    return _Site(config, people, folders, memo.environment(rendering), rendering,
                 tuple(problems.items))


def resolve_issue(ref: str, config: Config, folders: dict[IssueId, Path]) -> IssueId:
    """An issue id from an argument that is an id or the path of an issue folder."""
    if "/" in ref or Path(ref).is_dir():
        path = Path(ref)
        if not path.is_dir():
            raise UsageError(f"{ref}: no such issue folder")
        if path.resolve().parent != config.issues_dir.resolve():
            raise UsageError(f"{ref} is not a folder of {config.issues_dir}; pass --root for "
                             "the newsletter it belongs to, or give the issue id")
        ref = path.resolve().name
    try:
        issue_id = IssueId.parse(ref)
    except IssueIdError as exc:
        raise UsageError(str(exc)) from None
    if issue_id not in folders:
        known = ", ".join(str(i) for i in sorted(folders)) or "none yet"
        raise UsageError(f"no issue folder {config.issues_dir / str(issue_id)}; create it "
                         f"(newsletter calendar lists the coming ids) — existing issues: {known}")
    return issue_id


def build_issue(
    root: Path, ref: str, now: datetime, out: Path | None = None, drafts: bool = False,
    strict: bool = False, cache: bool = True, early: bool = False, publish: bool = False,
    config: Config | None = None,
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
    rendered (:mod:`pipeline.memo`). ``config`` is the root's, when the command has read it
    already (newsletter.toml is read once per command). ``strict`` judges this issue only.
    """
    record = load_record(root)
    config = config or load_config(root)
    issue_id = resolve_issue(ref, config, dict(list_issues(config, Problems())))
    public = is_published(issue_id, now, record)
    recording = not drafts and issue_id not in record and (early or (publish and public))
    if recording:
        record = {**record, issue_id: now.astimezone(UTC).replace(microsecond=0)}
    preview = drafts or not is_published(issue_id, now, record)

    site = _open_site(config, cache, record)
    store = c.Cache(site.rendering.cache_folder)
    issue, found, inputs = memo.read_issue(site.rendering, issue_id, site.folders[issue_id],
                                           drafts)
    if not drafts:  # what the next build of another issue needs to know of this one
        memo.store_summary(site.rendering, store, issue, inputs, found)
    problems = [*site.found, *found, *_left_out(issue)]
    crossings = Problems()
    check_crossings(issue, config, site.folders, site.people, record, now, crossings)
    problems += crossings.items
    if not issue.pieces and not has_errors(strictly(problems, strict)):
        problems.append(Problem(issue.path, None, "error", "nothing to publish: the issue has "
                                "no ready piece (the notes say why each piece was left out)",
                                "nothing-to-publish"))
    out_dir = _out_dir(site.config, issue_id, out, preview)
    targets, others, digests = [issue], [], {issue_id: inputs}
    for other in sorted(site.folders):
        if other == issue_id or not is_published(other, now, record):
            continue
        if (out_dir / str(other) / "index.html").is_file():
            others.append(other)
            continue
        # Published, but not in the output folder: written too, so the archive's link lands.
        more, read, more_inputs = memo.read_issue(site.rendering, other, site.folders[other])
        memo.store_summary(site.rendering, store, more, more_inputs, read)
        # Its problems are its own: with errors it is one of the others (named in a note).
        if more.pieces and not has_errors(read):
            targets.append(more)
            digests[other] = more_inputs
        else:
            others.append(other)
    extra = [record_output(root, record)] if recording else []
    result = _build(site, store, _Plan(targets, others, out_dir, feeds=not preview,
                                       drafts=drafts, inputs=digests, now=now),
                    problems, strict, extra)
    removed = () if preview else _remove_unpublished(out_dir, site, now, record)
    return replace(result, preview=preview, early=recording and not public, removed=removed,
                   published=record.get(issue_id))


def _out_dir(config: Config, issue_id: IssueId, out: Path | None, preview: bool) -> Path:
    """Where the build writes: ``out``, the site folder, or (a preview) ``<root>/preview``."""
    if preview and out is None:
        out = config.root / PREVIEW_DIR
    if preview and out is not None and out.resolve().is_relative_to(
            config.output_dir.resolve()):
        raise UsageError(f"--out {out}: {issue_id} is not published yet, and a preview never "
                         "goes into the site folder; choose another folder")
    return check_out_dir(out, config) if out is not None else config.output_dir


def _remove_unpublished(out_dir: Path, site: _Site, now: datetime,
                        record: Record) -> tuple[Path, ...]:
    """Take the folders of issues that are not published off the site (an earlier build, or
    an earlier version of the pipeline, may have left them there)."""
    removed = []
    if not out_dir.is_dir():
        return ()
    for entry in sorted(out_dir.iterdir()):
        try:
            issue_id = IssueId.parse(entry.name)
        except IssueIdError:
            continue
        if entry.is_dir() and not entry.is_symlink() and not is_published(issue_id, now,
                                                                           record):
            shutil.rmtree(entry)
            removed.append(entry)
    return tuple(removed)


@dataclass(frozen=True)
class Analysis:
    """Everything a build would find about one issue, without writing anything."""

    config: Config
    issue: Issue
    rendered: r.RenderedIssue
    problems: tuple[Problem, ...]
    email_size: int  # the HTML email's, as sent (drafts included, as analysed)
    image_weight: int = 0  # the bytes of the images the email loads
    email_full_size: int = 0  # the same with every piece in full
    teasers: int = 0  # how many pieces the email shows as teasers


def analyse_issue(root: Path, ref: str, drafts: bool = True,
                  config: Config | None = None, now: datetime | None = None) -> Analysis:
    """Load, validate and render one issue (drafts included by default) as a build would,
    collecting every problem instead of failing; nothing is written. Configuration and
    template errors still raise :class:`ContentError`. With ``now``, links to issues not
    published by then are reported too."""
    site = _open_site(config or load_config(root))
    problems = Problems()
    problems.items.extend(site.found)
    issue_id = resolve_issue(ref, site.config, site.folders)
    issue = load_issue(issue_id, site.folders[issue_id], site.config, site.people, problems,
                       drafts=drafts)
    check_crossings(issue, site.config, site.folders, site.people, load_record(root), now,
                    problems)
    rendered = r.render_issue(issue, site.config, problems)
    images = images_mod.survey(issue.path, r.image_uses(rendered), LAYOUT.column,
                               site.config.image_budget_kb, c.Cache(None), problems)
    edition = r.guarded(lambda: r.email_edition(rendered, site.config, site.env, images))
    stages.check_budget(rendered, edition, site.config, problems)
    return Analysis(site.config, issue, rendered, tuple(problems.items), edition.size,
                    images.weight, edition.full_size, len(edition.teasers))


def delivery_email(config: Config, issue: Issue, marker: str) -> tuple[str, str]:
    """The HTML and plain-text email of ``issue`` (just built) as its files have them (the
    same teasers, the same images), with ``marker`` where each subscriber's unsubscribe URL
    goes; through the render cache, so nothing is rendered again that the build rendered."""
    site = _open_site(config, True, load_record(config.root))
    renderers = memo.renderers(c.Cache(site.rendering.cache_folder))
    problems = Problems()
    rendered = r.render_issue(issue, site.config, problems, renderers.body, renderers.anchors)
    images = images_mod.survey(issue.path, r.image_uses(rendered), LAYOUT.column,
                               site.config.image_budget_kb, renderers.images, problems)
    edition = r.guarded(lambda: r.email_edition(rendered, site.config, site.env, images,
                                                marker))
    return edition.html, edition.text


def build_all(
    root: Path, now: datetime, out: Path | None = None, strict: bool = False,
    cache: bool = True, config: Config | None = None,
) -> BuildResult:
    """Rebuild every published issue (its moment has come), the archive and the feeds.

    The issues are read and rendered on every core, and through the render cache unless
    ``cache`` is False."""
    record = load_record(root)
    site = _open_site(config or load_config(root), cache, record)
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
    return replace(result, removed=_remove_unpublished(out_dir, site, now, record))


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


@dataclass
class _Made:
    """What a build has made so far: staged by workers, or still in memory; and the issues
    other than its target that have errors (how many)."""

    problems: list[Problem]
    staged: list[Staged] = field(default_factory=list)
    outputs: list[Output] = field(default_factory=list)
    sizes: dict[str, int] = field(default_factory=dict)
    teasers: dict[str, tuple[int, int]] = field(default_factory=dict)
    weights: dict[str, int] = field(default_factory=dict)
    entries: dict[IssueId, feeds_mod.Entry] = field(default_factory=dict)
    broken: dict[IssueId, int] = field(default_factory=dict)

    def take(self, issue: Issue, pages: stages.Pages, outputs: list[Output],
             problems: bool = True) -> None:
        self.outputs.extend(outputs)
        if problems:
            self.problems.extend(pages.problems)
        key = str(issue.issue_id)
        if pages.size:
            self.sizes[key] = pages.size
            self.weights[key] = pages.image_weight
        if pages.teasers:
            self.teasers[key] = (pages.full_size, pages.teasers)
        if pages.entry is not None:
            self.entries[issue.issue_id] = pages.entry


def _build(site: _Site, store: c.Cache, plan: _Plan, problems: list[Problem], strict: bool,
           extra: list[Output] | None = None) -> BuildResult:
    """Render what ``plan`` asks, then write it all with ``extra``, or nothing at all:
    render the issues -> read the others -> feed entries -> archive -> feeds -> write."""
    made = _Made(problems, outputs=list(extra or []))
    try:
        targets = _render(site, store, plan, made)
        summaries = _others(site, store, [] if plan.every else plan.others, made)
        targets = [t for t in targets if t.issue_id not in made.broken]
        entries = _feed_entries(site, store, targets, summaries, made) if plan.feeds else {}
        archive = _archive(site, store, targets, summaries, entries, made)
        if plan.feeds:
            made.outputs += _feeds(site.config, entries, plan)
        made.outputs += _site_files(site, archive, plan.out_dir)
        found = strictly(made.problems, strict)
        if has_errors(found):
            raise ContentError(found)
        made.staged.append(stage(made.outputs))
        written = commit(made.staged)
    except BaseException:
        discard(made.staged)  # what workers staged for a build that is not written
        raise
    if not plan.drafts:
        for issue in targets:
            memo.store_good(store, issue.path, stages.archive_entry(issue),
                            made.entries.get(issue.issue_id))
    config = site.config
    return BuildResult(tuple(targets), tuple(written), tuple(found), made.sizes, plan.feeds,
                       config.size_budget_kb, store.stats, teasers=made.teasers,
                       image_weights=made.weights, out_dir=plan.out_dir)


def _render(site: _Site, store: c.Cache, plan: _Plan, made: _Made) -> list[Issue]:
    """Render the plan's issues: its targets here, or (``every``) all of them on every core.
    The first target's problems are the build's; another target is written only because it
    was missing from the site, so its problems are its own: with errors it is not written
    (and a note names it)."""
    if plan.every:
        return _render_every(site, plan, made, store.stats)
    for index, issue in enumerate(plan.targets):
        workers.prerender(site.rendering, issue, store)
        pages = memo.pages(site.rendering, store, site.env, issue, plan.inputs[issue.issue_id],
                           plan.drafts)
        errors = count_errors(pages.problems)
        if index and errors:
            made.broken[issue.issue_id] = errors
        else:
            made.take(issue, pages, pages.outputs(issue, plan.out_dir), problems=not index)
    return list(plan.targets)


def _render_every(site: _Site, plan: _Plan, made: _Made, stats: c.Stats) -> list[Issue]:
    """Every issue of the plan, read and rendered one per task on every core; the ones that
    have a ready piece (each issue's problems reported in order: reading, left out,
    rendering)."""
    newest = set(sorted(plan.others, reverse=True)[: site.config.feed_issues])
    results = workers.render_every_issue(site.rendering, plan.others, site.folders,
                                         plan.out_dir, newest)
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


def _others(site: _Site, store: c.Cache, others: list[IssueId],
            made: _Made) -> dict[IssueId, memo.Summary]:
    """What the archive needs of the issues not built. Another issue's problems are that
    issue's: they never stop this build; one with errors is counted in ``made.broken``."""
    summaries = {}
    for issue_id in others:
        summaries[issue_id] = found = memo.summary(site.rendering, store, issue_id,
                                                   site.folders[issue_id])
        errors = count_errors(found.problems)
        if errors:
            made.broken[issue_id] = errors
    return summaries


def _feed_entries(site: _Site, store: c.Cache, targets: list[Issue],
                  summaries: dict[IssueId, memo.Summary],
                  made: _Made) -> dict[IssueId, feeds_mod.Entry]:
    """The entries of the newest issues, which the feeds carry: the targets' as rendered,
    the others' through the cache (an issue whose entry has errors is broken)."""
    entries: dict[IssueId, feeds_mod.Entry] = {}
    published = [i for i, s in summaries.items() if s.archive is not None and
                 i not in made.broken]
    built = {t.issue_id for t in targets}
    for issue_id in sorted([*built, *published], reverse=True)[: site.config.feed_issues]:
        if issue_id in made.entries:
            entries[issue_id] = made.entries[issue_id]
            continue
        # A target whose entry was not kept: its problems were reported when it was
        # rendered. Another issue: its problems are its own.
        known = summaries.get(issue_id)
        read = (known.issue, known.inputs) if known and known.issue else None
        try:
            entries[issue_id], found = memo.feed_entry(
                site.rendering, store, site.env, issue_id, site.folders[issue_id], read)
        except ContentError as exc:  # a template mistake, reported with the others
            if issue_id in built:
                made.problems.extend(exc.problems)
                continue
            found = exc.problems
        errors = count_errors(found)
        if errors and issue_id not in built:
            made.broken[issue_id] = made.broken.get(issue_id, 0) + errors
            entries.pop(issue_id, None)
    return entries


def _archive(site: _Site, store: c.Cache, targets: list[Issue],
             summaries: dict[IssueId, memo.Summary], entries: dict[IssueId, feeds_mod.Entry],
             made: _Made) -> list[r.ArchiveEntry]:
    """The archive page's lines. An issue with errors keeps the line and feed entry of its
    last good build (or is left out), and a note says so; the others' are kept as good."""
    goods = {issue_id: memo.last_good(store, site.folders[issue_id]) for issue_id in made.broken}
    archive = [entry for entry in map(stages.archive_entry, targets) if entry is not None]
    archive += [s.archive for i, s in summaries.items() if s.archive is not None and
                i not in made.broken]
    archive += [good.archive for good in goods.values() if good.archive is not None]
    for issue_id, summary in summaries.items():
        if issue_id not in made.broken:
            memo.store_good(store, site.folders[issue_id], summary.archive, entries.get(issue_id))
    for issue_id, errors in sorted(made.broken.items()):
        kept = ("its archive and feed entries are kept from its last good build"
                if goods[issue_id].archive is not None else
                "it is left out of the archive and the feeds until it builds without errors")
        made.problems.append(Problem(
            site.folders[issue_id], None, "note", f"{issue_id} has {plural(errors, 'error')}; "
            f"{kept} (newsletter check {issue_id} lists them)", "other-issue"))
    entries.update({i: g.entry for i, g in goods.items() if g.entry is not None})
    return archive


def _feeds(config: Config, entries: dict[IssueId, feeds_mod.Entry], plan: _Plan) -> list[Output]:
    """The feeds of the newest entries, where the repository keeps them and inside the site,
    where the pages link them."""
    chosen = [entries[i] for i in sorted(entries, reverse=True)[: config.feed_issues]]
    if plan.now is not None:  # a feed date is never in the future
        now = plan.now
        chosen = [replace(e, published=min(e.published, now), updated=min(e.updated, now))
                  for e in chosen]
    outputs = []
    for name, data in feeds_mod.all_feeds(chosen, config).items():
        outputs.append(Output(config.feeds_dir, name, data))
        outputs.append(Output(plan.out_dir, f"{FEEDS_DIR}/{name}", data))
    return outputs


def _site_files(site: _Site, archive: list[r.ArchiveEntry], out_dir: Path) -> list[Output]:
    """The archive page, the style sheet, robots.txt and ai.txt."""
    config, env = site.config, site.env
    return [Output(out_dir, "index.html", run_template(lambda: r.archive(archive, config, env))),
            Output(out_dir, "style.css", run_template(lambda: r.stylesheet(env))),
            Output(out_dir, "robots.txt", r.robots_txt(config).encode("utf-8")),
            Output(out_dir, "ai.txt", r.ai_txt(config).encode("utf-8"))]

def check_out_dir(out: Path, config: Config) -> Path:
    """An output folder that is not inside the content, the templates or the feeds."""
    resolved = out.resolve()
    for protected in (config.issues_dir, config.templates_dir, config.feeds_dir):
        if resolved == protected.resolve() or resolved.is_relative_to(protected.resolve()):
            raise UsageError(f"--out {out}: the output cannot go inside {protected}")
    if resolved == config.root.resolve():
        raise UsageError(f"--out {out}: the output cannot be the newsletter root itself")
    return out
