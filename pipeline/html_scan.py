"""A fast reader for serialised HTML, for the parsers of the bodies' post-passes.

The plain text (:mod:`pipeline.plaintext`), the images a body shows (:mod:`pipeline.images`)
and the email's and web edition's forms of a body (:mod:`pipeline.email_html`) each read a
body's sanitised HTML with a subclass of the standard library's :class:`HTMLParser`. Its
tokenizer is written in Python and was most of the cost of those passes. But what they read
is nh3's serialisation, which is regular: lower-case tags, every attribute ``name="value"``,
every ``&`` the start of a reference, no ``<`` but the tags', no comment or doctype. Such HTML
is read here with one regular expression, and the parser's handlers are called with exactly
the arguments its own tokenizer would give them (:func:`feed`); anything else (the engines'
raw HTML that ``newsletter check`` reads, a hand-made fragment) goes through
:class:`HTMLParser` as before.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache
from html import unescape
from html.parser import HTMLParser

#: One tag as nh3 writes it: a start tag (``<br />`` too) or an end tag, lower case, each
#: attribute once, its value double-quoted.
_TAG = re.compile(r'<(?:([a-z][a-z0-9]*)((?: [a-z_:][-a-z0-9_:.]*="[^"]*")*)( /)?|'
                  r'/([a-z][a-z0-9]*))>')
_ATTRIBUTE = re.compile(r' ([^=]+)="([^"]*)"')
#: An ``&`` that does not start a reference HTMLParser reads the way it is written.
_LOOSE_AMPERSAND = re.compile(r"&(?!(?:[a-zA-Z][a-zA-Z0-9]*|#[0-9]+|#[xX][0-9a-fA-F]+);)")
_REFERENCE = re.compile(r"&(#?)([a-zA-Z0-9]+);")
#: Elements whose content HTMLParser reads as raw text: never taken on the fast path.
_RAW_TEXT = frozenset({"script", "style"})
#: HTML's void elements: a start tag and no end tag.
_VOID = frozenset({"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta",
                   "source", "track", "wbr"})

Attributes = list[tuple[str, str | None]]
#: A token: ``("text", raw, ...)``, ``("end", tag, ...)`` or ``("start", tag, attributes, raw,
#: whether it closes itself)``.
Token = tuple[str, str, Attributes, str, bool]
_NONE: Attributes = []


class Parser(HTMLParser):
    """An :class:`HTMLParser` that :func:`feed` can drive: its start tag's text is the one
    the fast path read, when it read it."""

    _fast_starttag: str | None = None

    def get_starttag_text(self) -> str | None:
        if self._fast_starttag is not None:
            return self._fast_starttag
        return super().get_starttag_text()


@lru_cache(maxsize=32)
def scan(html: str) -> tuple[Token, ...] | None:
    """The tokens of ``html`` when it is serialised as nh3 writes it, else None. Kept for
    the last bodies read (an issue's worth): a body's HTML is read for its plain text, then
    for the email."""
    if _LOOSE_AMPERSAND.search(html):
        return None
    tokens: list[Token] = []
    position = tags = 0
    for match in _TAG.finditer(html):
        tags += 1
        start = match.start()
        if start > position:
            tokens.append(("text", html[position:start], _NONE, "", False))
        position = match.end()
        tag = match[1]
        if tag is None:
            tokens.append(("end", match[4], _NONE, "", False))
            continue
        if tag in _RAW_TEXT:
            return None
        attrs: Attributes = [
            (name, unescape(value) if value else value)
            for name, value in _ATTRIBUTE.findall(match[2])] if match[2] else []
        tokens.append(("start", tag, attrs, match[0], match[3] is not None))
    if position < len(html):
        tokens.append(("text", html[position:], _NONE, "", False))
    # Every "<" must have started a tag: one left in text or in an attribute's value is
    # read by HTMLParser's own rules.
    if html.count("<") != tags:
        return None
    return tuple(tokens)


def feed(parser: Parser, html: str) -> None:
    """Give ``html`` to ``parser`` and close it: through :func:`scan` when it can read it
    (the same handlers called with the same arguments as :meth:`HTMLParser.feed` would),
    else through :meth:`HTMLParser.feed`."""
    tokens = scan(html)
    if tokens is None:
        parser.feed(html)
        parser.close()
        return
    convert = parser.convert_charrefs
    for kind, text, attrs, raw, closed in tokens:
        if kind == "text":
            if convert:
                parser.handle_data(unescape(text) if "&" in text else text)
            else:
                _references(parser, text)
        elif kind == "end":
            parser.handle_endtag(text)
        else:
            parser._fast_starttag = raw
            if closed:
                parser.handle_startendtag(text, attrs.copy())
            else:
                parser.handle_starttag(text, attrs.copy())
            parser._fast_starttag = None


def _references(parser: HTMLParser, raw: str) -> None:
    """Text as HTMLParser gives it without ``convert_charrefs``: the runs between
    references as data, each reference to its own handler."""
    position = 0
    for match in _REFERENCE.finditer(raw):
        if match.start() > position:
            parser.handle_data(raw[position:match.start()])
        if match[1]:
            parser.handle_charref(match[2])
        else:
            parser.handle_entityref(match[2])
        position = match.end()
    if position < len(raw):
        parser.handle_data(raw[position:])


def _attribute(value: str) -> str:
    """An attribute's value escaped as nh3 (html5ever) writes it."""
    return (value.replace("&", "&amp;").replace('"', "&quot;").replace("\u00a0", "&nbsp;")
            .replace("<", "&lt;").replace(">", "&gt;"))


def rewrite(html: str, change: Callable[[str, str, str], str | None]) -> str | None:
    """``html`` with each attribute's value as ``change(tag, name, value)`` gives it (None
    leaves the attribute out), written as nh3 writes it, when ``html`` is nh3's own
    serialisation (every element closed, in order); else None (then nh3 must do it, with
    ``change`` as its attribute filter). nh3 writes HTML that its parser reads back as the
    same tree (a link in a link, which it can write, is left to nh3), so cleaning its output
    again changes nothing but what the filter changes, and both give the same bytes; this
    reads the tags with one regular expression instead of parsing. Not for HTML changed
    since nh3 wrote it: a parser may read that as another tree."""
    if _LOOSE_AMPERSAND.search(html):
        return None
    # Read it all before changing anything: ``change`` may record what it sees.
    open_tags: list[str] = []
    with_attributes = []
    tags = 0
    for match in _TAG.finditer(html):
        tags += 1
        tag = match[1]
        if tag is None:  # nh3 closes every element in order: else it would nest it anew
            if not open_tags or open_tags.pop() != match[4]:
                return None
            continue
        if tag in _RAW_TEXT or (tag == "a" and "a" in open_tags):
            return None  # a link in a link: a parser reading it again closes the first
        if tag not in _VOID and match[3] is None:
            open_tags.append(tag)
        if match[2]:
            with_attributes.append(match)
    if html.count("<") != tags or open_tags:
        return None
    parts: list[str] = []
    position = 0
    for match in with_attributes:
        parts.append(html[position:match.start(2)])
        for attribute in _ATTRIBUTE.finditer(match[2]):
            name, raw = attribute[1], attribute[2]
            value = unescape(raw) if "&" in raw else raw
            new = change(match[1], name, value)
            if new == value:
                parts.append(attribute[0])
            elif new is not None:
                parts.append(f' {name}="{_attribute(new)}"')
        position = match.end(2)
    parts.append(html[position:])
    return "".join(parts)
