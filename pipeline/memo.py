"""The render cache (:mod:`pipeline.cache`) wrapped around the expensive stages
(:mod:`pipeline.stages`): one body's Markdown, one issue's pages, its feed entry, its line on
the archive page.

:func:`memoised` is the whole idea: look the value up by its key; when there is none to
trust, make it with the stage and store it. Values become JSON only at this edge, when they
are stored or read back; a value just made is returned as it was made. Every problem a stage
found is stored with what it made and returned again with it, so a build that uses the cache
reports exactly what one that renders everything reports.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import jinja2

from . import cache as c
from . import errors, stages
from . import feeds as feeds_mod
from . import images as images_mod
from . import render as r
from .ahead import Read
from .bodies import anchors_key, body_json, piece_key, real_folder, render_body
from .config import CONFIG_NAME, Config
from .contributors import CONTRIBUTORS_NAME
from .email_html import LAYOUT
from .engines import MarkdownOptions
from .errors import Problem, Problems
from .links import Context, ask
from .markup import Body, absolute
from .markup import anchors as markup_anchors
from .model import Issue
from .seasons import IssueId

T = TypeVar("T")


def memoised(cache: c.Cache, kind: str, entry_key: str, make: Callable[[], T],
             dump: Callable[[T], dict[str, Any]], load: Callable[[dict[str, Any]], T],
             keep: Callable[[T], bool] = lambda _: True,
             valid: Callable[[dict[str, Any]], bool] | None = None, later: bool = False) -> T:
    """The value stored under ``entry_key`` (``load`` of its JSON form) if there is one to
    trust (:meth:`pipeline.cache.Cache.get`, ``valid``), else ``make()``, stored as ``dump``
    of it when ``keep`` says it may be (``later``: when the cache is flushed)."""
    payload = cache.get(kind, entry_key, valid)
    if payload is not None:
        found = load(payload)
        if later and cache.made_now(kind, entry_key):  # by a worker: stored as used here
            cache.put_later(kind, entry_key, lambda: dump(found))
        return found
    value = make()
    if cache.folder is not None and keep(value):
        if later:
            cache.put_later(kind, entry_key, lambda: dump(value))
        else:
            cache.put(kind, entry_key, dump(value))
    return value


# --------------------------------------------------------------------------- the site


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


class TemplateCode(jinja2.BytecodeCache):
    """Jinja2's compiled templates, kept as cache entries (``template``) with the same
    integrity check, so a process does not compile the templates again. Jinja2 itself checks
    that the template's source is the one the code was compiled from."""

    def __init__(self, folder: Path) -> None:
        self.entries = c.Cache(folder)

    def load_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        data = self.entries.get_bytes("template", c.key("template", bucket.key))
        if data is not None:
            bucket.bytecode_from_string(data)

    def dump_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        self.entries.put_bytes("template", c.key("template", bucket.key),
                               bucket.bytecode_to_string())


def environment(site: stages.Site) -> jinja2.Environment:
    """The site's Jinja2 environment, its compiled templates kept in the cache."""
    return stages.environment(site, TemplateCode(site.cache_folder)
                              if site.cache_folder else None)


def read_issue(site: stages.Site, issue_id: IssueId, folder: Path, drafts: bool = False,
               read: Read | None = None) -> tuple[Issue, tuple[Problem, ...], str]:
    """:func:`pipeline.stages.read_issue`, and the digest of the folder's inputs
    (:func:`pipeline.cache.inputs`) taken before reading it. What is made from the issue is
    stored under that digest only if the folder still has it afterwards (:func:`_unchanged`):
    a file saved during the build is then never paired with a rendering of another version.
    ``read`` is the issue as the process rendering it ahead read it (:mod:`pipeline.ahead`),
    with its digest: used as it is, dated here."""
    if read is not None and not drafts:
        return stages.dated(site, read.issue), read.problems, read.inputs
    inputs = c.inputs(folder, site.cache_folder) if site.cache_folder else ""
    issue, found = stages.read_issue(site, issue_id, folder, drafts)
    return issue, found, inputs


def _unchanged(site: stages.Site, folder: Path, inputs: str) -> bool:
    """Whether the folder's inputs and the site's are still the ones read (so what was made
    from them may be stored under their key); the site's are asked of the file system's
    stamps, not read again."""
    return c.inputs(folder, site.cache_folder) == inputs and \
        site_stamp(site.config.root) == site.stamp


def _issue_key(kind: str, site: stages.Site, issue_id: IssueId, folder: Path, inputs: str,
               *flags: object) -> str:
    published = site.published.get(issue_id)
    return c.key(kind, site.digest, str(issue_id), str(folder), inputs,
                 published.isoformat() if published else "", *flags)


# --------------------------------------------------------------------------- bodies


def _lands_the_same(ctx: Context) -> Callable[[dict[str, Any]], bool]:
    def check(payload: dict[str, Any]) -> bool:
        return ctx.anchors is None or all(
            ask(ctx.anchors, ctx.slug, question, ctx.drafts) == answer
            for question, answer in payload.get("lookups", ()))
    return check


