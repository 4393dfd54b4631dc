"""The site a build opens before any issue (the configuration, the contributors, the issue
folders, the templates), which issue an argument names, and the folders a build writes to.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import jinja2

from . import cache as c
from . import memo, stages
from .config import Config
from .content import list_issues
from .contributors import load_contributors
from .errors import Problem, Problems, UsageError
from .model import Contributor
from .publication import Record, is_published
from .seasons import IssueId, IssueIdError

PREVIEW_DIR = "preview"


@dataclass(frozen=True)
class OpenSite:
    """What a build reads before any issue: the configuration, the contributors, the issue
    folders, the templates, and what reading them found."""

    config: Config
    people: dict[str, Contributor] | None
    folders: dict[IssueId, Path]
    env: jinja2.Environment
    rendering: stages.Site
    found: tuple[Problem, ...]


def open_site(config: Config, use_cache: bool = False, record: Record | None = None) -> OpenSite:
    root = config.root
    problems = Problems()
    stamp = memo.site_stamp(root) if use_cache else ""  # before the site's files are read
    digest = memo.site_inputs(config) if use_cache else ""
    people = load_contributors(root, problems)
    folders = dict(list_issues(config, problems))
    folder = root / c.CACHE_DIR if use_cache else None
    rendering = stages.Site(config, people, digest, folder, dict(record or {}), stamp)
    return OpenSite(config, people, folders, memo.environment(rendering), rendering,
                 tuple(problems.items))


def out_dir_for(config: Config, issue_id: IssueId, out: Path | None, preview: bool) -> Path:
    """Where the build writes: ``out``, the site folder, or (a preview) ``<root>/preview``."""
    if preview and out is None:
        out = config.root / PREVIEW_DIR
    if preview and out is not None and out.resolve().is_relative_to(
            config.output_dir.resolve()):
        raise UsageError(f"--out {out}: {issue_id} is not published yet, and a preview never "
                         "goes into the site folder; choose another folder")
    return check_out_dir(out, config) if out is not None else config.output_dir


def remove_unpublished(out_dir: Path, site: OpenSite, now: datetime,
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


def check_out_dir(out: Path, config: Config) -> Path:
    """An output folder that is not inside the content, the templates or the feeds."""
    resolved = out.resolve()
    for protected in (config.issues_dir, config.templates_dir, config.feeds_dir):
        if resolved == protected.resolve() or resolved.is_relative_to(protected.resolve()):
            raise UsageError(f"--out {out}: the output cannot go inside {protected}")
    if resolved == config.root.resolve():
        raise UsageError(f"--out {out}: the output cannot be the newsletter root itself")
    return out

