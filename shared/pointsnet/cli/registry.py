"""Where commands register: the options every command takes and the `Commands` registry.

A registrar adds its subparsers through `Commands.add` (a command that calls the API with a
client) or `Commands.add_local` (one that calls no API, so needs no credentials), or a group
of them through `Commands.group`, as `pointsnet keys issue`. Each gives an `example`: the
command line its `--help` ends with, under `Example:`.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from pointsnet.cli.output import CommandOutput
from pointsnet.client import PointsNetClient


@dataclass(frozen=True)
class GlobalOptions:
    """The options every command takes, whichever side of the command name they were given."""

    profile: str | None = None
    partner: str | None = None
    role: str | None = None
    output: str = "table"
    # The role whose key to take from .pointsnet/local.json when none is asked for.
    local_role: str | None = None


Handler = Callable[[PointsNetClient, argparse.Namespace], CommandOutput]
LocalHandler = Callable[[argparse.Namespace, GlobalOptions], CommandOutput]


Example = str | Sequence[str]


class ExampleHelpFormatter(argparse.HelpFormatter):
    """Wraps prose as argparse does, but keeps indented lines (the examples) as written."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        lines = []
        for line in text.splitlines():
            kept = line.startswith("  ")
            lines.append(indent + line if kept else super()._fill_text(line, width, indent))
        return "\n".join(lines)


def example_epilog(example: Example | None) -> str | None:
    """`Example:` and the command lines beneath it, indented."""
    if example is None:
        return None
    lines = [example] if isinstance(example, str) else list(example)
    title = "Example:" if len(lines) == 1 else "Examples:"
    return "\n".join([title, *(f"  {line}" for line in lines)])


@dataclass
class Commands:
    """Where registrars add their subcommands; each gets the global options too."""

    subparsers: argparse._SubParsersAction[argparse.ArgumentParser]
    common: argparse.ArgumentParser

    def add(
        self, name: str, handler: Handler, help: str, *, example: Example | None = None
    ) -> argparse.ArgumentParser:
        parser = self._parser(name, help, example)
        parser.set_defaults(handler=handler)
        return parser

    def add_local(
        self, name: str, handler: LocalHandler, help: str, *, example: Example | None = None
    ) -> argparse.ArgumentParser:
        """A command that calls no API, so needs no credentials."""
        parser = self._parser(name, help, example)
        parser.set_defaults(local_handler=handler)
        return parser

    def group(
        self,
        name: str,
        help: str,
        *,
        local_role: str | None = None,
        example: Example | None = None,
    ) -> Commands:
        """A command with subcommands; `local_role` picks the local key its calls need."""
        parser = self._parser(name, help, example)
        parser.set_defaults(usage_parser=parser, local_role=local_role)
        subparsers = parser.add_subparsers(title="commands", metavar="COMMAND")
        return Commands(subparsers=subparsers, common=self.common)

    def _parser(self, name: str, help: str, example: Example | None) -> argparse.ArgumentParser:
        return self.subparsers.add_parser(
            name,
            help=help,
            description=help,
            epilog=example_epilog(example),
            parents=[self.common],
            formatter_class=ExampleHelpFormatter,
        )


CommandRegistrar = Callable[[Commands], None]


class CommandFailed(Exception):
    """A command that calls no API failed; the message says why."""


def add_idempotency_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--idempotency-key",
        help="reuse to make a repeated command a no-op (default: a new random key)",
    )
