"""The render cache: a build that uses it makes exactly what a build that renders everything
makes, reports the same problems, renders only what changed, and never trusts a broken entry.

Renders are counted with the cache statistics a build returns, never timed.
"""

from __future__ import annotations

import json
import os
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from pipeline import cache as c
from pipeline import digests, memo, stages, workers
from pipeline.build import BuildResult, build_all, build_issue
from pipeline.cache import CACHE_DIR
from pipeline.cli import build_issue_main
from pipeline.config import load_config
from pipeline.errors import ContentError, PipelineError, Problem
from pipeline.seasons import IssueId
from pipeline.site import open_site

from .conftest import REPO, RunCli, Scratch, copy_sample, piece_text, png
from .test_build import outputs

NOW = datetime(2027, 1, 1, tzinfo=UTC)
ISSUES = ("2026-06-solstice", "2026-09-equinox")


def entries(root: Path, kind: str) -> list[Path]:
    return sorted((root / CACHE_DIR / kind).rglob("*.json"))


@pytest.fixture
def archive(scratch: Scratch) -> Scratch:
    """Two published issues of three pieces each, with a link, an image and a footnote."""
    for issue in ISSUES:
        scratch.write(f"issues/{issue}/issue.md", "---\ntitle: Theme\n---\nThe letter.\n")
        scratch.write(f"issues/{issue}/images/chart.png", png())
        for n in range(3):
            scratch.piece(issue, f"piece-{n}", title=f"Piece {n} of {issue}",
                          body=f"Text {n} with [a link](piece-{(n + 1) % 3}.md) and a "
                               f"note.[^1]\n\n![A chart](images/chart.png)\n\n[^1]: A note.\n")
    return scratch


def build(root: Path, **kwargs: bool) -> BuildResult:
    return build_all(load_config(root), NOW, **kwargs)


def test_a_warm_build_writes_exactly_what_a_cold_one_writes(archive: Scratch) -> None:
    cold = build(archive.root, cache=False)
    made = outputs(archive.root)
    assert not (archive.root / CACHE_DIR).exists(), "--no-cache must not write the cache"
    assert cold.cache.rendered("piece") == 0  # nothing counted without a cache
    shutil.rmtree(archive.root / "public")
    shutil.rmtree(archive.root / "feeds")
    first = build(archive.root)
    assert first.cache.rendered("piece") == 8 and first.cache.rendered("issue") == 2
    assert outputs(archive.root) == made
    shutil.rmtree(archive.root / "public")
    shutil.rmtree(archive.root / "feeds")
    warm = build(archive.root)
    assert outputs(archive.root) == made
    assert warm.cache.rendered("issue") == 0 and warm.cache.hits == {"issue": 2}
    assert warm.problems == cold.problems


def test_the_sample_builds_the_same_warm_and_cold(tmp_path: Path) -> None:
    roots = [copy_sample(tmp_path / name) for name in ("cold", "warm")]
    for issue in ("2026-09-equinox", "2026-12-solstice"):
        build_issue(load_config(roots[0]), IssueId.parse(issue), NOW, cache=False)
        build_issue(load_config(roots[1]), IssueId.parse(issue), NOW)
    first = outputs(roots[1])
    shutil.rmtree(roots[1] / "public")
    shutil.rmtree(roots[1] / "feeds")
    again = build_issue(load_config(roots[1]), IssueId.parse("2026-12-solstice"), NOW)
    assert again.cache.rendered("issue") == 0 and again.cache.rendered("piece") == 0
    # the other issue's folder is gone from the site, so its pages come back from the cache
    assert again.cache.hits.get("issue") == 2 and len(again.issues) == 2
    build_issue(load_config(roots[1]), IssueId.parse("2026-09-equinox"), NOW)
    assert outputs(roots[0]) == first == outputs(roots[1])


