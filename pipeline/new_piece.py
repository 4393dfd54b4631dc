"""Placeholder while the command is being written (replaced before this lands)."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any


def register(commands: Any, common: Callable[[argparse.ArgumentParser, bool], None]) -> None:
    """Add this module's subcommand(s) to the `newsletter` parser."""
