"""The build, start to finish: read, validate, render, check the budget, write.

:func:`build_issue` is the editor's main job; :func:`build_all` rebuilds every issue of the
archive. Both gather every problem first and write nothing unless the whole build succeeded.
Both render through the render cache (:mod:`pipeline.cache`, :mod:`pipeline.incremental`), so
only what changed is rendered, and on every core: a whole-archive build one issue per worker,
a new issue one piece per worker.
"""

from __future__ import annotations

import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import jinja2

from . import cache as c
from . import feeds as feeds_mod
from . import incremental as inc
from . import render as r
from .cache import Stats
from .config import Config, load_config
from .content import list_issues, load_issue
from .contributors import load_contributors
from .errors import ContentError, PipelineError, Problem, Problems, UsageError
from .markup import Context
from .model import Contributor, Issue
from .render import run_template
from .seasons import IssueId, IssueIdError
from .writer import Output, Staged, Written, commit, discard, stage

PREVIEW_DIR = "preview"


@dataclass(frozen=True)
class BuildResult:
    """What a build made, and what it noticed on the way."""

    issues: tuple[Issue, ...]
    written: tuple[Written, ...]
    problems: tuple[Problem, ...]
    email_sizes: dict[str, int]
    feeds_written: bool
    budget_kb: int
    cache: Stats = field(default_factory=Stats)  # what the render cache had, and had not


@dataclass(frozen=True)
class _Site:
    config: Config
    people: dict[str, Contributor] | None
    folders: dict[IssueId, Path]
    env: jinja2.Environment
    rendering: inc.Site


def _open_site(root: Path, problems: Problems, use_cache: bool = False) -> _Site:
    digest = inc.site_inputs(root) if use_cache else ""  # before they are read
    config = load_config(root)
    people = load_contributors(root, problems)
    folders = dict(list_issues(config, problems))
    folder = config.root / c.CACHE_DIR if use_cache else None
    rendering = inc.Site(config, people, digest, folder)
    return _Site(config, people, folders, inc.environment(rendering), rendering)


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
    strict: bool = False, cache: bool = True,
) -> BuildResult:
    """Build one issue, the archive page and (unless previewing drafts) the feeds.

    The archive and the feeds cover every published issue (its moment has come, ``now``)
    and this one. A ``--drafts`` build is a preview: it goes to ``<root>/preview`` unless
    ``out`` says otherwise, and writes no feeds. With ``cache`` the render cache is used,
    so only what changed since an earlier build is rendered (:mod:`pipeline.cache`).
    """
    problems = Problems(strict=strict)
    site = _open_site(root, problems, cache)
    issue_id = resolve_issue(ref, site.config, site.folders)
    found = Problems(strict=strict)
    issue, inputs = inc.read_issue(site.rendering, issue_id, site.folders[issue_id], found,
                                   drafts=drafts)
    problems.items.extend(found.items)
    if not drafts:  # what the next build of another issue needs to know of this one
        inc.store_summary(site.rendering, c.Cache(site.rendering.cache_folder), issue, inputs,
                          found.items, strict)
    _note_left_out(issue, problems)
    if not issue.pieces and not problems.has_errors:
        problems.error(issue.path, None, "nothing to publish: the issue has no ready piece "
                       "(the notes say why each piece was left out)", rule="nothing-to-publish")
    others = [i for i in sorted(site.folders) if i != issue_id and i.moment() <= now]
    if drafts and out is None:
        out = site.config.root / PREVIEW_DIR
    return _build(site, [issue], others, out, problems, feeds=not drafts, drafts=drafts,
                  inputs={issue_id: inputs})


@dataclass(frozen=True)
class Analysis:
    """Everything a build would find about one issue, without writing anything."""

    config: Config
    issue: Issue
    rendered: r.RenderedIssue
    problems: tuple[Problem, ...]
    email_size: int


def analyse_issue(root: Path, ref: str, drafts: bool = True) -> Analysis:
    """Load, validate and render one issue (drafts included by default) as a build would,
    collecting every problem instead of failing; nothing is written. Configuration and
    template errors still raise :class:`ContentError`."""
    problems = Problems()
    site = _open_site(root, problems)
    issue_id = resolve_issue(ref, site.config, site.folders)
    issue = load_issue(issue_id, site.folders[issue_id], site.config, site.people, problems,
                       drafts=drafts)
    rendered = r.render_issue(issue, site.config, problems)
    html = run_template(lambda: r.email_html(rendered, site.config, site.env))
    inc.check_budget(rendered, html, site.config, problems)
    return Analysis(site.config, issue, rendered, tuple(problems.items), len(html))


def delivery_email(root: Path, issue: Issue, marker: str) -> tuple[str, str]:
    """The HTML and plain-text email of ``issue`` (just built) as its files have them, with
    ``marker`` where each subscriber's unsubscribe URL goes (through the render cache, so
    nothing is rendered again that the build rendered)."""
    config = load_config(root)
    env = r.environment(config)
    cache = c.Cache(config.root / c.CACHE_DIR)
    rendered = r.render_issue(issue, config, Problems(), body=inc.cached_body(cache))
    html = run_template(lambda: r.email_html(rendered, config, env, marker))
    text = run_template(lambda: r.email_text(rendered, config, env, marker))
    return html.decode("utf-8"), text.decode("utf-8")


def build_all(
    root: Path, now: datetime, out: Path | None = None, strict: bool = False,
    cache: bool = True,
) -> BuildResult:
    """Rebuild every published issue (its moment has come), the archive and the feeds.

    The issues are read and rendered on every core, and through the render cache unless
    ``cache`` is False."""
    problems = Problems(strict=strict)
    site = _open_site(root, problems, cache)
    published = []
    for issue_id in sorted(site.folders):
        if issue_id.moment() > now:
            problems.note(site.folders[issue_id], None, "not published yet, so not rebuilt; "
                          f"build it with build-issue {issue_id}", rule="not-published")
        else:
            published.append(issue_id)
    return _build(site, [], published, out, problems, feeds=True, drafts=False, every=True)


