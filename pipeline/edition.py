"""The email edition: the HTML email with its CSS inlined (css-inline, keeping the ``@media``
rules for dark mode and narrow screens in a ``<style>`` block) and the plain-text email, with
as many pieces in full as the size budget allows and the rest as teasers.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import lru_cache

import css_inline
import jinja2

from .config import Config
from .images import NO_IMAGES, Images
from .rendered import UNSUBSCRIBE_PLACEHOLDER, RenderedIssue, Section, Shown, context

#: One inliner for every email: it keeps nothing of one document for the next.
_INLINER = css_inline.CSSInliner(keep_at_rules=True, load_remote_stylesheets=False,
                                 preallocate_node_capacity=4096)  # an email has thousands


def email_html(rendered: RenderedIssue, config: Config, env: jinja2.Environment,
               images: Images = NO_IMAGES,
               unsubscribe_url: str = UNSUBSCRIBE_PLACEHOLDER,
               shown: Shown | None = None) -> str:
    """The HTML email with its CSS inlined (``@media`` rules kept in a style block), its
    images as ``images`` says, ``unsubscribe_url`` where each reader's link goes. ``shown``
    keeps each body as the email shows it, for several renderings of one issue."""
    html = env.get_template("email.html").render(context(rendered, config, images,
                                                         unsubscribe_url, shown))
    return str(_INLINER.inline(html))


def email_text(rendered: RenderedIssue, config: Config, env: jinja2.Environment,
               unsubscribe_url: str = UNSUBSCRIBE_PLACEHOLDER) -> str:
    """The plain-text email."""
    text = env.get_template("email.txt").render(
        context(rendered, config, unsubscribe_url=unsubscribe_url))
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
    return len(html.encode("utf-8")) + html.count("\n") + html.count(marker) * (
        _longest_link_bytes(config.delivery.unsubscribe_url) - len(marker))


@lru_cache(maxsize=8)
def _longest_link_bytes(endpoint: str) -> int:
    """The bytes of the longest unsubscribe link of ``endpoint`` (its length depends only on
    the endpoint: a signed token is made once, not for every email measured)."""
    from .tokens import longest_unsubscribe_link  # itsdangerous, only when an email is sized

    return len(longest_unsubscribe_link(endpoint).encode("ascii"))


def with_teasers(rendered: RenderedIssue, anchors: set[str]) -> RenderedIssue:
    """The issue with the pieces named by ``anchors`` as teasers."""
    sections = tuple(Section(s.name, tuple(replace(p, teaser=p.anchor in anchors)
                                           for p in s.pieces)) for s in rendered.sections)
    return replace(rendered, sections=sections)


def most_in_full(weights: list[int], over: int, budget: int,
                 size_with: Callable[[int], int]) -> int:
    """The largest ``k`` < ``len(weights)`` whose email, with the first ``k`` pieces in full
    and the rest teasers, is within ``budget`` (``size_with(k)``, which grows with ``k``;
    ``over`` is its size with every piece in full, over the budget), or 0 when none is.

    The answer a bisection gives, from fewer renderings: the first guesses are where the two
    nearest sizes known, shared out by the pieces' ``weights``, say the budget is crossed
    (the sizes grow with the pieces' bodies, almost in proportion); then it bisects."""
    before = [0]
    for weight in weights:
        before.append(before[-1] + weight)
    sizes = {len(weights): over, 0: size_with(0)}
    if sizes[0] > budget:
        return 0
    low, high = 0, len(weights)  # sizes[low] <= budget < sizes[high]
    guesses = 2
    while high - low > 1:
        guess = (low + high) // 2
        if guesses:
            guesses -= 1
            rate = (sizes[high] - sizes[low]) / max(before[high] - before[low], 1)
            guess = max((k for k in range(low + 1, high)
                         if sizes[low] + rate * (before[k] - before[low]) <= budget),
                        default=low + 1)
        sizes[guess] = size_with(guess)
        if sizes[guess] <= budget:
            low = guess
        else:
            high = guess
    return low


def email_edition(rendered: RenderedIssue, config: Config, env: jinja2.Environment,
                  images: Images = NO_IMAGES,
                  unsubscribe_url: str = UNSUBSCRIBE_PLACEHOLDER) -> EmailEdition:
    """The email within ``email.size_budget_kb`` where it can be.

    Pieces that say ``email: teaser`` are always teasers. When the email is over the budget
    and ``email.overflow`` is ``teasers``, the letter and the pieces keep their place in full
    while they fit, in page order, and the rest become teasers (a piece that says ``email:
    full`` never does); the largest such prefix is found by :func:`most_in_full`, so a few
    renderings decide it. What does not fit even so is returned over the budget: the caller
    reports it.
    """
    budget = config.size_budget_kb * 1024
    pieces = rendered.pieces
    forced = {p.anchor for p in pieces if p.piece.email == "teaser"}
    auto = [p.anchor for p in pieces if p.piece.email is None]

    shown = Shown()  # the bodies' email HTML and the feedback links, made once for all
    made_with: dict[int, tuple[str, int]] = {}  # each attempt by its number of full pieces

    def attempt(full: int) -> tuple[str, int]:
        if full not in made_with:
            html = email_html(with_teasers(rendered, forced | set(auto[full:])), config, env,
                              images, unsubscribe_url, shown)
            made_with[full] = html, sent_size(html, config, unsubscribe_url)
        return made_with[full]

    everything = email_html(rendered, config, env, images, unsubscribe_url, shown)
    full_size = sent_size(everything, config, unsubscribe_url)
    html, size = (everything, full_size) if not forced else attempt(len(auto))
    kept = len(auto)
    if size > budget and config.email_overflow == "teasers" and auto:
        # What each piece in full weighs in the email: its body as the email shows it.
        by_anchor = {p.anchor: p for p in pieces}
        weights = [len(shown.bodies.get(id(by_anchor[a].body), "")) + 1 for a in auto]
        kept = most_in_full(weights, size, budget, lambda full: attempt(full)[1])
        html, size = attempt(kept)
    chosen = set(auto[kept:])
    teasers = tuple(p.anchor for p in pieces if p.anchor in forced | chosen)
    text = email_text(with_teasers(rendered, set(teasers)), config, env, unsubscribe_url)
    return EmailEdition(html, text, size, full_size, teasers,
                        tuple(a for a in teasers if a in chosen))
