"""BTHome event adverts pass the interval (once per packet); encrypted replays are dropped."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from edge.config import BleDevice
from edge.connectors.ble import BleConnector
from firmware_bridge import ble_bthome
from firmware_bridge.ble_advert import Advertisement
from firmware_bridge.ble_bthome import BthomeObject, encode_bthome
from firmware_bridge.records import Measurement, Quantity, Record, Unit
from simulators.ble_sensors import DOOR, DOOR_BINDKEY

T0 = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)
PLAIN = "3C:2E:F5:00:00:10"


def connector(tmp_path: Path, **extra: Any) -> tuple[BleConnector, list[Record]]:
    device = BleDevice.model_validate(
        {
            "id": "ble-1",
            "type": "ble",
            "backend": "replay",
            "replay_file": str(tmp_path / "unused.jsonl"),
            "min_interval_s": 10.0,
            "sensors": [
                {"address": PLAIN, "id": "back-door", "format": "bthome"},
                {
                    "address": DOOR.address,
                    "id": DOOR.id,
                    "format": "bthome",
                    "bindkey": DOOR_BINDKEY.hex(),
                },
            ],
            **extra,
        }
    )
    got: list[Record] = []

    def sink(records: Sequence[Record]) -> None:
        got.extend(records)

    return BleConnector(device, sink), got


def bthome(address: str, seconds: float, payload: bytes) -> Advertisement:
    service = {ble_bthome.SERVICE_UUID: payload}
    return Advertisement(address, -60, None, {}, service, T0 + timedelta(seconds=seconds))


def plain(seconds: float, *objects: tuple[int, int]) -> Advertisement:
    return bthome(PLAIN, seconds, encode_bthome([BthomeObject(i, v) for i, v in objects]))


def sealed(seconds: float, counter: int, door_open: int) -> Advertisement:
    objects = [BthomeObject(0x01, 90), BthomeObject(0x1A, door_open)]
    payload = encode_bthome(objects, bindkey=DOOR_BINDKEY, address=DOOR.address, counter=counter)
    return bthome(DOOR.address, seconds, payload)


def readings(got: list[Record], quantity: Quantity) -> list[tuple[float, float]]:
    return [
        ((r.time - T0).total_seconds(), r.value)
        for r in got
        if isinstance(r, Measurement) and r.quantity is quantity
    ]


def counts(conn: BleConnector, address: str) -> tuple[int, ...]:
    sensor = conn.snapshot()["sensors"][address]
    return tuple(
        sensor[key]
        for key in ("adverts", "decoded", "events", "duplicates", "throttled", "replayed")
    )


def test_a_door_opened_and_closed_inside_the_interval_keeps_the_close(tmp_path: Path) -> None:
    conn, got = connector(tmp_path)
    packet_id, battery, door = 0x00, 0x01, 0x1A
    for i in range(3):  # opened: packet 7, advertised three times
        conn.handle(plain(0.1 * i, (packet_id, 7), (battery, 80), (door, 1)))
    for i in range(3):  # closed 4 s later: packet 8
        conn.handle(plain(4 + 0.1 * i, (packet_id, 8), (battery, 80), (door, 0)))
    conn.handle(plain(6, (packet_id, 9), (battery, 79)))  # a periodic reading: thinned
    conn.handle(plain(14, (packet_id, 10), (battery, 79)))
    assert readings(got, Quantity.DOOR_OPEN) == [(0.0, 1.0), (4.0, 0.0)]
    assert readings(got, Quantity.BATTERY_LEVEL) == [(0.0, 80.0), (4.0, 80.0), (14.0, 79.0)]
    assert counts(conn, PLAIN) == (8, 3, 2, 4, 1, 0)


def test_button_presses_within_a_second_are_each_kept(tmp_path: Path) -> None:
    conn, got = connector(tmp_path)
    packet_id, button = 0x00, 0x3A
    for seconds, packet, event in [(0, 1, 0x01), (0.05, 1, 0x01), (0.6, 2, 0x02), (0.9, 3, 0x04)]:
        conn.handle(plain(seconds, (packet_id, packet), (button, event)))
    assert got == [
        Measurement("back-door", T0 + timedelta(seconds=s), Quantity.BUTTON_PRESS, n, Unit.COUNT)
        for s, n in [(0, 1.0), (0.6, 2.0), (0.9, 1.0)]  # press, double press, long press
    ]
    assert counts(conn, PLAIN) == (4, 3, 3, 1, 0, 0)


def test_a_replayed_encrypted_advert_is_dropped_and_counted(tmp_path: Path) -> None:
    conn, got = connector(tmp_path)
    conn.handle(sealed(0, counter=10, door_open=1))
    conn.handle(sealed(0.1, counter=10, door_open=1))
    conn.handle(sealed(20, counter=11, door_open=0))
    # Someone recorded the "open" advert and sends it again, well after the interval.
    assert conn.handle(sealed(40, counter=10, door_open=1)) == []
    assert readings(got, Quantity.DOOR_OPEN) == [(0.0, 1.0), (20.0, 0.0)]
    assert counts(conn, DOOR.address) == (4, 2, 2, 1, 0, 1)
    assert conn.snapshot()["sensors"][DOOR.address]["counter_resets"] == 0


def test_a_restarted_sensor_is_taken_back_after_the_documented_gap(tmp_path: Path) -> None:
    conn, got = connector(tmp_path, counter_reset_after_s=60.0)
    conn.handle(sealed(0, counter=5000, door_open=0))
    conn.handle(sealed(30, counter=0, door_open=1))  # new battery: counting from 0 again
    conn.handle(sealed(59, counter=1, door_open=0))
    conn.handle(sealed(60, counter=2, door_open=1))
    conn.handle(sealed(61, counter=3, door_open=0))
    assert readings(got, Quantity.DOOR_OPEN) == [(0.0, 0.0), (60.0, 1.0), (61.0, 0.0)]
    sensor = conn.snapshot()["sensors"][DOOR.address]
    assert (sensor["replayed"], sensor["counter_resets"], sensor["events"]) == (2, 1, 2)
