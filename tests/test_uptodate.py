"""An unchanged build-issue says again what it said, without building: and any change to what
the build reads or wrote builds again (pipeline.uptodate)."""

from __future__ import annotations

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
