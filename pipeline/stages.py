"""The build's stages, each a function of values to values: read an issue, render its pages,
make its feed entry and its archive line, make the feeds.

Nothing here reads or writes the render cache; :mod:`pipeline.memo` wraps the expensive
stages in it, and :mod:`pipeline.build` runs them in order. Each stage returns what it found
(:class:`~pipeline.errors.Problem` values) with what it made; ``--strict`` is applied once,
by the command. The stages are pure but for reading the issue's files, so they run in
worker processes too.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, time
from pathlib import Path

import jinja2

from . import cache as c
from . import feeds as feeds_mod
from . import images as images_mod
from . import markup
from . import render as r
from .config import Config
from .content import load_issue
from .email_html import LAYOUT
from .errors import ContentError, Problem, Problems
from .model import Contributor, Issue
from .render import run_template
from .seasons import IssueId
from .writer import Output


@dataclass(frozen=True)
class Site:
    """What every issue's rendering reads besides its own folder (picklable, for workers)."""

    config: Config
    people: dict[str, Contributor] | None
    digest: str  # the digest of the configuration, contributors and templates (memo)
    cache_folder: Path | None
    #: When each issue was published, as recorded (:mod:`pipeline.publication`).
    published: Mapping[IssueId, datetime] = field(default_factory=dict)
    #: :func:`pipeline.memo.site_stamp` when the site was opened, before its files were read.
    stamp: str = ""


@dataclass(frozen=True)
class Renderers:
    """How the stages render one body and find its ids: directly, or through the cache."""

    body: r.BodyRenderer = markup.render
    anchors: r.AnchorFinder = markup.anchors
    #: Where the images made for the email are kept (nowhere: made each time).
    images: c.Cache = field(default_factory=lambda: c.Cache(None))


DIRECT = Renderers()


def read_issue(site: Site, issue_id: IssueId, folder: Path,
               drafts: bool = False) -> tuple[Issue, tuple[Problem, ...]]:
    """Read an issue, dated with its recorded publication when there is one."""
    problems = Problems()
    issue = load_issue(issue_id, folder, site.config, site.people, problems, drafts)
    return dated(site, issue), tuple(problems.items)


def dated(site: Site, issue: Issue) -> Issue:
    """The issue dated with its recorded publication, when it has one."""
    when = site.published.get(issue.issue_id)
    if when is None:
        return issue
    return replace(issue, published=when,
                   publication_date=when.astimezone(site.config.time_zone).date())


#: One Jinja2 environment per process and site: it keeps its compiled templates (and checks
#: their files for changes), which costs far more to make than any one page to render.
#: It is made again when the root's templates/ gains or loses a file, since a template found
#: among the shipped ones is only checked for changes to that file.
_ENVIRONMENTS: dict[tuple[Path, tuple[str, ...] | None, Path | None], jinja2.Environment] = {}


def environment(site: Site, code: jinja2.BytecodeCache | None = None) -> jinja2.Environment:
    """The site's Jinja2 environment (``code`` keeps its compiled templates)."""
    templates = site.config.templates_dir
    names = tuple(sorted(p.relative_to(templates).as_posix() for p in templates.rglob("*"))) \
        if templates.is_dir() else None
    where = (templates.resolve(), names, site.cache_folder)
    if where not in _ENVIRONMENTS:
        _ENVIRONMENTS[where] = r.environment(site.config, code)
    return _ENVIRONMENTS[where]


def archive_entry(issue: Issue) -> r.ArchiveEntry | None:
    """The issue's line on the archive page, or None when it has no ready piece."""
    ready = [p for p in issue.pieces if not p.is_draft]
    if not ready:
        return None
    return r.ArchiveEntry(
        issue_id=str(issue.issue_id), name=issue.name, title=issue.title,
        summary=issue.summary, moment=issue.moment, pieces=len(ready),
        contributors=len(issue.contributors()), teams=len(issue.teams()),
        published=issue.published,
    )


