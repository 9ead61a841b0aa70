"""``retailedge cloud set-password``: give a user a console password.

Built by :func:`set_password_command` from ``cloud.cli``'s database helpers (passed in, so this
module does not import ``cloud.cli``, which registers the command)."""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import click

from cloud.console.passwords import WeakPassword, check_strength
from cloud.console.sessions import set_password
from cloud.settings import Settings


def read_password(from_stdin: bool) -> str:
    """The new password: the first line of stdin, or typed twice at a hidden prompt."""
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("New password", hide_input=True, confirmation_prompt=True)
    try:
        check_strength(password)
    except WeakPassword as exc:
        raise click.BadParameter(str(exc), param_hint="password") from None
    return password


def set_password_command(
    database_options: Callable[[Callable[..., Any]], Callable[..., Any]],
    load_settings: Callable[[str | None, Path | None], Settings],
    run: Callable[[Settings, Callable[[], Awaitable[Any]]], Any],
    in_transaction: Callable[..., Awaitable[Any]],
) -> click.Command:
    @click.command("set-password")
    @click.option("--name", required=True, help="The user (created with create-user).")
    @click.option(
        "--password-stdin",
        is_flag=True,
        help="Read the password from the first line of stdin instead of prompting.",
    )
    @database_options
    def command(
        name: str, password_stdin: bool, database_url: str | None, data_dir: Path | None
    ) -> None:
        """Set a user's console password (scrypt, per-user salt); ends the user's sessions."""
        password = read_password(password_stdin)
        settings = load_settings(database_url, data_dir)
        run(
            settings,
            lambda: in_transaction(settings, set_password, user_name=name, password=password),
        )
        click.echo(f"console password set for {name}")

    return command
