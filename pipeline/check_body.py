"""The editorial rules of ``newsletter check`` on one body (a piece, or the editor's letter):
alt text, heading levels, link text, links to the author's own machine, and raw HTML that the
sanitiser removes. Each finding is located in the source Markdown: :class:`Source` finds the
n-th image, link or heading of the HTML at the n-th one of the source.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from urllib.parse import unquote, urlsplit

from . import plaintext
from .engines import MarkdownOptions
from .errors import plural
from .markup import ALLOWED_ATTRIBUTES, ALLOWED_CLASSES, ALLOWED_TAGS, URL_SCHEMES, to_html

USELESS_ALT = frozenset({
    "image", "picture", "photo", "photograph", "graphic", "chart", "img", "graph",
    "figure", "diagram", "screenshot", "icon", "logo", "illustration", "alt", "alt text",
})
BAD_LINK_TEXT = frozenset({
    "click here", "here", "read more", "link", "click", "more", "this", "this link",
    "click this link", "read more here", "learn more", "more here", "go", "go here",
    "see here", "click here to read more", "link here", "this page", "more info",
})
LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "0.0.0.0", "::1", "[::1]"})
URL_ATTRIBUTES = ("href", "src", "cite")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".gif", ".svg", ".webp", ".avif", ".bmp", ".tif",
                  ".tiff")


# --------------------------------------------------------------------------- sources


@dataclass
class Source:
    """The Markdown of a body, where it sits in its file, and a cursor per kind of thing
    being located (so the n-th image of the HTML is found at the n-th image of the source)."""

    path: Path
    first_line: int
    text: str
    lines: list[str] = field(init=False)
    code: frozenset[int] = field(init=False)  # indices of lines in fenced code blocks
    cursors: dict[str, tuple[int, int]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.lines = self.text.split("\n")
        self.code = frozenset(_fenced_lines(self.lines))

    def find(self, kind: str, needles: Sequence[str | re.Pattern[str]],
             fold: bool = False) -> tuple[int, int]:
        """The file line and 1-based column of the first needle (text or pattern) found after
        the cursor of ``kind`` (then from the start); the body's first line if none is."""
        cursor = self.cursors.get(kind, (0, 0))
        for start in (cursor, (0, 0)):
            for needle in needles:
                hit = self._search(needle, start, fold)
                if hit is not None:
                    self.cursors[kind] = (hit[0], hit[1] + 1)
                    return self.first_line + hit[0], hit[1] + 1
        return self.first_line + self.first_text, 1

    @property
    def first_text(self) -> int:
        """The index of the body's first line with text (0 when there is none)."""
        return next((i for i, line in enumerate(self.lines) if line.strip()), 0)

    def _search(self, needle: str | re.Pattern[str], start: tuple[int, int],
                fold: bool) -> tuple[int, int] | None:
        if not needle:
            return None
        if isinstance(needle, str) and fold:
            needle = needle.casefold()
        for index in range(start[0], len(self.lines)):
            if index in self.code:
                continue
            line = self.lines[index].casefold() if fold else self.lines[index]
            offset = start[1] if index == start[0] else 0
            if isinstance(needle, str):
                column = line.find(needle, offset)
            else:
                match = needle.search(line, offset)
                column = match.start() if match else -1
            if column >= 0:
                return index, column
        return None


def _fenced_lines(lines: list[str]) -> Iterator[int]:
    fence: str | None = None
    for index, line in enumerate(lines):
        match = re.match(r"^ {0,3}(`{3,}|~{3,})", line)
        if fence is None:
            if match:
                fence = match[1]
                yield index
        else:
            yield index
            if match and match[1][0] == fence[0] and len(match[1]) >= len(fence) and \
                    not line.strip()[len(match[1]):].strip():
                fence = None


Found = tuple[str, tuple[int, int], str]  # rule, (line, column), message


def body_findings(source: Source, html: str, markdown: MarkdownOptions | None = None
                  ) -> list[Found]:
    """The editorial rules on one body: its source Markdown and its sanitised HTML."""
    tree = plaintext.parse(html)
    raw = plaintext.parse(to_html(source.text, markdown))
    return [*_images(source, tree), *_headings(source, tree), *_links(source, tree),
            *_local_links(source, raw), *_raw_html(source, raw)]


