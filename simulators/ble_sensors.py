"""BLE sensors in a store, as the real advertisement bytes a gateway's scanner hears.

Pure and seeded: :func:`simulate` returns the advertisements (each reading advertised
``repeats`` times, as sensors do) and the ground truth, one set of measurements per reading.
The cast:

- a RuuviTag in a chiller (2-4 °C);
- an ATC thermometer on a shelf whose sensor fails after ``FAULT_AFTER`` of the run: it then
  reads 130-150 °C, beyond what the sensor can measure (flagged ``out_of_range``, a fault);
- a pvvx thermometer in a fridge whose battery dies (voltage falling, then silent);
- an encrypted BTHome door sensor, opened or closed at every reading (event adverts);
- a BTHome thermometer in the dairy chiller (1.5-3.5 °C) that warms to 8-12 °C during the
  ``WARM`` part of the run (a door left open) and cools back: a real cold-chain excursion;
- an ATC thermometer in a freezer (-21 to -18 °C);
- an iBeacon asset tag whose address rotates every ``ROTATE_EVERY`` readings; its truth is the
  RSSI of its first advert of each reading and the distance that gives.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from firmware_bridge import ble_bthome, ble_ibeacon, ble_ruuvi, ble_xiaomi
from firmware_bridge.ble_advert import Advertisement, advert_to_json
from firmware_bridge.ble_bthome import (
    BthomeObject,
    BthomePacket,
    bthome_measurements,
    encode_bthome,
)
from firmware_bridge.ble_ibeacon import IBeacon, encode_ibeacon, estimate_distance
from firmware_bridge.ble_ruuvi import RuuviData, encode_ruuvi, ruuvi_measurements
from firmware_bridge.ble_xiaomi import XiaomiData, encode_atc, encode_pvvx, xiaomi_measurements
from firmware_bridge.records import Measurement, Quantity, Unit
from firmware_bridge.wire import record_to_wire

START = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)
REPEAT_GAP_S = 0.1
DOOR_BINDKEY = bytes.fromhex("231d39c1d7cc1ab1aee224cd096db932")
BATTERY_DEAD_V = 2.2
FAULT_AFTER = 0.6
"""Fraction of the run after which the shelf thermometer's sensor fails."""
WARM = (0.3, 0.7)
"""Fractions of the run between which the dairy chiller is warm."""
ROTATE_EVERY = 5
"""Readings between the asset tag's address changes."""


@dataclass(frozen=True, slots=True)
class SimSensor:
    address: str
    """Its address (for the asset tag: the first of its rotating ones)."""
    id: str
    format: str
    bindkey: bytes | None = None
    beacon: IBeacon | None = None

    def describe(self) -> str:
        if self.beacon is not None:
            return f"{self.id} iBeacon {self.beacon.uuid} {self.beacon.major}/{self.beacon.minor}"
        return f"{self.id} {self.address}"


CHILLER = SimSensor("C7:3B:11:22:33:01", "chiller-ruuvi", "ruuvi")
SHELF = SimSensor("A4:C1:38:00:00:02", "shelf-atc", "atc")
FRIDGE = SimSensor("A4:C1:38:00:00:03", "fridge-pvvx", "pvvx")
DOOR = SimSensor("3C:2E:F5:00:00:04", "door-bthome", "bthome", DOOR_BINDKEY)
DAIRY = SimSensor("A4:C1:38:00:00:06", "dairy-bthome", "bthome")
FREEZER = SimSensor("A4:C1:38:00:00:07", "freezer-atc", "atc")
ASSET_BEACON = IBeacon("e2c56db5-dffb-48d2-b060-d0f5a71096e0", 100, 5, -59)
ASSET = SimSensor("D0:00:00:00:00:05", "asset-ibeacon", "ibeacon", beacon=ASSET_BEACON)
SENSORS = (CHILLER, SHELF, FRIDGE, DOOR, DAIRY, FREEZER, ASSET)
MEASURING = (CHILLER, SHELF, FRIDGE, DOOR, DAIRY, FREEZER)
"""The sensors heard by their address (decodable by ``firmware_bridge.ble_decode``)."""


@dataclass(frozen=True, slots=True)
class Scene:
    adverts: list[Advertisement]
    truth: list[Measurement]
    """One entry per reading a gateway should take (in time order within each sensor)."""


def asset_address(reading: int) -> str:
    """The asset tag's (random static) address at ``reading``."""
    return f"D0:00:00:00:{reading // ROTATE_EVERY:02X}:05"


def is_warm(reading: int, total: int) -> bool:
    """Whether the dairy chiller is warm at ``reading`` of ``total``."""
    return WARM[0] * total <= reading < WARM[1] * total


def simulate(
    *, readings: int = 20, period_s: float = 10.0, repeats: int = 3, seed: int = 0
) -> Scene:
    """``readings`` periods of ``period_s``; every reading advertised ``repeats`` times,
    ``REPEAT_GAP_S`` apart."""
    rng = random.Random(seed)
    adverts: list[Advertisement] = []
    truth: list[Measurement] = []
    for i in range(readings):
        at = START + timedelta(seconds=i * period_s)
        for sensor, (manufacturer, service), values in _readings(rng, i, readings, at):
            rssis = [rng.randint(-90, -50) for _ in range(repeats)]
            address = sensor.address
            if sensor.beacon is not None:
                address = asset_address(i)
                values = _sighting(sensor.id, sensor.beacon, at, rssis[0])
            truth.extend(values)
            for r, rssi in enumerate(rssis):
                when = at + timedelta(seconds=r * REPEAT_GAP_S)
                adverts.append(Advertisement(address, rssi, sensor.id, manufacturer, service, when))
    adverts.sort(key=lambda a: a.time or START)
    return Scene(adverts, truth)


