"""Rendering through the render cache (:mod:`pipeline.cache`): each step looks up what it
would make, makes it only when it is not there to trust, and stores what it made.

:func:`cached_body` renders one piece's Markdown; :func:`render_pages` one issue's pages and
feed entry; :func:`summary` what the archive needs of an issue that is not being built;
:func:`feed_entry` the feed entry of such an issue. Every problem found on the way is stored
with what it was found in and reported again when that is used, so a build that uses the
cache reports exactly what one that renders everything reports. The functions are pure apart
from the cache, so they run in worker processes too.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, time
from pathlib import Path
from typing import Any

import jinja2

from . import cache as c
from . import feeds as feeds_mod
from . import images as images_mod
from . import render as r
from .config import CONFIG_NAME, Config
from .content import load_issue
from .contributors import CONTRIBUTORS_NAME
from .email_html import LAYOUT
from .engines import MarkdownOptions
from .errors import ContentError, Problem, Problems
from .links import Context, ask
from .markup import Body, render
from .markup import anchors as markup_anchors
from .model import Contributor, Issue
from .render import run_template
from .seasons import IssueId
from .writer import Output


@dataclass(frozen=True)
class Site:
    """What every issue's rendering reads besides its own folder (picklable, for workers)."""

    config: Config
    people: dict[str, Contributor] | None
    digest: str  # cache.site_digest of the configuration, contributors and templates
    cache_folder: Path | None
    #: When each issue was published, as recorded (:mod:`pipeline.publication`).
    published: Mapping[IssueId, datetime] = field(default_factory=dict)
    #: :func:`site_stamp` when the site was opened, before its files were read.
    stamp: str = ""


def load(site: Site, issue_id: IssueId, folder: Path, problems: Problems,
         drafts: bool = False) -> Issue:
    """Read an issue, dated with its recorded publication when there is one."""
    issue = load_issue(issue_id, folder, site.config, site.people, problems, drafts)
    when = site.published.get(issue_id)
    if when is None:
        return issue
    return replace(issue, published=when,
                   publication_date=when.astimezone(site.config.time_zone).date())


#: One Jinja2 environment per process and site: it keeps its compiled templates (and checks
#: their files for changes), which costs far more to make than any one page to render.
#: It is made again when the root's templates/ gains or loses a file, since a template found
#: among the shipped ones is only checked for changes to that file.
_ENVIRONMENTS: dict[tuple[Path, tuple[str, ...] | None, Path | None], jinja2.Environment] = {}


def environment(site: Site) -> jinja2.Environment:
    """The site's Jinja2 environment, its compiled templates kept in the cache."""
    templates = site.config.templates_dir
    names = tuple(sorted(p.relative_to(templates).as_posix() for p in templates.rglob("*"))) \
        if templates.is_dir() else None
    where = (templates.resolve(), names, site.cache_folder)
    if where not in _ENVIRONMENTS:
        code = c.TemplateCode(site.cache_folder) if site.cache_folder else None
        _ENVIRONMENTS[where] = r.environment(site.config, code)
    return _ENVIRONMENTS[where]


def piece_key(source: str, ctx: Context) -> str:
    """The cache key of one body: its Markdown, where it lives and the engine. What the
    other bodies of its page answered about its in-page links is stored with it and asked
    again before it is used (:func:`pipeline.links.ask`), so an edit of one piece renders
    another only when that changes where one of its links lands."""
    return c.key("piece", source, str(ctx.issue_dir), str(ctx.issue_dir.resolve()),
                 ctx.issue_url, ctx.slug, str(ctx.path), ctx.first_line, ctx.markdown.key(),
                 ctx.anchors is None)


def _lands_the_same(ctx: Context) -> Callable[[dict[str, Any]], bool]:
    def check(payload: dict[str, Any]) -> bool:
        return ctx.anchors is None or all(
            ask(ctx.anchors, ctx.slug, question, ctx.drafts) == answer
            for question, answer in payload.get("lookups", ()))
    return check


def cached_anchors(cache: c.Cache) -> r.AnchorFinder:
    """The ids of a body (:func:`pipeline.markup.anchors`), kept in the cache, so a build
    that renders one changed piece does not run the engine over the others for their ids."""

    def anchors(source: str, options: MarkdownOptions) -> tuple[str, ...]:
        entry_key = c.key("anchors", source, options.key())
        payload = cache.get("anchors", entry_key)
        if payload is None:
            payload = {"ids": list(markup_anchors(source, options))}
            cache.put("anchors", entry_key, payload)
        return tuple(payload["ids"])

    return anchors


def _piece_payload(source: str, ctx: Context) -> dict[str, Any]:
    found = Problems()  # warnings stay warnings; replay applies --strict
    made = render(source, ctx, found)
    return {
        "html": made.html, "html_absolute": made.html_absolute,
        "assets": [str(a) for a in made.assets], "probes": made.probes,
        "lookups": made.lookups,
        "text": made.text, "links": made.links, "problems": c.problems_json(found.items),
    }


