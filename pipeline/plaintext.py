"""The plain-text edition of a piece, written from its structure rather than stripped.

The sanitised HTML of a piece is parsed into a small tree and each block is written as a
plain-text reader expects: underlined headings, ``*`` and ``1.`` lists, ``>`` block quotes,
indented code, tables as aligned columns, images as ``[Image: alt]`` and links as numbered
references (``[1]``) listed after the piece. Prose wraps at 72 columns; URLs and code never do.
"""

from __future__ import annotations

import re
import textwrap
import unicodedata
from dataclasses import dataclass, field

from .html_scan import Parser, feed

WIDTH = 72
VOID = {"br", "img", "hr", "wbr", "col", "input", "area", "source"}
_BLOCK = {
    "p", "div", "ul", "ol", "li", "blockquote", "pre", "table", "hr", "h1", "h2", "h3", "h4",
    "h5", "h6", "dl", "dt", "dd", "figure", "figcaption", "details", "summary", "section",
    "article", "aside", "header", "footer", "nav", "thead", "tbody", "tfoot", "tr",
}
_UNDERLINE = {1: "=", 2: "=", 3: "-", 4: "~", 5: "^", 6: "."}
_SPACE = re.compile(r"[ \t\n\r\f]+")
#: The runs of :data:`_SPACE` that are not a single space already: replacing only these by a
#: space gives the same text, with far fewer replacements.
_SPACES = re.compile(r"[\t\n\r\f][ \t\n\r\f]*| [ \t\n\r\f]+")
#: Joins words that must stay on one line (inside a code span, before a ``[n]``); wrap()
#: turns it back into a space.
GLUE = "\ue000"


@dataclass
class Node:
    """An element of the parsed fragment; children are Nodes or text."""

    tag: str
    attrs: dict[str, str] = field(default_factory=dict)
    children: list[Node | str] = field(default_factory=list)

    def iter(self, tag: str) -> list[Node]:
        found = [self] if self.tag == tag else []
        for child in self.children:
            if isinstance(child, Node):
                found.extend(child.iter(tag))
        return found

    def text(self) -> str:
        return "".join(c if isinstance(c, str) else c.text() for c in self.children)


