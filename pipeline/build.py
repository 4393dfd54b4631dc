"""The build, start to finish: read, validate, render, check the budget, write.

:func:`build_issue` is the editor's main job; :func:`build_all` rebuilds every issue of the
archive. Both gather every problem first and write nothing unless the whole build succeeded.
"""

from __future__ import annotations

import os
import traceback
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import datetime, time
from pathlib import Path

import jinja2

from . import feeds as feeds_mod
from . import render as r
from .config import Config, load_config
from .content import list_issues, load_issue
from .contributors import load_contributors
from .errors import ContentError, Problem, Problems, UsageError
from .model import Contributor, Issue
from .seasons import IssueId, IssueIdError
from .writer import Output, Written, write_all

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


@dataclass(frozen=True)
class _Site:
    config: Config
    people: dict[str, Contributor] | None
    folders: dict[IssueId, Path]
    env: jinja2.Environment


def _open_site(root: Path, problems: Problems) -> _Site:
    config = load_config(root)
    people = load_contributors(root, problems)
    folders = dict(list_issues(config, problems))
    return _Site(config, people, folders, r.environment(config))


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
    strict: bool = False,
) -> BuildResult:
    """Build one issue, the archive page and (unless previewing drafts) the feeds.

    The archive and the feeds cover every published issue (its moment has come, ``now``)
    and this one. A ``--drafts`` build is a preview: it goes to ``<root>/preview`` unless
    ``out`` says otherwise, and writes no feeds.
    """
    problems = Problems(strict=strict)
    site = _open_site(root, problems)
    issue_id = resolve_issue(ref, site.config, site.folders)
    issue = load_issue(issue_id, site.folders[issue_id], site.config, site.people, problems,
                       drafts=drafts)
    _note_left_out(issue, problems)
    if not issue.pieces and not problems.has_errors:
        problems.error(issue.path, None, "nothing to publish: the issue has no ready piece "
                       "(the notes say why each piece was left out)", rule="nothing-to-publish")
    others = [
        load_issue(i, site.folders[i], site.config, site.people, problems)
        for i in sorted(site.folders) if i != issue_id and i.moment() <= now
    ]
    published = [i for i in others if i.pieces]
    if drafts and out is None:
        out = site.config.root / PREVIEW_DIR
    return _build(site, [issue], published, out, problems, feeds=not drafts)


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
    _check_budget(rendered, html, site.config, problems)
    return Analysis(site.config, issue, rendered, tuple(problems.items), len(html))


def build_all(
    root: Path, now: datetime, out: Path | None = None, strict: bool = False
) -> BuildResult:
    """Rebuild every published issue (its moment has come), the archive and the feeds."""
    problems = Problems(strict=strict)
    site = _open_site(root, problems)
    issues = []
    for issue_id in sorted(site.folders):
        if issue_id.moment() > now:
            problems.note(site.folders[issue_id], None, "not published yet, so not rebuilt; "
                          f"build it with build-issue {issue_id}", rule="not-published")
            continue
        issue = load_issue(issue_id, site.folders[issue_id], site.config, site.people, problems)
        _note_left_out(issue, problems)
        issues.append(issue)
    targets = [i for i in issues if i.pieces]
    if not targets and not problems.has_errors:
        problems.error(site.config.issues_dir, None, "no published issue has a ready piece; "
                       "nothing to build", rule="nothing-to-publish")
    return _build(site, targets, [], out, problems, feeds=True)


def _note_left_out(issue: Issue, problems: Problems) -> None:
    for left in issue.left_out:
        problems.note(left.path, None, f"left out: {left.reason}", rule="left-out")


