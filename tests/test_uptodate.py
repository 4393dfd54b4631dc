"""An unchanged build-issue says again what it said, without building: and any change to what
the build reads or wrote builds again (pipeline.uptodate)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from pipeline import build as build_module
from pipeline.uptodate import FOLDER

from .conftest import AS_OF_EPOCH, REPO, RunCli, Scratch

ISSUE = "2026-09-equinox"


@pytest.fixture
def site(scratch: Scratch) -> Scratch:
    scratch.write(f"issues/{ISSUE}/issue.md", "---\ntitle: Theme\n---\nThe letter.\n")
    for n in range(2):
        scratch.piece(ISSUE, f"piece-{n}", title=f"Piece {n}",
                      body=f"Text {n} with [the other](piece-{1 - n}.md).\n")
    scratch.piece("2026-06-solstice", "older", title="Older", body="An older piece.\n")
    return scratch


def build(cli: RunCli, site: Scratch, *flags: str) -> tuple[int, str, str]:
    return cli("build-issue", ISSUE, "--root", str(site.root), *flags)


@pytest.fixture
def builds(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The issues the real build_issue was called for (a replay does not call it)."""
    called: list[str] = []
    real = build_module.build_issue

    def counted(config: Any, issue_id: Any, *args: Any,
                **kwargs: Any) -> build_module.BuildResult:
        called.append(str(issue_id))
        return real(config, issue_id, *args, **kwargs)

    monkeypatch.setattr(build_module, "build_issue", counted)
    return called


def stored(site: Scratch) -> list[Path]:
    return sorted((site.root / FOLDER).glob("*.json"))


def test_an_unchanged_build_prints_what_a_build_that_changed_nothing_prints(
        cli: RunCli, site: Scratch) -> None:
    site.piece(ISSUE, "piece-2", title="A lost link", body="See [below](#nowhere).\n")
    first = build(cli, site)
    assert first[0] == 0 and "wrote" in first[1] and "warning" in first[2]
    shutil.rmtree(site.root / FOLDER)  # so the next build runs in full, changing nothing
    full = build(cli, site)
    assert "wrote" not in full[1] and "warning" in full[2]
    replayed = build(cli, site, "-q")
    assert replayed == (0, "", full[2])
    replayed = build(cli, site)
    assert replayed == full
    assert len(stored(site)) == 1


def test_an_unchanged_build_imports_no_renderer(site: Scratch) -> None:
    """Run as a process of its own: the replay never imports the build (nor Jinja2)."""
    script = ("import sys; from pipeline.cli import main; "
              f"code = main(['build-issue', '{ISSUE}', '--root', sys.argv[1], '-q']); "
              "print(code, 'pipeline.build' in sys.modules, 'jinja2' in sys.modules)")
    env = {**os.environ, "SOURCE_DATE_EPOCH": AS_OF_EPOCH}
    runs = [subprocess.run([sys.executable, "-c", script, str(site.root)], cwd=REPO, env=env,
                           capture_output=True, text=True, check=True).stdout.split()
            for _ in range(2)]
    assert runs == [["0", "True", "True"], ["0", "False", "False"]]


@pytest.mark.parametrize("change", [
    "edit a piece", "add a piece", "add an image", "edit the configuration",
    "add a template", "edit contributors", "edit an output", "delete an output",
    "edit a feed", "another issue", "record a publication",
])
def test_a_change_to_what_the_build_reads_or_wrote_builds_again(
        cli: RunCli, site: Scratch, change: str, builds: list[str]) -> None:
    build(cli, site)
    build(cli, site)
    assert builds == [ISSUE], "the second, unchanged, is a replay"
    public = site.root / "public"
    if change == "edit a piece":
        site.piece(ISSUE, "piece-0", title="Piece 0, revised", body="Text 0 again.\n")
    elif change == "add a piece":
        site.piece(ISSUE, "piece-9", title="Piece 9", body="New.\n")
    elif change == "add an image":
        site.write(f"issues/{ISSUE}/images/new.png", b"not read, only listed")
    elif change == "edit the configuration":
        config = site.root / "newsletter.toml"
        config.write_text(config.read_text(encoding="utf-8") + "\n", encoding="utf-8")
    elif change == "add a template":
        site.write("templates/notes.txt", "Our own templates go here.\n")
    elif change == "edit contributors":
        site.write("contributors.toml", "")
    elif change == "edit an output":
        (public / ISSUE / "index.html").write_text("changed by hand", encoding="utf-8")
    elif change == "delete an output":
        (public / "index.html").unlink()
    elif change == "edit a feed":
        (site.root / "feeds" / "atom.xml").write_text("changed by hand", encoding="utf-8")
    elif change == "another issue":
        site.piece("2026-03-equinox", "oldest", title="Oldest", body="The oldest.\n")
    else:
        site.write("published.toml", f'"{ISSUE}" = 2026-09-22T12:00:00Z\n')
    assert build(cli, site)[0] == 0
    assert builds == [ISSUE, ISSUE], change
    assert (public / ISSUE / "index.html").read_text(encoding="utf-8") != "changed by hand"
    assert (public / "index.html").is_file()


