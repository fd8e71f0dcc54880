"""The ``onfh`` command: thin subcommands over the library's public functions.

Each subcommand is a pair: ``_add_<name>(subparsers)`` declares its arguments and
``_cmd_<name>(args)`` calls the library and prints. User errors (:class:`OnfhError`) print one
line on stderr and exit with status 2; stdout carries only the requested output.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from onfh_imaging import __version__
from onfh_imaging.errors import OnfhError

EXIT_USER_ERROR = 2

_COMMANDS: list[Callable[[argparse._SubParsersAction], None]] = []


def command(add: Callable[[argparse._SubParsersAction], None]) -> Callable:
    """Register a subcommand's ``_add_<name>`` function."""
    _COMMANDS.append(add)
    return add


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="onfh",
        description="Measure osteonecrosis of the femoral head on hip MRI and radiographs.",
    )
    parser.add_argument("--version", action="version", version=f"onfh-imaging {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for add in _COMMANDS:
        add(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except OnfhError as exc:
        print(f"onfh {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print(f"onfh {args.command}: interrupted", file=sys.stderr)
        return 130


# --- subcommands ------------------------------------------------------------------------------
# Each block below is owned by the module it calls; keep them a few lines each.
