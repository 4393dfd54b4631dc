"""Rendering: an :class:`~pipeline.model.Issue` in, strings out. Nothing here touches the disk
except to read templates.

The pieces' Markdown is rendered once (:func:`render_issue`) into a
:class:`~pipeline.rendered.RenderedIssue`; the HTML email, the plain-text email
(:mod:`pipeline.edition`), the web edition, the feed entry and the archive page are Jinja2
templates over that one result.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

import jinja2

# The email edition (edition) and the rendered issue (rendered) are modules of their own;
# the names other modules and the tests know from here are kept here ("as": re-exported).
from . import GENERATOR, __version__, bodies, markup, plaintext
from .bodies import AnchorFinder as AnchorFinder
from .bodies import body_contexts as body_contexts
from .config import Config
from .edition import EmailEdition as EmailEdition
from .edition import email_edition as email_edition
from .edition import sent_size as sent_size
from .errors import ContentError, Problem, Problems, join_names, long_date, short_date
from .images import NO_IMAGES, Images, Use, uses
from .links import Context
from .markup import Body
from .model import Contributor, Issue, Piece
from .rendered import UNSUBSCRIBE_PLACEHOLDER as UNSUBSCRIBE_PLACEHOLDER
from .rendered import RenderedIssue as RenderedIssue
from .rendered import RenderedPiece, Section, context
from .rendered import feed_links as feed_links
from .rendered import unsubscribe_marker as unsubscribe_marker

T = TypeVar("T")


def default_templates_dir() -> Path:
    """The templates that ship with the pipeline (used when a root has no templates/)."""
    return Path(__file__).resolve().parent / "templates"


def environment(config: Config,
                bytecode: jinja2.BytecodeCache | None = None) -> jinja2.Environment:
    """The Jinja2 environment: the root's templates/ first, then the shipped defaults (their
    compiled code kept in ``bytecode`` when given)."""
    loaders: list[jinja2.BaseLoader] = []
    if config.templates_dir.is_dir():
        loaders.append(jinja2.FileSystemLoader(config.templates_dir))
    loaders.append(jinja2.FileSystemLoader(default_templates_dir()))
    env = jinja2.Environment(
        loader=jinja2.ChoiceLoader(loaders),
        autoescape=jinja2.select_autoescape(["html", "xml"], default_for_string=False),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        bytecode_cache=bytecode,
    )
    env.filters["credit"] = credit
    env.filters["byline"] = byline
    env.filters["byline_team"] = byline_team
    env.filters["underline"] = plaintext.underline
    env.filters["wrap"] = plaintext.wrap
    env.filters["links"] = plaintext.link_list
    env.filters["longdate"] = long_date
    env.filters["shortdate"] = short_date
    env.globals["generator"] = GENERATOR  # the software and its version, for page.html
    return env


def _teams_of(piece: Piece) -> list[str]:
    return list(dict.fromkeys(a.team for a in piece.authors if a.team))


def byline(piece: Piece) -> str:
    """The authors of a piece; each with their team when they come from several teams
    (``Tomás Lind (Research) and Priya Rao (Legal)``): shared work is credited to all."""
    if len(_teams_of(piece)) > 1:
        return join_names([f"{a.name} ({a.team})" if a.team else a.name
                           for a in piece.authors])
    return credit(piece.authors)


def byline_team(piece: Piece) -> str:
    """The one team a byline names after its authors, or "" when each author's is named."""
    return "" if len(_teams_of(piece)) > 1 else (piece.team or "")


def credit(people: tuple[Contributor, ...]) -> str:
    """``Ada Example and Grace Example`` / ``A, B and C``."""
    return join_names([p.name for p in people])


#: Renders one body's Markdown: :func:`pipeline.markup.render`, or one that uses the cache.
BodyRenderer = Callable[[str, Context, Problems], Body]


def render_issue(issue: Issue, config: Config, problems: Problems,
                 body: BodyRenderer = markup.render,
                 anchors: AnchorFinder = markup.anchors) -> RenderedIssue:
    """Render the letter and every piece's Markdown once (with ``body``)."""
    made = {ctx.slug: body(source, ctx, problems)
            for source, ctx in bodies.body_contexts(issue, config, anchors)}
    letter = made.get("_letter")
    if letter is not None and not letter.html.strip():
        letter = None  # only a comment (a new issue's placeholder): no letter
    sections = []
    for name in config.sections:
        pieces = tuple(RenderedPiece(piece, made[piece.slug])
                       for piece in issue.pieces if piece.section == name)
        if pieces:
            sections.append(Section(name, pieces))
    return RenderedIssue(issue, letter, tuple(sections), config.issue_url(issue.issue_id))