def _note_left_out(issue: Issue, problems: Problems) -> None:
    for left in issue.left_out:
        problems.note(left.path, None, f"left out: {left.reason}", rule="left-out")


def _build(
    site: _Site, targets: list[Issue], others: list[IssueId], out: Path | None,
    problems: Problems, feeds: bool, drafts: bool, every: bool = False,
    inputs: dict[IssueId, str] | None = None,
) -> BuildResult:
    """Render ``targets`` (their ``inputs`` digests given) or, with ``every``, each of
    ``others``, and write them with the archive and (with ``feeds``) the feeds, which also
    cover ``others``."""
    out_dir = check_out_dir(out, site.config) if out is not None else site.config.output_dir
    cache = c.Cache(site.rendering.cache_folder)
    made = _Made()
    try:
        result = _build_staged(site, targets, others, out_dir, problems, feeds, drafts, every,
                               cache, made, inputs or {})
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
    entries: dict[IssueId, feeds_mod.Entry] = field(default_factory=dict)

    def take(self, issue: Issue, pages: inc.Pages, problems: Problems) -> None:
        self.outputs.extend(pages.outputs)
        problems.items.extend(pages.problems)
        if pages.size:
            self.sizes[str(issue.issue_id)] = pages.size
        if pages.entry is not None:
            self.entries[issue.issue_id] = pages.entry


def _build_staged(
    site: _Site, targets: list[Issue], others: list[IssueId], out_dir: Path,
    problems: Problems, feeds: bool, drafts: bool, every: bool, cache: c.Cache, made: _Made,
    inputs: dict[IssueId, str],
) -> BuildResult:
    config, env = site.config, site.env
    summaries: dict[IssueId, inc.Summary] = {}
    if every:
        targets = _build_every(site, others, out_dir, problems, made, cache.stats)
        if not targets and not problems.has_errors:
            problems.error(config.issues_dir, None, "no published issue has a ready piece; "
                           "nothing to build", rule="nothing-to-publish")
        others = []
    for issue_id in others:
        summaries[issue_id] = found = inc.summary(site.rendering, cache, issue_id,
                                                  site.folders[issue_id], problems.strict)
        problems.items.extend(found.problems)
    for issue in targets if not every else []:
        _prerender(site.rendering, issue, cache)
        made.take(issue, inc.render_pages(site.rendering, cache, issue, inputs[issue.issue_id],
                                          out_dir, problems.strict, drafts), problems)
    archive = [entry for entry in map(inc.archive_entry, targets) if entry is not None]
    archive += [s.archive for s in summaries.values() if s.archive is not None]
    if feeds:
        # The feeds carry the newest issues only; the targets among them give their entries.
        published = [i for i, s in summaries.items() if s.archive is not None]
        newest = sorted([*(t.issue_id for t in targets), *published], reverse=True)
        built = {t.issue_id: t for t in targets}
        chosen = []
        for issue_id in newest[: config.feed_issues]:
            if issue_id not in made.entries:
                # An issue of the archive, or a target whose entry was not kept: its problems
                # were reported when it was read and rendered, so they are not repeated.
                known = summaries.get(issue_id)
                read = (known.issue, known.inputs) if known and known.issue else None
                quiet = Problems(problems.strict) if issue_id in built else problems
                try:
                    made.entries[issue_id] = inc.feed_entry(
                        site.rendering, cache, env, issue_id, site.folders[issue_id], read,
                        problems.strict, quiet)
                except ContentError as exc:  # a template mistake, reported with the others
                    quiet.items.extend(exc.problems)
                    continue
            chosen.append(made.entries[issue_id])
        for name, data in feeds_mod.all_feeds(chosen, config).items():
            made.outputs.append(Output(config.feeds_dir, name, data))
    outputs = made.outputs
    outputs.append(Output(out_dir, "index.html",
                          run_template(lambda: r.archive(archive, config, env))))
    outputs.append(Output(out_dir, "style.css", run_template(lambda: r.stylesheet(env))))
    outputs.append(Output(out_dir, "robots.txt", r.robots_txt(config).encode("utf-8")))
    outputs.append(Output(out_dir, "ai.txt", r.ai_txt(config).encode("utf-8")))
    problems.raise_if_errors()
    made.staged.append(stage(outputs))
    written = commit(made.staged)
    return BuildResult(tuple(targets), tuple(written), tuple(problems.items), made.sizes,
                       feeds, config.size_budget_kb, cache.stats)


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
    kept = inc.Pages([], pages.problems, pages.size, pages.entry if keep_entry else None)
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
    url = site.config.issue_url(issue.issue_id)
    jobs = [(piece.body, Context(issue.path, url, piece.slug, piece.path, piece.body_line))
            for piece in issue.pieces]
    missing = [(source, ctx) for source, ctx in jobs
               if not cache.has("piece", inc.piece_key(source, ctx))]
    workers = min(len(missing) // (PRERENDER_MIN // 2 or 1), os.cpu_count() or 1)
    if len(missing) < PRERENDER_MIN or workers < 2:
        return
    with ProcessPoolExecutor(max_workers=workers) as pool:
        made = list(pool.map(inc.render_piece, [site.cache_folder] * len(missing),
                             *zip(*missing, strict=True),
                             chunksize=max(1, len(missing) // (workers * 2))))
    for entry_key, payload in made:
        cache.remember("piece", entry_key, payload)
