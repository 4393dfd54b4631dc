"""The configuration is read once per command and passed down as a value.

An audit hook counts the times ``newsletter.toml`` is opened while one command runs (the
render cache's keys use the digest of the bytes read, not a second read).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from tests.conftest import RunCli

OPENED: list[str] | None = None


def _hook(event: str, args: tuple[object, ...]) -> None:
    if OPENED is not None and event == "open" and str(args[0]).endswith("newsletter.toml"):
        OPENED.append(str(args[0]))


sys.addaudithook(_hook)


@pytest.mark.parametrize("command", [
    ["build-issue", "2026-12-solstice"],
    ["build"],
    ["check", "2026-12-solstice"],
    ["status", "2026-12-solstice"],
    ["report"],
])
def test_newsletter_toml_is_opened_once_per_command(sample_copy: Path, cli: RunCli,
                                                    command: list[str]) -> None:
    """build-issue, build, check, status and report each open newsletter.toml once."""
    global OPENED
    OPENED = []
    try:
        code, _, err = cli(*command, "--root", str(sample_copy), "-q")
        opened = list(OPENED)
    finally:
        OPENED = None
    assert code == 0, err
    assert opened == [str(sample_copy / "newsletter.toml")]