def image_uses(rendered: RenderedIssue) -> list[Use]:
    """Every local image the issue's bodies show, with the file and line that show it."""
    issue = rendered.issue
    found: list[Use] = []
    if rendered.letter is not None and issue.letter_path is not None:
        found += uses(rendered.letter.html, rendered.letter.assets, issue.path, issue.letter,
                      issue.letter_path, issue.letter_line)
    for p in rendered.pieces:
        found += uses(p.body.html, p.body.assets, issue.path, p.piece.body, p.piece.path,
                      p.piece.body_line)
    return found


def web_issue(rendered: RenderedIssue, config: Config, env: jinja2.Environment,
              images: Images = NO_IMAGES) -> str:
    """The web edition of one issue, with a permalink anchor per piece."""
    return env.get_template("issue.html").render(context(rendered, config, images))


@dataclass(frozen=True)
class ArchiveEntry:
    issue_id: str
    name: str
    title: str
    summary: str
    moment: datetime
    pieces: int
    contributors: int
    teams: int
    published: datetime | None = None  # the recorded publication, when there is one


def archive_json(entry: ArchiveEntry | None) -> dict[str, Any] | None:
    """An archive line as JSON (the render cache keeps it), or None."""
    if entry is None:
        return None
    return {"issue_id": entry.issue_id, "name": entry.name, "title": entry.title,
            "summary": entry.summary, "moment": entry.moment.isoformat(),
            "pieces": entry.pieces, "contributors": entry.contributors, "teams": entry.teams,
            "published": entry.published.isoformat() if entry.published else None}


def archive_from(data: dict[str, Any] | None) -> ArchiveEntry | None:
    """The archive line :func:`archive_json` wrote."""
    if data is None:
        return None
    published = data.get("published")
    return ArchiveEntry(**{**data, "moment": datetime.fromisoformat(data["moment"]),
                           "published": datetime.fromisoformat(published) if published
                           else None})


def archive(entries: list[ArchiveEntry], config: Config, env: jinja2.Environment) -> str:
    """The archive page of all published issues, newest first."""
    ordered = sorted(entries, key=lambda e: e.issue_id, reverse=True)
    return env.get_template("archive.html").render(
        config=config, entries=ordered, version=__version__, feeds=feed_links(config))


def feed_content(rendered: RenderedIssue, config: Config, env: jinja2.Environment) -> str:
    """The whole issue as one HTML fragment with absolute URLs, for the feeds."""
    return env.get_template("feed_entry.html").render(context(rendered, config)).strip()


#: Crawlers that gather text to train AI models (and only that: search engines are welcome).
AI_CRAWLERS = ("GPTBot", "ClaudeBot", "anthropic-ai", "CCBot", "Google-Extended",
               "Applebot-Extended", "Bytespider", "meta-externalagent", "FacebookBot",
               "cohere-ai", "Diffbot", "ImagesiftBot", "Omgilibot")
#: The subscription pages: nothing there for a search engine.
FORM_PATHS = ("/subscribe", "/confirm", "/unsubscribe")


def robots_txt(config: Config) -> str:
    """``robots.txt``: search engines welcome; AI training crawlers as ``web.ai_training`` says."""
    lines = [f"# {config.title}: robots.txt"]
    if config.web.ai_training:
        lines += ["# The contributors allow their words to be used to train AI models.", ""]
    else:
        lines += ["# The contributors' words are not offered for training AI models; see "
                  "/ai.txt.", ""]
        for agent in AI_CRAWLERS:
            lines += [f"User-agent: {agent}", "Disallow: /", ""]
    lines += ["User-agent: *", *(f"Disallow: {path}" for path in FORM_PATHS), "Allow: /"]
    return "\n".join(lines) + "\n"


def ai_txt(config: Config) -> str:
    """``ai.txt`` (Spawning's convention): may this site's text and images train AI models?"""
    rule = "Allow: /" if config.web.ai_training else "Disallow: /"
    stance = ("may" if config.web.ai_training else "may not")
    return (f"# {config.title}: ai.txt\n"
            f"# The words and images here {stance} be used to train AI models.\n"
            f"User-Agent: *\n{rule}\n")


def stylesheet(env: jinja2.Environment) -> str:
    """The web edition's stylesheet (``public/style.css``)."""
    loader = env.loader
    assert loader is not None
    source, _, _ = loader.get_source(env, "web.css")
    return source


def run_template(make: Callable[[], str]) -> bytes:
    """Run a template render, turning a template mistake into a located error."""
    return guarded(make).encode("utf-8")


def guarded(make: Callable[[], T]) -> T:
    """Run ``make`` (which renders templates), turning a template mistake into a located
    error."""
    try:
        return make()
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
