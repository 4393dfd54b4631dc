"""What a build has made so far (:class:`Made`), and what it needs of the issues it does not
render: their archive lines (:func:`summaries`), the feed entries of the newest
(:func:`feed_entries`, which :func:`read_ahead` may read while the target renders), and the
archive page's lines with the last good build of an issue that has errors
(:func:`archive`). Another issue's problems are its own: they never stop the build, and one
with errors is counted in ``made.broken`` and named in a note.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from . import cache as c
from . import feeds as feeds_mod
from . import memo, stages, workers
from . import render as r
from .errors import ContentError, Problem, count_errors, plural
from .model import Issue
from .seasons import IssueId
from .site import OpenSite
from .writer import Output, Staged


@dataclass
class Made:
    """What a build has made so far: staged by workers, or still in memory; and the issues
    other than its target that have errors (how many)."""

    problems: list[Problem]
    staged: list[Staged] = field(default_factory=list)
    outputs: list[Output] = field(default_factory=list)
    sizes: dict[str, int] = field(default_factory=dict)
    teasers: dict[str, tuple[int, int]] = field(default_factory=dict)
    weights: dict[str, int] = field(default_factory=dict)
    entries: dict[IssueId, feeds_mod.Entry] = field(default_factory=dict)
    broken: dict[IssueId, int] = field(default_factory=dict)
    #: Feeds made and staged apart: in a worker while the target's email was made, or while
    #: the older issues still rendered.
    early_feeds: workers.AsideFeeds | None = None
    #: The newest issues and the others' feed entries, read while the target's pieces
    #: rendered.
    read_ahead: ReadAhead | None = None

    def take(self, issue: Issue, pages: stages.Pages, outputs: list[Output],
             problems: bool = True) -> None:
        self.outputs.extend(outputs)
        if problems:
            self.problems.extend(pages.problems)
        key = str(issue.issue_id)
        if pages.size:
            self.sizes[key] = pages.size
            self.weights[key] = pages.image_weight
        if pages.teasers:
            self.teasers[key] = (pages.full_size, pages.teasers)
        if pages.entry is not None:
            self.entries[issue.issue_id] = pages.entry


def summaries(site: OpenSite, store: c.Cache, others: list[IssueId],
              made: Made) -> dict[IssueId, memo.Summary]:
    """What the archive needs of the issues not built. Another issue's problems are that
    issue's: they never stop this build; one with errors is counted in ``made.broken``."""
    known = {}
    for issue_id in others:
        known[issue_id] = found = memo.summary(site.rendering, store, issue_id,
                                               site.folders[issue_id])
        errors = count_errors(found.problems)
        if errors:
            made.broken[issue_id] = errors
    return known


def feed_ids(site: OpenSite, targets: list[Issue], summaries: dict[IssueId, memo.Summary],
              made: Made) -> list[IssueId]:
    """The newest issues, which the feeds carry: of the targets and the published others
    without errors."""
    published = [i for i, s in summaries.items() if s.archive is not None and
                 i not in made.broken]
    built = [t.issue_id for t in targets]
    return sorted([*built, *published], reverse=True)[: site.config.feed_issues]


#: The newest issues (:func:`feed_ids`) and the feed entries of those not built, read
#: before the targets' pages are made (:func:`read_ahead`).
ReadAhead = tuple[list[IssueId], dict[IssueId, feeds_mod.Entry]]


def read_ahead(site: OpenSite, store: c.Cache, targets: list[Issue],
               summaries: dict[IssueId, memo.Summary], made: Made) -> ReadAhead:
    """The newest issues and the feed entries of those not among ``targets``, read while the
    targets' pieces still render (:func:`feed_entries` then uses them); an issue whose entry
    has errors is broken."""
    ids = feed_ids(site, targets, summaries, made)
    built = {t.issue_id for t in targets}
    return ids, _entries(site, store, [], summaries, made, [i for i in ids if i not in built])


def feed_entries(site: OpenSite, store: c.Cache, targets: list[Issue],
                 summaries: dict[IssueId, memo.Summary],
                 made: Made) -> dict[IssueId, feeds_mod.Entry]:
    """The entries of the newest issues, which the feeds carry: the targets' as rendered,
    the others' as :func:`read_ahead` read them (``made.read_ahead``) or through the cache.
    An issue whose entry has errors is broken."""
    ids, read = made.read_ahead if made.read_ahead is not None else (None, None)
    return _entries(site, store, targets, summaries, made, ids, read)


def _entries(site: OpenSite, store: c.Cache, targets: list[Issue],
             summaries: dict[IssueId, memo.Summary], made: Made,
             ids: list[IssueId] | None = None,
             read: dict[IssueId, feeds_mod.Entry] | None = None,
             ) -> dict[IssueId, feeds_mod.Entry]:
    """The entries of ``ids`` (or :func:`feed_ids`): the targets' as rendered, the others'
    as ``read`` has them (an issue read with errors is not there) or through the cache."""
    entries: dict[IssueId, feeds_mod.Entry] = {}
    built = {t.issue_id for t in targets}
    for issue_id in ids if ids is not None else feed_ids(site, targets, summaries, made):
        if issue_id in made.entries:
            entries[issue_id] = made.entries[issue_id]
            continue
        if read is not None and issue_id not in built:
            if issue_id in read:  # else its entry had errors
                entries[issue_id] = read[issue_id]
            continue
        # A target whose entry was not kept: its problems were reported when it was
        # rendered. Another issue: its problems are its own.
        known = summaries.get(issue_id)
        issue = (known.issue, known.inputs) if known and known.issue else None
        try:
            entries[issue_id], found = memo.feed_entry(
                site.rendering, store, site.env, issue_id, site.folders[issue_id], issue)
        except ContentError as exc:  # a template mistake, reported with the others
            if issue_id in built:
                made.problems.extend(exc.problems)
                continue
            found = exc.problems
        errors = count_errors(found)
        if errors and issue_id not in built:
            made.broken[issue_id] = made.broken.get(issue_id, 0) + errors
            entries.pop(issue_id, None)
    return entries


def archive(site: OpenSite, store: c.Cache, targets: list[Issue],
             summaries: dict[IssueId, memo.Summary], entries: dict[IssueId, feeds_mod.Entry],
             made: Made) -> list[r.ArchiveEntry]:
    """The archive page's lines. An issue with errors keeps the line and feed entry of its
    last good build (or is left out), and a note says so; the others' are kept as good."""
    goods = {issue_id: memo.last_good(store, site.folders[issue_id]) for issue_id in made.broken}
    archive = [entry for entry in map(stages.archive_entry, targets) if entry is not None]
    archive += [s.archive for i, s in summaries.items() if s.archive is not None and
                i not in made.broken]
    archive += [good.archive for good in goods.values() if good.archive is not None]
    for issue_id, summary in summaries.items():
        if issue_id not in made.broken:
            memo.store_good(store, site.folders[issue_id], summary.archive, entries.get(issue_id))
    for issue_id, errors in sorted(made.broken.items()):
        kept = ("its archive and feed entries are kept from its last good build"
                if goods[issue_id].archive is not None else
                "it is left out of the archive and the feeds until it builds without errors")
        made.problems.append(Problem(
            site.folders[issue_id], None, "note", f"{issue_id} has {plural(errors, 'error')}; "
            f"{kept} (newsletter check {issue_id} lists them)", "other-issue"))
    entries.update({i: g.entry for i, g in goods.items() if g.entry is not None})
    return archive
