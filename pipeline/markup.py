"""Markdown to safe HTML: an engine for the syntax (:mod:`pipeline.engines`), then one shared
pass that does not know which engine ran.

The shared pass, in order (:func:`draft`, then :func:`render`):

1. sanitise with nh3 (Ammonia): scripts, event handlers, iframes, styles and ``javascript:``
   URLs never survive;
2. shift the headings so a piece's highest heading sits below its title (level 4), and give
   each heading without an id GitHub's id for its text (:mod:`pipeline.slugs`), so in-page
   links written against GitHub's preview land;
3. resolve links: ids are prefixed with the piece's slug so many pieces can share a page; an
   in-page link lands on a heading of its own piece, else on a heading or piece of the same
   issue (the issue's anchors are in the :class:`Context`); a link to ``other-piece.md`` (or
   ``other-piece.md#heading``) becomes that piece's anchor; other relative links are resolved
   against the issue folder and the files they name are collected for copying. Every link
   that lands nowhere is a problem at its line;
4. a second, cheap pass makes every relative URL absolute for the email and the feeds.
"""

from __future__ import annotations

import html as html_mod
import posixpath
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property, lru_cache
from pathlib import Path
from urllib.parse import quote, unquote, urljoin, urlsplit

import nh3

from . import plaintext, safe_files
from .engines import DEFAULT, MarkdownOptions, convert
from .errors import Problems, did_you_mean
from .slugs import Slugger, slugify

TOP_HEADING = 4
URL_SCHEMES = {"http", "https", "mailto"}
ALLOWED_TAGS = (nh3.ALLOWED_TAGS - {"center", "map", "area"}) | {"figure", "figcaption"}
ALLOWED_ATTRIBUTES = {
    "*": {"id", "lang", "dir", "title"},
    "a": {"href", "hreflang", "aria-label"},
    "img": {"src", "alt", "width", "height"},
    "th": {"align", "colspan", "rowspan", "scope"},
    "td": {"align", "colspan", "rowspan"},
    "ol": {"start", "reversed"},
    "blockquote": {"cite"},
    "abbr": set(),
    "time": {"datetime"},
}
ALLOWED_CLASSES = {
    "div": {"footnote", "admonition", "note", "tip", "warning", "danger", "important"},
    "p": {"admonition-title"},
    "a": {"footnote-ref", "footnote-backref"},
    "sup": {"footnote-ref"},
}

#: Where each body of an issue page lives and the ids in it: ``((slug, (id, ...)), ...)``,
#: the letter (``_letter``) and the pieces in page order.
Anchors = tuple[tuple[str, tuple[str, ...]], ...]


@dataclass(frozen=True)
class Body:
    """A piece's body in every form the outputs need (the plain text made when first asked)."""

    html: str  # for the web edition: URLs relative to the issue page
    html_absolute: str  # for the email and the feeds: every URL absolute
    assets: tuple[Path, ...]  # files of the issue folder that the body uses
    #: What the file system said about each local link (path -> :func:`probe`): a cached
    #: body is used again only while every answer is still the same.
    probes: tuple[tuple[str, str], ...] = ()
    #: What the anchors of the issue page answered about each in-page link that does not
    #: land in the body itself (:func:`ask`): a cached body is used again only while every
    #: answer is still the same.
    lookups: tuple[tuple[str, str], ...] = ()

    @classmethod
    def with_text(cls, html: str, html_absolute: str, assets: tuple[Path, ...],
                  probes: tuple[tuple[str, str], ...], lookups: tuple[tuple[str, str], ...],
                  text: str, links: tuple[str, ...]) -> Body:
        """A body whose plain text is already known (read back from the cache)."""
        body = cls(html, html_absolute, assets, probes, lookups)
        body.__dict__["_plain"] = (text, links)  # what the cached_property would store
        return body

    @cached_property
    def _plain(self) -> tuple[str, tuple[str, ...]]:
        return plaintext.to_text(self.html_absolute)

    @property
    def text(self) -> str:
        """The plain-text edition, with ``[n]`` link references."""
        return self._plain[0]

    @property
    def links(self) -> tuple[str, ...]:
        """The URLs of the ``[n]`` references, in order."""
        return self._plain[1]


@dataclass(frozen=True)
class Context:
    """Where a body lives: its issue folder, its issue page URL, its anchor, the engine that
    renders it, and (when known) the anchors of every body on the same page."""

    issue_dir: Path
    issue_url: str
    slug: str
    path: Path
    first_line: int
    markdown: MarkdownOptions = DEFAULT
    anchors: Anchors | None = None  # None: the issue is unknown, links to it are not checked
    #: The bodies among ``anchors`` that are drafts (on a preview's page, not on the issue's).
    drafts: frozenset[str] = frozenset()


