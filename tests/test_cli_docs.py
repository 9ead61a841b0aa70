"""The README documents every command and option of the ``retailedge`` CLI (read from click)."""

from __future__ import annotations

from collections.abc import Iterator

import click
import pytest

from retailedge.cli import root
from tests.conftest import PROJECT_ROOT

README = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")


def _leaf_commands(group: click.Group, prefix: str) -> Iterator[tuple[str, click.Command]]:
    context = click.Context(group)
    for name in group.list_commands(context):
        command = group.get_command(context, name)
        assert command is not None, f"{prefix} {name} is listed but cannot be loaded"
        path = f"{prefix} {name}"
        if isinstance(command, click.Group):
            yield from _leaf_commands(command, path)
        else:
            yield path, command


COMMANDS = dict(_leaf_commands(root, "retailedge"))


def test_the_cli_has_the_commands_the_design_names() -> None:
    assert {
        "retailedge demo",
        "retailedge gateway run",
        "retailedge cloud serve",
        "retailedge cloud create-gateway",
        "retailedge cloud create-user",
    } <= set(COMMANDS)


@pytest.mark.parametrize("path", sorted(COMMANDS))
def test_command_and_its_options_are_in_the_readme(path: str) -> None:
    assert f"`{path}" in README, f"README's CLI section does not mention {path}"
    row = next(line for line in README.splitlines() if line.startswith(f"| `{path}"))
    for parameter in COMMANDS[path].params:
        if isinstance(parameter, click.Option) and parameter.name != "help":
            longest = max(parameter.opts, key=len)
            assert longest in row, f"{path}: option {longest} is missing from its README row"


@pytest.mark.parametrize("path", sorted(COMMANDS))
def test_every_command_has_help(path: str) -> None:
    assert (COMMANDS[path].help or "").strip(), f"{path} has no help text"
