"""The email's (and the web edition's) own forms of a body's HTML: a post-pass over what
:func:`pipeline.markup.render` made, whichever Markdown engine made it.

It reads the sanitised HTML as tokens (the standard library's HTML tokenizer) and writes every
one back as it was, but for:

- ``<img>``: given its ``width`` and ``height`` (:class:`pipeline.images.Picture`: at most the
  column) and, for a wide image or an SVG, the derivative the email loads. In the web edition a
  resized image links to its original.
- ``<pre>`` (email only): a one-cell table in a monospace font, the text escaped, its
  indentation and runs of spaces kept with no-break spaces that still end in a breaking one,
  and a break opportunity (``<wbr>``) in every run of more than :attr:`Layout.code_run`
  characters, so that a long line wraps on the narrowest phone without ``white-space``, which
  Outlook for Windows, Samsung Email and some Gmail apps ignore.
- a table cell with ``align`` (email only): the same ``text-align`` in its own style, which the
  stylesheet's inlined rules then cannot contradict.
"""

from __future__ import annotations

import html as html_mod
import re
from dataclasses import dataclass
from urllib.parse import urljoin

from .html_scan import Parser, feed
from .images import Images, Picture

VOID = frozenset({"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta",
                  "source", "track", "wbr"})


@dataclass(frozen=True)
class Layout:
    """The email's geometry, in CSS pixels: the one place it is written down (the template
    and its stylesheet use these values, and images are sized to :attr:`column`)."""

    frame: int = 600  # the content's width on a large screen
    gutter: int = 32  # the left and right padding of the content's cells
    phone_gutter: int = 18  # the same on a narrow screen
    narrowest: int = 360  # the narrowest phone the email is made for
    code_font: int = 13  # code blocks' font size
    code_padding: int = 12  # code blocks' cell padding
    #: A monospace character's advance, in em (Menlo and Consolas: 0.6; a little more, to be safe).
    mono_advance: float = 0.62

    @property
    def column(self) -> int:
        """The width of the content, and so the widest an image is shown."""
        return self.frame - 2 * self.gutter

    @property
    def code_run(self) -> int:
        """The most characters of code between two break opportunities: as many as fit a
        code block on the narrowest phone."""
        room = self.narrowest - 2 * self.phone_gutter - 2 * self.code_padding - 2  # borders
        return int(room / (self.code_font * self.mono_advance))


LAYOUT = Layout()


def _attrs(attrs: list[tuple[str, str | None]]) -> str:
    return "".join(f' {name}="{html_mod.escape(value or "", quote=True)}"'
                   if value is not None else f" {name}" for name, value in attrs)


def _set(attrs: list[tuple[str, str | None]], name: str,
         value: str) -> list[tuple[str, str | None]]:
    return [*((n, v) for n, v in attrs if n != name), (name, value)]


