"""BLE sensors in a store, as the real advertisement bytes a gateway's scanner hears.

Pure and seeded: :func:`simulate` returns the advertisements (each reading advertised
``repeats`` times, as sensors do) and the ground truth, one set of measurements per reading.
The cast: a RuuviTag in a chiller, an ATC thermometer on a shelf that ends up next to the oven
(out of its valid band), a pvvx thermometer in a fridge whose battery dies (voltage falling,
then silent), an encrypted BTHome door sensor, and an iBeacon asset tag (no measurements).
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
from firmware_bridge.ble_bthome import BthomeObject, bthome_measurements, encode_bthome
from firmware_bridge.ble_ibeacon import IBeacon, encode_ibeacon
from firmware_bridge.ble_ruuvi import RuuviData, encode_ruuvi, ruuvi_measurements
from firmware_bridge.ble_xiaomi import XiaomiData, encode_atc, encode_pvvx, xiaomi_measurements
from firmware_bridge.records import Measurement
from firmware_bridge.wire import record_to_wire

START = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)
REPEAT_GAP_S = 0.1
DOOR_BINDKEY = bytes.fromhex("231d39c1d7cc1ab1aee224cd096db932")
BATTERY_DEAD_V = 2.2
OVEN_AFTER = 0.6
"""Fraction of the run after which the shelf thermometer stands by the oven."""


@dataclass(frozen=True, slots=True)
class SimSensor:
    address: str
    id: str
    format: str
    bindkey: bytes | None = None


CHILLER = SimSensor("C7:3B:11:22:33:01", "chiller-ruuvi", "ruuvi")
SHELF = SimSensor("A4:C1:38:00:00:02", "shelf-atc", "atc")
FRIDGE = SimSensor("A4:C1:38:00:00:03", "fridge-pvvx", "pvvx")
DOOR = SimSensor("3C:2E:F5:00:00:04", "door-bthome", "bthome", DOOR_BINDKEY)
ASSET = SimSensor("F0:00:00:00:00:05", "asset-ibeacon", "ibeacon")
SENSORS = (CHILLER, SHELF, FRIDGE, DOOR, ASSET)
MEASURING = (CHILLER, SHELF, FRIDGE, DOOR)


@dataclass(frozen=True, slots=True)
class Scene:
    adverts: list[Advertisement]
    truth: list[Measurement]
    """One entry per reading a gateway should take (in time order within each sensor)."""


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
        for sensor, (payload, values) in _readings(rng, i, readings, at):
            truth.extend(values)
            for r in range(repeats):
                when = at + timedelta(seconds=r * REPEAT_GAP_S)
                adverts.append(_advert(sensor, payload, when, rng))
    adverts.sort(key=lambda a: a.time or START)
    return Scene(adverts, truth)


Payload = tuple[dict[int, bytes], dict[str, bytes]]


def _readings(
    rng: random.Random, i: int, total: int, at: datetime
) -> Iterator[tuple[SimSensor, tuple[Payload, list[Measurement]]]]:
    # Chiller: 2-5 degC around 3.5, quantised to the RAWv2 steps so decoding is exact.
    ruuvi = RuuviData(
        temperature_c=round(rng.randint(400, 1000) * 0.005, 3),
        humidity_pct=round(rng.randint(32000, 36000) * 0.0025, 4),
        pressure_hpa=round((rng.randint(50800, 51600) + 50000) / 100, 2),
        acceleration_mg=(0, 0, 1000),
        battery_v=round(rng.randint(2950, 3000) / 1000, 3),
        tx_power_dbm=4,
        movement_counter=0,
        measurement_sequence=i,
        mac=CHILLER.address,
    )
    yield (
        CHILLER,
        (
            ({ble_ruuvi.MANUFACTURER_ID: encode_ruuvi(ruuvi)}, {}),
            ruuvi_measurements(ruuvi, CHILLER.id, at),
        ),
    )
    shelf_t = rng.randint(200, 240) if i < total * OVEN_AFTER else rng.randint(620, 700)
    atc = XiaomiData("atc", SHELF.address, shelf_t / 10, float(rng.randint(40, 50)), 2.95, 88, i)
    yield (
        SHELF,
        (
            ({}, {ble_xiaomi.SERVICE_UUID: encode_atc(atc)}),
            xiaomi_measurements(atc, SHELF.id, at),
        ),
    )
    fridge_mv = 3000 - 60 * i
    if fridge_mv / 1000 >= BATTERY_DEAD_V:
        pvvx = XiaomiData(
            "pvvx",
            FRIDGE.address,
            rng.randint(300, 500) / 100,
            rng.randint(5000, 6000) / 100,
            fridge_mv / 1000,
            max(0, (fridge_mv - 2200) // 8),
            i,
            0,
        )
        yield (
            FRIDGE,
            (
                ({}, {ble_xiaomi.SERVICE_UUID: encode_pvvx(pvvx)}),
                xiaomi_measurements(pvvx, FRIDGE.id, at),
            ),
        )
    objects = (BthomeObject(0x01, 87), BthomeObject(0x1A, i % 2))
    sealed = encode_bthome(objects, bindkey=DOOR_BINDKEY, address=DOOR.address, counter=i)
    packet = ble_bthome.BthomePacket(objects, encrypted=True, counter=i)
    yield DOOR, (({}, {ble_bthome.SERVICE_UUID: sealed}), bthome_measurements(packet, DOOR.id, at))
    beacon = IBeacon("e2c56db5-dffb-48d2-b060-d0f5a71096e0", 100, 5, -59)
    yield ASSET, (({ble_ibeacon.MANUFACTURER_ID: encode_ibeacon(beacon)}, {}), [])


def _advert(
    sensor: SimSensor, payload: Payload, when: datetime, rng: random.Random
) -> Advertisement:
    manufacturer, service = payload
    return Advertisement(
        address=sensor.address,
        rssi=rng.randint(-90, -50),
        local_name=sensor.id,
        manufacturer_data=manufacturer,
        service_data=service,
        time=when,
    )


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