def render_piece(cache_folder: Path | None, source: str,
                 ctx: Context) -> tuple[str, dict[str, Any]]:
    """Render one body and store it (in a worker); its key and what was stored."""
    entry_key = piece_key(source, ctx)
    payload = _piece_payload(source, ctx)
    c.Cache(cache_folder).put("piece", entry_key, payload)
    return entry_key, payload


def cached_body(cache: c.Cache) -> r.BodyRenderer:
    """A body renderer that reuses the cached rendering of the same Markdown in the same
    place, and stores what it renders (with its plain text and its problems)."""

    def body(source: str, ctx: Context, problems: Problems) -> Body:
        entry_key = piece_key(source, ctx)
        payload = cache.get("piece", entry_key, valid=_lands_the_same(ctx))
        if payload is None:
            payload = _piece_payload(source, ctx)
            cache.put("piece", entry_key, payload)
        c.replay(payload["problems"], problems)
        return Body.with_text(payload["html"], payload["html_absolute"],
                              tuple(Path(a) for a in payload["assets"]),
                              tuple((p, s) for p, s in payload["probes"]),
                              tuple((q, a) for q, a in payload["lookups"]), payload["text"],
                              tuple(payload["links"]))

    return body


# --------------------------------------------------------------------------- JSON forms


def _entry_json(entry: feeds_mod.Entry) -> dict[str, Any]:
    return {"url": entry.url, "title": entry.title, "summary": entry.summary,
            "content_html": entry.content_html, "published": entry.published.isoformat(),
            "updated": entry.updated.isoformat(), "authors": entry.authors,
            "categories": entry.categories}


def _entry_from(data: dict[str, Any]) -> feeds_mod.Entry:
    return feeds_mod.Entry(
        url=data["url"], title=data["title"], summary=data["summary"],
        content_html=data["content_html"], published=datetime.fromisoformat(data["published"]),
        updated=datetime.fromisoformat(data["updated"]), authors=tuple(data["authors"]),
        categories=tuple(data["categories"]))


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


def _archive_json(entry: r.ArchiveEntry | None) -> dict[str, Any] | None:
    if entry is None:
        return None
    return {"issue_id": entry.issue_id, "name": entry.name, "title": entry.title,
            "summary": entry.summary, "moment": entry.moment.isoformat(),
            "pieces": entry.pieces, "contributors": entry.contributors, "teams": entry.teams,
            "published": entry.published.isoformat() if entry.published else None}


def _archive_from(data: dict[str, Any] | None) -> r.ArchiveEntry | None:
    if data is None:
        return None
    published = data.get("published")
    return r.ArchiveEntry(**{**data, "moment": datetime.fromisoformat(data["moment"]),
                             "published": datetime.fromisoformat(published) if published
                             else None})


# --------------------------------------------------------------------------- issues


def _issue_key(kind: str, site: Site, issue_id: IssueId, folder: Path, inputs: str,
               *flags: object) -> str:
    published = site.published.get(issue_id)
    return c.key(kind, site.digest, str(issue_id), str(folder), inputs,
                 published.isoformat() if published else "", *flags)


def read_issue(site: Site, issue_id: IssueId, folder: Path, problems: Problems,
               drafts: bool = False) -> tuple[Issue, str]:
    """Read an issue, and the digest of its inputs (:func:`pipeline.cache.inputs`) taken
    before reading it. What is made from the issue is stored under that digest only if the
    folder still has it afterwards (:func:`_unchanged`): a file saved during the build is
    then never paired with a rendering of another version of it."""
    inputs = c.inputs(folder) if site.cache_folder else ""
    return load(site, issue_id, folder, problems, drafts), inputs


def _probes(rendered: r.RenderedIssue) -> list[tuple[str, str]]:
    bodies = [p.body for p in rendered.pieces] + ([rendered.letter] if rendered.letter else [])
    return sorted({probe for body in bodies for probe in body.probes})


@dataclass
class Pages:
    """One issue rendered: its files, its feed entry, and what the rendering found."""

    outputs: list[Output]
    problems: list[Problem]
    size: int  # the HTML email's, as sent
    entry: feeds_mod.Entry | None
    full_size: int = 0  # the same with every piece in full
    teasers: int = 0  # how many pieces the email shows as teasers
    image_weight: int = 0  # the bytes of the images the email loads


def _site_files(root: Path) -> tuple[list[Path], list[Path]]:
    return ([root / CONFIG_NAME, root / CONTRIBUTORS_NAME],
            [root / "templates", r.default_templates_dir()])


