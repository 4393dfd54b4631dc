"""``newsletter report``: who carries the work, across the whole archive.

For every issue folder (ready pieces only, as published): the pieces each team wrote, the
people from each team who were credited (authors, reviewers and editors, as in the colophon),
the people credited for the first time, and how many pieces had a reviewer who is not one of
their authors; then the teams that have not written for the last four issues. Printed as
aligned tables, and written as an HTML page (``report.html``) whose charts are inline SVG
built here: no JavaScript, a text label on every bar, a title and description for screen
readers, and the same numbers in a data table beside each chart.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup

from . import __version__
from . import render as r
from .audience import Audience
from .charts import PALETTE, bar_chart, stacked_chart, team_colours
from .config import Config, load_config
from .content import list_issues, load_issue
from .contributors import CONTRIBUTORS_NAME, load_contributors
from .errors import ContentError, PipelineError, Problems, UsageError, display_path
from .model import Issue
from .plaintext import display_width, wrap
from .publication import is_published, load_record
from .render import run_template
from .seasons import IssueId
from .status import NO_TEAM, has_independent_reviewer, team_order

SILENT_WINDOW = 4
REPORT_DIR = "reports"  # in the newsletter root, outside the site folder: it is not public



# --------------------------------------------------------------------------- the numbers


@dataclass(frozen=True)
class IssueStats:
    """One issue's share of the work (ready pieces only)."""

    issue_id: IssueId
    name: str
    published: bool
    pieces: int
    reviewed: int  # pieces with a reviewer who is not an author
    pieces_by_team: dict[str, int]
    contributors_by_team: dict[str, int]
    contributors: tuple[str, ...]
    first_time: tuple[str, ...]
    writing_teams: frozenset[str]  # teams with an author of a piece

    @property
    def teams(self) -> int:
        return len([t for t in self.contributors_by_team if t != NO_TEAM])

    @property
    def coverage(self) -> float | None:
        return self.reviewed / self.pieces if self.pieces else None


@dataclass(frozen=True)
class Report:
    """The archive's numbers, oldest issue first."""

    title: str
    since: int | None
    generated: date
    issues: tuple[IssueStats, ...]
    teams: tuple[str, ...]  # every team in the tables, alphabetically
    silent: tuple[str, ...]  # teams with no author in the silent window
    silent_window: tuple[IssueId, ...]
    left_out: tuple[str, ...]  # files with errors, not counted

    def pieces_of(self, team: str) -> list[int]:
        return [i.pieces_by_team.get(team, 0) for i in self.issues]

    def contributors_of(self, team: str) -> list[int]:
        return [i.contributors_by_team.get(team, 0) for i in self.issues]


def build_report(root: Path, moment: datetime, since: int | None,
                 config: Config | None = None) -> Report:
    """Read every issue folder of the root and count who did what."""
    problems = Problems()
    config = config or load_config(root)
    people = load_contributors(root, problems)
    broken = [p for p in problems.items
              if p.level == "error" and p.path.name == CONTRIBUTORS_NAME]
    if broken:
        raise ContentError(broken)
    folders = list_issues(config, problems)
    if not folders:
        raise PipelineError(f"no issue folders in {display_path(config.issues_dir)} yet: "
                            "nothing to report")
    record = load_record(root)
    issues: list[Issue] = []
    for issue_id, folder in folders:
        issues.append(load_issue(issue_id, folder, config, people, problems))
    left_out = sorted({display_path(p.path) for p in problems.items
                       if p.level == "error" and p.path.suffix == ".md"})
    known_teams = {p.team for p in (people or {}).values() if p.team}

    seen: set[str] = set()
    stats: list[IssueStats] = []
    for issue in issues:
        people_in = issue.contributors()
        first = tuple(p.name for p in people_in if p.name.casefold() not in seen)
        seen.update(p.name.casefold() for p in people_in)
        pieces_by_team: dict[str, int] = {}
        writing: set[str] = set()
        for piece in issue.pieces:
            team = piece.team or NO_TEAM
            pieces_by_team[team] = pieces_by_team.get(team, 0) + 1
            writing.update(a.team or piece.team or NO_TEAM for a in piece.authors)
        contributors_by_team: dict[str, int] = {}
        for person in people_in:
            team = person.team or NO_TEAM
            contributors_by_team[team] = contributors_by_team.get(team, 0) + 1
        stats.append(IssueStats(
            issue_id=issue.issue_id, name=issue.name,
            published=is_published(issue.issue_id, moment, record),
            pieces=len(issue.pieces),
            reviewed=sum(1 for p in issue.pieces if has_independent_reviewer(p)),
            pieces_by_team=pieces_by_team, contributors_by_team=contributors_by_team,
            contributors=tuple(p.name for p in people_in), first_time=first,
            writing_teams=frozenset(writing),
        ))

    # Silence is about the present: the last four issues that published anything, whatever
    # --since shows; every team ever seen (or listed in contributors.toml) is a candidate.
    window = [s for s in stats if s.pieces][-SILENT_WINDOW:]
    all_teams = known_teams | {t for s in stats for t in s.contributors_by_team}
    all_teams |= {t for s in stats for t in s.pieces_by_team}
    all_teams.discard(NO_TEAM)
    wrote = set().union(*(s.writing_teams for s in window)) if window else set()
    silent = tuple(sorted(all_teams - wrote, key=team_order)) if window else ()

    shown = [s for s in stats if since is None or s.issue_id.year >= since]
    if not shown:
        first_id, last_id = stats[0].issue_id, stats[-1].issue_id
        raise UsageError(f"--since {since}: no issue from {since} on; the archive runs from "
                         f"{first_id} to {last_id}")
    teams = {t for s in shown for t in (*s.pieces_by_team, *s.contributors_by_team)}
    teams |= set(silent)
    return Report(
        title=config.title, since=since, generated=moment.astimezone(config.time_zone).date(),
        issues=tuple(shown), teams=tuple(sorted(teams, key=team_order)), silent=silent,
        silent_window=tuple(s.issue_id for s in window), left_out=tuple(left_out),
    )