def test_changing_one_piece_renders_only_that_piece(archive: Scratch) -> None:
    build(archive.root)
    archive.piece(ISSUES[1], "piece-2", title="Piece 2, corrected", body="New text.\n")
    result = build(archive.root)
    assert result.cache.rendered("piece") == 1
    assert result.cache.rendered("issue") == 1 and result.cache.hits["issue"] == 1
    assert b"Piece 2, corrected" in (archive.root / f"public/{ISSUES[1]}/index.html").read_bytes()
    # build-issue of the other issue renders nothing: the archive and feeds come from the cache
    other = build_issue(load_config(archive.root), IssueId.parse(ISSUES[0]), NOW)
    assert other.cache.rendered("piece") == 0 and other.cache.rendered("issue") == 0
    assert other.cache.rendered("summary") == 0 and other.cache.rendered("entry") == 0


def test_a_new_issue_on_a_warm_archive_renders_only_its_own_pieces(archive: Scratch) -> None:
    build(archive.root)
    new = "2026-12-solstice"
    for n in range(7):
        archive.piece(new, f"new-{n}", title=f"New {n}", body=f"New text {n}.\n")
    result = build_issue(load_config(archive.root), IssueId.parse(new), NOW)
    assert result.cache.rendered("piece") == 7  # the new pieces, on every core (7 > 6)
    assert result.cache.rendered("summary") == 0 and result.cache.rendered("entry") == 0
    warm = outputs(archive.root)
    cold = build_issue(load_config(archive.root), IssueId.parse(new), NOW, cache=False)
    assert outputs(archive.root) == warm
    assert cold.problems == result.problems
    assert b"New 3" in warm["feeds/atom.xml"] and b"Piece 1 of 2026-06" in warm["feeds/atom.xml"]


def test_a_template_change_renders_the_pages_again_but_no_markdown(archive: Scratch) -> None:
    shutil.copytree(REPO / "templates", archive.root / "templates")
    build(archive.root)
    page = archive.root / "templates" / "issue.html"
    page.write_text(page.read_text(encoding="utf-8").replace("In this issue", "Inside"),
                    encoding="utf-8")
    result = build(archive.root)
    assert result.cache.rendered("piece") == 0 and result.cache.rendered("issue") == 2
    assert b"Inside" in (archive.root / f"public/{ISSUES[0]}/index.html").read_bytes()


def test_a_configuration_change_invalidates_what_it_affects(archive: Scratch) -> None:
    build(archive.root)
    config = archive.root / "newsletter.toml"
    text = config.read_text(encoding="utf-8")
    config.write_text(text.replace("Scratch Weekly", "Scratch Monthly"), encoding="utf-8")
    retitled = build(archive.root)
    assert retitled.cache.rendered("piece") == 0 and retitled.cache.rendered("issue") == 2
    assert b"Scratch Monthly" in (archive.root / f"public/{ISSUES[0]}/email.html").read_bytes()
    # base_url is in every body's absolute links, so every body renders again
    config.write_text(text.replace("news.example.org", "letters.example.org"), encoding="utf-8")
    moved = build(archive.root)
    assert moved.cache.rendered("piece") == 8
    email = (archive.root / f"public/{ISSUES[0]}/email.html").read_bytes()
    assert b"https://letters.example.org/2026-06-solstice/images/chart.png" in email
    assert b"news.example.org" not in email


