"""``retailedge gateway ...`` commands (also ``python -m edge ...``)."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import click

from edge.config import ConfigError, load_config
from edge.data_dir_lock import DataDirInUseError
from edge.gateway import Gateway

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


@click.group(name="gateway")
def gateway_group() -> None:
    """Run an edge gateway: read devices, buffer durably, sync to the cloud."""


@gateway_group.command("run")
@click.option(
    "--config",
    "config_path",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Gateway TOML file.",
)
@click.option("--log-level", default="INFO", show_default=True, help="DEBUG, INFO, WARNING.")
def run_command(config_path: Path, log_level: str) -> None:
    """Run the gateway until SIGTERM/SIGINT, then drain the buffer and exit 0."""
    logging.basicConfig(level=log_level.upper(), format=LOG_FORMAT)
    try:
        config = load_config(config_path)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    try:
        asyncio.run(Gateway(config).run())
    except DataDirInUseError as exc:
        raise click.ClickException(str(exc)) from None
