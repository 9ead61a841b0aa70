"""The BLE connector: replayed advertisements of the simulated store into a real buffer."""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from edge.buffer import Buffer
from edge.config import BleDevice, ConfigError, parse_config
from edge.connectors.ble import BleConnector
from edge.connectors.ble_backends import ReplayBackend
from edge.connectors.factory import build_connector
from edge.pipeline import Pipeline
from firmware_bridge.ble_advert import Advertisement, advert_to_json
from firmware_bridge.ble_ruuvi import MANUFACTURER_ID, RuuviData, encode_ruuvi
from firmware_bridge.records import Measurement, MeasurementQuality, Quantity, Record, Unit
from firmware_bridge.wire import record_from_wire
from simulators.ble_sensors import (
    CHILLER,
    DOOR,
    DOOR_BINDKEY,
    FRIDGE,
    SHELF,
    simulate,
    write_replay,
)

T0 = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)


def sensor_entries() -> list[dict[str, Any]]:
    return [
        {"address": CHILLER.address, "id": CHILLER.id, "format": "ruuvi"},
        {"address": SHELF.address, "id": SHELF.id, "format": "atc"},
        {"address": FRIDGE.address, "id": FRIDGE.id, "format": "pvvx"},
        {
            "address": DOOR.address.lower(),
            "id": DOOR.id,
            "format": "bthome",
            "bindkey": DOOR_BINDKEY.hex(),
        },
    ]


def ble_device(replay: Path, **extra: Any) -> BleDevice:
    return BleDevice.model_validate(
        {
            "id": "ble-1",
            "type": "ble",
            "backend": "replay",
            "replay_file": str(replay),
            "min_interval_s": 5.0,
            "sensors": sensor_entries(),
            **extra,
        }
    )


def counters(
    adverts: int, decoded: int, duplicates: int, out_of_range: int = 0, **errors: int
) -> dict[str, Any]:
    return {
        "adverts": adverts,
        "decoded": decoded,
        "duplicates": duplicates,
        "throttled": 0,
        "decode_errors": errors,
        "out_of_range": out_of_range,
    }


def without_ids(snapshot: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        sensor["id"]: {k: v for k, v in sensor.items() if k not in ("id", "last_seen")}
        for sensor in snapshot["sensors"].values()
    }


async def test_replayed_store_lands_in_the_buffer_exactly_as_simulated(tmp_path: Path) -> None:
    scene = simulate(readings=20, period_s=10.0, repeats=3, seed=7)
    replay = tmp_path / "adverts.jsonl"
    write_replay(scene, replay)
    async with Buffer.open(tmp_path / "outbox.db") as buf:
        pipeline = Pipeline(buf)
        committing = asyncio.create_task(pipeline.run())
        connector = build_connector(ble_device(replay), pipeline.submit, data_dir=tmp_path)
        assert isinstance(connector, BleConnector)
        connector = BleConnector(
            ble_device(replay), pipeline.submit, backend=ReplayBackend(replay, speed=0)
        )
        await asyncio.wait_for(connector.run(), 10)
        pipeline.stop()
        await asyncio.wait_for(committing, 5)
        stored = await buf.peek(10_000, 10**9)
    records = [record_from_wire(json.loads(row.payload)) for row in stored]
    measurements = [r for r in records if isinstance(r, Measurement)]
    flagged = [m for m in measurements if m.quality is MeasurementQuality.OUT_OF_RANGE]
    # The readings next to the oven are flagged (the ATC profile's valid range ends at 60 °C),
    # everything else arrives exactly as simulated.
    assert sorted((m.device_id, m.time, m.value) for m in flagged) == sorted(
        (m.device_id, m.time, m.value)
        for m in scene.truth
        if isinstance(m, Measurement) and m.quantity is Quantity.TEMPERATURE and m.value > 60.0
    )
    assert len(flagged) == 8
    unflagged = [replace(m, quality=MeasurementQuality.GOOD) for m in measurements]
    assert len(measurements) == len(records) == 256
    assert sorted(unflagged, key=_order) == sorted(scene.truth, key=_order)
    snap = connector.snapshot()
    assert (snap["ignored_adverts"], snap["bad_adverts"]) == (60, 0)  # the iBeacon tag
    assert without_ids(snap) == {
        "chiller-ruuvi": counters(60, 20, 40),
        # Next to the oven from reading 12 on: 62-70 degC, above the ATC's 60 degC.
        "shelf-atc": counters(60, 20, 40, out_of_range=8),
        # 3.0 V falling 60 mV a reading, silent below 2.2 V: readings 0..13.
        "fridge-pvvx": counters(42, 14, 28),
        "door-bthome": counters(60, 20, 40),
    }


