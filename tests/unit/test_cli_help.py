"""Every command's --help ends with an example, and every example is a command line that works."""

from __future__ import annotations

import argparse
import re
import shlex
from collections.abc import Iterator

import pytest

from pointsnet.cli import CommandOutput, build_parser
from pointsnet.cli.registry import Commands, example_epilog
from pointsnet.client import PointsNetClient

EXAMPLE_TITLE = re.compile(r"^Examples?:$", re.M)


def command_parsers(
    parser: argparse.ArgumentParser, path: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], argparse.ArgumentParser]]:
    """Each subcommand's parser under `parser`, with the words that name it."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                yield (*path, name), child
                yield from command_parsers(child, (*path, name))


def examples(parser: argparse.ArgumentParser) -> list[str]:
    """The command lines under the `Example:` title of a parser's help."""
    text = parser.format_help()
    found = EXAMPLE_TITLE.search(text)
    if not found:
        return []
    lines = text[found.end() :].strip("\n").splitlines()
    return [line.strip() for line in lines if line.startswith("  pointsnet ")]


def command_words(words: list[str]) -> list[str]:
    """The words after the global options an example may start with (`--partner rideco`)."""
    while words and words[0] in GLOBAL_OPTIONS:
        words = words[2:]
    return words


COMMANDS = sorted(command_parsers(build_parser()))
GLOBAL_OPTIONS = ("--profile", "--partner", "--role", "--output", "-o")


def test_the_walk_finds_every_command_and_group() -> None:
    # Given the full parser
    # When its subcommands are walked
    names = {" ".join(path) for path, _ in COMMANDS}
    # Then leaves and groups are both found, nested ones under their group
    assert {"earn", "history", "link", "link confirm", "settle", "settlements mark-paid"} <= names
    assert len(names) >= 45


@pytest.mark.parametrize(("path", "parser"), COMMANDS, ids=[" ".join(p) for p, _ in COMMANDS])
def test_every_command_help_shows_an_example_of_itself_that_parses(
    path: tuple[str, ...], parser: argparse.ArgumentParser
) -> None:
    # Given one command's parser, named by `path`
    # When its help is rendered and its examples are parsed from the top
    shown = examples(parser)
    # Then it has at least one example, each of this very command (or of one of its
    # subcommands, for a group)
    assert shown, f"pointsnet {' '.join(path)} --help shows no Example: line"
    for example in shown:
        words = shlex.split(example)[1:]
        assert command_words(words)[: len(path)] == list(path), example
        # And it parses as a command that runs, its own checks of its arguments passing
        args = build_parser().parse_args(words)
        assert getattr(args, "handler", None) or getattr(args, "local_handler", None), example
        check = getattr(args, "check_arguments", None)
        if check is not None:
            check(args)


def nothing(client: PointsNetClient, args: argparse.Namespace) -> CommandOutput:
    return CommandOutput(data=None, rows=(), columns=())


def test_a_command_added_without_an_example_is_caught() -> None:
    # Given a parser with one command that gives an example and one that does not
    parser = argparse.ArgumentParser(prog="pointsnet")
    common = argparse.ArgumentParser(add_help=False)
    commands = Commands(subparsers=parser.add_subparsers(), common=common)
    commands.add("told", nothing, "Told.", example="pointsnet told")
    commands.add("untold", nothing, "Untold.")
    # When their helps' examples are read
    found = {path: examples(child) for path, child in command_parsers(parser)}
    # Then the example is found for the one, and none for the other
    assert found == {("told",): ["pointsnet told"], ("untold",): []}


def test_an_example_keeps_its_line_when_the_prose_is_wrapped(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given a terminal 80 columns wide, and a command with long prose and a long example
    monkeypatch.setenv("COLUMNS", "80")
    parser = argparse.ArgumentParser(prog="pointsnet")
    commands = Commands(
        subparsers=parser.add_subparsers(), common=argparse.ArgumentParser(add_help=False)
    )
    long_example = "pointsnet long " + " ".join(f"--option-{n} value" for n in range(8))
    child = commands.add("long", nothing, "word " * 40, example=long_example)
    # When its help is rendered
    text = child.format_help()
    # Then the prose is wrapped, and the example is one line under Example:, as written
    assert max(len(line) for line in text.split("Example:")[0].splitlines()) <= 80
    assert text.rstrip().endswith("Example:\n  " + long_example)
    assert (
        example_epilog(["pointsnet a", "pointsnet b"]) == "Examples:\n  pointsnet a\n  pointsnet b"
    )
