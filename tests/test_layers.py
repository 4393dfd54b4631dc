"""The layers contract of pyproject.toml covers every module of the pipeline, and the README
draws the same layers (``lint-imports`` in .ci/run checks the imports against them)."""

from __future__ import annotations

import re
import tomllib

from tests.conftest import REPO


def _layers() -> list[list[str]]:
    config = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    [contract] = config["tool"]["importlinter"]["contracts"]
    return [[name.strip().removeprefix("pipeline.") for name in re.split(r"[:|]", layer)]
            for layer in contract["layers"]]


def test_every_module_is_in_a_layer() -> None:
    """A new module (or package: a layer names a package for all its modules) must be
    placed in a layer; none is listed twice."""
    modules = ({p.stem for p in (REPO / "pipeline").glob("*.py")} - {"__init__"}) | {
        p.parent.name for p in (REPO / "pipeline").glob("*/__init__.py")}
    listed = [name for layer in _layers() for name in layer]
    assert sorted(listed) == sorted(modules)


def test_the_readme_draws_the_same_layers() -> None:
    """Each layer's modules are on one line of the README's drawing, top to bottom."""
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    drawing = readme.split("```text\nlayers", 1)[1].split("```", 1)[0]
    lines = [line for line in drawing.splitlines()[1:] if line.strip()]  # after the title
    assert len(lines) == len(_layers())
    for line, layer in zip(lines, _layers(), strict=True):
        assert sorted(re.findall(r"[a-z_]+", line.split(":", 1)[1])) == sorted(layer), line