def _order(record: Record) -> tuple[str, str, str]:
    assert isinstance(record, Measurement)
    return (record.device_id, record.time.isoformat(), record.quantity.value)


def ruuvi_advert(at: datetime, temperature: float, sequence: int = 0) -> Advertisement:
    data = RuuviData(temperature, 50.0, 1000.0, (0, 0, 0), 3.0, 4, 0, sequence, CHILLER.address)
    return Advertisement(CHILLER.address, -60, None, {MANUFACTURER_ID: encode_ruuvi(data)}, {}, at)


def direct_connector(tmp_path: Path, min_interval_s: float) -> tuple[BleConnector, list[Record]]:
    got: list[Record] = []

    def sink(records: Sequence[Record]) -> None:
        got.extend(records)

    device = ble_device(tmp_path / "unused.jsonl", min_interval_s=min_interval_s)
    return BleConnector(device, sink), got


def temperatures(records: list[Record]) -> list[tuple[datetime, float]]:
    return [
        (r.time, r.value)
        for r in records
        if isinstance(r, Measurement) and r.quantity is Quantity.TEMPERATURE
    ]


def test_same_payload_within_the_interval_is_a_duplicate_and_new_bytes_are_throttled(
    tmp_path: Path,
) -> None:
    connector, got = direct_connector(tmp_path, min_interval_s=5.0)
    for seconds, temperature, sequence in [
        (0.0, 4.0, 1),
        (0.5, 4.0, 1),  # the same bytes again: duplicate
        (2.0, 4.5, 2),  # a new reading, too soon: throttled
        (5.0, 4.5, 2),  # interval over: taken
        (9.9, 4.5, 2),  # duplicate of the last taken
        (10.0, 4.5, 2),  # same bytes but the interval is over: taken again
    ]:
        connector.handle(ruuvi_advert(T0 + timedelta(seconds=seconds), temperature, sequence))
    assert temperatures(got) == [
        (T0, 4.0),
        (T0 + timedelta(seconds=5), 4.5),
        (T0 + timedelta(seconds=10), 4.5),
    ]
    sensor = connector.snapshot()["sensors"][CHILLER.address]
    assert (sensor["adverts"], sensor["decoded"], sensor["duplicates"], sensor["throttled"]) == (
        6,
        3,
        2,
        1,
    )


def test_zero_interval_takes_every_distinct_advert(tmp_path: Path) -> None:
    connector, got = direct_connector(tmp_path, min_interval_s=0.0)
    for i in range(3):
        connector.handle(ruuvi_advert(T0 + timedelta(seconds=0.1 * i), 4.0 + i, i))
    assert [v for _, v in temperatures(got)] == [4.0, 5.0, 6.0]


def test_out_of_range_readings_are_flagged_counted_and_still_emitted(tmp_path: Path) -> None:
    connector, got = direct_connector(tmp_path, min_interval_s=0.0)
    connector.handle(ruuvi_advert(T0, 120.0))
    assert temperatures(got) == [(T0, 120.0)]
    assert [(m.quantity, m.quality) for m in got] == [
        (Quantity.TEMPERATURE, MeasurementQuality.OUT_OF_RANGE),  # ruuvitag: -40..85 °C
        (Quantity.HUMIDITY, MeasurementQuality.GOOD),
        (Quantity.PRESSURE, MeasurementQuality.GOOD),
        (Quantity.BATTERY_VOLTAGE, MeasurementQuality.GOOD),
    ]
    assert connector.snapshot()["sensors"][CHILLER.address]["out_of_range"] == 1


