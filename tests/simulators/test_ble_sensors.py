"""The simulated BLE store: real advertisement bytes that decode to the ground truth."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from click.testing import CliRunner

from firmware_bridge.ble_advert import advert_from_json
from firmware_bridge.ble_decode import decode_measurements
from firmware_bridge.ble_ibeacon import IBeacon, decode_ibeacon_advert
from firmware_bridge.records import Measurement, Quantity
from firmware_bridge.wire import record_from_wire
from simulators.ble_sensors import (
    ASSET,
    DOOR,
    DOOR_BINDKEY,
    FRIDGE,
    MEASURING,
    SHELF,
    START,
    simulate,
)
from simulators.cli import simulate_group


def test_every_distinct_advert_decodes_to_its_ground_truth() -> None:
    scene = simulate(readings=6, repeats=1, seed=3)
    decoded: list[Measurement] = []
    by_address = {s.address: s for s in MEASURING}
    for advert in scene.adverts:
        sensor = by_address.get(advert.address)
        if sensor is None:
            assert advert.address == ASSET.address
            sighting = decode_ibeacon_advert(advert, START)
            assert sighting.beacon == IBeacon("e2c56db5-dffb-48d2-b060-d0f5a71096e0", 100, 5, -59)
            continue
        key = DOOR_BINDKEY if sensor is DOOR else None
        decoded += decode_measurements(advert, START, None, device_id=sensor.id, bindkey=key)
    assert decoded == scene.truth


def test_the_fridge_battery_falls_then_goes_silent_and_the_shelf_overheats() -> None:
    scene = simulate(readings=20, repeats=2, seed=1)
    volts = [
        m.value
        for m in scene.truth
        if m.device_id == FRIDGE.id and m.quantity is Quantity.BATTERY_VOLTAGE
    ]
    assert volts == [round(3.0 - 0.06 * i, 3) for i in range(14)]
    per_sensor = Counter(a.address for a in scene.adverts)
    assert per_sensor[FRIDGE.address] == 28
    assert per_sensor[SHELF.address] == 40
    shelf = [
        m.value
        for m in scene.truth
        if m.device_id == SHELF.id and m.quantity is Quantity.TEMPERATURE
    ]
    assert all(20.0 <= t <= 24.0 for t in shelf[:12])
    assert all(62.0 <= t <= 70.0 for t in shelf[12:])


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
    assert result.output.splitlines()[0].startswith(f"wrote {len(scene.adverts)} advertisements")
