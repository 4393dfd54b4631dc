"""A new issue's bodies rendered ahead, in a process started before the build loads
(pipeline.ahead): the same renderings, under the keys of what it read, and no process left."""

from __future__ import annotations

import os
import pickle
import shutil
import struct
from collections.abc import Iterator
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from typing import Any

import pytest

from pipeline import bodies, forks, memo, workers
from pipeline import build as build_module
from pipeline.ahead import AHEAD_MIN, Read, issue_read, rendered, serve
from pipeline.build import build_issue
from pipeline.cache import CACHE_DIR, Cache
from pipeline.config import Config, load_config
from pipeline.content import load_issue
from pipeline.contributors import load_contributors
from pipeline.crossings import check_crossings
from pipeline.errors import ContentError, Problems
from pipeline.forks import Forked, forked
from pipeline.seasons import IssueId
from pipeline.site import open_site

from .conftest import RunCli, Scratch
from .test_build import outputs

ISSUE = "2026-12-solstice"
NOW = datetime(2027, 1, 1, tzinfo=UTC)


def rendering_ahead(config: Config, issue_id: IssueId) -> AbstractContextManager[Forked | None]:
    """The process build-issue starts for the issue's bodies."""
    return forked("pipeline.ahead:serve",
                  (config, issue_id, config.issues_dir / ISSUE, True, NOW))


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


def test_what_is_read_and_rendered_ahead_is_what_the_build_reads_and_renders(
        issue: Scratch) -> None:
    config = load_config(issue.root)
    issue_id, folder = IssueId.parse(ISSUE), issue.root / "issues" / ISSUE
    issue.write("contributors.toml", '[ada]\nname = "Ada Example"\nteam = "Policy"\n')
    issue.piece(ISSUE, "piece-7", title="Piece 7", authors="[Nobody Known]",
                body="See [last time](../2026-09-equinox/earlier.md#no-such-heading) and "
                     "[next time](../2027-03-equinox/later.md).\n")  # two warnings, one error
    issue.piece("2026-09-equinox", "earlier", title="Earlier", body="## Findings\n")
    issue.piece("2027-03-equinox", "later", title="Later", body="Not out yet.\n")
    sent = list(serve(config, issue_id, folder, True, NOW))
    assert len(sent) == 2 and isinstance(sent[0], Read)
    assert not (issue.root / CACHE_DIR).exists()  # it wrote nothing
    opened = open_site(config, True)
    assert memo.read_issue(opened.rendering, issue_id, folder) == \
        (sent[0].issue, sent[0].problems, sent[0].inputs)
    assert [p.rule for p in sent[0].problems] == ["unknown-author"]
    crossings = Problems()
    check_crossings(sent[0].issue, config, opened.folders, opened.people, {}, NOW, crossings)
    assert sent[0].crossings == tuple(crossings.items)
    assert [p.rule for p in crossings.items] == ["dangling-anchor", "not-a-piece"]
    made = sent[1]
    pieces = {key: payload for kind, key, payload in made if kind == "piece"}
    assert len(pieces) == 9 and len([k for k, _, _ in made if k == "anchors"]) == 9
    people = load_contributors(issue.root, Problems())
    read = load_issue(issue_id, folder, config, people, Problems())
    for source, ctx in bodies.body_contexts(read, config):
        key = bodies.piece_key(source, ctx)
        body, found = bodies.render_body(source, ctx)
        assert pieces[key] == {**bodies.body_json((body, found)),
                               "html_absolute": body.html_absolute}
    # What the cache has is not rendered again (the cache is written by a build that stops
    # at the link to an unpublished issue too); an issue of few bodies is left to the build.
    with pytest.raises(ContentError):
        build_issue(config, issue_id, NOW)
    assert rendered(config, read, Cache(issue.root / CACHE_DIR)) == []
    for n in range(8 - AHEAD_MIN + 2):
        (folder / f"piece-{n}.md").unlink()
    fewer = load_issue(issue_id, folder, config, people, Problems())
    assert rendered(config, fewer, Cache(None)) == []


@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="on one core nothing renders ahead")
def test_a_build_with_bodies_rendered_ahead_writes_what_one_without_writes(
        issue: Scratch, monkeypatch: pytest.MonkeyPatch) -> None:
    issue_id = IssueId.parse(ISSUE)
    config = load_config(issue.root)
    issue.piece("2026-09-equinox", "earlier", title="Earlier", body="## Findings\n")
    issue.piece(ISSUE, "piece-7", title="Piece 7",
                body="As [last time](../2026-09-equinox/earlier.md#findngs) said.\n")
    cold = build_issue(config, issue_id, NOW, cache=False)  # and the other issue, not yet built
    made = outputs(issue.root)
    for name in (f"public/{ISSUE}", "public/feeds", "feeds"):
        shutil.rmtree(issue.root / name)
    with rendering_ahead(config, issue_id) as ahead:
        assert ahead is not None
        here: list[str] = []  # bodies the build renders itself (no workers: they would)
        real = memo.render_body
        monkeypatch.setattr(workers, "PRERENDER_MIN", 10**6)
        monkeypatch.setattr(memo, "render_body", lambda s, c: here.append(s) or real(s, c))
        result = build_issue(config, issue_id, NOW, ahead=ahead)
        target = load_issue(issue_id, issue.root / "issues" / ISSUE, config, None, Problems())
        assert not set(here) & {target.letter, *(p.body for p in target.pieces)}
        assert here == ["\n## Findings\n"]  # the other issue's entry, not in the cache yet
    assert outputs(issue.root) == made
    assert result.problems == cold.problems
    assert [p.message for p in result.problems if "2026-09-equinox" in p.message]  # crossing
    assert result.cache.rendered("piece") == 10  # 9 ahead, the other issue's here
    # Stored as the build stores what it renders: the absolute HTML is made again when read.
    packs = [p.read_bytes() for p in (issue.root / CACHE_DIR / "bodies").rglob("*.json")]
    assert len(packs) == 2 and sorted(p.count(b'"lookups"') for p in packs) == [1, 9]
    assert not [p for p in packs if b"html_absolute" in p]