async def test_bad_adverts_are_counted_by_type_and_do_not_stop_the_stream(tmp_path: Path) -> None:
    good = advert_to_json(ruuvi_advert(T0, 3.0))
    truncated = {**good, "manufacturer_data": {"1177": "0503"}}
    format3 = {**good, "manufacturer_data": {"1177": "03" + "00" * 13}}
    no_payload = {**good, "manufacturer_data": {}}
    wrong_key = {
        "address": DOOR.address,
        "service_data": {"fcd2": "41" + "00" * 12},
        "time": "2026-01-05T08:00:01Z",
    }
    lines = [
        json.dumps(truncated),
        "not json",
        json.dumps(format3),
        json.dumps({"address": "nonsense"}),
        json.dumps(no_payload),
        json.dumps(wrong_key),
        json.dumps(good),
    ]
    replay = tmp_path / "bad.jsonl"
    replay.write_text("\n".join(lines) + "\n", encoding="utf-8")
    got: list[Record] = []
    connector = BleConnector(
        ble_device(replay, min_interval_s=5.0), got.extend, backend=ReplayBackend(replay, speed=0)
    )
    await asyncio.wait_for(connector.run(), 5)
    assert temperatures(got) == [(T0, 3.0)]
    snap = connector.snapshot()
    assert snap["bad_adverts"] == 2
    sensors = without_ids(snap)
    assert sensors["chiller-ruuvi"] == counters(
        4, 1, 0, PayloadLengthError=1, UnsupportedFormat=1, MissingPayload=1
    )
    assert sensors["door-bthome"] == counters(1, 0, 0, DecryptionError=1)


async def test_replay_keeps_the_relative_timing(tmp_path: Path) -> None:
    replay = tmp_path / "timed.jsonl"
    adverts = [ruuvi_advert(T0 + timedelta(seconds=0.2 * i), 3.0 + i, i) for i in range(3)]
    replay.write_text("".join(json.dumps(advert_to_json(a)) + "\n" for a in adverts))
    loop = asyncio.get_running_loop()
    arrivals = [loop.time() async for _ in ReplayBackend(replay).adverts()]
    gaps = [b - a for a, b in itertools.pairwise(arrivals)]
    assert all(0.15 <= gap <= 0.35 for gap in gaps), gaps


def test_config_refuses_bad_ble_entries(tmp_path: Path) -> None:
    base = {
        "gateway": {"id": "gw", "data_dir": str(tmp_path)},
        "cloud": {"url": "http://127.0.0.1:1", "token": "t"},
    }
    device = {"id": "ble-1", "type": "ble", "sensors": sensor_entries()}
    config = parse_config({**base, "devices": [device]}, source=tmp_path / "gw.toml")
    parsed = config.devices[0]
    assert isinstance(parsed, BleDevice)
    assert (parsed.backend, parsed.passive, parsed.min_interval_s) == ("bleak", True, 10.0)
    assert parsed.sensors[3].address == DOOR.address
    source = tmp_path / "gw.toml"
    profile_mismatch = {"address": CHILLER.address, "id": "x", "format": "ruuvi"}
    cases = [
        (
            {**device, "backend": "replay"},
            'devices[0]: replay_file is needed by, and only by, backend = "replay"',
        ),
        (
            {**device, "sensors": [{**profile_mismatch, "format": "ibeacon"}]},
            "devices[0].sensors[0].format: Input should be 'ruuvi', 'atc', 'pvvx' or 'bthome'",
        ),
        (
            {**device, "sensors": [{**profile_mismatch, "profile": "lywsd03mmc-atc"}]},
            "devices[0].sensors[0]: profile 'lywsd03mmc-atc' is for format atc",
        ),
    ]
    for bad, problem in cases:
        with pytest.raises(ConfigError) as caught:
            parse_config({**base, "devices": [bad]}, source=source)
        assert str(caught.value) == f"{source}: {problem}"


def test_a_ruuvi_reading_decodes_to_its_whole_measurements(tmp_path: Path) -> None:
    connector, got = direct_connector(tmp_path, min_interval_s=0.0)
    connector.handle(ruuvi_advert(T0, 3.5))
    assert got == [
        Measurement(CHILLER.id, T0, Quantity.TEMPERATURE, 3.5, Unit.CELSIUS),
        Measurement(CHILLER.id, T0, Quantity.HUMIDITY, 50.0, Unit.PERCENT_RH),
        Measurement(CHILLER.id, T0, Quantity.PRESSURE, 1000.0, Unit.HECTOPASCAL),
        Measurement(CHILLER.id, T0, Quantity.BATTERY_VOLTAGE, 3.0, Unit.VOLT),
    ]