def to_html(source: str, options: MarkdownOptions | None = None) -> str:
    """Markdown to (not yet sanitised) HTML with the chosen engine (GFM by default)."""
    return convert(source, options or DEFAULT)


@dataclass(frozen=True)
class Draft:
    """A body's sanitised HTML with its headings shifted and given ids, before its links are
    resolved: what the issue needs of every body to know where an in-page link lands."""

    html: str
    ids: tuple[str, ...]  # every id in the body, as written (not yet prefixed)
    empty_links: tuple[str, ...] = ()  # hrefs of links left without text (a link in a link)
    too_deep: str = ""  # why the body could not be rendered, when it could not


def _clean(html: str,
           attribute_filter: Callable[[str, str, str], str | None] | None = None) -> str:
    cleaned: str = nh3.clean(html, tags=ALLOWED_TAGS, attributes=ALLOWED_ATTRIBUTES,
                             allowed_classes=ALLOWED_CLASSES, url_schemes=URL_SCHEMES,
                             link_rel=None, attribute_filter=attribute_filter)
    return cleaned


@lru_cache(maxsize=256)
def draft(source: str, options: MarkdownOptions = DEFAULT) -> Draft:
    """Steps 1 and 2 of the shared pass (kept for the few bodies an issue renders twice: once
    for its anchors, once for its page)."""
    try:
        raw = convert(source, options)
        html = _clean(raw).strip("\n")
    except RecursionError:
        return Draft("", (), too_deep="the Markdown is nested too deeply to render; flatten "
                     "the nested lists, quotes or emphasis")
    if _depth(html) > MAX_DEPTH:
        return Draft("", (), too_deep=f"the text is nested more than {MAX_DEPTH} levels deep "
                     "(lists, quotes or HTML); flatten it")
    empty: list[str] = []
    if _nested_links(raw):
        # A link inside a link (raw HTML) comes out of the parser as an empty link before
        # the inner one: nothing to click, and a screen reader reads out its address.
        def drop_empty(match: re.Match[str]) -> str:
            href = _HREF.search(match[1])
            if href is None:
                return match[0]
            empty.append(html_mod.unescape(href[1]))
            return ""

        html = _EMPTY_LINK.sub(drop_empty, html)
    html, ids = _headings(html)
    return Draft(html, ids, tuple(empty))


def anchors(source: str, options: MarkdownOptions = DEFAULT) -> tuple[str, ...]:
    """The ids of a body (its headings' and notes'), as in-page links name them."""
    return draft(source, options).ids


_HEADING = re.compile(r"<h([1-6])((?:\s[^>]*)?)>(.*?)</h\1>", re.S)
_ID = re.compile(r'\sid="([^"]*)"')
_HREF = re.compile(r'\shref="([^"]*)"')
_ANY_TAG = re.compile(r"<[^>]*>")
_EMPTY_LINK = re.compile(r"<a\b([^>]*)>(?:\s|<br>)*</a>")


_A_TAG = re.compile(r"<(/?)a\b", re.I)


def _nested_links(html: str) -> bool:
    """Whether the engine's HTML opens a link inside another (only raw HTML can)."""
    depth = 0
    for match in _A_TAG.finditer(html):
        depth = max(depth - 1, 0) if match[1] else depth + 1
        if depth > 1:
            return True
    return False


def _headings(html: str) -> tuple[str, tuple[str, ...]]:
    """Shift the headings of nh3's (well-formed, double-quoted) output to start at
    :data:`TOP_HEADING` and give each one without an id GitHub's id for its text."""
    levels = [int(m[1]) for m in _HEADING.finditer(html)]
    shift = TOP_HEADING - min(levels) if levels else 0
    explicit = [html_mod.unescape(v) for v in _ID.findall(html)]
    slugger = Slugger(set(explicit))
    made: list[str] = []

    def heading(match: re.Match[str]) -> str:
        level = min(max(int(match[1]) + shift, 1), 6)
        attrs = match[2]
        if not _ID.search(attrs):
            text = html_mod.unescape(_ANY_TAG.sub("", match[3])).strip()
            slug = slugger.slug(text) if text else ""
            if slug:
                made.append(slug)
                attrs = f' id="{html_mod.escape(slug)}"{attrs}'
        return f"<h{level}{attrs}>{match[3]}</h{level}>"

    html = _HEADING.sub(heading, html)
    return html, tuple(dict.fromkeys([*explicit, *made]))