# --------------------------------------------------------------------------- terminal tables


def table(headers: Sequence[str], rows: Iterable[Sequence[str]],
          right: Iterable[int] = ()) -> list[str]:
    """Aligned columns (by display width), a rule under the header; ``right`` columns are
    right-aligned."""
    body = [list(row) for row in rows]
    widths = [max(display_width(cell) for cell in column)
              for column in zip(headers, *body, strict=True)]
    align = set(right)

    def line(cells: Sequence[str]) -> str:
        out = []
        for i, (cell, width) in enumerate(zip(cells, widths, strict=True)):
            space = " " * (width - display_width(cell))
            out.append(space + cell if i in align else cell + space)
        return "  ".join(out).rstrip()

    return [line(headers), "  ".join("-" * w for w in widths), *(line(row) for row in body)]


def _percent(part: int, whole: int) -> str:
    return f"{part}/{whole} ({round(100 * part / whole)}%)" if whole else "-"


def _short(issue: IssueStats) -> str:
    """``2026-12`` for ``2026-12-solstice``: the month says which event it is."""
    return f"{issue.issue_id.year}-{issue.issue_id.month:02d}"


def report_text(report: Report) -> list[str]:
    """The report as lines for a terminal."""
    issues = report.issues
    span = f"{issues[0].issue_id} to {issues[-1].issue_id}" if len(issues) > 1 else str(
        issues[0].issue_id)
    lines = [f"{report.title}: who carries the work, {span} (ready pieces only)", ""]
    lines += table(
        ("issue", "pieces", "contributors", "teams", "first-time", "reviewed"),
        [(f"{i.issue_id}{'' if i.published else ' *'}", str(i.pieces), str(len(i.contributors)),
          str(i.teams), str(len(i.first_time)), _percent(i.reviewed, i.pieces))
         for i in issues],
        right=(1, 2, 3, 4, 5))
    if not all(i.published for i in issues):
        lines.append("* not published yet")
    columns = [_short(i) for i in issues]
    for heading, counts in (("Pieces per team (by the piece's team)", report.pieces_of),
                            ("Contributors per team (authors, reviewers, editors)",
                             report.contributors_of)):
        lines += ["", heading]
        if not report.teams:
            lines.append("  no ready pieces yet")
            continue
        rows = [(team, *map(str, counts(team)), str(sum(counts(team))))
                for team in report.teams]
        lines += table(("team", *columns, "total"), rows, right=range(1, len(columns) + 2))
    lines += ["", "First-time contributors"]
    for issue in issues:
        names = ", ".join(issue.first_time) if issue.first_time else "none"
        lines.append(wrap(f"{issue.issue_id}: {names}", 100, first="  ", rest="    "))
    lines.append("")
    window = report.silent_window
    if not window:
        lines.append("Silent teams: none can be named until an issue has a ready piece")
        return lines
    lines.append(f"Teams that have not written for the last {_issues(len(window))}"
                 f"{' (the whole archive)' if len(window) < SILENT_WINDOW else ''}: "
                 f"{', '.join(report.silent) if report.silent else 'none'}")
    return lines