class _Rewriter(Parser):
    """Copies the HTML token by token, letting :meth:`start` change start tags."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=False)
        self.out: list[str] = []

    def start(self, tag: str, attrs: list[tuple[str, str | None]], raw: str) -> str:
        return raw

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.out.append(self.start(tag, attrs, self.get_starttag_text() or ""))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        self.out.append(f"</{tag}>")

    def handle_data(self, data: str) -> None:
        self.out.append(data)

    def handle_entityref(self, name: str) -> None:
        self.out.append(f"&{name};")

    def handle_charref(self, name: str) -> None:
        self.out.append(f"&#{name};")

    def handle_comment(self, data: str) -> None:
        self.out.append(f"<!--{data}-->")

    def result(self, html: str) -> str:
        feed(self, html)
        return "".join(self.out)


class _Email(_Rewriter):
    def __init__(self, pictures: dict[str, Picture], issue_url: str, layout: Layout) -> None:
        super().__init__()
        self.pictures = pictures
        self.issue_url = issue_url
        self.layout = layout
        self.code: list[tuple[str, bool]] | None = None  # inside <pre>: (token, is it a tag)

    def start(self, tag: str, attrs: list[tuple[str, str | None]], raw: str) -> str:
        if tag == "img":
            src = dict(attrs).get("src") or ""
            picture = self.pictures.get(src[len(self.issue_url):]) \
                if src.startswith(self.issue_url) else None
            if picture is None:
                return raw
            attrs = _set(attrs, "src", urljoin(self.issue_url, picture.shown))
            attrs = _set(_set(attrs, "width", str(picture.width)), "height", str(picture.height))
            return f"<img{_attrs(attrs)}>"
        if tag in ("td", "th"):
            align = (dict(attrs).get("align") or "").lower()
            if align in ("left", "right", "center"):
                return f"<{tag}{_attrs(_set(attrs, 'style', f'text-align: {align};'))}>"
        return raw

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "pre" and self.code is None:
            self.code = []
        elif self.code is not None:
            if tag != "code":
                self.code.append((self.get_starttag_text() or "", True))
        else:
            super().handle_starttag(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        if self.code is None:
            super().handle_endtag(tag)
        elif tag == "pre":
            self.out.append(code_cell(self.code, self.layout))
            self.code = None
        elif tag != "code":
            self.code.append((f"</{tag}>", True))

    def _text(self, raw: str) -> None:
        if self.code is not None:
            self.code.append((raw, False))
        else:
            self.out.append(raw)

    def handle_data(self, data: str) -> None:
        self._text(data)

    def handle_entityref(self, name: str) -> None:
        self._text(f"&{name};")

    def handle_charref(self, name: str) -> None:
        self._text(f"&#{name};")


_SPACES = re.compile(r"( +)")


def code_cell(tokens: list[tuple[str, bool]], layout: Layout = LAYOUT) -> str:
    """A code block as a one-cell table that wraps in every client (see the module's doc).

    ``tokens`` are the block's contents as in the HTML: text (escaped) and the tags of any
    markup in it (``<b>``, kept as they are), each with whether it is a tag."""
    merged: list[tuple[str, bool]] = []
    for raw, is_tag in tokens:  # text split by entities is one text
        if merged and not is_tag and not merged[-1][1]:
            merged[-1] = (merged[-1][0] + raw, False)
        else:
            merged.append((raw, is_tag))
    lines: list[list[tuple[str, bool]]] = [[]]
    for raw, is_tag in merged:
        if is_tag:
            lines[-1].append((raw, True))
            continue
        first, *rest = html_mod.unescape(raw).expandtabs(4).split("\n")
        lines[-1].append((first, False))
        lines.extend([(text, False)] for text in rest)
    if lines and not any(text.strip() for text, is_tag in lines[-1] if not is_tag):
        lines.pop()  # the newline that ends the block
    rows = [_code_line(line, layout.code_run) or "&nbsp;" for line in lines]
    return ('<table role="presentation" class="code" width="100%" cellpadding="0" '
            'cellspacing="0" border="0"><tr><td class="code">'
            + "<br>".join(rows) + "</td></tr></table>")


def _code_line(tokens: list[tuple[str, bool]], run: int) -> str:
    out: list[str] = []
    text_seen = False
    for raw, is_tag in tokens:
        if is_tag:
            out.append(raw)
            continue
        for piece in _SPACES.split(raw):
            if not piece:
                continue
            if piece.startswith(" "):
                # Keep the width of a run of spaces, and a place to break at its end (but
                # indentation, which must not wrap, is all no-break spaces).
                out.append("&nbsp;" * len(piece) if not text_seen
                           else "&nbsp;" * (len(piece) - 1) + " ")
            else:
                text_seen = True
                chunks = [piece[i:i + run] for i in range(0, len(piece), run)]
                out.append("<wbr>".join(html_mod.escape(chunk, quote=False) for chunk in chunks))
    return "".join(out).removesuffix(" ")  # a trailing space shows nothing


def email_body(html_absolute: str, issue_url: str, images: Images,
               layout: Layout = LAYOUT) -> str:
    """A body's HTML (every URL absolute) as the email shows it."""
    if "<pre" not in html_absolute and " align=" not in html_absolute and \
            (not images.pictures or "<img" not in html_absolute):
        return html_absolute  # nothing to change: the rewriter would copy every token
    return _Email(images.pictures, issue_url, layout).result(html_absolute)


class _Web(_Rewriter):
    def __init__(self, pictures: dict[str, Picture]) -> None:
        super().__init__()
        self.pictures = pictures
        self.links = 0  # how many <a> elements the current one is in
        self.close_link = False

    def start(self, tag: str, attrs: list[tuple[str, str | None]], raw: str) -> str:
        if tag == "a":
            self.links += 1
        if tag != "img":
            return raw
        src = dict(attrs).get("src") or ""
        picture = self.pictures.get(src)
        if picture is None:
            return raw
        attrs = _set(_set(attrs, "width", str(picture.width)), "height", str(picture.height))
        if not picture.derived or src.lower().endswith(".svg"):
            return f"<img{_attrs(attrs)}>"
        image = f"<img{_attrs(_set(attrs, 'src', picture.shown))}>"
        if self.links:
            return image
        size = f"{picture.original_width} by {picture.original_height} pixels"
        return (f'<a class="original" href="{html_mod.escape(src, quote=True)}" '
                f'title="The full-size image ({size})">{image}</a>')

    def handle_endtag(self, tag: str) -> None:
        if tag == "a" and self.links:
            self.links -= 1
        super().handle_endtag(tag)


def web_body(html: str, images: Images) -> str:
    """A body's HTML (URLs relative to the issue page) as the web edition shows it."""
    if not images.pictures:
        return html
    return _Web(images.pictures).result(html)
