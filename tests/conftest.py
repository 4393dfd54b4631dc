"""Fixtures: the committed sample newsletter, and scratch newsletters written into tmp_path."""

from __future__ import annotations

import io
import shutil
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest
from PIL import Image

from pipeline.cli import main

#: Fixtures for every test module: the real browser (browser), and the store backends
#: (database, databases: SQLite, and PostgreSQL on a private throwaway server).
pytest_plugins = ["tests.browser", "tests.postgres", "tests.databases", "tests.imap_server",
                  "tests.smtp_sink"]

REPO = Path(__file__).resolve().parent.parent

#: The two Markdown flavours, for tests that hold for both.
FLAVOURS = ("gfm", "python-markdown")

MINIMAL_CONFIG = """\
title = "Scratch Weekly"
description = "A scratch newsletter for tests."
base_url = "https://news.example.org"
language = "en"
time_zone = "UTC"
sections = ["Research", "Practice"]

[email]
sender = "Scratch <news@example.org>"
"""


def piece_text(
    title: str = "A piece",
    authors: str = "[Ada Example]",
    body: str = "Some text.\n",
    **extra: str,
) -> str:
    """A valid piece with the given front matter (values are YAML as written)."""
    fields = {"title": title, "authors": authors, "team": "Policy", "section": "Research",
              "summary": "A summary.", "status": "ready", **extra}
    front = "".join(f"{k}: {v}\n" for k, v in fields.items() if v is not None)
    return f"---\n{front}---\n{body}"


def png(width: int = 4, height: int = 3, colour: str = "#2f5d50") -> bytes:
    """A real PNG image (made with Pillow), for pieces that show one: the build reads every
    image it shows."""
    out = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(out, "PNG")
    return out.getvalue()


class Scratch:
    """A newsletter root in tmp_path that tests fill with files."""

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        (root / "newsletter.toml").write_text(MINIMAL_CONFIG, encoding="utf-8")

    def write(self, relpath: str, text: str | bytes) -> Path:
        path = self.root / relpath
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(text, bytes):
            path.write_bytes(text)
        else:
            path.write_text(textwrap.dedent(text) if text.startswith("\n") else text,
                            encoding="utf-8")
        return path

    def use_flavour(self, flavour: str) -> None:
        """Write the bodies in ``flavour`` (gfm, the default, or python-markdown)."""
        with (self.root / "newsletter.toml").open("a", encoding="utf-8") as config:
            config.write(f'\n[markdown]\nflavour = "{flavour}"\n')

    def piece(self, issue: str, name: str, **kwargs: str) -> Path:
        return self.write(f"issues/{issue}/{name}.md", piece_text(**kwargs))

    def run(self, *argv: str) -> int:
        return main([*argv, "--root", str(self.root)])


#: Tests run "as of" 1 January 2027 (every 2026 issue published), never the machine's clock.
AS_OF_EPOCH = "1798761600"


@pytest.fixture(autouse=True)
def _as_of(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", AS_OF_EPOCH)


@pytest.fixture
def scratch(tmp_path: Path) -> Scratch:
    return Scratch(tmp_path / "newsletter")


def copy_sample(root: Path) -> Path:
    """Copy the committed sample newsletter (content, config, templates, no outputs) to root."""
    root.mkdir(parents=True, exist_ok=True)
    for name in ("newsletter.toml", "contributors.toml"):
        shutil.copy(REPO / name, root / name)
    shutil.copytree(REPO / "issues", root / "issues")
    shutil.copytree(REPO / "templates", root / "templates")
    return root


@pytest.fixture
def sample_copy(tmp_path: Path) -> Path:
    """A copy of the committed sample newsletter (content, config, templates), no outputs."""
    return copy_sample(tmp_path / "sample")


RunCli = Callable[..., tuple[int, str, str]]


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> RunCli:
    """Run ``newsletter ARGS``; returns (exit status, stdout, stderr)."""

    def run(*argv: str) -> tuple[int, str, str]:
        try:
            code = main(list(argv))
        except SystemExit as exc:  # argparse exits on bad usage and --help
            code = int(exc.code or 0)
        out, err = capsys.readouterr()
        return code, out, err

    return run