def site_stamp(root: Path) -> str:
    """What the file system says of ``newsletter.toml``, ``contributors.toml`` and the
    templates (:func:`pipeline.cache.site_stamp`), without reading them."""
    return c.site_stamp(*_site_files(root))


def site_inputs(config: Config) -> str:
    """The digest of what every issue's pages read besides their folder: the configuration
    (the digest of the bytes it was parsed from), ``contributors.toml`` and the templates
    (:func:`pipeline.cache.site_digest`)."""
    files, templates = _site_files(config.root)
    return c.site_digest(config.root, files[1:], templates, config.digest)


def _unchanged(site: Site, folder: Path, inputs: str) -> bool:
    """Whether the folder's inputs and the site's are still the ones read (so what was made
    from them may be stored under their key); the site's are asked of the file system's
    stamps, not read again."""
    return c.inputs(folder) == inputs and site_stamp(site.config.root) == site.stamp


def render_pages(site: Site, cache: c.Cache, issue: Issue, inputs: str, out_dir: Path,
                 strict: bool, drafts: bool) -> Pages:
    """The issue's HTML email, text email, web edition and assets, and its feed entry.

    The pages are looked up by the issue's inputs; when they must be made, each piece's
    Markdown is still looked up on its own, so only the pieces that changed are rendered.
    A template mistake is returned as a problem, with the others.
    """
    config = site.config
    pictures = images_mod.folder_digest(issue.path)  # their bytes shape the pages too
    entry_key = _issue_key("issue", site, issue.issue_id, issue.path, inputs, drafts, strict,
                           pictures)
    payload = cache.get("issue", entry_key)
    derived: dict[str, bytes] | None = None
    if payload is None:
        problems = Problems(strict=strict)
        env = environment(site)
        try:
            rendered = r.render_issue(issue, config, problems, body=cached_body(cache),
                                     anchors=cached_anchors(cache))
            shown = r.image_uses(rendered)
            images = images_mod.survey(issue.path, shown, LAYOUT.column,
                                       config.image_budget_kb, cache, problems)
            files, edition = issue_files(rendered, config, env, problems, images)
            made = entry(rendered, config, env)
        except ContentError as exc:  # a template mistake: reported with the others
            return Pages([], [*problems.items, *exc.problems], 0, None)
        probes = _probes(rendered)
        root = issue.path.resolve()
        payload = {
            "files": {name: data.decode("utf-8") for name, data in files.items()},
            "size": edition.size, "full_size": edition.full_size,
            "teasers": len(edition.teasers), "entry": _entry_json(made),
            "assets": [a.relative_to(root).as_posix() for a in rendered.assets],
            "images": [[u.src, str(u.path), u.line] for u in shown],
            "image_weight": images.weight,
            "probes": probes, "problems": c.problems_json(problems.items),
        }
        derived = images.derived
        stored = _unchanged(site, issue.path, inputs)
        if stored:
            cache.put("issue", entry_key, payload)
        if stored and not drafts:
            cache.put("entry", _issue_key("entry", site, issue.issue_id, issue.path, inputs,
                                          strict),
                      {"entry": payload["entry"], "probes": probes,
                       "problems": payload["problems"]})
    folder = str(issue.issue_id)
    outputs = [Output(out_dir, f"{folder}/{name}", data.encode("utf-8"))
               for name, data in payload["files"].items()]
    outputs += [Output(out_dir, f"{folder}/{asset}", (issue.path / asset).read_bytes())
                for asset in payload["assets"]]
    if derived is None:
        # Pages from the cache: the derivatives from the cache's images (made again if they
        # are not there); what surveying the images found is in the stored problems already.
        uses = [images_mod.Use(src, Path(path), line) for src, path, line in payload["images"]]
        derived = images_mod.survey(issue.path, uses, LAYOUT.column, config.image_budget_kb,
                                    cache, Problems()).derived
    outputs += [Output(out_dir, f"{folder}/{name}", data) for name, data in derived.items()]
    found = Problems(strict=strict)
    c.replay(payload["problems"], found)
    return Pages(outputs, found.items, payload["size"], _entry_from(payload["entry"]),
                 payload["full_size"], payload["teasers"], payload["image_weight"])


@dataclass(frozen=True)
class Summary:
    """What a build needs of an issue it does not build: its archive line, and the problems
    reading it found (an issue without a ready piece has no line)."""

    archive: r.ArchiveEntry | None
    problems: list[Problem]
    issue: Issue | None  # when it was read now (not from the cache), for feed_entry
    inputs: str  # the digest of the folder's inputs before it was read


