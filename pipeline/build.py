"""The build, start to finish: read, validate, render, check the budget, write.

:func:`build_issue` is the editor's main job; :func:`build_all` rebuilds every issue of the
archive. Both gather every problem first and write nothing unless the whole build succeeded.
Both render through the render cache (:mod:`pipeline.cache`, :mod:`pipeline.incremental`), so
only what changed is rendered, and on every core: a whole-archive build one issue per worker,
a new issue one piece per worker.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

import jinja2

from . import cache as c
from . import feeds as feeds_mod
from . import images as images_mod
from . import incremental as inc
from . import render as r
from .cache import Stats
from .config import Config, load_config
from .content import list_issues, load_issue, resolve_issue
from .contributors import load_contributors
from .crossings import check_crossings
from .email_html import LAYOUT
from .errors import ContentError, PipelineError, Problem, Problems, UsageError
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
    config: Config
    people: dict[str, Contributor] | None
    folders: dict[IssueId, Path]
    env: jinja2.Environment
    rendering: inc.Site


def _open_site(config: Config, problems: Problems, use_cache: bool = False,
               record: Record | None = None) -> _Site:
    root = config.root
    stamp = inc.site_stamp(root) if use_cache else ""  # before the site's files are read
    digest = inc.site_inputs(config) if use_cache else ""
    people = load_contributors(root, problems)
    folders = dict(list_issues(config, problems))
    folder = config.root / c.CACHE_DIR if use_cache else None
    rendering = inc.Site(config, people, digest, folder, dict(record or {}), stamp)
    return _Site(config, people, folders, inc.environment(rendering), rendering)


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
    rendered (:mod:`pipeline.cache`). ``config`` is the root's, when the command has read it
    already (newsletter.toml is read once per command).
    """
    problems = Problems(strict=strict)
    record = load_record(root)
    config = config or load_config(root)
    issue_id = resolve_issue(ref, config)
    public = is_published(issue_id, now, record)
    recording = not drafts and issue_id not in record and (early or (publish and public))
    if recording:
        record = {**record, issue_id: now.astimezone(UTC).replace(microsecond=0)}
    preview = drafts or not is_published(issue_id, now, record)
    site = _open_site(config, problems, cache, record)
    found = Problems(strict=strict)
    issue, inputs = inc.read_issue(site.rendering, issue_id, site.folders[issue_id], found,
                                   drafts=drafts)
    problems.items.extend(found.items)
    if not drafts:  # what the next build of another issue needs to know of this one
        inc.store_summary(site.rendering, c.Cache(site.rendering.cache_folder), issue, inputs,
                          found.items, strict)
    _note_left_out(issue, problems)
    check_crossings(issue, config, site.folders, site.people, record, now, problems)
    if not issue.pieces and not problems.has_errors:
        problems.error(issue.path, None, "nothing to publish: the issue has no ready piece "
                       "(the notes say why each piece was left out)", rule="nothing-to-publish")
    if preview and out is None:
        out = site.config.root / PREVIEW_DIR
    if preview and out is not None and out.resolve().is_relative_to(
            site.config.output_dir.resolve()):
        raise UsageError(f"--out {out}: {issue_id} is not published yet, and a preview never "
                         "goes into the site folder; choose another folder")
    out_dir = check_out_dir(out, site.config) if out is not None else site.config.output_dir
    targets, others, digests = [issue], [], {issue_id: inputs}
    for other in sorted(site.folders):
        if other == issue_id or not is_published(other, now, record):
            continue
        if (out_dir / str(other) / "index.html").is_file():
            others.append(other)
            continue
        # Published, but not in the output folder: written too, so the archive's link lands.
        read = Problems()
        more, more_inputs = inc.read_issue(site.rendering, other, site.folders[other], read)
        inc.store_summary(site.rendering, c.Cache(site.rendering.cache_folder), more,
                          more_inputs, read.items, False)
        # Its problems are its own: with errors it is one of the others (named in a note).
        if more.pieces and not any(p.level == "error" for p in read.items):
            targets.append(more)
            digests[other] = more_inputs
        else:
            others.append(other)
    extra = [record_output(root, record)] if recording else []
    result = _build(site, targets, others, out_dir, problems, feeds=not preview,
                    drafts=drafts, inputs=digests, extra=extra, now=now)
    removed = () if preview else _remove_unpublished(out_dir, site, now, record)
    return replace(result, preview=preview, early=recording and not public, removed=removed,
                   published=record.get(issue_id))


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
    problems = Problems()
    site = _open_site(config or load_config(root), problems)
    issue_id = resolve_issue(ref, site.config, site.folders)
    issue = load_issue(issue_id, site.folders[issue_id], site.config, site.people, problems,
                       drafts=drafts)
    check_crossings(issue, site.config, site.folders, site.people, load_record(root), now,
                    problems)
    rendered = r.render_issue(issue, site.config, problems)
    images = images_mod.survey(issue.path, r.image_uses(rendered), LAYOUT.column,
                               site.config.image_budget_kb, c.Cache(None), problems)
    edition = r.guarded(lambda: r.email_edition(rendered, site.config, site.env, images))
    inc.check_budget(rendered, edition, site.config, problems)
    return Analysis(site.config, issue, rendered, tuple(problems.items), edition.size,
                    images.weight, edition.full_size, len(edition.teasers))