def _walk(node: plaintext.Node) -> Iterator[plaintext.Node]:
    for child in node.children:
        if isinstance(child, plaintext.Node):
            yield child
            yield from _walk(child)


def _images(source: Source, tree: plaintext.Node) -> Iterator[Found]:
    for img in tree.iter("img"):
        alt = " ".join(img.attrs.get("alt", "").split())
        src = unquote(img.attrs.get("src", ""))
        if not alt:
            source.find("img", [f"]({src}", src, "![", "<img"])  # the build reports it
            continue
        where = source.find("img", [f"![{alt}]", f'alt="{alt}"', f"]({src}", src, "![",
                                    "<img"])
        reason = useless_alt(alt, src)
        if reason:
            yield ("image-alt", where, f"the alt text '{alt}' of the image '{src}' {reason}; "
                   "readers who cannot see the image get nothing from it")


def useless_alt(alt: str, src: str) -> str | None:
    """Why an alt text tells a reader nothing, or None when it may be fine."""
    words = re.sub(r"[^\w\s.-]", " ", alt.casefold()).split()
    bare = " ".join(w for w in words if w not in ("a", "an", "the", "of", "this"))
    name = PurePosixPath(urlsplit(src).path).name.casefold()
    stem = name.rsplit(".", 1)[0]
    spaced = re.sub(r"[-_]+", " ", stem)
    if len(alt) < 3:
        return "is too short to describe anything"
    if alt.casefold() in (name, stem, spaced) or alt.casefold().endswith(IMAGE_SUFFIXES):
        return "is a file name"
    if bare.strip(" .") in USELESS_ALT or not bare:
        return "only says that there is an image"
    return None


def _headings(source: Source, tree: plaintext.Node) -> Iterator[Found]:
    headings = [n for n in _walk(tree) if re.fullmatch(r"h[1-6]", n.tag)]
    candidates = _source_headings(source)
    previous, previous_text = 3, None  # the piece's title is a level-3 heading on the page
    for index, node in enumerate(headings):
        level = int(node.tag[1])
        text = " ".join(node.text().split())
        if level > previous + 1:
            if len(candidates) == len(headings):
                where = (source.first_line + candidates[index], 1)
            else:
                where = source.find("heading", [text])
                where = (where[0], 1)
            after = f"the heading before it, '{previous_text}'" if previous_text else \
                "the piece's title"
            skipped = level - previous - 1
            yield ("heading-jump", where,
                   f"the heading '{text}' skips {plural(skipped, 'level')} below {after}; "
                   f"make it {plural(skipped, 'level')} higher (remove {'#' * skipped})")
        previous, previous_text = level, text


def _source_headings(source: Source) -> list[int]:
    """Indices of the source lines that are Markdown headings (ATX or setext)."""
    found = []
    lines = source.lines
    for index, line in enumerate(lines):
        if index in source.code:
            continue
        atx = re.match(r"^ {0,3}#{1,6}(\s|$)", line)
        setext = (index + 1 < len(lines) and index + 1 not in source.code and line.strip()
                  and re.match(r"^ {0,3}(=+|-+)\s*$", lines[index + 1])
                  and not re.match(r"^ {0,3}([-*+]\s|\d+[.)]\s|>|#|\||<)", line))
        if atx or setext:
            found.append(index)
    return found


def _link_text(node: plaintext.Node) -> str:
    alts = " ".join(img.attrs.get("alt", "") for img in node.iter("img"))
    return " ".join(f"{node.text()} {alts}".split())


def _links(source: Source, tree: plaintext.Node) -> Iterator[Found]:
    for link in tree.iter("a"):
        classes = link.attrs.get("class", "").split()
        if "href" not in link.attrs or {"footnote-ref", "footnote-backref"} & set(classes):
            continue
        text = _link_text(link)
        href = link.attrs["href"]
        if not text:
            where = source.find("link", ["[](", "[ ](", "<a ", "<a>"])
            yield ("empty-link", where, f"the link to '{href}' has no text, so readers see "
                   "nothing to click and screen readers read out the address")
            continue
        where = source.find("link", [f"[{text}]", f">{text}<", text])
        normal = " ".join(re.sub(r"[^\w\s]", " ", text.casefold()).split())
        if normal in BAD_LINK_TEXT:
            yield ("link-text", where, f"the link text '{text}' does not say where the link "
                   "goes")


