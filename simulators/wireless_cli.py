"""``retailedge simulate mqtt-devices`` and ``retailedge simulate scanner``."""

from __future__ import annotations

import contextlib
import json
import signal
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import FrameType

import click
import httpx

from simulators.cli_options import broker_options, duration_option, emit_log_option, seed_option
from simulators.mqtt_devices import (
    CAST,
    Broker,
    DeviceFleet,
    SimulatorError,
    open_emit_log,
    run_fleet,
    summary,
)
from simulators.scanner_session import (
    ANSWER_TIMEOUT_S,
    MqttScanner,
    SessionError,
    SessionStats,
    catalogue_body,
    run_http_session,
    run_mqtt_session,
    session_steps,
)

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


@click.command(name="mqtt-devices")
@broker_options()
@click.option(
    "--readings", type=click.IntRange(min=1), default=10, show_default=True,
    help="Readings per device (rounds).",
)  # fmt: skip
@click.option(
    "--period", type=click.FloatRange(min=0.0), default=1.0, show_default=True,
    help="Seconds between rounds.",
)  # fmt: skip
@click.option(
    "--silent-after", type=click.IntRange(min=0), default=5, show_default=True,
    help="Readings after which the dying probe falls silent and drops off (its Last Will).",
)  # fmt: skip
@duration_option()
@emit_log_option("one measurement record per confirmed reading")
@seed_option()
def mqtt_devices_command(
    host: str,
    port: int,
    topic_prefix: str,
    site: str,
    readings: int,
    period: float,
    silent_after: int,
    duration: float | None,
    emit_log: Path | None,
    seed: int,
) -> None:
    """Field devices publishing JSON telemetry with QoS 1 and a Last Will; one goes silent."""
    broker = Broker(host, port, topic_prefix, site)
    log = open_emit_log(emit_log)
    try:
        with _stop_flag(duration) as stop, DeviceFleet(broker, CAST) as fleet:
            names = ", ".join(device.id for device in fleet.devices)
            click.echo(f"devices on {host}:{port} under {broker.topic('+', '#')}: {names}")
            stats = run_fleet(
                fleet,
                readings=readings,
                period_s=period,
                silent_after=silent_after,
                seed=seed,
                emit_log=log,
                stop=stop,
            )
    except SimulatorError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        if log is not None:
            log.close()
    click.echo(json.dumps(summary(stats)))


@click.command(name="scanner")
@click.option(
    "--via", type=click.Choice(["mqtt", "http", "both"]), default="http", show_default=True,
    help="Send scans over MQTT, the gateway's web API, or a session over each.",
)  # fmt: skip
@click.option("--gateway-url", default=None, help="The gateway's local API (for --via http).")
@click.option("--token", default=None, help="Bearer token of the gateway's local API, if set.")
@broker_options()
@click.option("--scanner-id", default="hh-1", show_default=True)
@click.option("--operator", default="op-1", show_default=True)
@click.option(
    "--catalogue", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
    help="Snapshot JSON (or a gateway's catalogue.json) to take codes from; default built in.",
)  # fmt: skip
@click.option(
    "--mistakes/--no-mistakes", default=False, show_default=True,
    help="Also scan at an unknown location (refused when the gateway has a catalogue).",
)  # fmt: skip
@click.option(
    "--answer-timeout", type=click.FloatRange(min=0.0), default=ANSWER_TIMEOUT_S,
    show_default=True,
    help="Seconds to wait for the gateway's answer to each MQTT scan; 0: do not wait.",
)  # fmt: skip
@emit_log_option("one scan record per accepted scan, as the gateway stored it, with its seq")
@seed_option()
def scanner_command(
    via: str,
    gateway_url: str | None,
    token: str | None,
    host: str,
    port: int,
    topic_prefix: str,
    site: str,
    scanner_id: str,
    operator: str,
    catalogue: Path | None,
    mistakes: bool,
    answer_timeout: float,
    emit_log: Path | None,
    seed: int,
) -> None:
    """A handheld session: receive a pallet, put away cases, pick, count."""
    if via in ("http", "both") and gateway_url is None:
        raise click.BadParameter("needed with --via http or both", param_hint="--gateway-url")
    try:
        steps = session_steps(catalogue_body(catalogue), seed=seed, mistakes=mistakes)
    except (SessionError, ValueError, KeyError) as exc:
        raise click.BadParameter(str(exc), param_hint="--catalogue") from None
    log = open_emit_log(emit_log)
    results: dict[str, SessionStats] = {}
    try:
        if via in ("mqtt", "both"):
            scanner_name = f"{scanner_id}-mqtt" if via == "both" else scanner_id
            broker = Broker(host, port, topic_prefix, site)
            scanner = MqttScanner(broker, scanner_name, answers=answer_timeout > 0)
            try:
                results["mqtt"] = run_mqtt_session(
                    scanner,
                    steps,
                    operator=operator,
                    emit_log=log,
                    answer_timeout_s=answer_timeout,
                )
            finally:
                scanner.close()
        if via in ("http", "both"):
            assert gateway_url is not None
            headers = {} if token is None else {"Authorization": f"Bearer {token}"}
            scanner_name = f"{scanner_id}-http" if via == "both" else scanner_id
            with httpx.Client(base_url=gateway_url, headers=headers, timeout=10.0) as client:
                results["http"] = run_http_session(
                    client, steps, scanner_id=scanner_name, operator=operator, emit_log=log
                )
    except (SimulatorError, httpx.HTTPError) as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        if log is not None:
            log.close()
    for name, stats in results.items():
        click.echo(
            json.dumps(
                {
                    "via": name,
                    "sent": stats.sent,
                    "accepted": stats.accepted,
                    "refused": stats.refused,
                    "products": stats.products,
                    "unanswered": stats.unanswered,
                    "unexpected": stats.unexpected,
                }
            )
        )
    if any(stats.unexpected for stats in results.values()):
        sys.exit(1)


@contextlib.contextmanager
def _stop_flag(duration: float | None) -> Iterator[Callable[[], bool]]:
    """A stop() that turns true on SIGINT/SIGTERM or after ``duration`` seconds; the previous
    signal handlers come back on exit."""
    deadline = None if duration is None else time.monotonic() + duration
    stopped = [False]

    def on_signal(_signum: int, _frame: FrameType | None) -> None:
        stopped[0] = True

    previous = {signum: signal.signal(signum, on_signal) for signum in STOP_SIGNALS}
    try:
        yield lambda: stopped[0] or (deadline is not None and time.monotonic() >= deadline)
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
