"""A real Gateway with a BLE replay device: ``retailedge simulate ble`` output heard again, the
records in the buffer, the gateway still running after the file ends, and a cold-chain
excursion of the warming dairy chiller raised and cleared from BLE readings."""

from __future__ import annotations

import asyncio
import contextlib
import json
import sqlite3
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from click.testing import CliRunner

from edge.coldchain import EXCURSION_RULE
from edge.config import GatewayConfig, parse_config
from edge.gateway import Gateway
from firmware_bridge.records import (
    Alarm,
    Measurement,
    MeasurementQuality,
    Quantity,
    Record,
    Severity,
)
from firmware_bridge.wire import format_time, parse_time, record_from_wire
from simulators.ble_sensors import DAIRY, START
from simulators.cli import simulate_group
from tests.edge.ble_helpers import sensor_entries
from tests.edge.pty_gps import until


def simulate_ble(tmp_path: Path, *args: str) -> tuple[Path, list[Measurement]]:
    replay, truth = tmp_path / "adverts.jsonl", tmp_path / "truth.jsonl"
    command = ["ble", "--output", str(replay), "--emit-log", str(truth), *args]
    result = CliRunner().invoke(simulate_group, command)
    assert result.exit_code == 0, result.output
    records = [record_from_wire(json.loads(line)) for line in truth.read_text().splitlines()]
    assert all(isinstance(r, Measurement) for r in records)
    return replay, [r for r in records if isinstance(r, Measurement)]


def gateway_config(
    tmp_path: Path, replay: Path, device: dict[str, Any], coldchain: list[dict[str, Any]]
) -> GatewayConfig:
    data = {
        "gateway": {"id": "store-ble", "data_dir": str(tmp_path / "data")},
        "cloud": {"url": "https://cloud.example", "token": "secret-token"},
        "uplink": {"interval_s": 0.05, "backoff_initial_s": 0.05, "drain_timeout_s": 0.1},
        "local_api": {"enabled": False},
        "devices": [
            {
                "id": "ble-1",
                "type": "ble",
                "backend": "replay",
                "replay_file": str(replay),
                "sensors": sensor_entries(),
                **device,
            }
        ],
        "coldchain": coldchain,
    }
    return parse_config(data, source=tmp_path / "gateway.toml", environ={})


def unreachable(request: httpx.Request) -> httpx.Response:
    """The cloud is down for the whole test: what the gateway stores stays in its buffer."""
    raise httpx.ConnectError("connection refused", request=request)


@contextlib.asynccontextmanager
async def gateway_running(config: GatewayConfig) -> AsyncIterator[asyncio.Task[None]]:
    gateway = Gateway(config, transport=httpx.MockTransport(unreachable))
    stop = asyncio.Event()
    task = asyncio.create_task(gateway.run(stop))
    try:
        yield task
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)  # a clean stop: no exception


def ble_status(config: GatewayConfig) -> dict[str, Any]:
    path = config.gateway.data_dir / "status.json"
    if not path.exists():
        return {}
    connector: dict[str, Any] = json.loads(path.read_text())["connectors"]["ble-1"]
    return connector


def buffered(config: GatewayConfig) -> list[Record]:
    with sqlite3.connect(config.gateway.data_dir / "outbox.db") as db:
        rows = db.execute("SELECT payload FROM outbox ORDER BY seq").fetchall()
    return [record_from_wire(json.loads(payload)) for (payload,) in rows]


def measurements(records: list[Record]) -> list[Measurement]:
    return [r for r in records if isinstance(r, Measurement)]


async def test_a_replay_device_fills_the_buffer_and_the_gateway_runs_on_after_the_file(
    tmp_path: Path,
) -> None:
    replay, truth = simulate_ble(tmp_path, "--readings", "6", "--repeats", "2", "--seed", "4")
    config = gateway_config(tmp_path, replay, {"replay_speed": 0, "min_interval_s": 5}, [])
    started = datetime.now(UTC)
    async with gateway_running(config) as task:
        await until(lambda: ble_status(config).get("status") == "replay finished", within=5)
        await asyncio.sleep(1.2)  # a status write later: still running, still finished
        assert not task.done()
        assert ble_status(config)["status"] == "replay finished"
        stored = measurements(buffered(config))
    # Heard from the gateway's start on: every time moved by one offset, the first advert's
    # time (START) becoming the moment the replay began.
    pairs = zip(sorted(stored, key=key), sorted(truth, key=key), strict=True)
    offsets = {m.time - t.time for m, t in pairs}
    assert len(offsets) == 1
    (offset,) = offsets
    assert started <= START + offset <= started + timedelta(seconds=5)
    assert sorted(stored, key=key) == sorted(
        (
            Measurement(
                t.device_id,
                t.time + offset,
                t.quantity,
                t.value,
                t.unit,
                quality=MeasurementQuality.OUT_OF_RANGE
                if t.quantity is Quantity.TEMPERATURE and t.value > 125
                else MeasurementQuality.GOOD,
            )
            for t in truth
        ),
        key=key,
    )
    assert sum(m.quality is MeasurementQuality.OUT_OF_RANGE for m in stored) == 2
    status = ble_status(config)
    assert status["replay"]["adverts"] == len(replay.read_text().splitlines())
    assert status["sensors"][DAIRY.address]["decoded"] == 6