def test_corrupt_entries_are_detected_and_rendered_again(archive: Scratch) -> None:
    build(archive.root)
    made = outputs(archive.root)
    # the bodies of each issue are one entry; each is broken a different way
    bodies, issues = entries(archive.root, "bodies"), entries(archive.root, "issue")
    assert len(bodies) == 2 and not entries(archive.root, "piece")
    data = bodies[0].read_bytes()
    bodies[0].write_bytes(data[: len(data) // 2])  # truncated
    flipped = bytearray(bodies[1].read_bytes())
    flipped[-20] ^= 0x01  # one bit of the payload
    bodies[1].write_bytes(bytes(flipped))
    first = issues[0].read_bytes()
    issues[0].write_bytes(issues[1].read_bytes())  # a valid entry under the wrong key
    issues[1].write_bytes(first.replace(b"newsletter-cache-1", b"newsletter-cache-0"))
    shutil.rmtree(archive.root / "public")
    result = build(archive.root)  # both issues' pages are looked up, so every piece is
    assert result.cache.corrupt == {"issue": 2, "piece": 2}
    assert result.cache.rendered("piece") == 8 and result.cache.rendered("issue") == 2
    assert outputs(archive.root) == made
    again = build(archive.root)  # the broken entries were replaced by good ones
    assert again.cache.corrupt == {} and again.cache.rendered("issue") == 0


def test_a_cached_piece_is_checked_against_the_files_it_links_to(scratch: Scratch) -> None:
    issue = ISSUES[0]
    scratch.piece(issue, "a", body="![A chart](images/chart.png) and [b](b.md)\n")
    scratch.piece(issue, "b", body="Text.\n")
    with pytest.raises(ContentError) as failed:
        build(scratch.root)
    assert [p.rule for p in failed.value.problems if p.level == "error"] == ["missing-file"]
    scratch.write(f"issues/{issue}/images/chart.png", png())
    result = build(scratch.root)
    assert result.cache.stale == {"piece": 1}  # same Markdown, but the image is there now
    assert (scratch.root / f"public/{issue}/images/chart.png").read_bytes() == png()
    (scratch.root / f"issues/{issue}/images/chart.png").unlink()
    (scratch.root / f"issues/{issue}/images/chart.png").mkdir()
    with pytest.raises(ContentError) as again:
        build(scratch.root)
    assert any("is a folder, not a file" in p.message for p in again.value.problems)


@pytest.mark.parametrize("strict", [False, True])
def test_a_warm_build_reports_the_problems_a_cold_one_reports(scratch: Scratch,
                                                              strict: bool) -> None:
    issue = ISSUES[1]
    scratch.write(f"issues/{issue}/warned.md", "---\ntitle: Warned\nauthors: [Nobody Known]\n"
                  "summary: S.\nstatus: ready\n---\n"
                  "![](images/x.png)\n\n![Far](https://cdn.example.com/x.png)\n")
    scratch.write(f"issues/{issue}/images/x.png", png())
    scratch.piece(issue, "fine")
    scratch.write(f"issues/{issue}/notes.txt", "not a piece")
    scratch.piece(ISSUES[0], "older", body="![](gone.png)\n")  # an error in another issue:
    # its own, named in one note (tests/test_issue_isolation.py)

    def run() -> tuple[Problem, ...]:
        try:
            return build_issue(load_config(scratch.root), IssueId.parse(issue), NOW,
                               strict=strict).problems
        except ContentError as exc:
            return exc.problems

    cold = run()
    rules = {p.rule for p in cold}
    assert {"image-alt", "remote-image", "left-out", "other-issue", "no-team"} <= rules
    assert "missing-file" not in rules
    assert all(p.level == "error" for p in cold if p.rule == "image-alt") == strict
    warm = run()
    assert warm == cold


def test_the_cache_line_and_no_cache_on_the_command_line(archive: Scratch, cli: RunCli) -> None:
    code, out, _ = cli("build", "--root", str(archive.root), "-v")
    assert code == 0 and "cache: pieces 0 reused, 8 rendered; issue pages 0 reused, 2 " \
                         "rendered" in out
    code, out, _ = cli("build-issue", ISSUES[1], "--root", str(archive.root), "-v")
    assert code == 0
    assert "cache: issue pages 1 reused, 0 rendered; feed entries 1 reused, 0 rendered; " \
           "issue summaries 1 reused, 0 rendered" in out
    shutil.rmtree(archive.root / CACHE_DIR)
    code, out, _ = cli("build-issue", ISSUES[1], "--root", str(archive.root), "-v",
                       "--no-cache")
    assert code == 0 and "cache: nothing to look up" in out
    assert build_issue_main([ISSUES[0], "--root", str(archive.root), "--no-cache", "-q"]) == 0
    assert not (archive.root / CACHE_DIR).exists()


def test_compiled_templates_are_checked_like_every_entry(archive: Scratch) -> None:
    build(archive.root)
    made = outputs(archive.root)
    compiled = entries(archive.root, "template")
    assert compiled, "the templates' compiled code is kept"
    garbled = {}
    for entry in compiled:
        data = bytearray(entry.read_bytes())
        data[-5] ^= 0xFF
        entry.write_bytes(bytes(data))
        garbled[entry] = bytes(data)
    shutil.rmtree(archive.root / "public")
    shutil.rmtree(archive.root / CACHE_DIR / "issue")  # so that every page is made again
    stages._ENVIRONMENTS.clear()  # a fresh process would not have compiled them yet
    build(archive.root)
    assert outputs(archive.root) == made
    assert entries(archive.root, "template") == compiled
    assert all(entry.read_bytes() != data for entry, data in garbled.items())  # rewritten
    stages._ENVIRONMENTS.clear()
    first = entries(archive.root, "template")[0].read_bytes()
    build(archive.root)
    assert entries(archive.root, "template")[0].read_bytes() == first


def test_a_whole_archive_build_that_fails_leaves_nothing_staged(archive: Scratch) -> None:
    build(archive.root)
    before = outputs(archive.root)
    archive.piece(ISSUES[0], "piece-0", title="Changed", body="Text.\n")  # staged by a worker
    archive.piece(ISSUES[1], "broken", body="![A chart](images/missing.png)\n")
    with pytest.raises(ContentError):
        build(archive.root)
    assert outputs(archive.root) == before
    assert not list((archive.root / "public").rglob("*.tmp"))


def test_a_template_added_to_the_root_is_used_by_the_next_build(archive: Scratch) -> None:
    archive.write("templates/notes.txt", "Our own templates go here.\n")
    # The shipped templates, in this process:
    build_issue(load_config(archive.root), IssueId.parse(ISSUES[0]), NOW)
    shipped = (REPO / "templates" / "issue.html").read_text(encoding="utf-8")
    archive.write("templates/issue.html", shipped.replace("In this issue", "Inside"))
    # The same process sees the new file:
    build_issue(load_config(archive.root), IssueId.parse(ISSUES[0]), NOW)
    assert b"Inside" in (archive.root / f"public/{ISSUES[0]}/index.html").read_bytes()


@pytest.mark.parametrize("saved", ["a piece", "the configuration"])
def test_what_is_saved_while_an_issue_is_rendered_is_not_cached(archive: Scratch,
                                                                saved: str) -> None:
    site = open_site(load_config(archive.root), use_cache=True).rendering
    folder = archive.root / "issues" / ISSUES[0]
    issue, _, inputs = memo.read_issue(site, IssueId.parse(ISSUES[0]), folder)
    if saved == "a piece":  # after the issue was read
        archive.piece(ISSUES[0], "piece-0", title="Saved meanwhile")
    else:  # after the configuration was read
        config = archive.root / "newsletter.toml"
        config.write_text(config.read_text(encoding="utf-8").replace("Scratch Weekly", "Other"),
                          encoding="utf-8")
    cache = c.Cache(site.cache_folder)
    pages = memo.pages(site, cache, memo.environment(site), issue, inputs, drafts=False)
    assert pages.files  # this build still gets its pages...
    memo.store_summary(site, cache, issue, inputs, ())
    for kind in ("issue", "entry", "summary"):  # ...but they are stored under no key
        assert entries(archive.root, kind) == []
    assert entries(archive.root, "bodies")  # each piece's entry matches its own Markdown


def test_a_file_name_that_is_not_utf8_builds_through_the_cache(archive: Scratch,
                                                               cli: RunCli) -> None:
    """A piece saved by a tool that wrote its name in Latin-1 ("café" as 63 61 66 e9): the
    build reports and renders it as without the cache, and the next builds (replayed, and
    from the cache) say the same."""
    name = os.fsdecode(b"caf\xe9.md")
    (archive.root / "issues" / ISSUES[0] / name).write_text(
        piece_text(title="Café", body="Text with [a link](piece-0.md).\n"), encoding="utf-8")
    argv = ("build-issue", ISSUES[0], "--root", str(archive.root))
    code, _, err = cli(*argv, "--no-cache")
    assert code == 0, err
    made = outputs(archive.root)
    assert "Café" in made[f"public/{ISSUES[0]}/index.html"].decode("utf-8")
    for _ in range(2):  # renders through the cache and stores its report; replays it
        assert cli(*argv)[0] == 0
    shutil.rmtree(archive.root / CACHE_DIR / "uptodate")
    code, again, err = cli(*argv, "-v")  # every page from the cache
    assert code == 0 and "issue pages 1 reused" in again, err
    assert outputs(archive.root) == made


@given(st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=3000),
                    lambda inner: st.lists(inner, max_size=4)
                    | st.dictionaries(st.text(max_size=5), inner, max_size=4), max_leaves=12))