def render(source: str, ctx: Context, problems: Problems) -> Body:
    """Render one body's Markdown to a :class:`Body`, recording problems with their lines."""
    made = draft(source, ctx.markdown)
    if made.too_deep:
        problems.error(ctx.path, ctx.first_line, made.too_deep, rule="too-deep")
    links = _Links(source, ctx, made.ids)
    html = _clean(made.html, attribute_filter=links.resolve)

    def absolute(tag: str, attr: str, value: str) -> str | None:
        # Every URL absolute, anchors too: email clients and feed readers do not resolve
        # "#note" against the issue, so it points at the web edition.
        if attr not in ("href", "src"):
            return value
        return urljoin(ctx.issue_url, value)

    html_absolute = _clean(html, attribute_filter=absolute)
    _check_images(html, source, ctx, problems)
    for href in made.empty_links:
        problems.warning(ctx.path, links.line(href), f"the link to '{href}' has no text (a "
                         "link inside another link?), so it is left out; give each link its "
                         "own text", rule="empty-link")
    links.report(problems)
    return Body(html, html_absolute, tuple(links.assets), tuple(sorted(links.probes.items())),
                tuple(sorted(links.lookups.items())))


class _Links:
    """Resolves the links and ids of one body (nh3's attribute filter) and keeps what it
    finds wrong, to report at the lines of the source."""

    def __init__(self, source: str, ctx: Context, ids: tuple[str, ...]) -> None:
        self.source, self.ctx = source, ctx
        self.own = set(ids)
        #: The questions asked of the issue's anchors, and their answers (:func:`ask`).
        self.lookups: dict[str, str] = {}
        self.assets: dict[Path, None] = {}
        self.probes: dict[str, str] = {}
        self.found: list[tuple[str, str, str, str]] = []  # (level, rule, needle, message)

    def resolve(self, tag: str, attr: str, value: str) -> str | None:
        # nh3 swallows exceptions raised here, so none may escape: each becomes an error.
        try:
            return self._resolve(tag, attr, value)
        except Exception as exc:
            self._add("error", "broken-link", value, f"'{value}' cannot be used: {exc}")
            return None

    def _add(self, level: str, rule: str, needle: str, message: str) -> None:
        self.found.append((level, rule, needle, message))

    def line(self, value: str) -> int:
        """The line of the source that writes the link ``value`` (else the body's first)."""
        for needle in (f"]({value}", f'"{value}"', f"'{value}'", value):
            for index, text in enumerate(self.source.split("\n")):
                if needle and needle in text:
                    return self.ctx.first_line + index
        return self.ctx.first_line

    def report(self, problems: Problems) -> None:
        for level, rule, needle, message in self.found:
            at = self.ctx.first_line if rule == "broken-link" else self.line(needle)
            if level == "error":
                problems.error(self.ctx.path, at, message, rule=rule)
            else:
                problems.warning(self.ctx.path, at, message, rule=rule)

    def _resolve(self, tag: str, attr: str, value: str) -> str | None:
        ctx = self.ctx
        if attr == "id":
            return f"{ctx.slug}--{value}"  # "--" never occurs in a piece's own anchor
        if attr not in ("href", "src"):
            return value
        parts = urlsplit(value)
        if parts.scheme or parts.netloc:
            if tag == "img":
                self._add("warning", "remote-image", value,
                          f"the image '{value}' is loaded from another site when the email is "
                          "opened, which can tell that site who read it; put the image in the "
                          "issue folder instead")
            return value
        if not parts.path:
            if parts.fragment:
                return self._in_page(unquote(parts.fragment), value)
            if value.strip() == "#":
                return "#"  # the top of the page, as on GitHub
            if not value.strip() and tag == "a":
                self._add("error", "empty-target", "]()", "a link with no target (']()'): "
                          "write the address between the parentheses, [text](https://...), "
                          "or remove the link")
            return None
        decoded = unquote(parts.path)
        if _SCHEME_LIKE.match(decoded) or _CONTROL.search(decoded):
            self._add("error", "unsafe-link", value,
                      f"the link '{value}' hides a URL scheme or control characters behind "
                      "percent-encoding; write the full https:// URL or a plain file name")
            return None
        target = posixpath.normpath(decoded)
        if target.startswith("/"):
            return value  # a site-absolute link: left for the browser to resolve
        path = ctx.issue_dir / target
        state = self.probes.setdefault(str(path), probe(path))
        if target.endswith(".md"):
            return self._piece_link(target, state, parts.fragment, value)
        kind, _, resolved = state.partition(" ")
        local = Path(resolved) if resolved else ctx.issue_dir
        if kind == "missing":
            self._missing(value, target)
        elif kind == "dir":
            self._add("error", "broken-link", value, f"'{value}' is a folder, not a file")
        elif not local.is_relative_to(ctx.issue_dir.parent.resolve()):
            self._add("error", "broken-link", value,
                      f"'{value}' is outside the issues folder, so it is not published")
        elif local.is_relative_to(ctx.issue_dir.resolve()):
            why = safe_files.refusal(local)
            if why is None:
                self.assets[local] = None
            else:
                self._add("error", "unsafe-file", value, f"'{value}' {why}")
        return quote(target) + (f"#{parts.fragment}" if parts.fragment else "")

    def _missing(self, value: str, target: str) -> None:
        hint = "check the name, or put the file there"
        suffix = target.split("/")[0].rsplit(".", 1)[-1].lower()
        if _HOST_LIKE.match(target) and ("/" in target or suffix not in _FILE_TYPES):
            hint = f"did you mean https://{target}? A link without https:// is a file"
        self._add("error", "missing-file", value,
                  f"'{value}' is not a file in the issue folder {self.ctx.issue_dir.name}/; "
                  f"{hint}")

    def _ask(self, question: str) -> str:
        """What the issue's anchors answer to ``question`` (:func:`ask`), kept with the body:
        a cached body is used again only while every answer is the same."""
        assert self.ctx.anchors is not None
        answer = ask(self.ctx.anchors, self.ctx.slug, question, self.ctx.drafts)
        self.lookups[question] = answer
        return answer

    def _piece_link(self, target: str, state: str, fragment: str, value: str) -> str:
        """A link to another piece: ``other-piece.md`` or ``other-piece.md#heading``."""
        anchor = slugify(posixpath.basename(target)[:-3])
        folder = posixpath.dirname(target)
        if folder not in ("", "."):  # a piece of another issue: its page there
            if not state.startswith("file "):
                self._missing(value, target)
            return f"{quote(folder)}/#{anchor}" + (f"--{fragment}" if fragment else "")
        if not state.startswith("file "):
            self._missing(value, target)
            return f"#{anchor}"
        if self.ctx.anchors is None:
            return f"#{anchor}--{fragment}" if fragment else f"#{anchor}"
        if anchor == self.ctx.slug:
            if not fragment:
                return f"#{anchor}"
            return self._in_page(unquote(fragment), value)
        question = f"{anchor}.md" + (f"#{unquote(fragment)}" if fragment else "")
        answer = self._ask(question)
        if answer in ("not-a-piece", "draft"):
            self._add("error", "not-a-piece", value,
                      f"'{target}' is not a piece of this issue (a draft, or a file that is "
                      "left out), so the link would land nowhere once it is published; link a "
                      "published piece, or make that one ready")
            return f"#{anchor}"
        if not fragment:
            return f"#{anchor}"
        if answer == "heading":
            return f"#{anchor}--{unquote(fragment)}"
        self._dangling(value, answer, f"{anchor}.md")
        return f"#{anchor}"

    def _in_page(self, fragment: str, value: str) -> str:
        """Where the in-page link ``value`` lands: a heading of its own piece, else a heading
        of another piece of the issue, else a piece itself."""
        ctx = self.ctx
        if fragment in self.own or ctx.anchors is None:
            return f"#{ctx.slug}--{fragment}"
        answer = self._ask(f"#{fragment}")
        kind, _, rest = answer.partition(" ")
        if kind == "piece":
            return f"#{fragment}"
        if kind == "draft":
            self._add("error", "not-a-piece", value,
                      f"the link '{value}' lands on {rest}.md, a draft, so it would land "
                      "nowhere once the issue is published; link a published piece, or make "
                      "that one ready")
            return f"#{rest}" if rest == fragment else f"#{rest}--{fragment}"
        if kind == "heading":
            holders = rest.split()
            if len(holders) > 1:
                self._add("warning", "ambiguous-anchor", value,
                          f"the link '{value}' could land on a heading of "
                          f"{' or of '.join(f'{h}.md' for h in holders)}; it goes to the "
                          f"first; write {holders[0]}.md{value} to say which")
            return f"#{holders[0]}--{fragment}"
        close = did_you_mean(fragment, sorted(self.own)) or answer
        self._dangling(value, close, "this piece or the issue")
        return f"#{ctx.slug}--{fragment}"

    def _dangling(self, value: str, hint: str, where: str) -> None:
        self._add("warning", "dangling-anchor", value,
                  f"the link '{value}' lands on no heading of {where}{hint}; link a heading "
                  "by its id as GitHub makes it (lower case, punctuation dropped, spaces as "
                  "hyphens)")


