"""The README stays true: every configuration key and every command is documented."""

from __future__ import annotations

import argparse

import pytest

from pipeline.cli import make_parser
from pipeline.config import OPTIONS

from .conftest import REPO

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
