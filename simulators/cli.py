"""``retailedge simulate gps``: a van's GPS receiver on a pseudo-terminal, paced in real time."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from pathlib import Path

import click

from simulators.cli_options import duration_option, emit_log_option, link_option, seed_option
from simulators.gps_van import MAX_RATE_HZ, MIN_RATE_HZ, GpsVanSimulator, RunStats
from simulators.modbus_bus import (
    DEFAULT_PROBES,
    BusPty,
    BusStats,
    ModbusBus,
    parse_probes,
    run_modbus_bus,
)
from simulators.pty_port import PtyPort
from simulators.routes import get_route, route_names
from simulators.run_gps import run_gps_van

PROGRESS_EVERY_S = 5.0


@click.group(name="simulate")
def simulate_group() -> None:
    """Devices that speak real wire formats, for demos and tests."""


@simulate_group.command(name="gps")
@click.option(
    "--city", type=click.Choice(list(route_names())), default="shanghai", show_default=True
)
@click.option(
    "--rate",
    type=click.FloatRange(MIN_RATE_HZ, MAX_RATE_HZ),
    default=1.0,
    show_default=True,
    help="Epochs per second.",
)
@click.option(
    "--speed",
    type=click.FloatRange(1.0, 130.0),
    default=30.0,
    show_default=True,
    help="Nominal cruise speed in km/h (traffic varies it).",
)
@click.option("--vehicle-id", default="van-01", show_default=True)
@link_option("/tmp/van-gps")
@duration_option()
@emit_log_option("one wire record per emitted fix")
@click.option("--faults/--no-faults", default=False, show_default=True, help="Inject line faults.")
@seed_option()
def gps_command(
    city: str,
    rate: float,
    speed: float,
    vehicle_id: str,
    link: Path | None,
    duration: float | None,
    emit_log: Path | None,
    faults: bool,
    seed: int,
) -> None:
    """Drive a van around a city loop, writing NMEA GGA+RMC to a pseudo-terminal."""
    route = get_route(city)
    sim = GpsVanSimulator(route, rate, vehicle_id, seed=seed, speed_mps=speed / 3.6, faults=faults)
    with PtyPort.open(link) as port:
        shown = port.slave_path if link is None else f"{port.slave_path} (link {link})"
        click.echo(
            f"GPS van {vehicle_id} on {shown}, {rate:g} Hz, "
            f"route {route.name} {route.length_m / 1000:.1f} km",
            nl=True,
        )
        stats = asyncio.run(_run(sim, port, duration, emit_log))
    click.echo(f"stopped: {summary(stats)}")


async def _run(
    sim: GpsVanSimulator, port: PtyPort, duration: float | None, emit_log: Path | None
) -> RunStats:
    stats = sim.stats
    loop = asyncio.get_running_loop()
    runner = asyncio.create_task(run_gps_van(sim, port, duration, emit_log=emit_log))
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, runner.cancel)
    progress = asyncio.create_task(_report_progress(stats))
    try:
        with contextlib.suppress(asyncio.CancelledError):
            await runner
        # Closing the pty discards what the reader has not read, and those fixes were counted.
        await port.drain()
    finally:
        progress.cancel()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)
    return stats


async def _report_progress(stats: RunStats) -> None:
    elapsed = 0.0
    while True:
        await asyncio.sleep(PROGRESS_EVERY_S)
        elapsed += PROGRESS_EVERY_S
        click.echo(f"[{elapsed:5.0f} s] {summary(stats)}")


def summary(stats: RunStats) -> str:
    """One line of counters and the last position sent."""
    text = (
        f"fixes {stats.fixes_emitted}, dropped (no reader) {stats.dropped_no_reader}, "
        f"skipped (late) {stats.skipped_late}, faults {stats.faults_injected}"
    )
    if stats.faults:
        detail = ", ".join(f"{kind.value} {n}" for kind, n in sorted(stats.faults.items()))
        text += f" ({detail})"
    fix = stats.last_fix
    if fix is not None:
        kmh = 0.0 if fix.speed_mps is None else fix.speed_mps * 3.6
        text += f"; at {fix.lat:.5f},{fix.lon:.5f} {kmh:.0f} km/h"
    return text


from simulators.rfid_portal_cli import rfid_portal_command  # noqa: E402

simulate_group.add_command(rfid_portal_command)


@simulate_group.command(name="modbus-bus")
@click.option(
    "--probes",
    default=DEFAULT_PROBES,
    show_default=True,
    help="Comma-separated SLAVE:PROFILE[:ok|drift|silent|exception].",
)
@click.option(
    "--baud",
    type=click.IntRange(min=300),
    default=9600,
    show_default=True,
    help="Line speed the inter-frame silence is timed for.",
)
@link_option("/tmp/modbus-bus")
@duration_option()
@emit_log_option("one measurement record per value served")
@seed_option()
def modbus_bus_command(
    probes: str,
    baud: int,
    link: Path | None,
    duration: float | None,
    emit_log: Path | None,
    seed: int,
) -> None:
    """Temperature/humidity probes on one Modbus RTU line, answering on a pseudo-terminal."""
    try:
        specs = parse_probes(probes)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--probes") from exc
    bus = ModbusBus.from_specs(specs, seed)
    with BusPty.open(link) as port:
        shown = port.slave_path if link is None else f"{port.slave_path} (link {link})"
        names = ", ".join(f"{s.slave}:{s.profile}:{s.behaviour.value}" for s in specs)
        click.echo(f"Modbus RTU bus on {shown}: {names}")
        stats = asyncio.run(_run_bus(bus, port, baud, duration, emit_log))
    click.echo(
        f"stopped: frames {stats.frames}, answered {stats.answered}, "
        f"exceptions {stats.exceptions}, unanswered {stats.unanswered}, "
        f"bad frames {stats.bad_frames}, unaddressed {stats.unaddressed}"
    )


async def _run_bus(
    bus: ModbusBus, port: BusPty, baud: int, duration: float | None, emit_log: Path | None
) -> BusStats:
    loop = asyncio.get_running_loop()
    runner = asyncio.create_task(
        run_modbus_bus(bus, port, baudrate=baud, duration_s=duration, emit_log=emit_log)
    )
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, runner.cancel)
    try:
        with contextlib.suppress(asyncio.CancelledError):
            await runner
        await port.drain()
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)
    return bus.stats


from simulators.ble_sensors import DOOR_BINDKEY, SENSORS, simulate, write_replay, write_truth  # noqa: E402


@simulate_group.command(name="ble")
@click.option(
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="Replay file to write: one advertisement record (JSON) per line.",
)
@click.option(
    "--readings", type=click.IntRange(min=1), default=20, show_default=True,
    help="Readings per sensor (the dying battery falls silent before the end).",
)  # fmt: skip
@click.option(
    "--period", type=click.FloatRange(min=0.5), default=10.0, show_default=True,
    help="Seconds between a sensor's readings.",
)  # fmt: skip
@click.option(
    "--repeats", type=click.IntRange(min=1), default=3, show_default=True,
    help="Times each reading is advertised (0.1 s apart).",
)  # fmt: skip
@emit_log_option("one measurement record per reading (the ground truth)")
@seed_option()
def ble_command(
    output: Path, readings: int, period: float, repeats: int, emit_log: Path | None, seed: int
) -> None:
    """BLE sensors (Ruuvi, ATC, pvvx, BTHome plain and encrypted, iBeacon) as a replay file of
    real advertisement bytes, for a gateway's ``backend = "replay"`` BLE device."""
    scene = simulate(readings=readings, period_s=period, repeats=repeats, seed=seed)
    count = write_replay(scene, output)
    if emit_log is not None:
        write_truth(scene, emit_log)
    names = ", ".join(sensor.describe() for sensor in SENSORS)
    click.echo(f"wrote {count} advertisements to {output}: {names}")
    click.echo(f"door-bthome bind key {DOOR_BINDKEY.hex()}; {len(scene.truth)} readings")


from simulators.wireless_cli import mqtt_devices_command, scanner_command  # noqa: E402

simulate_group.add_command(mqtt_devices_command)
simulate_group.add_command(scanner_command)