Payload = tuple[dict[int, bytes], dict[str, bytes]]
Reading = tuple[SimSensor, Payload, list[Measurement]]


def _readings(rng: random.Random, i: int, total: int, at: datetime) -> Iterator[Reading]:
    yield _chiller(rng, i, at)
    yield _thermometer(SHELF, rng, i, at, faulty=i >= total * FAULT_AFTER)
    fridge_mv = 3000 - 60 * i
    if fridge_mv / 1000 >= BATTERY_DEAD_V:
        yield _fridge(rng, i, at, fridge_mv)
    yield _door(i, at)
    yield _dairy(rng, i, at, warm=is_warm(i, total))
    yield _thermometer(FREEZER, rng, i, at, faulty=False)
    yield ASSET, ({ble_ibeacon.MANUFACTURER_ID: encode_ibeacon(ASSET_BEACON)}, {}), []


def _chiller(rng: random.Random, i: int, at: datetime) -> Reading:
    # 2-4 degC, quantised to the RAWv2 steps so decoding is exact.
    ruuvi = RuuviData(
        temperature_c=round(rng.randint(400, 800) * 0.005, 3),
        humidity_pct=round(rng.randint(32000, 36000) * 0.0025, 4),
        pressure_hpa=round((rng.randint(50800, 51600) + 50000) / 100, 2),
        acceleration_mg=(0, 0, 1000),
        battery_v=round(rng.randint(2950, 3000) / 1000, 3),
        tx_power_dbm=4,
        movement_counter=0,
        measurement_sequence=i % 0x10000,
        mac=CHILLER.address,
    )
    manufacturer = {ble_ruuvi.MANUFACTURER_ID: encode_ruuvi(ruuvi)}
    return CHILLER, (manufacturer, {}), ruuvi_measurements(ruuvi, CHILLER.id, at)


def _thermometer(
    sensor: SimSensor, rng: random.Random, i: int, at: datetime, *, faulty: bool
) -> Reading:
    """An ATC thermometer on a shelf (20-24 degC; a failed sensor reads 130-150 degC) or in
    the freezer."""
    if sensor is FREEZER:
        tenths = rng.randint(-210, -180)
    else:
        tenths = rng.randint(1300, 1500) if faulty else rng.randint(200, 240)
    data = XiaomiData(
        "atc", sensor.address, tenths / 10, float(rng.randint(40, 75)), 2.95, 88, i % 0x100
    )
    service = {ble_xiaomi.SERVICE_UUID: encode_atc(data)}
    return sensor, ({}, service), xiaomi_measurements(data, sensor.id, at)


def _fridge(rng: random.Random, i: int, at: datetime, millivolts: int) -> Reading:
    pvvx = XiaomiData(
        "pvvx",
        FRIDGE.address,
        rng.randint(300, 500) / 100,
        rng.randint(5000, 6000) / 100,
        millivolts / 1000,
        max(0, (millivolts - 2200) // 8),
        i % 0x100,
        0,
    )
    service = {ble_xiaomi.SERVICE_UUID: encode_pvvx(pvvx)}
    return FRIDGE, ({}, service), xiaomi_measurements(pvvx, FRIDGE.id, at)


def _door(i: int, at: datetime) -> Reading:
    objects = (BthomeObject(0x01, 87), BthomeObject(0x1A, i % 2))
    sealed = encode_bthome(objects, bindkey=DOOR_BINDKEY, address=DOOR.address, counter=i)
    packet = BthomePacket(objects, encrypted=True, counter=i)
    service = {ble_bthome.SERVICE_UUID: sealed}
    return DOOR, ({}, service), bthome_measurements(packet, DOOR.id, at)


def _dairy(rng: random.Random, i: int, at: datetime, *, warm: bool) -> Reading:
    hundredths = rng.randint(800, 1200) if warm else rng.randint(150, 350)
    objects = (
        BthomeObject(0x00, i % 0x100),  # packet id
        BthomeObject(0x01, 95),
        BthomeObject(0x02, hundredths / 100),
        BthomeObject(0x03, rng.randint(8000, 9000) / 100),
    )
    service = {ble_bthome.SERVICE_UUID: encode_bthome(objects)}
    packet = BthomePacket(objects)
    return DAIRY, ({}, service), bthome_measurements(packet, DAIRY.id, at)


def _sighting(device_id: str, beacon: IBeacon, at: datetime, rssi: int) -> list[Measurement]:
    distance = estimate_distance(beacon.measured_power_dbm, rssi)
    return [
        Measurement(device_id, at, Quantity.RSSI, float(rssi), Unit.DBM),
        Measurement(device_id, at, Quantity.DISTANCE, distance, Unit.METRE),
    ]


def write_replay(scene: Scene, path: Path) -> int:
    """The advertisements as JSON lines (the ``decode`` / replay input); returns the count."""
    with path.open("w", encoding="utf-8") as out:
        for advert in scene.adverts:
            out.write(json.dumps(advert_to_json(advert), separators=(",", ":")) + "\n")
    return len(scene.adverts)


def write_truth(scene: Scene, path: Path) -> int:
    """The ground truth as JSON lines of measurement records; returns the count."""
    with path.open("w", encoding="utf-8") as out:
        for record in scene.truth:
            out.write(json.dumps(record_to_wire(record), separators=(",", ":")) + "\n")
    return len(scene.truth)
