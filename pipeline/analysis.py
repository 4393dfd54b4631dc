"""What a build would make of an issue, without writing anything: every problem it would
find (``check``, ``status``), and the email as sent (``send``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from . import cache as c
from . import images as images_mod
from . import memo, stages
from . import render as r
from .config import Config
from .content import load_issue, resolve_issue
from .crossings import check_crossings
from .email_html import LAYOUT
from .errors import Problem, Problems
from .model import Issue
from .publication import load_record
from .seasons import IssueId
from .site import open_site


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



def analyse_issue(config: Config, issue_id: IssueId, *, drafts: bool = True,
                  now: datetime | None = None) -> Analysis:
    """Load, validate and render one issue (drafts included by default) as a build would,
    collecting every problem instead of failing; nothing is written. Configuration and
    template errors still raise :class:`ContentError`. With ``now``, links to issues not
    published by then are reported too."""
    site = open_site(config)
    problems = Problems()
    problems.items.extend(site.found)
    if issue_id not in site.folders:  # gone since the command resolved it
        resolve_issue(str(issue_id), config, site.folders)
    issue = load_issue(issue_id, site.folders[issue_id], site.config, site.people, problems,
                       drafts=drafts)
    check_crossings(issue, site.config, site.folders, site.people, load_record(config.root), now,
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
    site = open_site(config, True, load_record(config.root))
    cache = c.Cache(site.rendering.cache_folder)
    renderers = memo.renderers(cache)
    problems = Problems()
    with cache.bodies_of(issue.path):
        rendered = r.render_issue(issue, site.config, problems, renderers.body,
                                  renderers.anchors)
    images = images_mod.survey(issue.path, r.image_uses(rendered), LAYOUT.column,
                               site.config.image_budget_kb, renderers.images, problems)
    edition = r.guarded(lambda: r.email_edition(rendered, site.config, site.env, images,
                                                marker))
    return edition.html, edition.text

