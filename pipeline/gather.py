"""``newsletter gather ISSUE``: a draft reading list from the organisation's and teams' feeds.

Each feed (an http(s) URL, or a file) is read into bytes here and parsed with feedparser. The
entries published in the issue's window (from the previous issue's moment, inclusive, to this
issue's moment, exclusive) are kept, duplicates by link removed (fragment and trailing slash
ignored), and ``issues/<ISSUE>/reading-list.md`` is written as a draft piece: one section per
source, newest first, each entry with its title, link, date and a one-line summary. A feed that
is down, slow or not a feed is reported and skipped; the others still count.

Time comes from the issue ids (and the ``now`` passed in); nothing here reads the clock except
a monotonic timer that bounds how long one feed may take: a total deadline, from connecting to
the last byte and across redirects, enforced by closing the connection when it passes (so a
server that trickles a byte at a time cannot hold the command).

Reading and parsing the feeds is :mod:`pipeline.feeds_in` (which refuses addresses of this
machine's and the network's own services unless ``allow_private`` says otherwise).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from .config import Config, load_config
from .content import ISSUE_FILE, read_text, resolve_issue
from .errors import (
    ContentError,
    PipelineError,
    Problem,
    Problems,
    UsageError,
    did_you_mean,
    plural,
    short_date,
)
from .errors import display_path as shown
from .feeds_fetch import sources
from .feeds_in import (
    Entry,
    Failure,
    Feed,
    markdown_text,
    markdown_url,
    normal_link,
    read_feeds,
)
from .front_matter import ISSUE_FIELDS, check_fields, split_document, yaml_value
from .seasons import IssueId
from .writer import Output, Written, write_all

READING_LIST = "reading-list.md"


@dataclass(frozen=True)
class Selection:
    """The entries kept for the issue's window, newest first, and what was dropped."""

    entries: tuple[Entry, ...]
    duplicates: int
    outside: int


@dataclass
class GatherResult:
    """What one run of ``gather`` read, kept and wrote."""

    issue_id: IssueId
    path: Path
    feeds: list[Feed] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)
    selection: Selection | None = None
    written: list[Written] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    window_open: bool = False

# --------------------------------------------------------------------------- selecting


def window(issue_id: IssueId) -> tuple[datetime, datetime]:
    """From the previous issue's moment (inclusive) to this issue's moment (exclusive)."""
    return issue_id.previous().moment(), issue_id.moment()


def select(feeds: Sequence[Feed], start: datetime, end: datetime) -> Selection:
    """The entries published in [start, end), once per link, newest first.

    Of entries sharing a link, the one from the feed listed first is kept (list the
    organisation's own feed first to credit it), then the earliest published.
    """
    inside = [e for f in feeds for e in f.entries if start <= e.published < end]
    outside = sum(len(f.entries) for f in feeds) - len(inside)
    kept: dict[str, Entry] = {}
    for entry in sorted(inside, key=lambda e: (e.feed, e.published, e.link)):
        kept.setdefault(normal_link(entry.link), entry)
    entries = sorted(kept.values(), key=lambda e: (-e.published.timestamp(), e.feed, e.title))
    return Selection(tuple(entries), len(inside) - len(kept), outside)


# --------------------------------------------------------------------------- writing


def _day(moment: datetime, tz: ZoneInfo) -> str:
    return short_date(moment.astimezone(tz))


def reading_list(
    issue_id: IssueId, selection: Selection, feeds: Sequence[Feed], *, config: Config,
    authors: Sequence[str], section: str,
) -> str:
    """The Markdown of ``reading-list.md``: a draft piece, one section per source."""
    start, end = window(issue_id)
    naming = config.season_names
    since, until = issue_id.previous().name(naming), issue_id.name(naming)
    by_feed: dict[int, list[Entry]] = {}
    for entry in selection.entries:
        by_feed.setdefault(entry.feed, []).append(entry)
    used = [f for f in feeds if f.entries and f.entries[0].feed in by_feed]
    titles = [f.title for f in used]
    sources_count = plural(len(used), "source")
    count = len(selection.entries)
    lines = [
        "---",
        "# Gathered by 'newsletter gather' for the editors to curate: keep what readers",
        "# should see, say in a sentence why it matters, then set 'status: ready'.",
        f"# Entries published from {start:%Y-%m-%d %H:%M} UTC ({since}) to before "
        f"{end:%Y-%m-%d %H:%M} UTC ({until}).",
        f"title: {yaml_value('Reading list')}",
        f"authors: {yaml_value(list(authors))}",
        f"section: {yaml_value(section)}",
        "summary: " + yaml_value(
            f"{plural(count, 'piece')} from {sources_count} published since "
            f"the {since}, gathered for this issue."),
        "status: draft",
        "---",
        "",
        f"What our teams and colleagues published since the {markdown_text(since)}.",
    ]
    for feed in used:
        heading = feed.title
        if titles.count(feed.title) > 1:
            heading = f"{feed.title} ({feed.source.label})"
        lines += ["", f"## {markdown_text(heading)}", ""]
        for entry in by_feed[feed.entries[0].feed]:
            line = (f"- **[{markdown_text(entry.title)}]({markdown_url(entry.link)})** "
                    f"({_day(entry.published, config.time_zone)})")
            if entry.summary:
                line += f": {markdown_text(entry.summary)}"
            lines.append(line)
    return "\n".join(lines) + "\n"


