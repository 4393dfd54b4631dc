"""Rendering: an :class:`~pipeline.model.Issue` in, strings out. Nothing here touches the disk
except to read templates.

The pieces' Markdown is rendered once (:func:`render_issue`); the HTML email, the plain-text
email, the web edition and the archive page are Jinja2 templates over that one result. The
email's CSS is inlined with css-inline, keeping the ``@media`` rules for dark mode and narrow
screens in a ``<style>`` block. The email and the web edition show each body through their
post-pass (:mod:`pipeline.email_html`: images sized, code that wraps, aligned cells), given
what :func:`pipeline.images.survey` found of the issue's images (:func:`image_uses`).
"""

from __future__ import annotations

import secrets
import traceback
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote

import css_inline
import jinja2
from markupsafe import Markup

from . import GENERATOR, __version__, markup, plaintext
from .config import Config
from .email_html import LAYOUT, email_body, web_body
from .engines import MarkdownOptions
from .errors import ContentError, Problem, Problems, join_names, long_date, short_date
from .images import NO_IMAGES, Images, Use, uses
from .links import Context
from .markup import Body
from .model import Contributor, Issue, Piece
from .tokens import longest_unsubscribe_link

#: Where each subscriber's signed unsubscribe URL goes, in the built email files. A send
#: renders the email again with a marker of its own instead (:func:`unsubscribe_marker`), so a
#: piece that contains this text is delivered with it as written.
UNSUBSCRIBE_PLACEHOLDER = "%%unsubscribe_url%%"


def unsubscribe_marker() -> str:
    """A marker for the unsubscribe URL that no author can write: new and random per send."""
    return f"%%unsubscribe-{secrets.token_hex(16)}%%"


PREHEADER_LENGTH = 150
T = TypeVar("T")


@dataclass(frozen=True)
class RenderedPiece:
    piece: Piece
    body: Body
    #: In the email only: the title, byline and summary with a link to the web edition
    #: instead of the whole piece (:func:`email_edition`).
    teaser: bool = False

    @property
    def anchor(self) -> str:
        return self.piece.slug


@dataclass(frozen=True)
class Section:
    name: str
    pieces: tuple[RenderedPiece, ...]


@dataclass(frozen=True)
class RenderedIssue:
    """An issue with every body rendered, grouped by section: what the templates see."""

    issue: Issue
    letter: Body | None
    sections: tuple[Section, ...]
    url: str

    @property
    def pieces(self) -> tuple[RenderedPiece, ...]:
        return tuple(p for s in self.sections for p in s.pieces)

    @property
    def assets(self) -> tuple[Path, ...]:
        found: dict[Path, None] = {}
        bodies = [p.body for p in self.pieces] + ([self.letter] if self.letter else [])
        for body in bodies:
            found.update(dict.fromkeys(body.assets))
        return tuple(found)


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
#: The ids of one body: :func:`pipeline.markup.anchors`, or one that uses the cache.
AnchorFinder = Callable[[str, MarkdownOptions], tuple[str, ...]]


def body_contexts(issue: Issue, config: Config,
                  anchors: AnchorFinder = markup.anchors) -> list[tuple[str, Context]]:
    """The Markdown of the letter (if any) and of every piece, each with its
    :class:`~pipeline.links.Context`: where it lives, and the anchors of every body on the
    issue page, so an in-page link can land on another piece's heading."""
    url = config.issue_url(issue.issue_id)
    bodies: list[tuple[str, str, Path, int]] = []
    if issue.letter.strip() and issue.letter_path is not None:
        bodies.append(("_letter", issue.letter, issue.letter_path, issue.letter_line))
    bodies += [(p.slug, p.body, p.path, p.body_line) for p in issue.pieces]
    found = tuple((slug, anchors(source, config.markdown)) for slug, source, _, _ in bodies)
    drafts = frozenset(p.slug for p in issue.pieces if p.is_draft)
    return [(source, Context(issue.path, url, slug, path, line, config.markdown, found, drafts))
            for slug, source, path, line in bodies]