@example({"\u0000": 0}).via("a key that looks like a place")
@example({"\u0000\u0000": [1], "\u0000x": "y" * 2000}).via("keys that start with NUL")
@settings(max_examples=300, deadline=None)
def test_an_entry_reads_back_as_it_was_stored(value: Any) -> None:
    """Long strings are stored after the JSON as they are: any payload (lone surrogates,
    newlines and NULs in strings and keys, a key that looks like a place) reads back equal,
    and cut short or with bytes added it is refused."""
    payload = {"value": value, "\u0000": "x" * c.LONG, "text": "\ud800\n" * c.LONG}
    data = c.encode(payload)
    assert c.decode(data) == json.loads(json.dumps(payload))  # lists for tuples, as JSON
    for broken in (data[:-1], data + b"x"):
        with pytest.raises(ValueError):
            c.decode(broken)


def test_feeds_made_while_older_issues_render_are_written_only_with_the_build(
        archive: Scratch) -> None:
    """A whole-archive build makes and stages the feeds once the newest issues are rendered,
    while the older ones still render: the feeds it writes are those a build makes at the
    end, and when an older issue's error stops the build, nothing of them is left."""
    config = archive.root / "newsletter.toml"
    config.write_text(config.read_text("utf-8") + "\n[feeds]\nissues = 1\n", encoding="utf-8")
    build(archive.root, cache=False)
    made = outputs(archive.root)
    shutil.rmtree(archive.root / "public")
    shutil.rmtree(archive.root / "feeds")
    build(archive.root)
    assert outputs(archive.root) == made
    archive.piece(ISSUES[1], "piece-1", title="Changed")  # the newest issue: new feeds...
    archive.piece(ISSUES[0], "piece-0", title="")  # ...and the older one: an error
    with pytest.raises(ContentError):
        build(archive.root)
    assert outputs(archive.root) == made
    assert not list(archive.root.rglob("*.tmp"))


