"""The README stays true: every configuration key and every command is documented."""

from __future__ import annotations

import argparse
import re
import shlex
from pathlib import Path

import pytest

from pipeline.cli import build_issue_main, make_parser
from pipeline.options import OPTIONS

from .conftest import REPO, copy_sample

README = (REPO / "README.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("key", [option.key for option in OPTIONS])
def test_every_configuration_key_is_in_the_readme(key: str) -> None:
    assert f"| `{key}` |" in README


def test_the_readme_test_command_is_what_ci_runs() -> None:
    command = README.split("Install and run the tests:\n\n```sh\n", 1)[1].split("\n", 1)[0]
    ci_lines = (REPO / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    assert command == "tests/install && .venv/bin/python -m pytest"
    assert command in ci_lines


def _commands() -> list[str]:
    parser = make_parser()
    actions = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return sorted(actions[0].choices)


@pytest.mark.parametrize("command", _commands())
def test_every_command_is_in_the_readme(command: str) -> None:
    assert f"newsletter {command}" in README or (command == "build-issue"
                                                 and "### `build-issue" in README)


QUICK_START = README.split("## Quick start", 1)[1].split("Install and run the tests:", 1)[0]


@pytest.mark.parametrize(("epoch", "folder"), [("1796544000", "preview"),  # 6 December 2026
                                               ("1798016400", "public")])  # 23 December 2026
def test_the_quick_start_says_what_its_command_does(
    epoch: str, folder: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Before the solstice the Quick start's build is the preview it describes, with nothing
    in public/ or feeds/; after it, every file it names under public/ and feeds/ is there."""
    command = QUICK_START.split("&& .venv/bin/", 2)[2].split("\n", 1)[0].split()
    assert command == ["build-issue", "2026-12-solstice"]
    root = copy_sample(tmp_path / "sample")
    monkeypatch.setenv("SOURCE_DATE_EPOCH", epoch)
    monkeypatch.chdir(root)
    assert build_issue_main(command[1:]) == 0
    out = capsys.readouterr().out
    named = re.findall(r"`((?:preview|public|feeds)/[^`]*)`", QUICK_START)
    mine = [n for n in named if n.startswith(folder) or (folder == "public"
                                                          and n.startswith("feeds/"))]
    assert len(mine) >= 3, named
    for name in mine:
        path = root / name.replace("*", "")
        assert path.exists(), name
    if folder == "preview":
        assert not (root / "public").exists() and not (root / "feeds").exists()
        assert "preview only" in out and "21 December 2026" in QUICK_START
    else:
        assert not (root / "preview").exists()


def _publish_lines() -> list[list[str]]:
    """Every ``newsletter publish ...`` command of the README's examples (cron, systemd, CI,
    the workflow), as the arguments after ``newsletter``."""
    found = []
    for line in README.splitlines():
        match = re.search(r"newsletter (publish [^>#`\n]*)", line)
        if match and not line.startswith("###"):
            found.append(shlex.split(match[1]))
    return found


def test_the_readme_publish_examples_are_real_command_lines() -> None:
    """The scheduled examples run unattended: each parses, and each that waits also says
    --yes (without it, publish stops for want of a terminal)."""
    examples = [words for words in _publish_lines() if not words[1].startswith("-")]
    assert len(examples) >= 4, examples
    parser = make_parser()
    for words in examples:
        args = parser.parse_args(words)
        assert args.issue == "2026-12-solstice"
        if args.wait:
            assert args.yes, words
    assert sum(1 for words in examples if "--wait" in words) >= 3  # cron, systemd, CI
