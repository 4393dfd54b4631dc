"""The commands of ``newsletter``, one module each: its arguments and how it runs.

Each module has ``DESCRIPTION`` (and, where it has one, ``EPILOG``), ``arguments(parser)``,
which adds its arguments to its ``argparse`` parser, and ``run(args, console) -> int``, which
calls the pipeline's functions and prints what they return: the domain modules print nothing.
:mod:`pipeline.cli` names the commands and imports a command's module only when that command
runs or its help is asked. The options several commands share are :mod:`.options`.
"""
