"""The ``newsletter`` command (and ``build-issue``, the same as ``newsletter build-issue``).

Exit status: 0 success, 1 a problem with the content or the run, 2 bad usage. Problems go to
stderr as ``path:line: level: message``; what a command made goes to stdout.

:data:`COMMANDS` names every command, its module of :mod:`pipeline.commands` and its one-line
help. The parser knows the names and the helps from the start (``newsletter --help`` lists
them), but imports a command's module, and makes its parser, only when argparse looks the
command up: when it runs, or its ``--help`` is asked. So ``newsletter calendar`` never imports
the build, nor ``build-issue`` the web server.
"""

from __future__ import annotations

import argparse
import importlib
import os
import select
import sys
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, NamedTuple, Protocol, cast

from . import __version__
from .commands.options import common

if TYPE_CHECKING:
    from .console import Console


class Command(NamedTuple):
    """A command: its module in :mod:`pipeline.commands` and its line in ``--help``."""

    module: str
    help: str


#: Every command, in the order ``newsletter --help`` lists them.
COMMANDS: dict[str, Command] = {
    "build-issue": Command(
        "build_issue", "build one issue: HTML and text email, web edition, archive, feeds"),
    "build": Command(
        "build", "rebuild every issue of the archive, the archive page and the feeds"),
    "calendar": Command(
        "calendar", "the coming issues: ids, names, moments, publication days, deadlines"),
    "subscribers": Command(
        "subscribers", "add, import, export, list or remove email subscribers; stats"),
    "send": Command("send", "send an issue to every active subscriber, resumably"),
    "bounces": Command(
        "bounces", "act on delivery reports: bounces and complaints after sending"),
    "init": Command(
        "init", "start a new newsletter: configuration, an example issue, CI workflows"),
    "new-piece": Command(
        "new_piece", "start a new piece in the coming issue, with every field explained"),
    "check": Command(
        "check", "check an issue: every problem with its place, its rule and the fix"),
    "status": Command(
        "status", "the coming issue at a glance: deadline, pieces by state, gaps, credit"),
    "call-for-pieces": Command(
        "call_for_pieces", "print a ready-to-send call for pieces for the coming issue"),
    "remind": Command(
        "remind", "email the authors of pieces that are not ready, before the deadline"),
    "gather": Command(
        "gather", "draft the issue's reading list from the teams' and organisation's feeds"),
    "report": Command(
        "report", "who carries the work: pieces, contributors and reviews per team"),
    "serve": Command(
        "serve", "serve the archive, the feeds and the subscribe/unsubscribe pages"),
    "preview": Command(
        "preview", "preview an issue with its drafts, rebuilt and reloaded on every edit"),
    "publish": Command(
        "publish", "at the moment: check strictly, build the site and feeds, send; "
                   "resumably"),
}

#: The commands that never write a file: a stop is not news of "nothing was written".
READ_ONLY = ("check", "status", "call-for-pieces")


class CommandModule(Protocol):
    """What a module of :mod:`pipeline.commands` has (``EPILOG`` is optional)."""

    DESCRIPTION: str

    def arguments(self, parser: argparse.ArgumentParser) -> None: ...

    def run(self, args: argparse.Namespace, console: Console) -> int: ...


def command_module(name: str) -> CommandModule:
    """The module of the command ``name``, imported now."""
    module = importlib.import_module(f"{__package__}.commands.{COMMANDS[name].module}")
    return cast(CommandModule, module)


Subcommands = argparse._SubParsersAction


class _LazyParsers(dict[str, argparse.ArgumentParser]):
    """The parsers of the commands by name, as argparse's subcommand action keeps them: every
    name of :data:`COMMANDS` is in it from the start, and a command's parser is made (its
    module imported) the first time argparse looks it up."""

    def __init__(self, make: Callable[[str], argparse.ArgumentParser]) -> None:
        super().__init__()
        self.make = make
        self.making: str | None = None  # add_parser asks whether the name is taken

    def __contains__(self, name: object) -> bool:
        return name in COMMANDS and name != self.making

    def __iter__(self) -> Iterator[str]:
        return iter(COMMANDS)

    def __len__(self) -> int:
        return len(COMMANDS)

    def __missing__(self, name: str) -> argparse.ArgumentParser:
        if name not in COMMANDS:
            raise KeyError(name)
        self.making = name
        try:
            return self.make(name)  # add_parser stores it here: made once
        finally:
            self.making = None


