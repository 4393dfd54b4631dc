"""The command line starts light: ``pipeline.cli`` is the table of commands and ``main``, and a
command's module (with what it imports) is loaded only when it runs or its help is asked."""

from __future__ import annotations

import ast
import subprocess
import sys

import pytest

from pipeline.cli import COMMANDS, main

HEAVY = ("jinja2", "PIL", "email_validator", "psycopg", "uvicorn", "starlette", "astronomy",
         "yaml", "cmarkgfm", "markdown", "nh3", "css_inline", "icalendar", "dkim", "flufl")


def _imported(script: str) -> set[str]:
    script += "\nimport sys\nprint(sorted(sys.modules))\n"
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          check=True)
    return set(ast.literal_eval(done.stdout.rstrip("\n").rpartition("\n")[2]))


def test_importing_the_cli_imports_no_command_and_nothing_heavy() -> None:
    modules = _imported("import pipeline.cli")
    assert not {m.split(".")[0] for m in modules} & set(HEAVY)
    assert {m for m in modules if m.startswith("pipeline.commands.")} == {
        "pipeline.commands.options"}


def test_the_version_and_the_list_of_commands_need_no_command_module() -> None:
    for argv in (["--version"], ["--help"]):
        modules = _imported("from pipeline.cli import main\ntry:\n"
                            f"    main({argv!r})\nexcept SystemExit:\n    pass")
        assert not {m.split(".")[0] for m in modules} & set(HEAVY), argv
        assert not {m for m in modules if m.startswith("pipeline.commands.")} - {
            "pipeline.commands.options"}, argv


def test_the_help_lists_every_command_with_its_line(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stop:
        main(["--help"])
    assert stop.value.code == 0
    out = " ".join(capsys.readouterr().out.split())
    for name, command in COMMANDS.items():
        assert f"{name} {' '.join(command.help.split())}" in out, name


@pytest.mark.parametrize("name", list(COMMANDS))
def test_each_command_has_its_own_help(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stop:
        main([name, "--help"])
    assert stop.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: newsletter {name} ") and "--root DIR" in out