def is_local(url: str) -> str | None:
    """Why a URL only works on the author's machine or network, or None."""
    try:
        parts = urlsplit(url.strip())
        host = (parts.hostname or "").casefold().rstrip(".")
    except ValueError:
        return None
    if parts.scheme.casefold() == "file":
        return "is a file on your computer (a file: URL)"
    if not host:
        return None
    if host in LOCAL_HOSTS or host.startswith("127.") or host.endswith((".localhost",)):
        return f"points to {host}, which is the reader's own computer"
    if host.endswith(".local"):
        return f"points to {host}, a name that only works on a local network"
    return None


def _local_links(source: Source, raw: plaintext.Node) -> Iterator[Found]:
    for node in _walk(raw):
        for attr in URL_ATTRIBUTES:
            url = node.attrs.get(attr)
            if not url:
                continue
            reason = is_local(url)
            if reason:
                where = source.find("local", [url, unquote(url)])
                what = "image" if node.tag == "img" else "link"
                yield ("local-link", where, f"the {what} '{url}' {reason}; readers cannot "
                       "open it")


def _raw_html(source: Source, raw: plaintext.Node) -> Iterator[Found]:
    """What nh3, with the sanitiser's settings in markup.py, removes from the source's HTML."""
    for node in _walk(raw):
        tag = node.tag
        if tag not in ALLOWED_TAGS:
            where = source.find("raw", [re.compile(rf"<{re.escape(tag)}(?![\w:-])", re.I)])
            if tag in ("script", "style"):
                yield ("raw-html", where, f"<{tag}> will be removed, with everything inside it")
            else:
                yield ("raw-html", where, f"<{tag}> will be removed (the text inside it is "
                       "kept)")
            continue
        allowed = ALLOWED_ATTRIBUTES["*"] | ALLOWED_ATTRIBUTES.get(tag, set())
        for name, value in node.attrs.items():
            if name == "class":
                keep = ALLOWED_CLASSES.get(tag, set())
                dropped = [c for c in value.split() if c not in keep]
                # Markdown's own classes: a fenced block's language, the [TOC] box
                if tag == "code":
                    dropped = [c for c in dropped if not c.startswith("language-")]
                elif tag == "div":
                    dropped = [c for c in dropped if c != "toc"]
                if dropped:
                    where = source.find("raw", [
                        re.compile(rf"class\s*=\s*[\"']?[^\"'>]*\b{re.escape(dropped[0])}\b",
                                   re.I), dropped[0]])
                    yield ("raw-html", where, f"the class {' '.join(dropped)} of <{tag}> will "
                           "be removed")
            elif name not in allowed:
                where = source.find("raw", [
                    re.compile(rf"(?<![\w-]){re.escape(name)}\s*=", re.I),
                    re.compile(rf"<{re.escape(tag)}(?![\w:-])", re.I)])
                what = "style attribute" if name == "style" else f"{name} attribute"
                yield ("raw-html", where, f"the {what} of <{tag}> will be removed")
            elif name in URL_ATTRIBUTES and value:
                scheme = _scheme(value)
                if scheme is None:
                    where = source.find("raw", [value], fold=True)
                    yield ("raw-html", where, f"the {name} '{value}' of <{tag}> will be "
                           "removed: it is not a valid URL")
                elif scheme and scheme not in URL_SCHEMES and scheme != "file" and \
                        re.fullmatch(r"[a-z][a-z0-9+.-]*", scheme):
                    where = source.find("raw", [value], fold=True)
                    yield ("raw-html", where, f"the {name} '{value}' of <{tag}> will be "
                           f"removed: only {', '.join(sorted(URL_SCHEMES))} URLs are kept")


def _scheme(url: str) -> str | None:
    """The URL's scheme ("" for a relative URL), or None when it is not a valid URL."""
    try:
        parts = urlsplit(url.strip())
        parts.port  # noqa: B018 (raises on a bad port)
    except ValueError:  # e.g. an unclosed [IPv6 bracket: nh3 drops such a URL
        return None
    return parts.scheme.casefold()