def summary(site: Site, cache: c.Cache, issue_id: IssueId, folder: Path,
            strict: bool) -> Summary:
    """Read an issue for the archive page, or take what the cache says of it."""
    inputs = c.inputs(folder) if site.cache_folder else ""
    payload = cache.get("summary", _issue_key("summary", site, issue_id, folder, inputs, strict))
    issue = None
    if payload is None:
        found = Problems(strict=strict)
        issue = load(site, issue_id, folder, found)
        payload = store_summary(site, cache, issue, inputs, found.items, strict)
    problems = Problems(strict=strict)
    c.replay(payload["problems"], problems)
    return Summary(_archive_from(payload["archive"]), problems.items, issue, inputs)


def store_summary(site: Site, cache: c.Cache, issue: Issue, inputs: str,
                  found: list[Problem], strict: bool) -> dict[str, Any]:
    """Store the summary of an issue just read (without drafts) with the problems reading it
    found; returns the payload."""
    payload = {"archive": _archive_json(archive_entry(issue)),
               "problems": c.problems_json(found)}
    if site.cache_folder and _unchanged(site, issue.path, inputs):
            cache.put("summary", _issue_key("summary", site, issue.issue_id, issue.path, inputs,
                                        strict), payload)
    return payload


def feed_entry(site: Site, cache: c.Cache, env: jinja2.Environment, issue_id: IssueId,
               folder: Path, read: tuple[Issue, str] | None, strict: bool,
               problems: Problems) -> feeds_mod.Entry:
    """The feed entry of an issue that is not being built, rendered only when the cache has
    none to trust; the problems its rendering finds go to ``problems``. ``read`` is the issue
    if it was read already, with the digest of its inputs from before it was read."""
    issue, inputs = read if read else (None, c.inputs(folder) if site.cache_folder else "")
    entry_key = _issue_key("entry", site, issue_id, folder, inputs, strict)
    payload = cache.get("entry", entry_key)
    if payload is None:
        if issue is None:  # its summary came from the cache: read it again, quietly
            issue = load(site, issue_id, folder, Problems(strict))
        found = Problems(strict=strict)
        rendered = r.render_issue(issue, site.config, found, body=cached_body(cache),
                                     anchors=cached_anchors(cache))
        made = entry(rendered, site.config, env)
        probes = _probes(rendered)
        payload = {"entry": _entry_json(made), "probes": probes,
                   "problems": c.problems_json(found.items)}
        if _unchanged(site, folder, inputs):
            cache.put("entry", entry_key, payload)
    c.replay(payload["problems"], problems)
    return _entry_from(payload["entry"])


# --------------------------------------------------------------------------- last good


def _good_key(folder: Path) -> str:
    # Not c.key: the last good build of an issue outlives a new release of the code, an edit
    # of its pieces or of the templates; that is what it is for.
    return hashlib.sha256(f"good\0{folder.resolve()}".encode()).hexdigest()


def _read_good(cache: c.Cache, folder: Path) -> dict[str, Any]:
    """The stored last good build (not counted: it is no rendering the cache saved)."""
    data = cache.get_bytes("good", _good_key(folder), count=False)
    try:
        payload = json.loads(data) if data is not None else {}
    except ValueError:
        payload = {}
    return payload if isinstance(payload, dict) else {}


@dataclass(frozen=True)
class Good:
    """What the archive and the feeds last carried of an issue that built without errors."""

    archive: r.ArchiveEntry | None
    entry: feeds_mod.Entry | None


def last_good(cache: c.Cache, folder: Path) -> Good:
    """The issue's archive line and feed entry from its last build without errors (None
    where there was none, or with ``--no-cache``)."""
    payload = _read_good(cache, folder)
    entry = payload.get("entry")
    return Good(_archive_from(payload.get("archive")),
                _entry_from(entry) if entry is not None else None)


def store_good(cache: c.Cache, folder: Path, archive: r.ArchiveEntry | None,
               entry: feeds_mod.Entry | None) -> None:
    """Keep what a build without errors made of the issue, for the builds of other issues
    while this one has errors (an entry not made this time is kept from before)."""
    if cache.folder is None:
        return
    old = _read_good(cache, folder)
    payload = {
        "archive": _archive_json(archive),
        "entry": _entry_json(entry) if entry is not None else old.get("entry"),
    }
    if payload != old:  # most builds find it as they left it: nothing to write
        cache.put("good", _good_key(folder), payload)


# --------------------------------------------------------------------------- pages


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
    with --strict) saying which pieces became teasers and why."""
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
        message = (f"{len(edition.chosen)} of {len(rendered.pieces)} pieces are teasers in the "
                   f"email: the full email would be {edition.full_size / 1024:.0f} KB, the "
                   f"budget is {kb} KB; the teasers: "
                   + ", ".join(f"{a}.md" for a in edition.chosen)
                   + " (the web edition and the feeds carry them in full)")
        if problems.strict:
            problems.error(rendered.issue.path, None, message, rule="email-teasers")
        else:
            problems.note(rendered.issue.path, None, message, rule="email-teasers")


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