@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="on one core nothing renders ahead")
def test_a_piece_saved_after_it_was_read_ahead_is_built_as_read_and_then_as_saved(
        issue: Scratch, monkeypatch: pytest.MonkeyPatch) -> None:
    """The build is of the issue as the process read it when the build started; what it
    made of that version is not kept for the version saved since, which the next build
    builds."""
    issue_id = IssueId.parse(ISSUE)
    config = load_config(issue.root)
    page = issue.root / "public" / ISSUE / "index.html"
    with rendering_ahead(config, issue_id) as ahead:
        assert ahead is not None
        first = issue_read(ahead)  # read: the first version
        assert first is not None
        issue.piece(ISSUE, "piece-3", title="Piece 3", body="Saved meanwhile: *new* text.\n")
        monkeypatch.setattr(build_module, "issue_read", lambda _: first)
        build_issue(config, issue_id, NOW, ahead=ahead)
    assert "Intro 3" in page.read_text("utf-8")
    monkeypatch.undo()
    build_issue(config, issue_id, NOW)
    text = page.read_text("utf-8")
    assert "Saved meanwhile: <em>new</em> text." in text and "Intro 3" not in text


@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="on one core nothing renders ahead")
def test_a_build_that_never_asks_leaves_no_process(issue: Scratch) -> None:
    config = load_config(issue.root)
    with rendering_ahead(config, IssueId.parse(ISSUE)) as ahead:
        assert ahead is not None
        os.kill(ahead.pid, 0)  # it runs
    with pytest.raises(ProcessLookupError):
        os.kill(ahead.pid, 0)  # stopped, and reaped
    assert ahead.receive([]) == []  # closed: nothing is waited for


def _square(n: int) -> int:
    return n * n


def _fail(n: int) -> int:
    raise ValueError(n)


def _count(n: int) -> Iterator[int]:
    yield from range(n)
    raise ValueError("a mistake after the first ones")


@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="on one core nothing is forked")
def test_a_forked_process_returns_its_result_or_the_stopped_value() -> None:
    for target, expected in ((_square, 49), ("tests.test_ahead:_square", 49), (_fail, "stop")):
        with forked(target, (7,)) as started:
            assert started is not None
            assert started.receive("stop") == expected
            assert started.receive("no more") == "no more"
        with pytest.raises(ProcessLookupError):
            os.kill(started.pid, 0)
    with forked(_count, (3,)) as started:  # each thing as it is made, until it fails
        assert started is not None
        assert [started.receive(None) for _ in range(5)] == [0, 1, 2, None, None]


@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="on one core nothing is forked")
def test_a_build_leaves_no_process_behind(issue: Scratch, cli: RunCli,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """build-issue forks a process to render ahead and one to make large feeds: both are
    reaped before it returns (none is left a zombie)."""
    monkeypatch.setattr(workers, "ASIDE_MIN", 0)
    started: list[int] = []
    real = forks.fork

    def recording(*args: Any) -> forks.Forked | None:
        made = real(*args)
        started.extend([made.pid] if made is not None else [])
        return made

    monkeypatch.setattr(forks, "fork", recording)
    monkeypatch.setattr(workers, "fork", recording)
    code, _, err = cli("build-issue", ISSUE, "--root", str(issue.root))
    assert code == 0, err
    assert len(started) == 2
    for pid in started:
        with pytest.raises(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)  # not a child any more: reaped


def test_a_system_that_cannot_fork_leaves_the_work_here(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_more(*_: object) -> int:
        raise OSError(11, "Resource temporarily unavailable")

    monkeypatch.setattr(os, "fork", no_more)
    before = len(os.listdir("/proc/self/fd"))
    assert forks.fork(_square, (3,)) is None
    assert len(os.listdir("/proc/self/fd")) == before  # the pipe was closed


@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="on one core nothing is forked")
def test_a_message_cut_short_is_no_result() -> None:
    """A process that ends in the middle of what it sends (killed, or out of memory) gives
    the stopped value, not part of a value."""
    receive, send = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.write(send, struct.pack("<Q", 1000) + pickle.dumps("x" * 900)[:10])
        os._exit(0)
    os.close(send)
    assert forks.Forked(pid, receive).receive("stopped") == "stopped"
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)  # reaped
