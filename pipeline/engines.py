"""Markdown in, HTML out: the two flavours of Markdown a newsletter can be written in.

``gfm`` (the default) is GitHub Flavored Markdown, rendered by cmark-gfm, the C library GitHub
itself uses: what staff preview in a pull request is what readers get (lists right after a line
of text, 2-space nesting, ``1)`` lists, bare URLs, tables, footnotes, strikethrough, task lists).
``python-markdown`` is Python-Markdown, for content written for MkDocs and its extensions.

Both return HTML that is not yet safe: raw HTML passes through, and everything after this
module (sanitising, heading ids and shift, links, plain text) is one shared pass in
:mod:`pipeline.markup` that does not know which engine ran.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

GFM = "gfm"
PYTHON_MARKDOWN = "python-markdown"
FLAVOURS = (GFM, PYTHON_MARKDOWN)

#: Python-Markdown's extensions that are always on, so both flavours give the same shapes
#: (as MkDocs always loads its own): tables with align attributes, fenced code, footnotes.
BUILT_IN: dict[str, dict[str, Any]] = {
    "tables": {"use_align_attribute": True},
    "fenced_code": {},
    "footnotes": {"BACKLINK_TITLE": "Back to the text of note %d"},
}
#: The extensions a python-markdown newsletter gets when newsletter.toml lists none.
DEFAULT_EXTENSIONS = ("attr_list", "sane_lists", "def_list", "abbr", "md_in_html")

_GFM_EXTENSIONS = ["table", "strikethrough", "autolink", "tasklist"]


@dataclass(frozen=True)
class MarkdownOptions:
    """Which engine renders the bodies, and (for Python-Markdown) with which extensions.

    ``extensions`` holds each extension's name and its settings as JSON, so the options are
    hashable and part of every rendered body's cache key."""

    flavour: str = GFM
    extensions: tuple[tuple[str, str], ...] = tuple((name, "{}") for name in DEFAULT_EXTENSIONS)

    def key(self) -> str:
        """What the cache keys of rendered bodies include of the options."""
        return json.dumps([self.flavour, self.extensions])

    def python_markdown_arguments(self) -> tuple[list[str], dict[str, dict[str, Any]]]:
        """Python-Markdown's ``extensions`` and ``extension_configs``: the built-in ones, then
        the newsletter's (whose settings win)."""
        names = list(BUILT_IN)
        configs = {name: dict(settings) for name, settings in BUILT_IN.items() if settings}
        for name, settings in self.extensions:
            if name not in names:
                names.append(name)
            loaded = json.loads(settings)
            if loaded:
                configs[name] = {**configs.get(name, {}), **loaded}
        return names, configs


#: The options of a newsletter.toml that says nothing of Markdown.
DEFAULT = MarkdownOptions()


def convert(source: str, options: MarkdownOptions) -> str:
    """The Markdown of one body as (not yet sanitised) HTML."""
    if options.flavour == PYTHON_MARKDOWN:
        import markdown  # only a python-markdown newsletter pays for importing it

        names, configs = options.python_markdown_arguments()
        converter = markdown.Markdown(extensions=names, extension_configs=configs,
                                      output_format="html")
        return converter.convert(source)
    import cmarkgfm
    from cmarkgfm.cmark import Options

    # UNSAFE keeps raw HTML (the sanitiser, not the engine, decides what is safe, for both
    # flavours alike); FOOTNOTES turns on GitHub's [^1] notes.
    flags = Options.CMARK_OPT_UNSAFE | Options.CMARK_OPT_FOOTNOTES
    html: str = cmarkgfm.markdown_to_html_with_extensions(source, flags, _GFM_EXTENSIONS)
    return _shared_shapes(html)


_TASK = re.compile(r'<input type="checkbox"( checked="")? disabled="" />')
_BACKREF_DATA = re.compile(r' data-footnote-backref(?:-idx="[0-9-]+")?')
_NOTES_OPEN = '<section class="footnotes" data-footnotes>'


def _shared_shapes(html: str) -> str:
    """cmark-gfm's task boxes and notes in the shapes the shared pass knows: a task's box as
    a character (an email has no form controls: ☐ open, ☑ done) and the notes in
    ``<div class="footnote">``, as Python-Markdown writes them."""
    html = _TASK.sub(lambda m: "\u2611" if m[1] else "\u2610", html)
    html = html.replace(" data-footnote-ref>", ' class="footnote-ref">')
    html = _BACKREF_DATA.sub("", html)
    start = html.rfind(_NOTES_OPEN)
    end = html.rfind("</section>")
    if start >= 0 and end > start:
        html = (html[:start] + '<div class="footnote"><hr>' + html[start + len(_NOTES_OPEN):end]
                + "</div>" + html[end + len("</section>"):])
    return html


def extension_problem(name: str, settings: dict[str, Any]) -> str | None:
    """Why Python-Markdown cannot load the extension ``name`` with ``settings``, or None."""
    import markdown

    try:
        markdown.Markdown(extensions=[name], extension_configs={name: settings} if settings
                          else {})
    except (ImportError, AttributeError) as exc:
        return f"Python-Markdown has no extension '{name}' ({exc})"
    except Exception as exc:  # an extension's own check of its settings: its words
        return f"the extension '{name}' refuses its settings: {exc}"
    return None