def make_parser() -> argparse.ArgumentParser:
    """The command line: every command listed, each command's module imported on demand."""
    parser = argparse.ArgumentParser(
        prog="newsletter",
        description="Build and publish a newsletter: four issues a year, at each equinox "
                    "and solstice, written by people from every team. Start one with "
                    "'newsletter init'.",
        epilog="Run 'newsletter COMMAND --help' for a command's options. Exit status: 0 "
               "success, 1 a problem with the content, 2 bad usage.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    common(parser, suppress=False)
    commands: Subcommands[argparse.ArgumentParser] = parser.add_subparsers(
        dest="command", metavar="COMMAND", required=True)

    def make(name: str) -> argparse.ArgumentParser:
        module = command_module(name)
        sub: argparse.ArgumentParser = commands.add_parser(
            name, description=module.DESCRIPTION, epilog=getattr(module, "EPILOG", None))
        common(sub, suppress=True)
        module.arguments(sub)
        sub.set_defaults(run=module.run)
        return sub

    commands._name_parser_map = commands.choices = _LazyParsers(make)
    for name, command in COMMANDS.items():  # the lines of --help, without the modules
        commands._choices_actions.append(
            Subcommands._ChoicesPseudoAction(name, (), command.help))
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``newsletter`` command; returns the exit status."""
    argv = sys.argv[1:] if argv is None else list(argv)
    return _execute(make_parser().parse_args(argv))


def build_issue_main(argv: Sequence[str] | None = None) -> int:
    """``build-issue ...`` is ``newsletter build-issue ...``."""
    module = command_module("build-issue")
    parser = argparse.ArgumentParser(
        prog="build-issue",
        description="Build one issue (the same as 'newsletter build-issue'): HTML and "
                    "plain-text email, web edition, archive and feeds.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    common(parser, suppress=False)
    module.arguments(parser)
    parser.set_defaults(run=module.run, command="build-issue")
    return _execute(parser.parse_args(argv))


def _execute(args: argparse.Namespace) -> int:
    """Run the command ``args`` name (``args.run``), turning every problem a user can cause
    into its message and exit status, never a traceback."""
    from .console import Console
    from .errors import ContentError, PipelineError, UsageError

    console = Console(args.verbosity)
    run: Callable[[argparse.Namespace, Console], int] = args.run
    try:
        status: int = run(args, console)
        sys.stdout.flush()  # a reader that went away shows here, not at the interpreter's exit
        return status
    except BrokenPipeError:
        if not _stdout_closed():
            raise
        # `newsletter calendar | head -1`: the reader has all it wanted. Stop quietly, as a
        # Unix tool stopped by SIGPIPE does, and let nothing flush into the closed pipe again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return CLOSED_PIPE
    except ContentError as exc:
        for problem in exc.problems:
            console.problem(problem)
        written = "" if args.command in READ_ONLY else "; nothing was written"
        console.message("error", f"{exc}{written}")
        return exc.exit_code
    except UsageError as exc:
        console.message("error", str(exc))
        return exc.exit_code
    except PipelineError as exc:
        console.message("error", str(exc))
        return exc.exit_code
    except KeyboardInterrupt:
        console.message("error", "interrupted; nothing was half-written")
        return 130


#: The exit status after the reader of stdout went away: 128 + SIGPIPE, as a shell reports
#: for a tool that SIGPIPE stopped.
CLOSED_PIPE = 141


def _stdout_closed() -> bool:
    """Whether stdout is a pipe (or socket) whose reader has gone."""
    try:
        poller = select.poll()
        poller.register(sys.stdout.fileno(), select.POLLOUT)
        return any(events & (select.POLLERR | select.POLLHUP) for _, events in poller.poll(0))
    except (OSError, ValueError, AttributeError):  # no real file behind stdout
        return False


if __name__ == "__main__":
    sys.exit(main())