@dataclass(frozen=True)
class Pages:
    """One issue rendered: its pages, what they copy and show, its feed entry, and what the
    rendering found. A template mistake leaves no pages (``entry`` None) and its problem."""

    files: dict[str, bytes]  # email.html, email.txt and index.html
    assets: tuple[str, ...]  # files of the issue folder the pages use (relative paths)
    images: tuple[images_mod.Use, ...]  # the local images the email shows
    derived: dict[str, bytes]  # images made for the email, by file name
    problems: tuple[Problem, ...]
    entry: feeds_mod.Entry | None
    size: int = 0  # the HTML email's, as sent
    full_size: int = 0  # the same with every piece in full
    teasers: int = 0  # how many pieces the email shows as teasers
    image_weight: int = 0  # the bytes of the images the email loads
    probes: tuple[tuple[str, str], ...] = ()  # what the file system said of local links

    def outputs(self, issue: Issue, out_dir: Path) -> list[Output]:
        """The files of the issue's folder in the site: pages, copied assets, images."""
        folder = str(issue.issue_id)
        made = [Output(out_dir, f"{folder}/{name}", data) for name, data in self.files.items()]
        made += [Output(out_dir, f"{folder}/{asset}", (issue.path / asset).read_bytes())
                 for asset in self.assets]
        made += [Output(out_dir, f"{folder}/{name}", data) for name, data in self.derived.items()]
        return made


def render_pages(site: Site, issue: Issue, env: jinja2.Environment,
                 renderers: Renderers = DIRECT,
                 on_entry: Callable[[feeds_mod.Entry], None] | None = None) -> Pages:
    """The issue's HTML email, text email, web edition, the images made for the email, and
    its feed entry, made first: ``on_entry`` is given it before the rest is rendered."""
    config = site.config
    problems = Problems()
    made: feeds_mod.Entry | None = None
    try:
        rendered = r.render_issue(issue, config, problems, renderers.body, renderers.anchors)
        try:
            made = entry(rendered, config, env)
        except ContentError as exc:  # the pages' own mistakes are reported before it
            late = exc
        else:
            if on_entry is not None:
                on_entry(made)
        shown = r.image_uses(rendered)
        images = images_mod.survey(issue.path, shown, LAYOUT.column, config.image_budget_kb,
                                   renderers.images, problems)
        files, edition = issue_files(rendered, config, env, problems, images)
        if made is None:
            raise late
    except ContentError as exc:  # a template mistake: reported with the others
        return Pages({}, (), (), {}, (*problems.items, *exc.problems), None)
    root = issue.path.resolve()
    return Pages(files, tuple(a.relative_to(root).as_posix() for a in rendered.assets),
                 tuple(shown), images.derived, tuple(problems.items), made, edition.size,
                 edition.full_size, len(edition.teasers), images.weight, probes(rendered))


def feed_entry(site: Site, issue: Issue, env: jinja2.Environment,
               renderers: Renderers = DIRECT) -> tuple[feeds_mod.Entry, tuple[Problem, ...],
                                                       tuple[tuple[str, str], ...]]:
    """The feed entry of an issue that is not being built, what rendering it found, and the
    probes of its links."""
    problems = Problems()
    rendered = r.render_issue(issue, site.config, problems, renderers.body, renderers.anchors)
    return entry(rendered, site.config, env), tuple(problems.items), probes(rendered)


def probes(rendered: r.RenderedIssue) -> tuple[tuple[str, str], ...]:
    """What the file system said of every local link of the issue's bodies."""
    bodies = [p.body for p in rendered.pieces] + ([rendered.letter] if rendered.letter else [])
    return tuple(sorted({probe for body in bodies for probe in body.probes}))


def issue_files(rendered: r.RenderedIssue, config: Config, env: jinja2.Environment,
                problems: Problems, images: images_mod.Images = images_mod.NO_IMAGES,
                ) -> tuple[dict[str, bytes], r.EmailEdition]:
    """The issue's three pages by file name (showing ``images``), and its email edition
    (sizes, teasers)."""
    edition = r.guarded(lambda: r.email_edition(rendered, config, env, images))
    check_budget(rendered, edition, config, problems)
    files = {
        "email.html": edition.html.encode("utf-8"),
        "email.txt": edition.text.encode("utf-8"),
        "index.html": run_template(lambda: r.web_issue(rendered, config, env, images)),
    }
    return files, edition