def ask(anchors: Anchors, slug: str, question: str,
        drafts: frozenset[str] = frozenset()) -> str:
    """What the anchors of an issue page answer to a body's question about them:

    ``#id`` (asked by the body ``slug`` when it has no such id itself) -> ``heading A B``
    (the other bodies that have it, in page order), ``piece`` (``id`` is a piece), ``draft
    A`` (only the draft ``A`` has it, or is it, while the asking body is not a draft), or the
    close match to suggest (``" — did you mean 'x'?"``, or "");
    ``other.md`` -> ``piece``, ``draft`` or ``not-a-piece``; ``other.md#id`` -> ``heading``,
    ``draft``, ``not-a-piece`` or the close match among that piece's ids."""
    pieces = dict(anchors)
    # A draft is on a preview's page only: a piece that will be published cannot rely on it.
    hidden = drafts - {slug} if slug not in drafts else frozenset()
    target, hash_, fragment = question.partition("#")
    if target:
        other = target[:-3]
        if other not in pieces:
            return "not-a-piece"
        if other in hidden:
            return "draft"
        if not hash_:
            return "piece"
        ids = pieces[other]
        return "heading" if fragment in ids else did_you_mean(fragment, _linkable(ids))
    holders = [name for name, ids in anchors if name != slug and fragment in ids]
    shown = [name for name in holders if name not in hidden]
    if shown:
        return "heading " + " ".join(shown)
    if holders:
        return f"draft {holders[0]}"
    if fragment in pieces:
        return f"draft {fragment}" if fragment in hidden else "piece"
    every = {i for name, ids in anchors if name != slug for i in _linkable(ids)} | set(pieces)
    return did_you_mean(fragment, sorted(every))