def test_a_new_issue_s_feeds_made_in_a_process_of_their_own_are_the_build_s_feeds(
        archive: Scratch, monkeypatch: pytest.MonkeyPatch) -> None:
    """build-issue makes large feeds in a process of their own, forked as soon as the issue's
    feed entry is made, while its email renders: the feeds it writes are those the build's
    own process makes, a feed it cannot write is the same error, and when the issue's error
    stops the build, no file of them is left."""
    if (os.cpu_count() or 1) < 2:
        pytest.skip("on one core the feeds are always made in the build's own process")
    target = IssueId.parse(ISSUES[1])
    build(archive.root, cache=False)  # the older issue is on the site: one target
    aside: list[workers.AsideFeeds | None] = []
    real = workers.feeds_aside

    def spying(*args: Any) -> workers.AsideFeeds | None:
        aside.append(real(*args))
        return aside[-1]

    monkeypatch.setattr(workers, "feeds_aside", spying)
    made: dict[str, dict[str, bytes]] = {}
    unwritable: dict[str, str] = {}
    for where, smallest in (("here", 2**40), ("apart", 0)):
        monkeypatch.setattr(workers, "ASIDE_MIN", smallest)
        shutil.rmtree(archive.root / "feeds", ignore_errors=True)
        shutil.rmtree(archive.root / "public" / "feeds")
        build_issue(load_config(archive.root), target, NOW, cache=False)
        made[where] = outputs(archive.root)
        shutil.rmtree(archive.root / "feeds")
        (archive.root / "feeds").write_text("a file in the way", encoding="utf-8")
        with pytest.raises(PipelineError) as failed:
            build_issue(load_config(archive.root), target, NOW, cache=False)
        unwritable[where] = str(failed.value)
        (archive.root / "feeds").unlink()
    assert aside[:2] == [None, None] and all(a is not None for a in aside[2:])
    assert made["apart"] == made["here"]
    assert unwritable["apart"] == unwritable["here"]
    assert "a folder is in the way" in unwritable["apart"]

    apart, build_process = workers._feeds_apart, os.getpid()

    def failing(*args: Any) -> Any:
        if os.getpid() != build_process:
            raise RuntimeError("a mistake in the process that makes the feeds")
        return apart(*args)

    # A process that fails (a mistake, or killed) leaves its feeds to the build itself.
    monkeypatch.setattr(workers, "_feeds_apart", failing)
    shutil.rmtree(archive.root / "public" / "feeds")
    build_issue(load_config(archive.root), target, NOW, cache=False)
    assert aside[-1] is not None and outputs(archive.root) == made["here"]
    monkeypatch.setattr(workers, "_feeds_apart", apart)
    before = outputs(archive.root)
    archive.piece(ISSUES[1], "piece-2", title="")  # an error: nothing is written
    with pytest.raises(ContentError):
        build_issue(load_config(archive.root), target, NOW, cache=False)
    assert aside[-1] is not None
    assert outputs(archive.root) == before
    assert not list(archive.root.rglob("*.tmp"))