class _TreeBuilder(Parser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Node("root")
        self.stack = [self.root]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        node = Node(tag, {k: v or "" for k, v in attrs})
        self.stack[-1].children.append(node)
        if tag not in VOID:
            self.stack.append(node)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.stack[-1].children.append(Node(tag, {k: v or "" for k, v in attrs}))

    def handle_endtag(self, tag: str) -> None:
        for depth in range(len(self.stack) - 1, 0, -1):
            if self.stack[depth].tag == tag:
                del self.stack[depth:]
                return

    def handle_data(self, data: str) -> None:
        self.stack[-1].children.append(data)


def parse(html: str) -> Node:
    """Parse an HTML fragment into a :class:`Node` tree."""
    builder = _TreeBuilder()
    feed(builder, html)
    return builder.root


@dataclass
class _Links:
    urls: list[str] = field(default_factory=list)

    def number(self, url: str) -> int:
        if url not in self.urls:
            self.urls.append(url)
        return self.urls.index(url) + 1


def to_text(html: str, width: int = WIDTH) -> tuple[str, tuple[str, ...]]:
    """The plain text of a sanitised fragment and the URLs its ``[n]`` references point to."""
    links = _Links()
    blocks = _blocks(parse(html), width, links)
    return "\n\n".join(blocks).strip("\n"), tuple(links.urls)


def link_list(urls: tuple[str, ...], start: int = 1) -> str:
    """``[1] https://...`` lines, one per reference, never wrapped."""
    return "\n".join(f"[{i}] {url}" for i, url in enumerate(urls, start=start))


def underline(text: str, char: str) -> str:
    return f"{text}\n{char * min(max(display_width(text), 3), WIDTH)}"


def display_width(text: str) -> int:
    """Columns the text takes in a monospaced font: wide (CJK, most emoji) count two,
    combining marks none."""
    if text.isascii():
        return len(text)
    return sum(0 if unicodedata.combining(ch) else
               2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1 for ch in text)


def _pad(text: str, width: int, right: bool) -> str:
    space = " " * max(width - display_width(text), 0)
    return space + text if right else text + space


def wrap(text: str, width: int = WIDTH, first: str = "", rest: str = "") -> str:
    """Wrap prose at ``width``; long words (URLs) are never broken. Keeps hard line breaks."""
    lines = []
    for i, part in enumerate(text.split("\n")):
        indent = first if i == 0 else rest
        if not part.strip():
            lines.append(rest.rstrip())
        elif width > max(len(indent), len(rest)) and (words := part.split(" ")) == part.split():
            lines.append(_fill(words, width, indent, rest))
        else:
            wrapper = textwrap.TextWrapper(
                width=width, initial_indent=indent, subsequent_indent=rest,
                break_long_words=False, break_on_hyphens=False,
            )
            lines.append(wrapper.fill(part))
    return "\n".join(lines).replace(GLUE, " ")


def _fill(words: list[str], width: int, first: str, rest: str) -> str:
    """What ``TextWrapper(width, initial_indent=first, subsequent_indent=rest,
    break_long_words=False, break_on_hyphens=False).fill(" ".join(words))`` returns, as
    many words on a line as fit and a word longer than a line on a line of its own, in a
    fraction of its time. Only for words without whitespace, each line wider than its
    indent: other whitespace (which TextWrapper turns into spaces, or drops at either end
    of a line when it is a word of its own, as a no-break space can be) goes to it."""
    lines: list[str] = []
    line = [words[0]]
    size = len(words[0])
    room = width - len(first)
    for word in words[1:]:
        if size + 1 + len(word) <= room:
            line.append(word)
            size += 1 + len(word)
        else:
            lines.append((rest if lines else first) + " ".join(line))
            line = [word]
            size = len(word)
            room = width - len(rest)
    lines.append((rest if lines else first) + " ".join(line))
    return "\n".join(lines)


def _inline(node: Node, links: _Links) -> str:
    out: list[str] = []
    for child in node.children:
        if isinstance(child, str):
            out.append(_SPACES.sub(" ", child))
            continue
        tag = child.tag
        if tag == "br":
            out.append("\n")
        elif tag == "img":
            alt = child.attrs.get("alt", "").strip()
            out.append(f"[Image: {alt}]" if alt else "[Image]")
        elif tag == "a":
            out.append(_link(child, links))
        elif tag in ("strong", "b"):
            out.append(f"*{_inline(child, links).strip()}*")
        elif tag in ("em", "i"):
            out.append(f"_{_inline(child, links).strip()}_")
        elif tag in ("del", "s", "strike"):  # struck out: the text says the opposite without
            out.append(f"~~{_inline(child, links).strip()}~~")
        elif tag == "code":
            out.append("`" + _SPACE.sub(GLUE, child.text()) + "`")
        elif tag == "sup" and child.iter("a") and "footnote-ref" in child.iter("a")[0].attrs.get(
            "class", ""
        ):
            out.append(f"[^{child.text().strip()}]")
        elif tag in _BLOCK:
            out.append(" " + _inline(child, links) + " ")
        else:
            out.append(_inline(child, links))
    return "".join(out)


def _link(node: Node, links: _Links) -> str:
    text = _inline(node, links).strip()
    href = node.attrs.get("href", "")
    if "footnote-backref" in node.attrs.get("class", ""):
        return ""
    if not href or href.startswith("#"):
        return text
    shown = href.removeprefix("mailto:")
    if text in (href, shown):
        return shown
    return f"{text}{GLUE}[{links.number(href)}]"


def _clean(text: str) -> str:
    lines = [_SPACES.sub(" ", line).strip() for line in text.split("\n")]
    return "\n".join(lines).strip()


def _flat(node: Node, links: _Links) -> str:
    """A node's inline text on one line, for headings and table cells (never wrapped)."""
    return _clean(_inline(node, links)).replace("\n", " ").replace(GLUE, " ")


def _blocks(node: Node, width: int, links: _Links) -> list[str]:
    """The blocks of ``node``'s children, each a string of lines."""
    blocks: list[str] = []
    pending = Node("p")

    def flush() -> None:
        text = _clean(_inline(pending, links))
        if text:
            blocks.append(wrap(text, width))
        pending.children.clear()

    for child in node.children:
        if isinstance(child, str) or child.tag not in _BLOCK:
            pending.children.append(child)
            continue
        flush()
        blocks.extend(_block(child, width, links))
    flush()
    return blocks


def _block(node: Node, width: int, links: _Links) -> list[str]:
    tag = node.tag
    if tag in ("h1", "h2", "h3", "h4", "h5", "h6"):
        return [underline(_flat(node, links), _UNDERLINE[int(tag[1])])]
    if tag == "p":
        text = _clean(_inline(node, links))
        return [wrap(text, width)] if text else []
    if tag == "pre":
        code = node.text().strip("\n")
        return ["\n".join(("    " + line).rstrip() for line in code.split("\n"))]
    if tag == "hr":
        return ["* * *"]
    if tag in ("ul", "ol"):
        return [_list(node, width, links)]
    if tag == "blockquote":
        inner = "\n\n".join(_blocks(node, max(width - 2, 20), links))
        return ["\n".join(("> " + line).rstrip() for line in inner.split("\n"))]
    if tag == "table":
        return [_table(node, width, links)]
    if tag == "div" and "footnote" in node.attrs.get("class", "").split():
        return _footnotes(node, width, links)
    if tag == "dt":
        return [wrap(f"*{_flat(node, links)}*", width)]
    if tag == "dd":
        return ["\n".join(_blocks(node, width - 4, links)).replace("\n", "\n    ").join(
            ["    ", ""])]
    return _blocks(node, width, links)


def _list(node: Node, width: int, links: _Links) -> str:
    items = [c for c in node.children if isinstance(c, Node) and c.tag == "li"]
    start = node.attrs.get("start", "1").strip()
    out = []
    for number, item in enumerate(items, start=int(start) if start.isdigit() else 1):
        marker = f"{number}. " if node.tag == "ol" else "* "
        pad = " " * len(marker)
        body = _blocks(item, max(width - len(marker), 20), links)
        # A tight item (no paragraphs) keeps its nested list on the next line.
        tight = not any(isinstance(c, Node) and c.tag == "p" for c in item.children)
        lines = ("\n" if tight else "\n\n").join(body).split("\n") if body else [""]
        first = marker + lines[0]
        out.append("\n".join([first, *((pad + line).rstrip() for line in lines[1:])]))
    tight = all("\n\n" not in item for item in out)
    return ("\n" if tight else "\n\n").join(out)


def _footnotes(node: Node, width: int, links: _Links) -> list[str]:
    out = [underline("Notes", "~")]
    notes = [item for ol in node.children if isinstance(ol, Node) and ol.tag == "ol"
             for item in ol.children if isinstance(item, Node) and item.tag == "li"]
    for number, item in enumerate(notes, start=1):  # a list inside a note is not a note
        text = "\n\n".join(_blocks(item, width - 6, links))
        marker = f"[^{number}] "
        out.append(wrap(_clean(text), width, first=marker, rest=" " * len(marker)))
    return out


def _table(node: Node, width: int, links: _Links) -> str:
    rows: list[list[str]] = []
    right: dict[int, bool] = {}
    header_rows = 0
    for tr in node.iter("tr"):
        cells = [c for c in tr.children if isinstance(c, Node) and c.tag in ("th", "td")]
        for index, cell in enumerate(cells):
            right.setdefault(index, cell.attrs.get("align") == "right")
        row = [_flat(c, links) for c in cells]
        if cells and all(c.tag == "th" for c in cells) and len(rows) == header_rows:
            header_rows += 1
        rows.append(row)
    if not rows:
        return ""
    columns = max(len(r) for r in rows)
    rows = [r + [""] * (columns - len(r)) for r in rows]
    widths = [max(display_width(r[i]) for r in rows) for i in range(columns)]
    if sum(widths) + 2 * (columns - 1) > width and header_rows:
        # Too wide for aligned columns: each row becomes a small list of "header: value".
        header = rows[0]
        records = []
        for row in rows[header_rows:]:
            records.append("\n".join(
                wrap(f"{h}: {v}", width, rest="    ") for h, v in zip(header, row, strict=True)
            ))
        return "\n\n".join(records)
    lines = []
    for index, row in enumerate(rows):
        padded = [_pad(cell, w, right.get(i, False) and index >= header_rows)
                  for i, (cell, w) in enumerate(zip(row, widths, strict=True))]
        lines.append("  ".join(padded).rstrip())
        if index == header_rows - 1:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)
