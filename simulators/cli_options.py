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


def broker_options(default_site: str = "store-1") -> Callable[[F], F]:
    """``--host``, ``--port``, ``--topic-prefix`` and ``--site`` of an MQTT broker's topics."""

    def apply(function: F) -> F:
        for option in reversed(
            (
                click.option("--host", default="127.0.0.1", show_default=True, help="MQTT broker."),
                click.option(
                    "--port", type=click.IntRange(1, 65535), default=1883, show_default=True
                ),
                click.option(
                    "--topic-prefix",
                    default="retailedge/v1",
                    show_default=True,
                    help="Topics are PREFIX/SITE/DEVICE/telemetry|scan|status.",
                ),
                click.option("--site", default=default_site, show_default=True),
            )
        ):
            function = option(function)
        return function

    return apply
