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


def _commands() -> list[str]:
    parser = make_parser()
    actions = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return sorted(actions[0].choices)


@pytest.mark.parametrize("command", _commands())
def test_every_command_is_in_the_readme(command: str) -> None:
    assert f"newsletter {command}" in README or (command == "build-issue"
                                                 and "### `build-issue" in README)