def _body_from(payload: dict[str, Any], issue_url: str) -> tuple[Body, tuple[Problem, ...]]:
    plain = payload["plain"]
    # Made again from html, unless the process that rendered it sent it (render_piece).
    made = payload["html_absolute"] if "html_absolute" in payload else \
        absolute(payload["html"], issue_url)
    return Body.stored(payload["html"], made,
                       tuple(Path(a) for a in payload["assets"]),
                       tuple((p, s) for p, s in payload["probes"]),
                       tuple((q, a) for q, a in payload["lookups"]),
                       (plain[0], tuple(plain[1])) if plain else None), \
        errors.problems_from(payload["problems"])


def cached_body(cache: c.Cache) -> r.BodyRenderer:
    """A body renderer that reuses the cached rendering of the same Markdown in the same
    place, and stores what it renders (with its problems, and its plain text if the build
    made it) when the cache is flushed."""

    def body(source: str, ctx: Context, problems: Problems) -> Body:
        made, found = memoised(cache, "piece", piece_key(source, ctx),
                               lambda: render_body(source, ctx), body_json,
                               lambda payload: _body_from(payload, ctx.issue_url),
                               valid=_lands_the_same(ctx), later=True)
        problems.items.extend(found)
        return made

    return body


def cached_anchors(cache: c.Cache) -> r.AnchorFinder:
    """The ids of a body (:func:`pipeline.markup.anchors`), kept in the cache, so a build
    that renders one changed piece does not run the engine over the others for their ids."""

    def anchors(source: str, options: MarkdownOptions) -> tuple[str, ...]:
        return memoised(cache, "anchors", anchors_key(source, options),
                        lambda: markup_anchors(source, options),
                        lambda ids: {"ids": list(ids)}, lambda p: tuple(p["ids"]))

    return anchors


def renderers(cache: c.Cache) -> stages.Renderers:
    """The stages' renderers, through ``cache``."""
    return stages.Renderers(cached_body(cache), cached_anchors(cache), cache)


# --------------------------------------------------------------------------- issues


def pages(site: stages.Site, cache: c.Cache, env: jinja2.Environment, issue: Issue,
          inputs: str, drafts: bool, in_feeds: bool = True,
          on_entry: Callable[[feeds_mod.Entry], None] | None = None) -> stages.Pages:
    """:func:`pipeline.stages.render_pages` through the cache. The pages are looked up by the
    issue's inputs; when they must be made, each piece's Markdown is still looked up on its
    own, so only the pieces that changed are rendered (and ``on_entry`` is given the feed
    entry as soon as it is made). Pages made fresh are stored, and so is their feed entry
    when the feeds carry it (``in_feeds``: what a build of another issue needs), unless a
    file changed meanwhile."""
    pictures = images_mod.folder_digest(issue.path)  # their bytes shape the pages too
    entry_key = _issue_key("issue", site, issue.issue_id, issue.path, inputs, drafts, pictures)

    def keep(made: stages.Pages) -> bool:
        if made.entry is None or not _unchanged(site, issue.path, inputs):
            return False
        if in_feeds and not drafts:
            cache.put("entry", _issue_key("entry", site, issue.issue_id, issue.path, inputs),
                      {"entry": made.entry.as_json(), "probes": made.probes,
                       "problems": errors.problems_json(made.problems)})
        return True

    def dump(made: stages.Pages) -> dict[str, Any]:
        assert made.entry is not None
        return {"files": {name: data.decode("utf-8") for name, data in made.files.items()},
                "size": made.size, "full_size": made.full_size, "teasers": made.teasers,
                "entry": made.entry.as_json(), "assets": made.assets,
                "images": [[u.src, str(u.path), u.line] for u in made.images],
                "image_weight": made.image_weight, "probes": made.probes,
                "problems": errors.problems_json(made.problems)}

    def load(payload: dict[str, Any]) -> stages.Pages:
        # The images made for the email come from the cache's images (made again if they
        # are not there); what surveying them found is in the stored problems already.
        uses = tuple(images_mod.Use(src, Path(path), line)
                     for src, path, line in payload["images"])
        derived = images_mod.survey(issue.path, list(uses), LAYOUT.column,
                                    site.config.image_budget_kb, cache, Problems()).derived
        return stages.Pages(
            {name: data.encode("utf-8") for name, data in payload["files"].items()},
            tuple(payload["assets"]), uses, derived, errors.problems_from(payload["problems"]),
            feeds_mod.Entry.from_json(payload["entry"]), payload["size"], payload["full_size"],
            payload["teasers"], payload["image_weight"],
            tuple((p, s) for p, s in payload["probes"]))

    return memoised(cache, "issue", entry_key,
                    _with_bodies(cache, issue.path,
                                 lambda: stages.render_pages(site, issue, env,
                                                             renderers(cache), on_entry)),
                    dump, load, keep)


def _with_bodies(cache: c.Cache, folder: Path, make: Callable[[], T]) -> Callable[[], T]:
    """``make`` with the bodies of the issue ``folder`` (:meth:`pipeline.cache.Cache.bodies_of`),
    stored when it is done, with the plain text it made of them."""
    def run() -> T:
        with cache.bodies_of(folder):
            return make()
    return run