def test_a_moment_that_passes_builds_again(cli: RunCli, site: Scratch,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """The issues published at the build's moment are part of what it read: when the next
    issue's moment passes, the archive gains it."""
    site.piece("2026-12-solstice", "next", title="Next", body="Coming.\n")
    monkeypatch.setenv("SOURCE_DATE_EPOCH", str(int(AS_OF_EPOCH) - 12 * 86400))  # 20 Dec 2026
    build(cli, site)
    assert not (site.root / "public" / "2026-12-solstice").exists()
    monkeypatch.setenv("SOURCE_DATE_EPOCH", AS_OF_EPOCH)  # 1 January 2027
    _, out, _ = build(cli, site)
    assert "2026-12-solstice" in out  # not a replay of the earlier report
    assert (site.root / "public" / "2026-12-solstice" / "index.html").is_file()


@pytest.mark.parametrize("flags", [("-v",), ("--no-cache",), ("--drafts",)])
def test_a_build_asked_in_full_is_never_replayed(cli: RunCli, site: Scratch,
                                                 flags: tuple[str, ...],
                                                 builds: list[str]) -> None:
    build(cli, site)
    for _ in range(2):
        assert build(cli, site, *flags)[0] == 0
    assert builds == [ISSUE] * 3
    if flags == ("-v",):
        assert "unchanged" in build(cli, site, *flags)[1]  # what only a build knows


def test_a_preview_is_never_replayed(cli: RunCli, site: Scratch, builds: list[str]) -> None:
    """A preview's message counts the time to its moment, which changes as time passes."""
    site.piece("2027-03-equinox", "soon", title="Soon", body="Soon.\n")
    for _ in range(2):
        code, out, _ = cli("build-issue", "2027-03-equinox", "--root", str(site.root))
        assert code == 0 and "preview only" in out
    assert stored(site) == [] and len(builds) == 2


def test_a_build_with_errors_stores_nothing(cli: RunCli, site: Scratch,
                                            builds: list[str]) -> None:
    site.piece(ISSUE, "broken", title="Broken", body="[x]()\n")
    for _ in range(2):
        code, _, err = build(cli, site)
        assert code == 1 and "error" in err
    assert stored(site) == [] and len(builds) == 2


def test_strict_and_plain_builds_are_kept_apart(cli: RunCli, site: Scratch) -> None:
    site.piece(ISSUE, "piece-2", title="A lost link", body="See [below](#nowhere).\n")
    assert build(cli, site)[0] == 0
    assert build(cli, site)[0] == 0  # replayed
    code, _, err = build(cli, site, "--strict")
    assert code == 1 and "error" in err


def test_a_build_that_also_wrote_a_missing_issue_is_replayed_as_the_next_build_prints(
        cli: RunCli, site: Scratch) -> None:
    """The first build also writes 2026-06-solstice, missing from the site, and says so; the
    next one finds it there, neither writes nor names it, and neither does its replay."""
    first = build(cli, site)
    assert "2026-06-solstice (" in first[1]
    full = build(cli, site, "--no-cache")
    assert "2026-06-solstice (" not in full[1]
    assert build(cli, site) == full


def test_an_edit_that_puts_size_modification_time_and_inode_back_builds_again(
        cli: RunCli, site: Scratch, builds: list[str]) -> None:
    """Written in place (the same inode), the same length, its modification time set back:
    only the change time, which no one can set, tells."""
    build(cli, site)
    piece = site.root / "issues" / ISSUE / "piece-0.md"
    before = piece.stat()
    with piece.open("r+b") as file:  # in place, as some editors save
        file.write(piece.read_bytes().replace(b"Text 0", b"Tex 00"))
    os.utime(piece, ns=(before.st_atime_ns, before.st_mtime_ns))
    after = piece.stat()
    assert (after.st_size, after.st_mtime_ns, after.st_ino) == \
        (before.st_size, before.st_mtime_ns, before.st_ino)
    assert build(cli, site)[0] == 0
    assert builds == [ISSUE, ISSUE]
    assert "Tex 00" in (site.root / "public" / ISSUE / "index.html").read_text(encoding="utf-8")


def test_a_template_in_a_linked_folder_is_followed(cli: RunCli, site: Scratch,
                                                   tmp_path: Path) -> None:
    """templates/parts is a symbolic link to a folder elsewhere (and templates/loop one back
    to templates/): an edit of a template in it builds again."""
    parts = tmp_path / "shared" / "parts"
    parts.mkdir(parents=True)
    (parts / "note.html").write_text("<p>First note</p>", encoding="utf-8")
    archive = (REPO / "templates" / "archive.html").read_text(encoding="utf-8")
    site.write("templates/archive.html", archive.replace(
        "{% endblock %}", '{% include "parts/note.html" %}{% endblock %}', 1))
    (site.root / "templates" / "parts").symlink_to(parts)
    (site.root / "templates" / "loop").symlink_to(site.root / "templates")
    page = site.root / "public" / "index.html"
    assert build(cli, site)[0] == 0 and "First note" in page.read_text(encoding="utf-8")
    assert build(cli, site)[0] == 0
    (parts / "note.html").write_text("<p>Other note</p>", encoding="utf-8")
    assert build(cli, site)[0] == 0
    assert "Other note" in page.read_text(encoding="utf-8")


@pytest.mark.parametrize("stored_events", [
    "result", [["result", 42]], [[]], {"result": 1}, [["problem", "x", 1, "bogus", "m", ""]],
    [["result", "a", "b"]], [["problem", "x", "1", "warning", "m", ""]], "deep", "fifo",
])
def test_a_stored_report_that_is_not_one_builds(cli: RunCli, site: Scratch, builds: list[str],
                                                stored_events: Any) -> None:
    """A hand-edited or damaged file with the right stamps is never printed, nor crashes, nor
    waits: the command builds."""
    build(cli, site)
    full = build(cli, site, "--no-cache")
    [path] = stored(site)
    data = json.loads(path.read_text(encoding="utf-8"))
    path.unlink()
    if stored_events == "deep":
        path.write_text("[" * 100_000, encoding="utf-8")
    elif stored_events == "fifo":
        os.mkfifo(path)
    else:
        path.write_text(json.dumps({**data, "events": stored_events}), encoding="utf-8")
    assert build(cli, site) == full
    assert builds == [ISSUE] * 3


def test_a_library_upgraded_outside_site_packages_builds_again(site: Scratch,
                                                               tmp_path: Path) -> None:
    """A distribution on PYTHONPATH (or in Debian's dist-packages) is what the build may
    import too: its new version builds again."""
    libs = tmp_path / "libs"
    (libs / "somelib-1.0.dist-info").mkdir(parents=True)
    script = ("import sys; from pipeline.cli import main; "
              f"code = main(['build-issue', '{ISSUE}', '--root', sys.argv[1], '-q']); "
              "print(code, 'pipeline.build' in sys.modules)")
    env = {**os.environ, "SOURCE_DATE_EPOCH": AS_OF_EPOCH, "PYTHONPATH": str(libs)}

    def run() -> list[str]:
        return subprocess.run([sys.executable, "-c", script, str(site.root)], cwd=REPO,
                              env=env, capture_output=True, text=True,
                              check=True).stdout.split()

    assert [run(), run()] == [["0", "True"], ["0", "False"]]
    (libs / "somelib-1.0.dist-info").rename(libs / "somelib-2.0.dist-info")
    assert run() == ["0", "True"]