def delivery_email(config: Config, issue: Issue, marker: str) -> tuple[str, str]:
    """The HTML and plain-text email of ``issue`` (just built) as its files have them (the
    same teasers, the same images), with ``marker`` where each subscriber's unsubscribe URL
    goes; through the render cache, so nothing is rendered again that the build rendered."""
    problems = Problems()
    site = _open_site(config, problems, True, load_record(config.root))
    cache = c.Cache(site.rendering.cache_folder)
    rendered = r.render_issue(issue, site.config, problems, body=inc.cached_body(cache),
                              anchors=inc.cached_anchors(cache))
    images = images_mod.survey(issue.path, r.image_uses(rendered), LAYOUT.column,
                               site.config.image_budget_kb, cache, problems)
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
    problems = Problems(strict=strict)
    record = load_record(root)
    site = _open_site(config or load_config(root), problems, cache, record)
    published = []
    for issue_id in sorted(site.folders):
        if not is_published(issue_id, now, record):
            problems.note(site.folders[issue_id], None, "not published yet (its moment is "
                          f"{issue_id.moment():%Y-%m-%d %H:%M} UTC), so not in the site; "
                          f"preview it with build-issue {issue_id}", rule="not-published")
        else:
            published.append(issue_id)
    out_dir = check_out_dir(out, site.config) if out is not None else site.config.output_dir
    result = _build(site, [], published, out_dir, problems, feeds=True, drafts=False,
                    every=True, now=now)
    return replace(result, removed=_remove_unpublished(out_dir, site, now, record))


def _note_left_out(issue: Issue, problems: Problems) -> None:
    for left in issue.left_out:
        problems.note(left.path, None, f"left out: {left.reason}", rule="left-out")


def _build(
    site: _Site, targets: list[Issue], others: list[IssueId], out_dir: Path,
    problems: Problems, feeds: bool, drafts: bool, every: bool = False,
    inputs: dict[IssueId, str] | None = None, extra: list[Output] | None = None,
    now: datetime | None = None,
) -> BuildResult:
    """Render ``targets`` (their ``inputs`` digests given) or, with ``every``, each of
    ``others``, and write them with the archive and (with ``feeds``) the feeds, which also
    cover ``others``; ``extra`` outputs are written with them, or not at all. No date in
    the feeds is later than ``now``."""
    cache = c.Cache(site.rendering.cache_folder)
    made = _Made(outputs=list(extra or []))
    try:
        result = _build_staged(site, targets, others, out_dir, problems, feeds, drafts, every,
                               cache, made, inputs or {}, now)
    except BaseException:
        discard(made.staged)  # what workers staged for a build that is not written
        raise
    return result


@dataclass
class _Made:
    """What a build has made so far: staged by workers, or still in memory."""

    staged: list[Staged] = field(default_factory=list)
    outputs: list[Output] = field(default_factory=list)
    sizes: dict[str, int] = field(default_factory=dict)
    teasers: dict[str, tuple[int, int]] = field(default_factory=dict)
    weights: dict[str, int] = field(default_factory=dict)
    entries: dict[IssueId, feeds_mod.Entry] = field(default_factory=dict)

    def take(self, issue: Issue, pages: inc.Pages, problems: Problems) -> None:
        self.outputs.extend(pages.outputs)
        problems.items.extend(pages.problems)
        if pages.size:
            self.sizes[str(issue.issue_id)] = pages.size
            self.weights[str(issue.issue_id)] = pages.image_weight
        if pages.teasers:
            self.teasers[str(issue.issue_id)] = (pages.full_size, pages.teasers)
        if pages.entry is not None:
            self.entries[issue.issue_id] = pages.entry


