"""A new issue's bodies rendered ahead, in a process started before the build loads
(pipeline.ahead): the same renderings, under the keys of what it read, and no process left."""

from __future__ import annotations

import os
import shutil
from contextlib import AbstractContextManager
from datetime import UTC, datetime

import pytest

from pipeline import bodies, memo, workers
from pipeline.ahead import AHEAD_MIN, rendered
from pipeline.build import build_issue
from pipeline.cache import CACHE_DIR
from pipeline.config import Config, load_config
from pipeline.content import load_issue
from pipeline.contributors import load_contributors
from pipeline.errors import Problems
from pipeline.forks import Forked, forked
from pipeline.seasons import IssueId

from .conftest import Scratch
from .test_build import outputs

ISSUE = "2026-12-solstice"
NOW = datetime(2027, 1, 1, tzinfo=UTC)


def rendering_ahead(config: Config, issue_id: IssueId) -> AbstractContextManager[Forked | None]:
    """The process build-issue starts for the issue's bodies."""
    return forked("pipeline.ahead:serve", (config, issue_id, config.issues_dir / ISSUE, True))


@pytest.fixture
def issue(scratch: Scratch) -> Scratch:
    """An issue of eight pieces that link each other's headings, as staff write them."""
    scratch.write(f"issues/{ISSUE}/issue.md", "---\ntitle: Shared work\n---\nThe letter.\n")
    for n in range(8):
        scratch.piece(ISSUE, f"piece-{n}", title=f"Piece {n}",
                      body=f"Intro {n}, see [the next one](piece-{(n + 1) % 8}.md#method-{n}).\n"
                           f"\n## Method {n}\n\n- one\n  - nested\n- two 🙂\n\n"
                           f"[back](#method-{n})\n")
    return scratch


def test_what_is_rendered_ahead_is_what_the_build_renders(issue: Scratch) -> None:
    config = load_config(issue.root)
    folder = issue.root / "issues" / ISSUE
    made = rendered(config, IssueId.parse(ISSUE), folder, use_cache=True)
    pieces = {key: payload for kind, key, payload in made if kind == "piece"}
    assert len(pieces) == 9 and len([k for k, _, _ in made if k == "anchors"]) == 9
    read = load_issue(IssueId.parse(ISSUE), folder, config,
                      load_contributors(issue.root, Problems()), Problems())
    for source, ctx in bodies.body_contexts(read, config):
        key = bodies.piece_key(source, ctx)
        body, found = bodies.render_body(source, ctx)
        assert pieces[key] == {**bodies.body_json((body, found)),
                               "html_absolute": body.html_absolute}
    # What the cache has is not rendered again; an issue of few bodies is left to the build.
    build_issue(config, IssueId.parse(ISSUE), NOW)
    assert rendered(config, IssueId.parse(ISSUE), folder, use_cache=True) == []
    for n in range(8 - AHEAD_MIN + 2):
        (folder / f"piece-{n}.md").unlink()
    assert rendered(config, IssueId.parse(ISSUE), folder, use_cache=False) == []


@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="on one core nothing renders ahead")
def test_a_build_with_bodies_rendered_ahead_writes_what_one_without_writes(
        issue: Scratch, monkeypatch: pytest.MonkeyPatch) -> None:
    issue_id = IssueId.parse(ISSUE)
    config = load_config(issue.root)
    build_issue(config, issue_id, NOW, cache=False)
    made = outputs(issue.root)
    for name in ("public", "feeds"):
        shutil.rmtree(issue.root / name)
    with rendering_ahead(config, issue_id) as ahead:
        assert ahead is not None
        here: list[str] = []  # bodies the build renders itself (no workers: they would)
        real = memo.render_body
        monkeypatch.setattr(workers, "PRERENDER_MIN", 10**6)
        monkeypatch.setattr(memo, "render_body", lambda s, c: here.append(s) or real(s, c))
        result = build_issue(config, issue_id, NOW, ahead=ahead)
        assert len(ahead.result([])) == 18 and here == []
    assert outputs(issue.root) == made
    assert result.cache.rendered("piece") == 9
    # Stored as the build stores what it renders: the absolute HTML is made again when read.
    packs = [p.read_bytes() for p in (issue.root / CACHE_DIR / "bodies").rglob("*.json")]
    assert len(packs) == 1 and packs[0].count(b'"lookups"') == 9
    assert b"html_absolute" not in packs[0]


@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="on one core nothing renders ahead")
def test_a_piece_saved_while_it_rendered_ahead_is_built_as_saved(issue: Scratch) -> None:
    issue_id = IssueId.parse(ISSUE)
    config = load_config(issue.root)
    with rendering_ahead(config, issue_id) as ahead:
        assert ahead is not None and len(ahead.result([])) == 18  # rendered the first version
        issue.piece(ISSUE, "piece-3", title="Piece 3", body="Saved meanwhile: *new* text.\n")
        build_issue(config, issue_id, NOW, ahead=ahead)
    page = (issue.root / "public" / ISSUE / "index.html").read_text("utf-8")
    assert "Saved meanwhile: <em>new</em> text." in page and "Intro 3" not in page


@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="on one core nothing renders ahead")
def test_a_build_that_never_asks_leaves_no_process(issue: Scratch) -> None:
    config = load_config(issue.root)
    with rendering_ahead(config, IssueId.parse(ISSUE)) as ahead:
        assert ahead is not None
        os.kill(ahead.pid, 0)  # it runs
    with pytest.raises(ProcessLookupError):
        os.kill(ahead.pid, 0)  # stopped, and reaped
    assert ahead.result([]) == []  # closed: nothing is waited for


def _square(n: int) -> int:
    return n * n


def _fail(n: int) -> int:
    raise ValueError(n)


@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="on one core nothing is forked")
def test_a_forked_process_returns_its_result_or_the_stopped_value() -> None:
    for target, expected in ((_square, 49), ("tests.test_ahead:_square", 49), (_fail, "stop")):
        with forked(target, (7,)) as started:
            assert started is not None
            assert started.result("stop") == expected
            assert started.result("again") == (expected if expected != "stop" else "again")
        with pytest.raises(ProcessLookupError):
            os.kill(started.pid, 0)