@dataclass(frozen=True)
class Summary:
    """What a build needs of an issue it does not build: its archive line, and the problems
    reading it found (an issue without a ready piece has no line)."""

    archive: r.ArchiveEntry | None
    problems: tuple[Problem, ...]
    issue: Issue | None  # when it was read now (not from the cache), for feed_entry
    inputs: str  # the digest of the folder's inputs before it was read


def _summary_json(made: Summary) -> dict[str, Any]:
    return {"archive": r.archive_json(made.archive),
            "problems": errors.problems_json(made.problems)}


def summary(site: stages.Site, cache: c.Cache, issue_id: IssueId, folder: Path) -> Summary:
    """Read an issue for the archive page, or take what the cache says of it."""
    inputs = c.inputs(folder, site.cache_folder) if site.cache_folder else ""

    def make() -> Summary:
        issue, found, _ = read_issue(site, issue_id, folder)
        return Summary(stages.archive_entry(issue), found, issue, inputs)

    return memoised(cache, "summary", _issue_key("summary", site, issue_id, folder, inputs),
                    make, _summary_json,
                    lambda p: Summary(r.archive_from(p["archive"]),
                                      errors.problems_from(p["problems"]), None, inputs),
                    lambda _: _unchanged(site, folder, inputs))


def store_summary(site: stages.Site, cache: c.Cache, issue: Issue, inputs: str,
                  found: tuple[Problem, ...]) -> None:
    """Store the summary of an issue just read (without drafts) with the problems reading it
    found, for the builds of other issues."""
    if site.cache_folder and _unchanged(site, issue.path, inputs):
        made = Summary(stages.archive_entry(issue), found, issue, inputs)
        cache.put("summary", _issue_key("summary", site, issue.issue_id, issue.path, inputs),
                  _summary_json(made))


def feed_entry(site: stages.Site, cache: c.Cache, env: jinja2.Environment, issue_id: IssueId,
               folder: Path, read: tuple[Issue, str] | None,
               ) -> tuple[feeds_mod.Entry, tuple[Problem, ...]]:
    """The feed entry of an issue that is not being built, rendered only when the cache has
    none to trust, and what rendering it found. ``read`` is the issue if it was read
    already, with the digest of its inputs from before it was read."""
    issue, inputs = read if read else (None, c.inputs(folder, site.cache_folder)
                                       if site.cache_folder else "")

    def make() -> tuple[feeds_mod.Entry, tuple[Problem, ...], tuple[tuple[str, str], ...]]:
        known = issue or read_issue(site, issue_id, folder)[0]  # from the cache: read again
        return _with_bodies(cache, known.path, lambda: stages.feed_entry(site, known, env,
                                                                         renderers(cache)))()

    made, found, _ = memoised(
        cache, "entry", _issue_key("entry", site, issue_id, folder, inputs), make,
        lambda m: {"entry": m[0].as_json(), "problems": errors.problems_json(m[1]),
                   "probes": m[2]},
        lambda p: (feeds_mod.Entry.from_json(p["entry"]), errors.problems_from(p["problems"]), ()),
        lambda _: _unchanged(site, folder, inputs))
    return made, found


# --------------------------------------------------------------------------- last good


def _good_key(folder: Path, part: str) -> str:
    # Not c.key: the last good build of an issue outlives a new release of the code, an edit
    # of its pieces or of the templates; that is what it is for.
    return hashlib.sha256(f"good\0{part}\0{real_folder(folder)}".encode()).hexdigest()


def _read_good(cache: c.Cache, folder: Path, part: str) -> Any:
    """A part of the stored last good build (not counted: it is no rendering the cache
    saved), or None."""
    data = cache.get_bytes("good", _good_key(folder, part), count=False)
    try:
        payload = c.decode(data) if data is not None else {}
    except ValueError:
        payload = {}
    return payload.get(part) if isinstance(payload, dict) else None


@dataclass(frozen=True)
class Good:
    """What the archive and the feeds last carried of an issue that built without errors."""

    archive: r.ArchiveEntry | None
    entry: feeds_mod.Entry | None


def last_good(cache: c.Cache, folder: Path) -> Good:
    """The issue's archive line and feed entry from its last build without errors (None
    where there was none, or with ``--no-cache``)."""
    entry = _read_good(cache, folder, "entry")
    return Good(r.archive_from(_read_good(cache, folder, "archive")),
                feeds_mod.Entry.from_json(entry) if entry is not None else None)


def store_good(cache: c.Cache, folder: Path, archive: r.ArchiveEntry | None,
               entry: feeds_mod.Entry | None) -> None:
    """Keep what a build without errors made of the issue, for the builds of other issues
    while this one has errors (an entry not made this time is kept from before). The line
    and the entry are two entries, each written only when it changed (which is told without
    reading it: :meth:`pipeline.cache.Cache.put_if_changed`)."""
    if cache.folder is None:
        return
    cache.put_if_changed("good", _good_key(folder, "archive"),
                         {"archive": r.archive_json(archive)})
    if entry is not None:
        cache.put_if_changed("good", _good_key(folder, "entry"), {"entry": entry.as_json()})