def _issue_editors(folder: Path) -> tuple[tuple[str, ...], list[Problem]]:
    """The editors named in the issue's ``issue.md`` (none when it has none or is invalid)."""
    path = folder / ISSUE_FILE
    problems = Problems()
    if not path.is_file():
        return (), []
    text = read_text(path, problems, folder.parent.parent)  # never one linked from outside
    doc = split_document(path, text, problems) if text is not None else None
    if doc is None:
        return (), problems.items
    values = check_fields(path, doc, ISSUE_FIELDS, problems, ready=True)
    return tuple(values.get("editors", ())), [p for p in problems.items if p.level == "error"]


def gather(
    root: Path, ref: str, *, now: datetime, feeds: Sequence[str] | None = None,
    timeout: float | None = None, authors: Sequence[str] = (), section: str | None = None,
    force: bool = False, allow_private: bool | None = None,
) -> GatherResult:
    """Read the feeds and write the issue's draft reading list; see the module's docstring.

    ``feeds`` given here (the command line's) are relative to the current folder; the ones
    of newsletter.toml to the root. Raises :class:`UsageError` for a bad request,
    :class:`PipelineError` when the list exists (without ``force``). When no feed could be
    read, the result has failures and no feeds, and nothing is written.
    """
    config = load_config(root)
    issue_id = resolve_issue(ref, config, must_exist=False)
    folder = config.issues_dir / str(issue_id)
    target = folder / READING_LIST
    result = GatherResult(issue_id, target, window_open=now < issue_id.moment())
    if section is None:
        section = config.sections[-1]
    elif section not in config.sections:
        hint = did_you_mean(section, config.sections)
        raise UsageError(f"--section {section}: not a section{hint}; the sections are: "
                         f"{', '.join(config.sections)}")
    if (target.exists() or target.is_symlink()) and not force:
        raise PipelineError(f"{shown(target)} already exists and may have been curated: "
                            "nothing was read or written; pass --force to replace it")
    if not authors:
        authors, problems = _issue_editors(folder)
        if not authors:
            issue_file = folder / ISSUE_FILE
            if problems:
                why = "cannot tell the issue's editors from this file (see above)"
            elif issue_file.is_file():
                why = "names no editors"
            else:
                why = "does not exist, so it names no editors"
            raise ContentError([*problems, Problem(
                issue_file, None, "error",
                f"{why}: the reading list needs authors; add 'editors: [Name]' to the "
                "issue.md, or pass --author NAME (once per author)", "gather-author")])
    if feeds is None:
        feed_sources = sources(config.workflow.gather_feeds, root)
    else:
        feed_sources = sources(feeds, Path.cwd())
    if not feed_sources:
        raise UsageError("no feeds to read: list them in newsletter.toml ([gather] feeds = "
                         "[\"https://...\", \"feeds-in/team.xml\"]: URLs, or files relative "
                         "to the root) or pass --feed URL_OR_FILE")
    wait = float(timeout if timeout is not None else config.workflow.gather_timeout)
    private = config.workflow.gather_allow_private if allow_private is None else allow_private

    for outcome in read_feeds(feed_sources, wait, private):
        if isinstance(outcome, Failure):
            result.failures.append(outcome)
        else:
            result.feeds.append(outcome)
    if not result.feeds:
        return result
    start, end = window(issue_id)
    result.selection = select(result.feeds, start, end)
    if not result.selection.entries:
        return result
    text = reading_list(issue_id, result.selection, result.feeds, config=config,
                        authors=authors, section=section)
    result.written = write_all([Output(root, f"issues/{issue_id}/{READING_LIST}",
                                       text.encode("utf-8"))])
    return result
