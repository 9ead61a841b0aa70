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
    ASSET_BEACON,
    CHILLER,
    DOOR,
    SHELF,
    START,
    asset_address,
    simulate,
    write_replay,
)
from tests.edge.ble_helpers import ble_device, replay_to_the_end, running, sensor_entries
from tests.edge.pty_gps import until

T0 = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)
ASSET_KEY = f"{ASSET_BEACON.uuid}/{ASSET_BEACON.major}/{ASSET_BEACON.minor}"


def counters(
    adverts: int,
    decoded: int,
    duplicates: int,
    out_of_range: int = 0,
    events: int = 0,
    **errors: int,
) -> dict[str, Any]:
    return {
        "adverts": adverts,
        "decoded": decoded,
        "duplicates": duplicates,
        "throttled": 0,
        "replayed": 0,
        "events": events,
        "counter_resets": 0,
        "decode_errors": errors,
        "out_of_range": out_of_range,
    }


def without_ids(snapshot: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        sensor["id"]: {
            k: v for k, v in sensor.items() if k not in ("id", "last_seen", "last_address")
        }
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
        # Heard as fast as possible, from a clock standing at the file's start: the times
        # come out as recorded.
        backend = ReplayBackend(replay, speed=0, clock=lambda: START)
        connector = BleConnector(ble_device(replay), pipeline.submit, backend=backend)
        await replay_to_the_end(connector)
        pipeline.stop()
        await asyncio.wait_for(committing, 5)
        stored = await buf.peek(10_000, 10**9)
    records = [record_from_wire(json.loads(row.payload)) for row in stored]
    measurements = [r for r in records if isinstance(r, Measurement)]
    flagged = [m for m in measurements if m.quality is MeasurementQuality.OUT_OF_RANGE]
    # The failed shelf sensor's readings are flagged (the ATC profile's valid range ends at
    # the SHTC3's 125 °C); everything else arrives exactly as simulated, the freezer's too.
    assert sorted((m.device_id, m.time, m.value) for m in flagged) == sorted(
        (m.device_id, m.time, m.value)
        for m in scene.truth
        if m.quantity is Quantity.TEMPERATURE and m.value > 125.0
    )
    assert {m.device_id for m in flagged} == {SHELF.id}
    assert len(flagged) == 8
    unflagged = [replace(m, quality=MeasurementQuality.GOOD) for m in measurements]
    assert len(measurements) == len(records) == len(scene.truth) == 436
    assert sorted(unflagged, key=_order) == sorted(scene.truth, key=_order)
    snap = connector.snapshot()
    assert (snap["status"], snap["ignored_adverts"], snap["bad_adverts"]) == (
        "replay finished",
        0,
        0,
    )
    assert snap["replay"]["adverts"] == len(scene.adverts)
    assert snap["sensors"][ASSET_KEY]["last_address"] == asset_address(19)
    assert without_ids(snap) == {
        "chiller-ruuvi": counters(60, 20, 40),
        # Its sensor fails from reading 12 on: 130-150 degC, beyond the SHTC3's 125 degC.
        "shelf-atc": counters(60, 20, 40, out_of_range=8),
        # 3.0 V falling 60 mV a reading, silent below 2.2 V: readings 0..13.
        "fridge-pvvx": counters(42, 14, 28),
        # Every door advert is an event; its repeats carry the same counter.
        "door-bthome": counters(60, 20, 40, events=20),
        "dairy-bthome": counters(60, 20, 40),
        "freezer-atc": counters(60, 20, 40),
        # Matched by its identity whatever address it advertises from.
        "asset-ibeacon": counters(60, 20, 40),
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
    backend = ReplayBackend(replay, speed=0, clock=lambda: T0)
    connector = BleConnector(ble_device(replay, min_interval_s=5.0), got.extend, backend=backend)
    await replay_to_the_end(connector)
    assert temperatures(got) == [(T0, 3.0)]
    snap = connector.snapshot()
    assert snap["bad_adverts"] == 2
    sensors = without_ids(snap)
    assert sensors["chiller-ruuvi"] == counters(
        4, 1, 0, PayloadLengthError=1, UnsupportedFormat=1, MissingPayload=1
    )
    assert sensors["door-bthome"] == counters(1, 0, 0, DecryptionError=1)


@pytest.mark.parametrize(("speed", "gap_s"), [(1.0, 0.2), (2.0, 0.1)])
async def test_replay_is_heard_from_now_at_its_recorded_pace(
    tmp_path: Path, speed: float, gap_s: float
) -> None:
    replay = tmp_path / "timed.jsonl"
    adverts = [ruuvi_advert(T0 + timedelta(seconds=0.2 * i), 3.0 + i, i) for i in range(3)]
    replay.write_text("".join(json.dumps(advert_to_json(a)) + "\n" for a in adverts))
    now = datetime(2027, 6, 1, 12, 0, tzinfo=UTC)
    loop = asyncio.get_running_loop()
    heard = [
        (loop.time(), advert)
        async for advert in ReplayBackend(replay, speed=speed, clock=lambda: now).adverts()
    ]
    gaps = [b - a for (a, _), (b, _) in itertools.pairwise(heard)]
    assert all(gap_s * 0.75 <= gap <= gap_s * 1.75 for gap in gaps), gaps
    # Stamped when heard: the first at the replay's start, the rest at the (scaled) distance.
    assert [advert.time for _, advert in heard] == [
        now + timedelta(seconds=gap_s * i) for i in range(3)
    ]
    assert [advert.manufacturer_data for _, advert in heard] == [
        a.manufacturer_data for a in adverts
    ]


async def test_as_fast_as_possible_keeps_the_times_of_speed_one(tmp_path: Path) -> None:
    replay = tmp_path / "timed.jsonl"
    adverts = [ruuvi_advert(T0 + timedelta(seconds=30 * i), 3.0, i) for i in range(3)]
    untimed = replace(adverts[0], time=None)
    lines = [*adverts, untimed]
    replay.write_text("".join(json.dumps(advert_to_json(a)) + "\n" for a in lines))
    now = datetime(2027, 6, 1, 12, 0, tzinfo=UTC)
    loop = asyncio.get_running_loop()
    started = loop.time()
    heard = [a.time async for a in ReplayBackend(replay, speed=0, clock=lambda: now).adverts()]
    assert loop.time() - started < 1.0
    assert heard == [now, now + timedelta(seconds=30), now + timedelta(seconds=60), None]
    with pytest.raises(ValueError, match="speed"):
        ReplayBackend(replay, speed=-1)


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
    assert (parsed.stall_after_s, parsed.counter_reset_after_s, parsed.replay_speed) == (
        120.0,
        300.0,
        1.0,
    )
    assert parsed.sensors[3].address == DOOR.address
    assert parsed.sensors[6].beacon == (ASSET_BEACON.uuid, 100, 5)  # uuid in lower case
    source = tmp_path / "gw.toml"
    ruuvi = {"address": CHILLER.address, "id": "x", "format": "ruuvi"}
    tag = {"id": "tag", "format": "ibeacon", "uuid": ASSET_BEACON.uuid, "major": 1, "minor": 2}
    cases = [
        (
            {**device, "backend": "replay"},
            'devices[0]: replay_file is needed by, and only by, backend = "replay"',
        ),
        ({**device, "replay_speed": 5}, 'devices[0]: replay_speed: only for backend = "replay"'),
        (
            {**device, "sensors": [{**ruuvi, "format": "eddystone"}]},
            "devices[0].sensors[0].format: "
            "Input should be 'ruuvi', 'atc', 'pvvx', 'bthome' or 'ibeacon'",
        ),
        (
            {**device, "sensors": [{**ruuvi, "profile": "lywsd03mmc-atc"}]},
            "devices[0].sensors[0]: profile 'lywsd03mmc-atc' is for format atc",
        ),
        (
            {**device, "sensors": [{"id": "x", "format": "atc"}]},
            "devices[0].sensors[0]: address is required for format atc",
        ),
        (
            {**device, "sensors": [{**ruuvi, "major": 1}]},
            "devices[0].sensors[0]: major: only for format ibeacon",
        ),
        (
            {**device, "sensors": [{**ruuvi, "bindkey": "00" * 16}]},
            "devices[0].sensors[0]: bindkey: only for format bthome",
        ),
        (
            {**device, "sensors": [{k: v for k, v in tag.items() if k != "minor"}]},
            "devices[0].sensors[0]: an ibeacon tag needs uuid, major and minor",
        ),
        (
            {**device, "sensors": [{**tag, "address": CHILLER.address}]},
            "devices[0].sensors[0]: an ibeacon tag is matched by uuid, major and minor, "
            "not address",
        ),
        (
            {**device, "sensors": [{**tag, "major": 65536}]},
            "devices[0].sensors[0].major: Input should be less than or equal to 65535",
        ),
        (
            {**device, "sensors": [{**tag, "uuid": "not-a-uuid"}]},
            "devices[0].sensors[0].uuid: String should match pattern "
            "'^[0-9A-Fa-f]{8}(-[0-9A-Fa-f]{4}){3}-[0-9A-Fa-f]{12}$'",
        ),
        (
            {**device, "sensors": [tag, {**tag, "id": "tag-2", "uuid": tag["uuid"].upper()}]},
            f"devices[0]: sensor ibeacon used twice: {ASSET_BEACON.uuid} 1 2",
        ),
        (
            {**device, "sensors": [{**ruuvi, "profile": "ibeacon-tag"}]},
            "devices[0].sensors[0]: profile 'ibeacon-tag' is for format ibeacon",
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


@pytest.mark.parametrize(
    ("content", "problem"),
    [(None, "No such file or directory"), (b"\xff\xfe\x00garbage", "can't decode byte 0xff")],
    ids=["missing", "binary"],
)
async def test_a_replay_file_that_cannot_be_read_is_reported_and_the_device_idles(
    tmp_path: Path, content: bytes | None, problem: str
) -> None:
    replay = tmp_path / "capture.jsonl"
    if content is not None:
        replay.write_bytes(content)
    connector = BleConnector(ble_device(replay), lambda records: None)
    async with running(connector) as task:
        await until(lambda: connector.status.startswith("replay failed: "))
        await asyncio.sleep(0.05)
        assert not task.done()
    assert problem in connector.status


async def test_a_faster_replay_takes_the_same_readings_sooner(tmp_path: Path) -> None:
    scene = simulate(readings=8, period_s=1.0, repeats=3, seed=2)
    replay = tmp_path / "adverts.jsonl"
    write_replay(scene, replay)
    now = datetime(2027, 6, 1, 12, 0, tzinfo=UTC)
    got: list[Record] = []
    device = ble_device(replay, min_interval_s=0.5, replay_speed=10)
    backend = ReplayBackend(replay, speed=10, clock=lambda: now)
    connector = BleConnector(device, got.extend, backend=backend)
    loop = asyncio.get_running_loop()
    started = loop.time()
    await replay_to_the_end(connector)
    assert loop.time() - started < 2.0  # 7 s of adverts in 0.7 s
    # The interval shrinks with the replay's time: every reading is taken, none twice, each
    # stamped at a tenth of its distance from the first.
    heard = sorted(
        (m.device_id, m.quantity, m.value, m.time) for m in got if isinstance(m, Measurement)
    )
    assert heard == sorted(
        (t.device_id, t.quantity, t.value, now + (t.time - START) / 10) for t in scene.truth
    )
    assert {s["decoded"] for s in connector.snapshot()["sensors"].values()} == {8}
