"""The rendered issue, as the templates see it: every body rendered once, grouped by section
(:class:`RenderedIssue`), and the values every page's template is given (:func:`context`).

The email and the web edition show each body through their post-pass
(:mod:`pipeline.email_html`: images sized, code that wraps, aligned cells), given what
:func:`pipeline.images.survey` found of the issue's images.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

from markupsafe import Markup

from . import __version__
from .config import Config
from .email_html import LAYOUT, email_body, web_body
from .images import NO_IMAGES, Images
from .markup import Body
from .model import Issue, Piece

#: Where each subscriber's signed unsubscribe URL goes, in the built email files. A send
#: renders the email again with a marker of its own instead (:func:`unsubscribe_marker`), so a
#: piece that contains this text is delivered with it as written.
UNSUBSCRIBE_PLACEHOLDER = "%%unsubscribe_url%%"


def unsubscribe_marker() -> str:
    """A marker for the unsubscribe URL that no author can write: new and random per send."""
    return f"%%unsubscribe-{secrets.token_hex(16)}%%"


PREHEADER_LENGTH = 150


@dataclass(frozen=True)
class RenderedPiece:
    piece: Piece
    body: Body
    #: In the email only: the title, byline and summary with a link to the web edition
    #: instead of the whole piece (:func:`pipeline.edition.email_edition`).
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


@dataclass
class Shown:
    """What several renderings of one issue's email share, made once (by the identity of
    the body or piece): each body as the email shows it, and each piece's feedback link."""

    bodies: dict[int, Markup] = field(default_factory=dict)
    feedback: dict[int, str | None] = field(default_factory=dict)


def context(rendered: RenderedIssue, config: Config, images: Images = NO_IMAGES,
            unsubscribe_url: str = UNSUBSCRIBE_PLACEHOLDER,
            shown: Shown | None = None) -> dict[str, Any]:
    """The values the issue's templates (the emails, the web edition, the feed entry) get."""
    issue = rendered.issue
    contributors = issue.contributors()
    made = Shown() if shown is None else shown

    def in_email(body: Body) -> Markup:
        if id(body) not in made.bodies:
            made.bodies[id(body)] = Markup(email_body(body.html_absolute, rendered.url, images))
        return made.bodies[id(body)]

    def feedback(piece: Piece) -> str | None:
        if id(piece) not in made.feedback:
            made.feedback[id(piece)] = feedback_url(issue, piece, config)
        return made.feedback[id(piece)]

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
        "feedback": feedback,
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