def _build_staged(
    site: _Site, targets: list[Issue], others: list[IssueId], out_dir: Path,
    problems: Problems, feeds: bool, drafts: bool, every: bool, cache: c.Cache, made: _Made,
    inputs: dict[IssueId, str], now: datetime | None = None,
) -> BuildResult:
    config, env = site.config, site.env
    summaries: dict[IssueId, inc.Summary] = {}
    if every:
        targets = _build_every(site, others, out_dir, problems, made, cache.stats)
        if not targets and not problems.has_errors:
            problems.error(config.issues_dir, None, "no published issue has a ready piece; "
                           "nothing to build", rule="nothing-to-publish")
        others = []
    # Another issue's problems are that issue's: they never stop this build. An issue with
    # errors keeps the archive line and feed entry of its last good build (or is left out).
    broken: dict[IssueId, int] = {}
    for issue_id in others:
        summaries[issue_id] = found = inc.summary(site.rendering, cache, issue_id,
                                                  site.folders[issue_id], False)
        errors = sum(p.level == "error" for p in found.problems)
        if errors:
            broken[issue_id] = errors
    for index, issue in enumerate(targets if not every else []):
        _prerender(site.rendering, issue, cache)
        pages = inc.render_pages(site.rendering, cache, issue, inputs[issue.issue_id],
                                 out_dir, problems.strict if index == 0 else False, drafts)
        if index == 0:
            made.take(issue, pages, problems)
            continue
        # A published issue written only because it was missing from the site: its problems
        # are its own; with errors it is not written (and is named in a note below).
        errors = sum(p.level == "error" for p in pages.problems)
        if errors:
            broken[issue.issue_id] = errors
        else:
            made.take(issue, replace(pages, problems=[]), problems)
    targets = [t for t in targets if t.issue_id not in broken]
    entries: dict[IssueId, feeds_mod.Entry] = {}
    if feeds:
        # The feeds carry the newest issues only; the targets among them give their entries.
        published = [i for i, s in summaries.items() if s.archive is not None and i not in broken]
        built = {t.issue_id: t for t in targets}
        for issue_id in sorted([*built, *published], reverse=True)[: config.feed_issues]:
            if issue_id in made.entries:
                entries[issue_id] = made.entries[issue_id]
                continue
            # A target whose entry was not kept: its problems were reported when it was
            # rendered. Another issue: its problems are its own.
            known = summaries.get(issue_id)
            read = (known.issue, known.inputs) if known and known.issue else None
            quiet = Problems(problems.strict if issue_id in built else False)
            try:
                entries[issue_id] = inc.feed_entry(
                    site.rendering, cache, env, issue_id, site.folders[issue_id], read,
                    quiet.strict, quiet)
            except ContentError as exc:  # a template mistake, reported with the others
                if issue_id in built:
                    problems.items.extend(exc.problems)
                    continue
                quiet.items.extend(exc.problems)
            errors = sum(p.level == "error" for p in quiet.items)
            if errors and issue_id not in built:
                broken[issue_id] = broken.get(issue_id, 0) + errors
                entries.pop(issue_id, None)
    goods = {issue_id: inc.last_good(cache, site.folders[issue_id]) for issue_id in broken}
    archive = [entry for entry in map(inc.archive_entry, targets) if entry is not None]
    archive += [s.archive for i, s in summaries.items() if s.archive is not None and
                i not in broken]
    archive += [good.archive for good in goods.values() if good.archive is not None]
    for issue_id, summary in summaries.items():
        if issue_id not in broken:
            inc.store_good(cache, site.folders[issue_id], summary.archive, entries.get(issue_id))
    for issue_id, errors in sorted(broken.items()):
        kept = ("its archive and feed entries are kept from its last good build"
                if goods[issue_id].archive is not None else
                "it is left out of the archive and the feeds until it builds without errors")
        problems.note(site.folders[issue_id], None,
                      f"{issue_id} has {errors} error{'s' if errors != 1 else ''}; {kept} "
                      f"(newsletter check {issue_id} lists them)", rule="other-issue")
    if feeds:
        entries.update({i: g.entry for i, g in goods.items() if g.entry is not None})
        chosen = [entries[i] for i in sorted(entries, reverse=True)[: config.feed_issues]]
        if now is not None:  # a feed date is never in the future
            chosen = [replace(e, published=min(e.published, now), updated=min(e.updated, now))
                      for e in chosen]
        for name, data in feeds_mod.all_feeds(chosen, config).items():
            # Where the repository keeps them, and inside the site, where the pages link them.
            made.outputs.append(Output(config.feeds_dir, name, data))
            made.outputs.append(Output(out_dir, f"{FEEDS_DIR}/{name}", data))
    outputs = made.outputs
    outputs.append(Output(out_dir, "index.html",
                          run_template(lambda: r.archive(archive, config, env))))
    outputs.append(Output(out_dir, "style.css", run_template(lambda: r.stylesheet(env))))
    outputs.append(Output(out_dir, "robots.txt", r.robots_txt(config).encode("utf-8")))
    outputs.append(Output(out_dir, "ai.txt", r.ai_txt(config).encode("utf-8")))
    problems.raise_if_errors()
    made.staged.append(stage(outputs))
    written = commit(made.staged)
    if not drafts:
        for issue in targets:
            inc.store_good(cache, issue.path, inc.archive_entry(issue),
                           made.entries.get(issue.issue_id))
    return BuildResult(tuple(targets), tuple(written), tuple(problems.items), made.sizes,
                       feeds, config.size_budget_kb, cache.stats, teasers=made.teasers,
                       image_weights=made.weights, out_dir=out_dir)


