"""Subscribers at a glance: ``newsletter subscribers stats`` and the report's chart, on a real
store (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from pipeline.audience import Season, audience, audience_text, season_of
from pipeline.seasons import IssueId
from pipeline.store import NewSubscriber, Subscriber, open_store

from .conftest import RunCli
from .databases import Databases


def person(n: int, status: str, consent: str | None, updated: str,
           created: str = "2026-01-01T00:00:00+00:00") -> Subscriber:
    return Subscriber(n, f"p{n}@example.org", None, status, consent,  # type: ignore[arg-type]
                      "test", created, updated)


def test_a_moment_belongs_to_the_season_up_to_the_next_issue() -> None:
    december = IssueId.parse("2026-12-solstice")
    assert season_of(datetime(2026, 9, 23, 1, tzinfo=UTC)) == december  # just after September
    assert season_of(december.moment()) == december
    assert season_of(datetime(2026, 12, 22, tzinfo=UTC)) == IssueId.parse("2027-03-equinox")


def test_sign_ups_unsubscribes_and_bounces_per_season() -> None:
    found = audience([
        person(1, "active", "2026-08-01T10:00:00+00:00", "2026-08-01T10:00:00+00:00"),
        person(2, "unsubscribed", "2026-08-02T10:00:00+00:00", "2026-12-30T10:00:00+00:00"),
        person(3, "bounced", "2026-10-01T10:00:00", "2026-11-01T10:00:00+00:00"),  # naive: UTC
        person(4, "pending", None, "2026-10-05T10:00:00+00:00"),
        person(5, "active", None, "2026-10-06T10:00:00+00:00",
               created="2026-10-06T10:00:00+00:00"),  # added by an editor: dated when added
    ])
    assert found.by_status == {"pending": 1, "active": 2, "unsubscribed": 1, "bounced": 1}
    assert found.seasons == (
        Season(IssueId.parse("2026-09-equinox"), signups=2),
        Season(IssueId.parse("2026-12-solstice"), signups=2, bounces=1),
        Season(IssueId.parse("2027-03-equinox"), unsubscribes=1),
    )
    assert audience_text(found) == [
        "subscribers: 1 pending, 2 active, 1 unsubscribed, 1 bounced (5 in all)",
        "season up to      sign-ups  unsubscribes  bounces",
        "2026-09-equinox          2             0        0",
        "2026-12-solstice         2             0        1",
        "2027-03-equinox          0             1        0",
    ]


def test_seasons_without_events_are_shown_as_zero() -> None:
    found = audience([
        person(1, "active", "2026-01-10T00:00:00+00:00", "2026-01-10T00:00:00+00:00"),
        person(2, "active", "2026-11-10T00:00:00+00:00", "2026-11-10T00:00:00+00:00"),
    ])
    assert [(str(s.issue_id), s.signups) for s in found.seasons] == [
        ("2026-03-equinox", 1), ("2026-06-solstice", 0), ("2026-09-equinox", 0),
        ("2026-12-solstice", 1)]
    assert audience([]).seasons == () and audience_text(audience([]))[-1].startswith("no sign")


def _fill(root: Path) -> None:
    from .databases import configured

    store = open_store(configured(root))
    try:
        store.import_many([NewSubscriber(f"r{n}@example.org", None, "active",
                                         "2026-10-01T09:00:00+00:00", "test")
                           for n in range(1234)], datetime(2026, 10, 1, 9, tzinfo=UTC))
        leaver = store.get("r7@example.org")
        assert leaver is not None
        store.unsubscribe(leaver.id, "test", datetime(2026, 12, 2, tzinfo=UTC))
    finally:
        store.close()


def test_subscribers_stats_prints_the_table(sample_copy: Path, databases: Databases,
                                            cli: RunCli) -> None:
    databases.attach(sample_copy)
    _fill(sample_copy)
    code, out, err = cli("subscribers", "stats", "--root", str(sample_copy))
    assert code == 0, err
    assert out.splitlines() == [
        "subscribers: 0 pending, 1,233 active, 1 unsubscribed, 0 bounced (1,234 in all)",
        "season up to      sign-ups  unsubscribes  bounces",
        "2026-12-solstice     1,234             1        0",
    ]


def test_the_report_charts_the_subscribers_when_there_is_a_database(
    sample_copy: Path, databases: Databases, cli: RunCli
) -> None:
    if databases.backend == "sqlite":  # no database yet: no chart, and none is created
        code, out, _ = cli("report", "--root", str(sample_copy))
        assert code == 0 and "subscribers:" not in out
        assert not (sample_copy / "subscribers.sqlite3").exists()
    databases.attach(sample_copy)
    _fill(sample_copy)
    code, out, err = cli("report", "--root", str(sample_copy))
    assert code == 0, err
    assert "1,233 active, 1 unsubscribed" in out
    html = (sample_copy / "reports" / "index.html").read_text(encoding="utf-8")
    section = html.split('id="subscribers"', 1)[1].split("</section>", 1)[0]
    assert "Sign-ups, unsubscribes and bounces in each season" in section
    assert 'data-team="sign-ups" data-value="1234"' in section
    assert 'data-team="unsubscribes" data-value="1"' in section
    assert ('<tr><th scope="row">2026-12-solstice</th><td>1234</td><td>1</td><td>0</td></tr>'
            in section)
