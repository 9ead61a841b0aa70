"""The simulated BLE store: real advertisement bytes that decode to the ground truth."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from click.testing import CliRunner

from firmware_bridge.ble_advert import advert_from_json
from firmware_bridge.ble_decode import decode_measurements
from firmware_bridge.ble_ibeacon import decode_ibeacon_advert, ibeacon_measurements
from firmware_bridge.records import Measurement, Quantity
from firmware_bridge.wire import record_from_wire
from simulators.ble_sensors import (
    ASSET,
    ASSET_BEACON,
    DAIRY,
    DOOR,
    DOOR_BINDKEY,
    FREEZER,
    FRIDGE,
    MEASURING,
    SENSORS,
    SHELF,
    START,
    asset_address,
    is_warm,
    simulate,
)
from simulators.cli import simulate_group


def test_every_distinct_advert_decodes_to_its_ground_truth() -> None:
    scene = simulate(readings=12, repeats=1, seed=3)
    decoded: list[Measurement] = []
    by_address = {s.address: s for s in MEASURING}
    for advert in scene.adverts:
        sensor = by_address.get(advert.address)
        assert advert.time is not None
        if sensor is None:
            sighting = decode_ibeacon_advert(advert, advert.time)
            assert sighting.beacon == ASSET_BEACON
            decoded += ibeacon_measurements(sighting, ASSET.id)
            continue
        key = DOOR_BINDKEY if sensor is DOOR else None
        decoded += decode_measurements(advert, START, None, device_id=sensor.id, bindkey=key)
    assert decoded == scene.truth


def values(scene_truth: list[Measurement], device: str, quantity: Quantity) -> list[float]:
    return [m.value for m in scene_truth if m.device_id == device and m.quantity is quantity]


def test_the_cast_battery_dies_shelf_sensor_fails_dairy_warms_and_freezer_stays_frozen() -> None:
    scene = simulate(readings=20, repeats=2, seed=1)
    volts = values(scene.truth, FRIDGE.id, Quantity.BATTERY_VOLTAGE)
    assert volts == [round(3.0 - 0.06 * i, 3) for i in range(14)]
    per_sensor = Counter(a.address for a in scene.adverts)
    assert per_sensor[FRIDGE.address] == 28
    assert per_sensor[SHELF.address] == 40
    shelf = values(scene.truth, SHELF.id, Quantity.TEMPERATURE)
    assert all(20.0 <= t <= 24.0 for t in shelf[:12])
    assert all(130.0 <= t <= 150.0 for t in shelf[12:])  # beyond the sensor: a fault
    dairy = values(scene.truth, DAIRY.id, Quantity.TEMPERATURE)
    warm = [i for i in range(20) if is_warm(i, 20)]
    assert warm == list(range(6, 14))
    assert all((8.0 <= t <= 12.0) == (i in warm) for i, t in enumerate(dairy))
    assert all(1.5 <= t <= 3.5 for i, t in enumerate(dairy) if i not in warm)
    assert all(-21.0 <= t <= -18.0 for t in values(scene.truth, FREEZER.id, Quantity.TEMPERATURE))
    # The asset tag rotates its address every 5 readings; its truth is its first advert's RSSI.
    tag = [a for a in scene.adverts if a.local_name == ASSET.id]
    assert sorted({a.address for a in tag}) == [asset_address(i) for i in (0, 5, 10, 15)]
    rssi = values(scene.truth, ASSET.id, Quantity.RSSI)
    assert rssi == [float(a.rssi or 0) for a in tag[::2]]


def test_same_seed_same_scene() -> None:
    assert simulate(seed=5) == simulate(seed=5)
    assert simulate(seed=5) != simulate(seed=6)


def test_simulate_ble_command_writes_replay_and_truth(tmp_path: Path) -> None:
    replay, truth = tmp_path / "adverts.jsonl", tmp_path / "truth.jsonl"
    args = ["ble", "--output", str(replay), "--readings", "4", "--emit-log", str(truth)]
    result = CliRunner().invoke(simulate_group, [*args, "--repeats", "2", "--seed", "9"])
    assert result.exit_code == 0, result.output
    scene = simulate(readings=4, repeats=2, seed=9)
    lines = replay.read_text(encoding="utf-8").splitlines()
    assert [advert_from_json(json.loads(line)) for line in lines] == scene.adverts
    stored = [record_from_wire(json.loads(line)) for line in truth.read_text().splitlines()]
    assert stored == scene.truth
    first = result.output.splitlines()[0]
    assert first.startswith(f"wrote {len(scene.adverts)} advertisements to {replay}: ")
    assert first.endswith(", ".join(sensor.describe() for sensor in SENSORS))
    assert "asset-ibeacon iBeacon e2c56db5-dffb-48d2-b060-d0f5a71096e0 100/5" in first
