"""Slugs: a piece's anchor from its file name, and a heading's id the way GitHub makes it.

A piece's slug is plain ASCII (it is also a folder-safe permalink). A heading's id follows
GitHub's rules, so an in-page link an author wrote against GitHub's preview lands here too:
the heading's text in lower case; every character that is not a letter, a mark, a digit, a
connector (``_``), a hyphen or a space dropped (punctuation, symbols, emoji); each space a
hyphen; a repeated id gets ``-1``, ``-2``, ... in order.
"""

from __future__ import annotations

import re
import unicodedata

_SLUG_STRIP = re.compile(r"[^a-z0-9]+")


def slugify(text: str) -> str:
    """A lowercase ASCII slug: ``Consent is not a checkbox`` -> ``consent-is-not-a-checkbox``."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return _SLUG_STRIP.sub("-", ascii_text.lower()).strip("-") or "piece"


def _kept(char: str) -> bool:
    return char in "- " or unicodedata.category(char)[0] in "LMN" or \
        unicodedata.category(char) == "Pc"


#: The ASCII characters :func:`_kept` drops: all but letters, digits, ``_``, ``-`` and space.
_ASCII_DROPPED = re.compile(r"[^a-z0-9_\- ]")


def github_slug(text: str) -> str:
    """``Café & Co 🎉`` -> ``café--co-``: GitHub's id for a heading with that text."""
    lower = text.lower()
    if lower.isascii():  # the same characters kept, without asking unicodedata of each
        return _ASCII_DROPPED.sub("", lower).replace(" ", "-")
    return "".join(c for c in lower if _kept(c)).replace(" ", "-")


class Slugger:
    """GitHub's ids for the headings of one document, each new one unique."""

    def __init__(self, taken: set[str] | None = None) -> None:
        self.seen: set[str] = set(taken or ())

    def slug(self, text: str) -> str:
        base = github_slug(text)
        made, count = base, 0
        while made in self.seen:
            count += 1
            made = f"{base}-{count}"
        self.seen.add(made)
        return made
