"""Root of the ``retailedge`` CLI.

Sub-command groups live with the package they drive and are imported only when used, so
``retailedge gateway run`` on a small device never loads the cloud's web stack.
"""

from __future__ import annotations

import importlib

import click

_LAZY_COMMANDS: dict[str, tuple[str, str, str]] = {
    "bench": ("retailedge.bench.cli", "bench_group", "Speed figures against a same-run baseline."),
    "demo": (
        "retailedge.demo",
        "demo_command",
        "Run the cloud, a van and a warehouse gateway locally.",
    ),
    "gateway": ("edge.cli", "gateway_group", "Run an edge gateway."),
    "decode": (
        "edge.decode_cli",
        "decode_command",
        "Decode raw device input (nmea, modbus, epc, rfid, ruuvi, atc, pvvx, bthome, ibeacon) "
        "to JSON lines.",
    ),
    "cloud": ("cloud.cli", "cloud_group", "Serve and administer the cloud service."),
    "status": (
        "cloud.status_cli",
        "status_command",
        "Gateways, vehicles, alarms and orders of a running cloud.",
    ),
    "simulate": (
        "simulators.cli",
        "simulate_group",
        "Simulated devices speaking real wire formats.",
    ),
}


def _add_fleet_replay(simulate: click.Command) -> None:
    """simulators/ must not import retailedge or cloud, so the fleet replay and the live fleet
    join its group here."""
    from retailedge.fleet.cli import fleet_command
    from retailedge.fleet.live_cli import live_fleet_command

    if isinstance(simulate, click.Group):
        simulate.add_command(fleet_command)
        simulate.add_command(live_fleet_command)


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted([*super().list_commands(ctx), *_LAZY_COMMANDS])

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in _LAZY_COMMANDS:
            return super().get_command(ctx, cmd_name)
        module_name, attribute, _ = _LAZY_COMMANDS[cmd_name]
        command = getattr(importlib.import_module(module_name), attribute)
        if not isinstance(command, click.Command):
            raise TypeError(f"{module_name}.{attribute} is not a click command")
        if cmd_name == "simulate":
            _add_fleet_replay(command)
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, help_text) for name, (_, _, help_text) in sorted(_LAZY_COMMANDS.items())]
        rows += [
            (name, (self.commands[name].get_short_help_str())) for name in sorted(self.commands)
        ]
        with formatter.section("Commands"):
            formatter.write_dl(sorted(rows))


@click.group(cls=LazyGroup)
@click.version_option(package_name="retailedge")
def root() -> None:
    """RetailEdge: edge gateways for stores, warehouses and vans, and the cloud they sync to."""


def main() -> None:
    root(prog_name="retailedge")