def render_issue(issue: Issue, config: Config, problems: Problems,
                 body: BodyRenderer = markup.render,
                 anchors: AnchorFinder = markup.anchors) -> RenderedIssue:
    """Render the letter and every piece's Markdown once (with ``body``)."""
    made = {ctx.slug: body(source, ctx, problems)
            for source, ctx in body_contexts(issue, config, anchors)}
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


def _context(rendered: RenderedIssue, config: Config,
             images: Images = NO_IMAGES,
             unsubscribe_url: str = UNSUBSCRIBE_PLACEHOLDER,
             shown: dict[int, Markup] | None = None) -> dict[str, Any]:
    issue = rendered.issue
    contributors = issue.contributors()
    bodies = {} if shown is None else shown  # each body as the email shows it, by identity

    def in_email(body: Body) -> Markup:
        if id(body) not in bodies:
            bodies[id(body)] = Markup(email_body(body.html_absolute, rendered.url, images))
        return bodies[id(body)]

    return {
        "layout": LAYOUT,
        "email_body": in_email,
        "web_body": lambda body: Markup(web_body(body.html, images)),
        "config": config,
        "issue": issue,
        "r": rendered,
        "contributors": contributors,
        "teams": issue.teams(),
        "preheader": preheader(rendered),
        "unsubscribe_url": unsubscribe_url,
        "feeds": feed_links(config),
        "feedback": lambda piece: feedback_url(issue, piece, config),
        "version": __version__,
    }


def feedback_url(issue: Issue, piece: Piece, config: Config) -> str | None:
    """A mailto: link for readers to respond to a piece or raise a concern about it."""
    if not config.editors_address:
        return None
    subject = f"{issue.name}: {piece.title}"
    return f"mailto:{config.editors_address}?subject={quote(subject)}"


def feed_links(config: Config) -> dict[str, str]:
    """The feeds a reader can follow, by name."""
    return {"RSS": config.feed_url("rss.xml"), "Atom": config.feed_url("atom.xml"),
            "JSON Feed": config.feed_url("feed.json")}


def preheader(rendered: RenderedIssue) -> str:
    """The inbox preview line: the issue's summary, then the pieces' titles."""
    parts = [rendered.issue.summary] + [p.piece.title for p in rendered.pieces]
    text = " · ".join(part for part in parts if part)
    if len(text) > PREHEADER_LENGTH:
        text = text[: PREHEADER_LENGTH - 1].rsplit(" ", 1)[0] + "…"
    return text


def email_html(rendered: RenderedIssue, config: Config, env: jinja2.Environment,
               images: Images = NO_IMAGES,
               unsubscribe_url: str = UNSUBSCRIBE_PLACEHOLDER,
               shown: dict[int, Markup] | None = None) -> str:
    """The HTML email with its CSS inlined (``@media`` rules kept in a style block), its
    images as ``images`` says, ``unsubscribe_url`` where each reader's link goes. ``shown``
    keeps each body as the email shows it, for several renderings of one issue."""
    html = env.get_template("email.html").render(_context(rendered, config, images,
                                                          unsubscribe_url, shown))
    inliner = css_inline.CSSInliner(keep_at_rules=True, load_remote_stylesheets=False)
    return str(inliner.inline(html))


def email_text(rendered: RenderedIssue, config: Config, env: jinja2.Environment,
               unsubscribe_url: str = UNSUBSCRIBE_PLACEHOLDER) -> str:
    """The plain-text email."""
    text = env.get_template("email.txt").render(
        _context(rendered, config, unsubscribe_url=unsubscribe_url))
    return "\n".join(line.rstrip() for line in text.split("\n")).strip("\n") + "\n"


@dataclass(frozen=True)
class EmailEdition:
    """The email as it is sent: its HTML and plain text (the same pieces as teasers in both),
    and its size as a reader's client receives it, with the longest unsubscribe link a
    subscriber can have in place of the placeholder."""

    html: str
    text: str
    size: int  # bytes of the HTML as sent
    full_size: int  # the same, with every piece in full
    teasers: tuple[str, ...]  # the anchors of the pieces shown as teasers, in page order
    chosen: tuple[str, ...]  # of those, the ones the pipeline chose (no "email:" of their own)