def key(m: Measurement) -> tuple[str, str, datetime]:
    return (m.device_id, m.quantity.value, m.time)


async def test_a_warming_ble_chiller_raises_and_clears_a_coldchain_excursion(
    tmp_path: Path,
) -> None:
    # 30 readings a second apart, replayed ten times faster: the dairy chiller is warm
    # (8-12 °C) for readings 9..20, 1.2 s on the gateway's clock, beyond a 0.5 s tolerance.
    replay, truth = simulate_ble(
        tmp_path, "--readings", "30", "--period", "1", "--repeats", "2", "--seed", "5"
    )
    zone = {
        "zone": "dairy-chiller",
        "devices": [DAIRY.id],
        "min_c": 0.0,
        "max_c": 4.0,
        "tolerance_s": 0.5,
        "sample_period_s": 30,
    }
    device = {"replay_speed": 10, "min_interval_s": 0.5}
    config = gateway_config(tmp_path, replay, device, [zone])
    async with gateway_running(config) as task:
        await until(lambda: ble_status(config).get("status") == "replay finished", within=10)
        await until(lambda: len([r for r in buffered(config) if isinstance(r, Alarm)]) == 2)
        assert not task.done()
        records = buffered(config)
    dairy = sorted(
        (m for m in measurements(records) if m.device_id == DAIRY.id),
        key=lambda m: m.time,
    )
    temperatures = [m for m in dairy if m.quantity is Quantity.TEMPERATURE]
    expected = [
        t.value for t in truth if t.device_id == DAIRY.id and t.quantity is Quantity.TEMPERATURE
    ]
    assert [m.value for m in temperatures] == expected  # every reading heard, none twice
    warm = [m for m in temperatures if m.value > 4.0]
    assert len(warm) == 12
    first, last = warm[0], warm[-1]
    back = temperatures[temperatures.index(last) + 1]
    raised, cleared = (r for r in records if isinstance(r, Alarm))
    for alarm in (raised, cleared):
        assert (alarm.rule, alarm.subject, alarm.severity) == (
            EXCURSION_RULE,
            f"dairy-chiller/{DAIRY.id}",
            Severity.CRITICAL,
        )
        assert alarm.evidence["band"] == {"min_c": 0.0, "max_c": 4.0, "tolerance_s": 0.5}
        assert device_side(alarm.evidence["first_out"]) == evidence(first)
        # Timed on the gateway's clock, which a replayed reading's time (when heard) follows.
        assert alarm.started_at == gateway_time(alarm.evidence["first_out"])
    # Raised once the chiller had been warm for the tolerance: its evidence so far.
    assert raised.ended_at is None
    last_out = raised.evidence["last_out"]
    so_far = [m for m in warm if format_time(m.time) <= last_out["time"]]
    assert device_side(last_out) == evidence(so_far[-1])
    warm_for = gateway_time(last_out) - gateway_time(raised.evidence["first_out"])
    assert warm_for >= timedelta(seconds=0.5)
    assert device_side(raised.evidence["peak"]) == evidence(max(so_far, key=lambda m: m.value))
    # Cleared by the first reading back in band, with the whole excursion's evidence.
    assert device_side(cleared.evidence["back_in_band"]) == evidence(back)
    assert cleared.ended_at == gateway_time(cleared.evidence["back_in_band"])
    assert device_side(cleared.evidence["last_out"]) == evidence(last)
    assert device_side(cleared.evidence["peak"]) == evidence(max(warm, key=lambda m: m.value))
    for entry in ("first_out", "last_out", "peak", "back_in_band"):
        heard = gateway_time(cleared.evidence[entry]) - parse_time(cleared.evidence[entry]["time"])
        assert abs(heard) < timedelta(seconds=0.5), entry


def evidence(m: Measurement) -> dict[str, Any]:
    return {"time": format_time(m.time), "value_c": m.value}


def device_side(entry: dict[str, Any]) -> dict[str, Any]:
    """A reading in an alarm's evidence, as the device told it."""
    return {"time": entry["time"], "value_c": entry["value_c"]}


def gateway_time(entry: dict[str, Any]) -> datetime:
    return parse_time(entry["gateway_time"])
