"""Options every simulator command shares, declared once."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])


def link_option(example: str) -> Callable[[F], F]:
    return click.option(
        "--link",
        type=click.Path(dir_okay=False, path_type=Path),
        default=None,
        help=f"Symlink to the pty's device, e.g. {example}.",
    )


def duration_option() -> Callable[[F], F]:
    return click.option(
        "--duration",
        type=click.FloatRange(min=0.0),
        default=None,
        help="Seconds to run; until Ctrl-C when omitted.",
    )


def emit_log_option(what: str) -> Callable[[F], F]:
    return click.option(
        "--emit-log",
        type=click.Path(dir_okay=False, path_type=Path),
        default=None,
        help=f"JSON-lines file with {what}.",
    )


def seed_option() -> Callable[[F], F]:
    return click.option("--seed", type=int, default=0, show_default=True)