def _build(
    site: _Site, targets: list[Issue], others: list[Issue], out: Path | None,
    problems: Problems, feeds: bool,
) -> BuildResult:
    config, env = site.config, site.env
    out_dir = check_out_dir(out, config) if out is not None else config.output_dir
    outputs: list[Output] = []
    sizes: dict[str, int] = {}
    # The feeds carry the newest issues only; the targets among them give their entries.
    newest = sorted([*targets, *others], key=lambda i: i.issue_id, reverse=True)
    in_feeds = {i.issue_id for i in newest[: config.feed_issues]} if feeds else set()
    entries: list[feeds_mod.Entry] = []
    jobs = [(issue, config, out_dir, problems.strict, issue.issue_id in in_feeds)
            for issue in targets]
    # Valid pieces are rendered even when others failed, so one run reports every problem.
    # A whole-archive build renders its issues on every core.
    workers = min(len(jobs), os.cpu_count() or 1)
    if workers > 1:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            results = list(pool.map(_render_one, *zip(*jobs, strict=True), chunksize=1))
    else:
        results = [_render_one(*job) for job in jobs]
    for issue, (issue_outputs, issue_problems, size, entry) in zip(targets, results,
                                                                   strict=True):
        outputs.extend(issue_outputs)
        problems.items.extend(issue_problems)
        if size:
            sizes[str(issue.issue_id)] = size
        if entry is not None:
            entries.append(entry)
    if feeds:
        for issue in others:
            if issue.issue_id in in_feeds:
                entries.append(_entry(r.render_issue(issue, config, problems), config, env))
        for name, data in feeds_mod.all_feeds(entries, config).items():
            outputs.append(Output(config.feeds_dir, name, data))
    archive_issues = [i for i in [*others, *targets] if any(not p.is_draft for p in i.pieces)]
    outputs.append(Output(out_dir, "index.html",
                          run_template(lambda: r.archive(_archive(archive_issues), config, env))))
    outputs.append(Output(out_dir, "style.css", run_template(lambda: r.stylesheet(env))))
    outputs.append(Output(out_dir, "robots.txt", r.robots_txt(config).encode("utf-8")))
    outputs.append(Output(out_dir, "ai.txt", r.ai_txt(config).encode("utf-8")))
    problems.raise_if_errors()
    written = write_all(outputs)
    return BuildResult(tuple(targets), tuple(written), tuple(problems.items), sizes, feeds,
                       config.size_budget_kb)


def _render_one(
    issue: Issue, config: Config, out_dir: Path, strict: bool, feed: bool
) -> tuple[list[Output], list[Problem], int, feeds_mod.Entry | None]:
    """Render one issue's files (and its feed entry): pure, so it can run in a worker."""
    problems = Problems(strict=strict)
    env = r.environment(config)
    sizes: dict[str, int] = {}
    try:
        rendered = r.render_issue(issue, config, problems)
        outputs = list(_issue_outputs(rendered, config, env, out_dir, problems, sizes))
        entry = _entry(rendered, config, env) if feed else None
    except ContentError as exc:  # a template mistake: reported with the others
        return [], [*problems.items, *exc.problems], 0, None
    return outputs, problems.items, sizes.get(str(issue.issue_id), 0), entry


def check_out_dir(out: Path, config: Config) -> Path:
    """An output folder that is not inside the content, the templates or the feeds."""
    resolved = out.resolve()
    for protected in (config.issues_dir, config.templates_dir, config.feeds_dir):
        if resolved == protected.resolve() or resolved.is_relative_to(protected.resolve()):
            raise UsageError(f"--out {out}: the output cannot go inside {protected}")
    if resolved == config.root.resolve():
        raise UsageError(f"--out {out}: the output cannot be the newsletter root itself")
    return out