def sent_size(html: str, config: Config, marker: str = UNSUBSCRIBE_PLACEHOLDER) -> int:
    """The HTML's size as a reader's client receives it: the ``marker`` of the unsubscribe
    link replaced by the longest real link (made by the code that makes every subscriber's)
    and each line ending a CRLF, as in the message."""
    link = longest_unsubscribe_link(config.delivery.unsubscribe_url)
    return len(html.encode("utf-8")) + html.count("\n") + html.count(marker) * (
        len(link.encode("ascii")) - len(marker))


def with_teasers(rendered: RenderedIssue, anchors: set[str]) -> RenderedIssue:
    """The issue with the pieces named by ``anchors`` as teasers."""
    sections = tuple(Section(s.name, tuple(replace(p, teaser=p.anchor in anchors)
                                           for p in s.pieces)) for s in rendered.sections)
    return replace(rendered, sections=sections)


def email_edition(rendered: RenderedIssue, config: Config, env: jinja2.Environment,
                  images: Images = NO_IMAGES,
                  unsubscribe_url: str = UNSUBSCRIBE_PLACEHOLDER) -> EmailEdition:
    """The email within ``email.size_budget_kb`` where it can be.

    Pieces that say ``email: teaser`` are always teasers. When the email is over the budget
    and ``email.overflow`` is ``teasers``, the letter and the pieces keep their place in full
    while they fit, in page order, and the rest become teasers (a piece that says ``email:
    full`` never does); the largest such prefix is found by bisection, so a few renderings
    decide it. What does not fit even so is returned over the budget: the caller reports it.
    """
    budget = config.size_budget_kb * 1024
    pieces = rendered.pieces
    forced = {p.anchor for p in pieces if p.piece.email == "teaser"}
    auto = [p.anchor for p in pieces if p.piece.email is None]

    shown: dict[int, Markup] = {}  # the bodies' email HTML, made once for every attempt

    def attempt(full: int) -> tuple[str, int]:
        html = email_html(with_teasers(rendered, forced | set(auto[full:])), config, env,
                          images, unsubscribe_url, shown)
        return html, sent_size(html, config, unsubscribe_url)

    everything = email_html(rendered, config, env, images, unsubscribe_url, shown)
    full_size = sent_size(everything, config, unsubscribe_url)
    html, size = (everything, full_size) if not forced else attempt(len(auto))
    kept = len(auto)
    if size > budget and config.email_overflow == "teasers" and auto:
        low, high = 0, len(auto) - 1  # the largest number of full auto pieces that fits
        best: tuple[str, int] | None = None
        while low <= high:
            middle = (low + high) // 2
            made = attempt(middle)
            if made[1] <= budget:
                best, kept, low = made, middle, middle + 1
            else:
                high = middle - 1
        if best is None:
            kept = 0
            best = attempt(0)
        html, size = best
    chosen = set(auto[kept:])
    teasers = tuple(p.anchor for p in pieces if p.anchor in forced | chosen)
    text = email_text(with_teasers(rendered, set(teasers)), config, env, unsubscribe_url)
    return EmailEdition(html, text, size, full_size, teasers,
                        tuple(a for a in teasers if a in chosen))


def web_issue(rendered: RenderedIssue, config: Config, env: jinja2.Environment,
              images: Images = NO_IMAGES) -> str:
    """The web edition of one issue, with a permalink anchor per piece."""
    return env.get_template("issue.html").render(_context(rendered, config, images))


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


def archive(entries: list[ArchiveEntry], config: Config, env: jinja2.Environment) -> str:
    """The archive page of all published issues, newest first."""
    ordered = sorted(entries, key=lambda e: e.issue_id, reverse=True)
    return env.get_template("archive.html").render(
        config=config, entries=ordered, version=__version__, feeds=feed_links(config))


def feed_content(rendered: RenderedIssue, config: Config, env: jinja2.Environment) -> str:
    """The whole issue as one HTML fragment with absolute URLs, for the feeds."""
    return env.get_template("feed_entry.html").render(_context(rendered, config)).strip()


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