def check_budget(rendered: r.RenderedIssue, edition: r.EmailEdition, config: Config,
                 problems: Problems) -> None:
    """An error naming the largest pieces when the HTML email is over its budget even with
    teasers (or the pieces that must stay full, when they alone are over); a note (an error
    with --strict, :data:`pipeline.errors.STRICT_NOTES`) saying which pieces became teasers
    and why."""
    budget = config.size_budget_kb * 1024
    kb = config.size_budget_kb
    if edition.size > budget:
        full = [p for p in rendered.pieces if p.piece.email == "full"]
        if full and config.email_overflow == "teasers":
            names = ", ".join(p.piece.path.name for p in full)
            problems.error(rendered.issue.path, None,
                           f"the HTML email is {edition.size / 1024:.1f} KB with every other "
                           f"piece a teaser, over the {kb} KB budget (Gmail clips messages "
                           f"over 102 KB); the pieces marked 'email: full' are too long "
                           f"together: {names}. Let some be teasers (remove 'email: full'), "
                           "shorten them, or raise email.size_budget_kb in newsletter.toml",
                           rule="email-size")
            return
        largest = sorted(rendered.pieces, key=lambda p: len(p.body.html_absolute),
                         reverse=True)
        names = ", ".join(
            f"{p.piece.path.name} ({len(p.body.html_absolute.encode()) / 1024:.1f} KB)"
            for p in largest[:3])
        how = ("Shorten them, link to the web edition for detail, set email.overflow = "
               '"teasers", or raise email.size_budget_kb in newsletter.toml'
               if config.email_overflow == "refuse" else
               "Even with every piece a teaser it is over: shorten the letter or the "
               "summaries, or raise email.size_budget_kb in newsletter.toml")
        problems.error(rendered.issue.path, None,
                       f"the HTML email is {edition.size / 1024:.1f} KB, over the {kb} KB "
                       f"budget (Gmail clips messages over 102 KB); the largest pieces: "
                       f"{names}. {how}", rule="email-size")
        return
    if edition.chosen:
        problems.note(rendered.issue.path, None,
                      f"{len(edition.chosen)} of {len(rendered.pieces)} pieces are teasers in "
                      f"the email: the full email would be {edition.full_size / 1024:.0f} KB, "
                      f"the budget is {kb} KB; the teasers: "
                      + ", ".join(f"{a}.md" for a in edition.chosen)
                      + " (the web edition and the feeds carry them in full)",
                      rule="email-teasers")


def entry(rendered: r.RenderedIssue, config: Config, env: jinja2.Environment) -> feeds_mod.Entry:
    """The issue as one entry of the feeds."""
    issue = rendered.issue
    authors: dict[str, None] = {}
    categories: dict[str, None] = {}
    for p in rendered.pieces:
        authors.update(dict.fromkeys(a.name for a in p.piece.authors))
        categories.update(dict.fromkeys([p.piece.section, *p.piece.tags]))
    return feeds_mod.Entry(
        url=rendered.url, title=issue.full_title, summary=issue.summary,
        content_html=run_template(lambda: r.feed_content(rendered, config, env)).decode("utf-8"),
        published=issue.published_at, updated=_updated(issue, config), authors=tuple(authors),
        categories=tuple(categories),
    )


def _updated(issue: Issue, config: Config) -> datetime:
    """When the issue last changed: its publication, or the day of its latest correction."""
    corrected = issue.last_corrected
    if corrected is None:
        return issue.published_at
    return max(issue.published_at,
               datetime.combine(corrected, time.min, tzinfo=config.time_zone))


FEEDS_DIR = "feeds"  # the feeds inside the site folder, where every page links them


def chosen_entries(config: Config, entries: Mapping[IssueId, feeds_mod.Entry],
                   ) -> list[feeds_mod.Entry]:
    """The entries the feeds carry: the newest."""
    return [entries[i] for i in sorted(entries, reverse=True)[: config.feed_issues]]


def feed_files(config: Config, entries: Mapping[IssueId, feeds_mod.Entry], out_dir: Path,
               now: datetime | None, names: tuple[str, ...] = tuple(feeds_mod.FEEDS),
               ) -> tuple[list[Output], bool]:
    """The feeds (or those ``names``) of the newest entries, where the repository keeps them
    and inside the site (``out_dir``), where the pages link them; and whether a date in them
    had to wait for the clock (no feed date is later than ``now``, so they change as time
    passes)."""
    chosen = chosen_entries(config, entries)
    clocked = now is not None and any(max(e.published, e.updated) > now for e in chosen)
    if now is not None:
        chosen = [replace(e, published=min(e.published, now), updated=min(e.updated, now))
                  for e in chosen]
    outputs = []
    for name, data in feeds_mod.all_feeds(chosen, config, names).items():
        outputs.append(Output(config.feeds_dir, name, data))
        outputs.append(Output(out_dir, f"{FEEDS_DIR}/{name}", data))
    return outputs, clocked
