"""``retailedge simulate rfid-portal``: a dock-door UHF reader (R2000 protocol) on a pty."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from pathlib import Path

import click

from simulators.cli_options import duration_option, link_option, seed_option
from simulators.rfid_portal import PortalReader, PortalStats
from simulators.rfid_portal_run import DuplexPtyPort, RunStats, run_portal
from simulators.rfid_scene import build_scene

FAULT_PROBABILITY = 0.02


@click.command(name="rfid-portal")
@link_option("/tmp/dock-door-1")
@duration_option()
@seed_option()
@click.option(
    "--emit-log",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="JSON-lines ground truth: passes (direction, times, EPCs), every read sent, faults.",
)
@click.option(
    "--passes", type=click.IntRange(0, 10_000), default=5, show_default=True, help="Loads."
)
@click.option(
    "--speed",
    type=click.FloatRange(0.2, 10.0),
    default=1.5,
    show_default=True,
    help="Forklift speed through the door, m/s.",
)
@click.option(
    "--address", type=click.IntRange(0, 254), default=1, show_default=True, help="Reader address."
)
@click.option(
    "--faults/--no-faults",
    default=False,
    show_default=True,
    help="Inject line noise, bad checksums and truncated frames.",
)
def rfid_portal_command(
    link: Path | None,
    duration: float | None,
    seed: int,
    emit_log: Path | None,
    passes: int,
    speed: float,
    address: int,
    faults: bool,
) -> None:
    """Pallets and cases pass a dock door; answer R2000 "0xA0" commands with tag reports."""
    scene = build_scene(seed, passes, speed_mps=speed)
    probability = FAULT_PROBABILITY if faults else 0.0
    reader = PortalReader(scene, seed=seed, address=address, fault_probability=probability)
    port = DuplexPtyPort.open_duplex(link)
    try:
        shown = port.slave_path if link is None else f"{port.slave_path} (link {link})"
        click.echo(f"RFID portal reader (address {address}) on {shown}, {passes} passes")
        run_stats = asyncio.run(_run(reader, port, duration, emit_log))
    finally:
        port.close()
    click.echo(f"stopped: {summary(reader.stats, run_stats)}")


async def _run(
    reader: PortalReader, port: DuplexPtyPort, duration: float | None, emit_log: Path | None
) -> RunStats:
    loop = asyncio.get_running_loop()
    stats = RunStats()
    runner = asyncio.create_task(run_portal(reader, port, duration, emit_log=emit_log, stats=stats))
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, runner.cancel)
    try:
        with contextlib.suppress(asyncio.CancelledError):
            await runner
        await port.drain()
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)
    return stats


def summary(stats: PortalStats, run: RunStats) -> str:
    text = (
        f"commands {stats.commands} (rejected {stats.rejected_commands}), rounds {stats.rounds}, "
        f"reads {stats.reads_emitted}, writes dropped (no reader) {run.dropped_no_reader}"
    )
    if stats.faults:
        detail = ", ".join(f"{kind.value} {n}" for kind, n in sorted(stats.faults.items()))
        text += f", faults {detail}"
    return text
