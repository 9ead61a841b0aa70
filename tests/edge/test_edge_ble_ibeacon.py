"""iBeacon asset tags in the gateway: matched by identity, whatever address they rotate to."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from edge.config import BleDevice
from edge.connectors.ble import BleConnector
from edge.connectors.ble_backends import BleakBackend
from firmware_bridge.ble_advert import Advertisement
from firmware_bridge.ble_ibeacon import MANUFACTURER_ID, IBeacon, encode_ibeacon
from firmware_bridge.records import Measurement, MeasurementQuality, Quantity, Record, Unit

T0 = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)
PALLET = IBeacon("e2c56db5-dffb-48d2-b060-d0f5a71096e0", 100, 5, -59)
KEY = "e2c56db5-dffb-48d2-b060-d0f5a71096e0/100/5"


def device(tmp_path: Path, backend: str = "replay") -> BleDevice:
    replay = {"replay_file": str(tmp_path / "unused.jsonl")} if backend == "replay" else {}
    return BleDevice.model_validate(
        {
            "id": "ble-1",
            "type": "ble",
            "backend": backend,
            **replay,
            "min_interval_s": 5.0,
            "sensors": [
                {
                    "id": "pallet-7",
                    "format": "ibeacon",
                    "uuid": PALLET.uuid,
                    "major": 100,
                    "minor": 5,
                    "path_loss_exponent": 2.5,
                }
            ],
        }
    )


def sighting(address: str, seconds: float, rssi: int | None, beacon: IBeacon) -> Advertisement:
    maker = {MANUFACTURER_ID: encode_ibeacon(beacon)}
    return Advertisement(address, rssi, None, maker, {}, T0 + timedelta(seconds=seconds))


def test_sightings_become_rssi_and_distance_of_the_tag_whatever_its_address(
    tmp_path: Path,
) -> None:
    got: list[Record] = []
    conn = BleConnector(device(tmp_path), got.extend)
    conn.handle(sighting("D0:00:00:00:00:01", 0, -59, PALLET))
    conn.handle(sighting("D0:00:00:00:00:01", 1, -60, PALLET))  # the same frame: duplicate
    conn.handle(sighting("D7:12:34:56:78:9A", 6, -84, PALLET))  # a new address, same tag
    conn.handle(sighting("D7:12:34:56:78:9A", 12, None, PALLET))  # no RSSI: nothing to tell
    # Another tag, Apple data that is no iBeacon (a phone), and a tag nobody configured.
    conn.handle(sighting("D0:00:00:00:00:02", 20, -70, IBeacon(PALLET.uuid, 100, 6, -59)))
    phone = Advertisement("5A:00:00:00:00:01", -40, None, {MANUFACTURER_ID: b"\x10\x05\x01"})
    conn.handle(phone)
    assert got == [
        Measurement("pallet-7", T0, Quantity.RSSI, -59.0, Unit.DBM),
        Measurement("pallet-7", T0, Quantity.DISTANCE, 1.0, Unit.METRE),
        Measurement("pallet-7", T0 + timedelta(seconds=6), Quantity.RSSI, -84.0, Unit.DBM),
        # 10 ** ((-59 - -84) / (10 * 2.5)): the configured indoor path-loss exponent.
        Measurement("pallet-7", T0 + timedelta(seconds=6), Quantity.DISTANCE, 10.0, Unit.METRE),
    ]
    assert all(m.quality is MeasurementQuality.GOOD for m in got if isinstance(m, Measurement))
    snap = conn.snapshot()
    assert snap["ignored_adverts"] == 2
    sensor = snap["sensors"][KEY]
    assert (sensor["id"], sensor["adverts"], sensor["decoded"], sensor["duplicates"]) == (
        "pallet-7",
        4,
        3,
        1,
    )
    assert sensor["last_address"] == "D7:12:34:56:78:9A"


def test_a_tag_too_far_for_the_model_is_flagged(tmp_path: Path) -> None:
    got: list[Record] = []
    conn = BleConnector(device(tmp_path), got.extend)
    far = IBeacon(PALLET.uuid, 100, 5, 10)  # a tag advertising an absurd measured power
    conn.handle(sighting("D0:00:00:00:00:01", 0, -100, far))
    assert [(m.quantity, m.quality) for m in got if isinstance(m, Measurement)] == [
        (Quantity.RSSI, MeasurementQuality.GOOD),
        (Quantity.DISTANCE, MeasurementQuality.OUT_OF_RANGE),
    ]


def test_the_passive_scan_asks_bluez_for_ibeacon_frames(tmp_path: Path) -> None:
    conn = BleConnector(device(tmp_path, backend="bleak"), lambda records: None)
    backend = conn._backend
    assert isinstance(backend, BleakBackend)
    patterns = backend._scanner_kwargs(passive=True)["bluez"]["or_patterns"]
    assert [(p.ad_data_type, p.content_of_pattern) for p in patterns] == [
        (0xFF, b"\x4c\x00\x02\x15")
    ]