def _build_every(
    site: _Site, issue_ids: list[IssueId], out_dir: Path, problems: Problems, made: _Made,
    stats: Stats,
) -> list[Issue]:
    """Read and render every issue, one issue per task on every core; the ones that have a
    ready piece (each issue's problems reported in order: reading, left out, rendering).

    Each worker stages its issue's files itself, so no process holds the whole archive's
    pages; only the newest issues' feed entries come back."""
    newest = set(sorted(issue_ids, reverse=True)[: site.config.feed_issues])
    jobs = [(site.rendering, i, site.folders[i], out_dir, problems.strict, i in newest)
            for i in issue_ids]
    workers = min(len(jobs), os.cpu_count() or 1)
    if workers > 1:
        from concurrent.futures import ProcessPoolExecutor  # only a build on several cores

        with ProcessPoolExecutor(max_workers=workers) as pool:
            results = list(pool.map(_read_and_render, *zip(*jobs, strict=True), chunksize=1))
    else:
        results = [_read_and_render(*job) for job in jobs]
    made.staged.extend(staged for *_, staged, _ in results if isinstance(staged, Staged))
    targets = []
    for issue, found, pages, counted, _, unwritable in results:
        problems.items.extend(found)
        _note_left_out(issue, problems)
        stats.merge(counted)
        if unwritable:
            raise PipelineError(unwritable)
        if pages is not None:
            targets.append(issue)
            made.take(issue, pages, problems)
    return targets


def _read_and_render(
    site: inc.Site, issue_id: IssueId, folder: Path, out_dir: Path, strict: bool,
    keep_entry: bool,
) -> tuple[Issue, list[Problem], inc.Pages | None, Stats, Staged | None, str]:
    """Read one issue and, if it has a ready piece, render it and stage its files (unless
    something is wrong: then the build writes nothing). Pure but for the staging and the
    cache, so it runs in a worker; a file that cannot be staged comes back as a message."""
    found = Problems(strict=strict)
    cache = c.Cache(site.cache_folder)
    issue, inputs = inc.read_issue(site, issue_id, folder, found)
    inc.store_summary(site, cache, issue, inputs, found.items, strict)
    if not issue.pieces:
        return issue, found.items, None, cache.stats, None, ""
    pages = inc.render_pages(site, cache, issue, inputs, out_dir, strict, drafts=False)
    staged = None
    if not any(p.level == "error" for p in [*found.items, *pages.problems]):
        try:
            staged = stage(pages.outputs)
        except PipelineError as exc:
            return issue, found.items, pages, cache.stats, None, str(exc)
    kept = inc.Pages([], pages.problems, pages.size, pages.entry if keep_entry else None,
                     pages.full_size, pages.teasers, pages.image_weight)
    return issue, found.items, kept, cache.stats, staged, ""


def check_out_dir(out: Path, config: Config) -> Path:
    """An output folder that is not inside the content, the templates or the feeds."""
    resolved = out.resolve()
    for protected in (config.issues_dir, config.templates_dir, config.feeds_dir):
        if resolved == protected.resolve() or resolved.is_relative_to(protected.resolve()):
            raise UsageError(f"--out {out}: the output cannot go inside {protected}")
    if resolved == config.root.resolve():
        raise UsageError(f"--out {out}: the output cannot be the newsletter root itself")
    return out


#: Below this many pieces to render, starting worker processes costs more than it saves.
PRERENDER_MIN = 6


def _prerender(site: inc.Site, issue: Issue, cache: c.Cache) -> None:
    """Render the Markdown of an issue's changed pieces on every core before its pages are
    made, so that one big new issue keeps every core busy too; what the workers render
    goes into ``cache`` (on disk, and in memory for this build)."""
    jobs = r.body_contexts(issue, site.config, inc.cached_anchors(cache))
    missing = [(source, ctx) for source, ctx in jobs
               if not cache.has("piece", inc.piece_key(source, ctx))]
    workers = min(len(missing) // (PRERENDER_MIN // 2 or 1), os.cpu_count() or 1)
    if len(missing) < PRERENDER_MIN or workers < 2:
        return
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(max_workers=workers) as pool:
        made = list(pool.map(inc.render_piece, [site.cache_folder] * len(missing),
                             *zip(*missing, strict=True),
                             chunksize=max(1, len(missing) // (workers * 2))))
    for entry_key, payload in made:
        cache.remember("piece", entry_key, payload)