def _linkable(ids: tuple[str, ...]) -> list[str]:
    """The ids worth suggesting: not a note's (``fn-1``, ``fnref:2``)."""
    return [i for i in ids if not re.match(r"fn(ref)?[-:]", i)]


_HOST_LIKE = re.compile(r"^(www\.)?[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}(/.*)?$")
_FILE_TYPES = {"md", "png", "jpg", "jpeg", "gif", "svg", "webp", "avif", "pdf", "txt", "csv",
               "html", "htm", "json", "xml", "zip", "mp3", "mp4", "webm", "ics", "tsv", "odt",
               "ods", "docx", "xlsx", "pptx", "epub", "js", "css", "py"}


MAX_DEPTH = 100
_SCHEME_LIKE = re.compile(r"^\s*[A-Za-z][A-Za-z0-9+.\-]*\s*:")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_TAG = re.compile(r"<(/?)([a-zA-Z][a-zA-Z0-9]*)[^>]*?(/?)>")


def _depth(html: str) -> int:
    """How deeply the elements of nh3's (well-formed) output nest."""
    depth = deepest = 0
    for match in _TAG.finditer(html):
        if match[2].lower() in plaintext.VOID or match[3]:
            continue
        depth += -1 if match[1] else 1
        deepest = max(deepest, depth)
    return deepest


def probe(path: Path) -> str:
    """What a local link finds: ``file|dir|other|missing`` and the path it resolves to.

    The rendering of a body depends on the file system only through these answers, so the
    cache keeps them with the body and compares them again before using it.
    """
    try:
        local = path.resolve()
        if not local.exists():
            return "missing "
        kind = "file" if local.is_file() else "dir" if local.is_dir() else "other"
    except (OSError, ValueError, RuntimeError):  # RuntimeError: a symlink loop
        return "missing "
    return f"{kind}{safe_files.fingerprint(local) if kind == 'file' else ''} {local}"


_IMG = re.compile(r"<img\b([^>]*)>")
_ATTR = re.compile(r'\b(src|alt)="([^"]*)"')


def _check_images(html: str, source: str, ctx: Context, problems: Problems) -> None:
    # ``html`` is nh3's serialisation: every attribute value is double-quoted and escaped.
    for img in _IMG.finditer(html):
        attrs = dict(_ATTR.findall(img[1]))
        if not attrs.get("alt", "").strip():
            src = html_mod.unescape(attrs.get("src", ""))
            problems.warning(ctx.path, _line_of(src, source, ctx.first_line),
                             f"image '{src}' has no alt text; describe it for readers who "
                             "cannot see it: ![what the image shows](path)", rule="image-alt")


def _line_of(needle: str, source: str, first_line: int) -> int:
    """The file line of the first source line mentioning ``needle`` (else the body's start)."""
    for index, line in enumerate(source.split("\n")):
        if needle and needle in line:
            return first_line + index
    return first_line