def _issues(count: int) -> str:
    return "issue" if count == 1 else f"{count} issues"


# --------------------------------------------------------------------------- the HTML page


@dataclass(frozen=True)
class Chart:
    """A chart and the table that carries the same numbers."""

    id: str
    heading: str
    note: str
    svg: Markup
    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]


def audience_chart(found: Audience) -> Chart:
    """Sign-ups, unsubscribes and bounces per season, as a chart and a table."""
    series = ("sign-ups", "unsubscribes", "bounces")
    colours = dict(zip(series, PALETTE, strict=False))
    rows = [(str(s.issue_id), list(zip(series, (s.signups, s.unsubscribes, s.bounces),
                                       strict=True))) for s in found.seasons]
    states = ", ".join(f"{n} {status}" for status, n in found.by_status.items())
    return Chart(
        "subscribers", "Email subscribers per season",
        f"Now: {states}. Each season runs up to the moment of the issue named.",
        stacked_chart("Sign-ups, unsubscribes and bounces in each season", rows, series,
                      "subscribers", colours),
        ("Season up to", *series),
        tuple((str(s.issue_id), str(s.signups), str(s.unsubscribes), str(s.bounces))
              for s in found.seasons),
    )


def charts(report: Report) -> list[Chart]:
    issues = report.issues
    ids = [str(i.issue_id) for i in issues]
    colours = team_colours(report.teams)
    found = []
    for key, heading, unit, counts, by in (
        ("pieces", "Pieces per team", "pieces", report.pieces_of, "pieces_by_team"),
        ("contributors", "Contributors per team", "contributors", report.contributors_of,
         "contributors_by_team"),
    ):
        series = [t for t in report.teams if sum(counts(t))]
        rows = [(str(i.issue_id), [(t, getattr(i, by).get(t, 0)) for t in series])
                for i in issues]
        note = ("Ready pieces, counted for the team each piece names (or its first author's)."
                if key == "pieces" else
                "People credited in each issue (authors, reviewers and editors), by their team.")
        found.append(Chart(
            key, heading, note,
            stacked_chart(f"{heading} in each issue", rows, series, unit, colours),
            ("Team", *ids, "Total"),
            tuple((t, *map(str, counts(t)), str(sum(counts(t)))) for t in report.teams),
        ))
    most = max((len(i.first_time) for i in issues), default=0)
    found.append(Chart(
        "first-time", "First-time contributors",
        "People credited for the first time in the archive.",
        bar_chart("First-time contributors in each issue",
                  [(str(i.issue_id), len(i.first_time), str(len(i.first_time)))
                   for i in issues], most,
                  "; ".join(f"{i.issue_id}: {len(i.first_time)}" for i in issues)),
        ("Issue", "First-time contributors", "Who"),
        tuple((str(i.issue_id), str(len(i.first_time)), ", ".join(i.first_time) or "none")
              for i in issues),
    ))
    found.append(Chart(
        "review", "Review coverage",
        "Ready pieces with at least one reviewer who is not one of their authors.",
        bar_chart("Review coverage in each issue, in percent of ready pieces",
                  [(str(i.issue_id), 100 * (i.coverage or 0), _percent(i.reviewed, i.pieces))
                   for i in issues], 100,
                  "; ".join(f"{i.issue_id}: {_percent(i.reviewed, i.pieces)}" for i in issues)),
        ("Issue", "Reviewed pieces", "Ready pieces", "Coverage"),
        tuple((str(i.issue_id), str(i.reviewed), str(i.pieces),
               f"{round(100 * i.coverage)}%" if i.coverage is not None else "-")
              for i in issues),
    ))
    return found


def report_html(report: Report, config: Config, env: jinja2.Environment, home: str,
                subscribers: Audience | None = None) -> bytes:
    """The report page, rendered from ``report.html`` (with the subscribers' chart when
    their numbers are given)."""
    shown = charts(report)
    if subscribers is not None and subscribers.seasons:
        shown.append(audience_chart(subscribers))
    context: dict[str, Any] = {
        "config": config, "feeds": r.feed_links(config), "version": __version__,
        "report": report, "charts": shown, "home": home,
        "silent_window": SILENT_WINDOW,
    }
    return run_template(lambda: env.get_template("report.html").render(context))
