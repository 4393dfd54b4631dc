"""Write the pieces of a generated newsletter as a Pelican site, for the benchmark's peer.

    python bench/pelican_site.py ROOT OUT_DIR

ROOT is a newsletter written by bench/generate.py. OUT_DIR gets ``content/`` with every ready
piece of every issue as a Pelican Markdown article (the same body, byte for byte, under
Pelican's metadata: Title, Date, Category, Tags, Authors, Summary, Slug) and a
``pelicanconf.py``: the default theme, relative URLs, the feeds switched on (all, per
category, per tag and per author, Atom and RSS), nothing fetched from the network. Build it
with ``pelican content -s pelicanconf.py -o output`` inside OUT_DIR.

The Date of a piece is its issue's equinox or solstice (from the pipeline's own calendar).
Links between pieces of an issue (``other-piece.md``) stay as they are: Pelican treats them as
plain relative links. Nothing of Pelican's is needed to write the site.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from pipeline.seasons import IssueId  # the project's calendar (run with its environment)

PELICANCONF = """\
# Written by bench/pelican_site.py: the peer of bench/run.py. Not for publishing.
AUTHOR = "Ethics & Society"
SITENAME = "Ethics & Society"
SITEURL = ""
PATH = "content"
TIMEZONE = "UTC"
DEFAULT_LANG = "en"
RELATIVE_URLS = True
THEME = "notmyidea"
DEFAULT_PAGINATION = 10
LOAD_CONTENT_CACHE = False
CACHE_CONTENT = False
FEED_DOMAIN = "https://ethics.example.org"
FEED_ALL_ATOM = "feeds/all.atom.xml"
FEED_ALL_RSS = "feeds/all.rss.xml"
CATEGORY_FEED_ATOM = "feeds/{slug}.atom.xml"
CATEGORY_FEED_RSS = "feeds/{slug}.rss.xml"
TAG_FEED_ATOM = "feeds/tag-{slug}.atom.xml"
TAG_FEED_RSS = "feeds/tag-{slug}.rss.xml"
AUTHOR_FEED_ATOM = "feeds/author-{slug}.atom.xml"
AUTHOR_FEED_RSS = "feeds/author-{slug}.rss.xml"
LINKS = ()
SOCIAL = ()
"""


def front_matter(text: str) -> tuple[dict[str, Any], str]:
    """The YAML front matter and the body of a piece written by bench/generate.py."""
    _, meta, body = text.split("---\n", 2)
    return yaml.safe_load(meta), body


def pelican_article(meta: dict[str, Any], body: str, issue_id: IssueId, stem: str) -> str:
    moment = issue_id.moment()
    lines = [
        f"Title: {meta['title']}",
        f"Date: {moment:%Y-%m-%d %H:%M}",
        f"Category: {meta['section']}",
        f"Tags: {', '.join(meta.get('tags', []))}",
        f"Authors: {'; '.join(meta['authors'])}",
        f"Summary: {meta['summary']}",
        f"Slug: {issue_id}-{stem}",
    ]
    return "\n".join(lines) + "\n" + body


def write_site(root: Path, out: Path) -> int:
    """Write ``out/content`` and ``out/pelicanconf.py``; the number of articles written."""
    content = out / "content"
    content.mkdir(parents=True)
    count = 0
    for folder in sorted((root / "issues").iterdir()):
        issue_id = IssueId.parse(folder.name)
        target = content / folder.name
        target.mkdir()
        for path in sorted(folder.glob("*.md")):
            if path.name == "issue.md":
                continue
            meta, body = front_matter(path.read_text(encoding="utf-8"))
            if meta.get("status") != "ready":
                continue
            (target / path.name).write_text(pelican_article(meta, body, issue_id, path.stem),
                                            encoding="utf-8")
            count += 1
    (out / "pelicanconf.py").write_text(PELICANCONF, encoding="utf-8")
    return count


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("root", type=Path, metavar="ROOT", help="a generated newsletter")
    parser.add_argument("out", type=Path, metavar="OUT_DIR", help="folder to create")
    args = parser.parse_args(argv)
    if args.out.exists() and any(args.out.iterdir()):
        parser.error(f"{args.out} is not empty")
    count = write_site(args.root, args.out)
    print(f"wrote {count} articles to {args.out / 'content'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