def test_an_issue_folder_is_read_again_whenever_a_file_of_it_changed(tmp_path: Path) -> None:
    """The digest of an issue folder kept by what the file system says of it is used again
    only while that is the same: an edit (even one that keeps the size and puts the
    modification time back), a new file, a symbolic link, or entries that changed too
    recently to be told apart from the next change, all read the Markdown again."""
    folder = tmp_path / "newsletter" / "issues" / "2026-12-solstice"
    folder.mkdir(parents=True)
    piece = folder / "a.md"
    piece.write_text(piece_text(body="First.\n"), encoding="utf-8")
    memo = tmp_path / "cache"
    later = lambda: 2**62  # noqa: E731  (a clock long after every entry changed)
    first = digests.inputs(folder, memo, lambda: 0)  # entries not settled: nothing kept
    assert not (memo / "inputs").exists()
    assert digests.inputs(folder, memo, later) == first  # kept now
    kept = list((memo / "inputs").iterdir())
    assert len(kept) == 1
    reads: list[Path] = []
    real = Path.read_bytes

    def counting(path: Path) -> bytes:
        reads.append(path)
        return real(path)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Path, "read_bytes", counting)
        assert digests.inputs(folder, memo, later) == first
        assert reads == []  # the kept digest, nothing read
        st = piece.stat()
        piece.write_text(piece_text(body="Other.\n"), encoding="utf-8")  # the same size
        os.utime(piece, ns=(st.st_atime_ns, st.st_mtime_ns))  # and the old time
        edited = digests.inputs(folder, memo, later)
        assert edited != first and reads == [piece]
    assert edited == digests.inputs(folder)  # what reading everything gives
    (folder / "b.md").write_text(piece_text(), encoding="utf-8")
    assert digests.inputs(folder, memo, later) == digests.inputs(folder) != edited
    (folder / "c.md").symlink_to(piece)
    assert digests.inputs(folder, memo, later) == digests.inputs(folder)
    assert digests.inputs(folder, None, later) == digests.inputs(folder)
