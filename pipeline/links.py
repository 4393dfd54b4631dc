"""Where the links of a body land: the :class:`Context` a body is rendered in (its issue
folder, page URL and anchor, and the anchors of every body on the same page), the resolution
of each link and id (nh3's attribute filter, :class:`Links`), what the page's anchors answer
about an in-page link (:func:`ask`), and what the file system says about a local one
(:func:`probe`). Every link that lands nowhere is a problem at its line.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit

from . import safe_files
from .engines import DEFAULT, MarkdownOptions
from .errors import Problems, did_you_mean
from .slugs import slugify

#: Where each body of an issue page lives and the ids in it: ``((slug, (id, ...)), ...)``,
#: the letter (``_letter``) and the pieces in page order.
Anchors = tuple[tuple[str, tuple[str, ...]], ...]


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


def place_of(source: str, first_line: int, *needles: str,
             point: str = "") -> tuple[int, int | None]:
    """The file line and column of the first line of ``source`` (whose first line is
    ``first_line``) holding the first of ``needles`` found anywhere in it: the column of
    ``point`` inside the needle found (of the needle itself without one); else
    ``first_line`` and no column."""
    lines = source.split("\n")
    for needle in needles:
        if needle:
            for index, text in enumerate(lines):
                column = text.find(needle)
                if column >= 0:
                    return first_line + index, column + 1 + max(needle.find(point), 0)
    return first_line, None


class Links:
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

    def place(self, value: str) -> tuple[int, int | None]:
        """The line and column of the source that writes the link ``value`` (the column of
        the value itself), else the body's first line."""
        return place_of(self.source, self.ctx.first_line,
                        f"]({value}", f'"{value}"', f"'{value}'", value, point=value)

    def report(self, problems: Problems) -> None:
        for level, rule, needle, message in self.found:
            at, column = ((self.ctx.first_line, None) if rule == "broken-link"
                          else self.place(needle))
            if level == "error":
                problems.error(self.ctx.path, at, message, rule=rule, column=column)
            else:
                problems.warning(self.ctx.path, at, message, rule=rule, column=column)

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


_SCHEME_LIKE = re.compile(r"^\s*[A-Za-z][A-Za-z0-9+.\-]*\s*:")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


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