def run_template(make: Callable[[], str]) -> bytes:
    """Run a template render, turning a template mistake into a located error."""
    try:
        return make().encode("utf-8")
    except jinja2.TemplateSyntaxError as exc:
        raise ContentError([Problem(Path(exc.filename or exc.name or "template"), exc.lineno,
                                    "error", f"template syntax error: {exc.message}")]) from None
    except UnicodeDecodeError as exc:
        raise ContentError([Problem(Path("templates"), None, "error",
                                    f"a template is not UTF-8 text: {exc.reason}")]) from None
    except Exception as exc:
        # Jinja2 rewrites tracebacks so that template lines appear as frames: find the last.
        where: tuple[Path, int | None] | None = None
        for frame, frame_line in traceback.walk_tb(exc.__traceback__):
            name = frame.f_code.co_filename
            if name.endswith((".html", ".txt", ".css", ".xml")):
                where = (Path(name), frame_line)
        if where is None and not isinstance(exc, jinja2.TemplateError):
            raise
        path, line = where if where else (Path("templates"), None)
        raise ContentError([Problem(path, line, "error", f"template error: "
                                    f"{type(exc).__name__}: {exc}")]) from None


def _issue_outputs(
    rendered: r.RenderedIssue, config: Config, env: jinja2.Environment, out_dir: Path,
    problems: Problems, sizes: dict[str, int],
) -> Iterable[Output]:
    issue = rendered.issue
    folder = str(issue.issue_id)
    html = run_template(lambda: r.email_html(rendered, config, env))
    _check_budget(rendered, html, config, problems)
    sizes[folder] = len(html)
    yield Output(out_dir, f"{folder}/email.html", html)
    yield Output(out_dir, f"{folder}/email.txt", run_template(
        lambda: r.email_text(rendered, config, env)))
    yield Output(out_dir, f"{folder}/index.html", run_template(
        lambda: r.web_issue(rendered, config, env)))
    for asset in rendered.assets:
        yield Output(out_dir, f"{folder}/{asset.relative_to(issue.path.resolve()).as_posix()}",
                     asset.read_bytes())


def _check_budget(
    rendered: r.RenderedIssue, html: bytes, config: Config, problems: Problems
) -> None:
    budget = config.size_budget_kb * 1024
    if len(html) <= budget:
        return
    largest = sorted(rendered.pieces, key=lambda p: len(p.body.html_absolute), reverse=True)
    names = ", ".join(f"{p.piece.path.name} ({len(p.body.html_absolute.encode()) / 1024:.1f} KB)"
                      for p in largest[:3])
    problems.error(rendered.issue.path, None,
                   f"the HTML email is {len(html) / 1024:.1f} KB, over the "
                   f"{config.size_budget_kb} KB budget (Gmail clips messages over 102 KB); "
                   f"the largest pieces: {names}. Shorten them, link to the web edition for "
                   "detail, or raise email.size_budget_kb in newsletter.toml", rule="email-size")


def _entry(rendered: r.RenderedIssue, config: Config, env: jinja2.Environment) -> feeds_mod.Entry:
    issue = rendered.issue
    authors: dict[str, None] = {}
    categories: dict[str, None] = {}
    for p in rendered.pieces:
        authors.update(dict.fromkeys(a.name for a in p.piece.authors))
        categories.update(dict.fromkeys([p.piece.section, *p.piece.tags]))
    return feeds_mod.Entry(
        url=rendered.url, title=issue.full_title, summary=issue.summary,
        content_html=run_template(lambda: r.feed_content(rendered, config, env)).decode("utf-8"),
        published=issue.moment, updated=_updated(issue, config), authors=tuple(authors),
        categories=tuple(categories),
    )


def _updated(issue: Issue, config: Config) -> datetime:
    """When the issue last changed: its moment, or the day of its latest correction."""
    corrected = issue.last_corrected
    if corrected is None:
        return issue.moment
    return max(issue.moment, datetime.combine(corrected, time.min, tzinfo=config.time_zone))


def _archive(issues: list[Issue]) -> list[r.ArchiveEntry]:
    entries = []
    for issue in issues:
        ready = [p for p in issue.pieces if not p.is_draft]
        contributors = issue.contributors()
        entries.append(r.ArchiveEntry(
            issue_id=str(issue.issue_id), name=issue.name, title=issue.title,
            summary=issue.summary, moment=issue.moment, pieces=len(ready),
            contributors=len(contributors), teams=len(issue.teams()),
        ))
    return entries
