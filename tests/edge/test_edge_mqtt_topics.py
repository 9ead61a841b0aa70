"""The MQTT topic scheme, payload decoding, replay memory and the dead-letter table (no broker)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from edge.dead_letters import DeadLetter, DeadLetters
from edge.mqtt_replay import ReplayFilter, replay_key
from edge.mqtt_topics import (
    DeviceStatus,
    MessageKind,
    PayloadError,
    Topic,
    decode_message,
    decode_status,
    parse_topic,
    subscriptions,
)
from firmware_bridge.records import Measurement, Quantity, Scan, ScanOperation, Unit

NOW = datetime(2026, 3, 1, 8, 0, 5, tzinfo=UTC)
T = datetime(2026, 3, 1, 8, 0, 0, tzinfo=UTC)
TELEMETRY = Topic("dc-1", "probe-7", MessageKind.TELEMETRY)
SCAN = Topic("dc-1", "hh-3", MessageKind.SCAN)


def body(data: object) -> bytes:
    return json.dumps(data).encode()


def test_subscriptions_and_topics() -> None:
    assert subscriptions("p/v1", "dc-1") == [
        "p/v1/dc-1/+/telemetry",
        "p/v1/dc-1/+/scan",
        "p/v1/dc-1/+/status",
    ]
    assert parse_topic("retailedge/v1/dc-1/probe-7/telemetry") == TELEMETRY
    assert parse_topic("x/y/s/hh-3/scan", "x/y") == Topic("s", "hh-3", MessageKind.SCAN)


@pytest.mark.parametrize(
    ("topic", "reason"),
    [
        ("other/v1/dc-1/p/telemetry", "topic 'other/v1/dc-1/p/telemetry' is not under"),
        ("retailedge/v1/dc-1/telemetry", "is not retailedge/v1/<site>/<device>/<kind>"),
        ("retailedge/v1/dc-1//telemetry", "is not retailedge/v1/<site>/<device>/<kind>"),
        ("retailedge/v1/dc-1/p/config", "unknown message kind 'config'"),
    ],
)
def test_bad_topics(topic: str, reason: str) -> None:
    with pytest.raises(PayloadError, match=reason.replace("(", r"\(")):
        parse_topic(topic)


def test_telemetry_becomes_measurements() -> None:
    payload = body(
        {
            "time": "2026-03-01T08:00:00Z",
            "readings": [
                {"quantity": "temperature", "value": 3.5, "unit": "Cel"},
                {"quantity": "humidity", "value": 81, "unit": "%RH"},
                {"quantity": "battery_voltage", "value": 2.9, "unit": "V"},
            ],
        }
    )
    assert decode_message(TELEMETRY, payload, NOW) == [
        Measurement("probe-7", T, Quantity.TEMPERATURE, 3.5, Unit.CELSIUS),
        Measurement("probe-7", T, Quantity.HUMIDITY, 81.0, Unit.PERCENT_RH),
        Measurement("probe-7", T, Quantity.BATTERY_VOLTAGE, 2.9, Unit.VOLT),
    ]


def test_scan_becomes_a_scan_of_the_topic_device() -> None:
    payload = body(
        {
            "time": "2026-03-01T08:00:00Z",
            "operator": "op-12",
            "operation": "pick",
            "code": "09506000134352",
            "quantity": 3,
            "location": "A-01-02",
        }
    )
    assert decode_message(SCAN, payload, NOW) == [
        Scan("hh-3", "op-12", ScanOperation.PICK, "09506000134352", 3, "A-01-02", T)
    ]


def reading(**fields: object) -> bytes:
    base: dict[str, object] = {"quantity": "temperature", "value": 3.5, "unit": "Cel"}
    return body({"time": "2026-03-01T08:00:00Z", "readings": [{**base, **fields}]})


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"\xff\xfe not json", "not JSON: 'utf-8' codec can't decode byte 0xff"),
        (b"{temperature: 3", "not JSON: Expecting property name enclosed in double quotes"),
        (b"[1, 2]", "expected a JSON object, got list"),
        (body({"readings": []}), "time: required"),
        (body({"time": "2026-03-01T08:00:00Z", "readings": []}), "readings: expected a non-empty"),
        (body({"time": "yesterday", "readings": [1]}), "time: Invalid isoformat string"),
        (body({"time": "2026-03-01T08:00:00", "readings": [1]}), "time: time has no timezone"),
        (body({"time": "1970-01-01T00:00:00Z", "readings": [1]}), "time: 1970-01-01T00:00:00Z is"),
        (body({"time": "2026-03-01T10:00:00Z", "readings": [1]}), "time: 2026-03-01T10:00:00Z is"),
        (body({"time": "2026-03-01T08:00:00Z", "readings": [1]}), r"readings\[0\]: expected an"),
        (body({"time": "2026-03-01T08:00:00Z", "extra": 1, "readings": [1]}), "extra: unknown"),
        (reading(quantity="lux"), r"readings\[0\].quantity: unknown quantity 'lux'"),
        (reading(unit="F"), r"readings\[0\].unit: 'F' is not the unit of temperature \(Cel\)"),
        (reading(value=999.0), r"readings\[0\].value: 999.0 Cel is outside -90.0..150.0"),
        (reading(value="3.5"), r"readings\[0\].value: expected a finite number"),
        (reading(value=True), r"readings\[0\].value: expected a finite number"),
        (reading(sensor=1), r"readings\[0\].sensor: unknown key"),
        (b" " * 70_000, "payload of 70000 bytes is over 65536"),
    ],
)
def test_invalid_telemetry_names_the_reason(payload: bytes, reason: str) -> None:
    with pytest.raises(PayloadError, match=f"^{reason}"):
        decode_message(TELEMETRY, payload, NOW)


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"operation": "steal"}, "operation: 'steal' is not a valid ScanOperation"),
        ({"quantity": -1}, "quantity: -1 is outside 0..1000000"),
        ({"quantity": 2.5}, "quantity: expected an integer"),
        ({"code": ""}, "code: expected a non-empty string"),
        ({"scanner_id": "other"}, "scanner_id: unknown key"),
        ({"location": None}, "location: required for scan records"),
    ],
)
def test_invalid_scans_name_the_reason(fields: dict[str, object], reason: str) -> None:
    scan = {
        "time": "2026-03-01T08:00:00Z",
        "operator": "op-12",
        "operation": "pick",
        "code": "09506000134352",
        "quantity": 3,
        "location": "A-01-02",
    }
    with pytest.raises(PayloadError, match=f"^{reason}"):
        decode_message(SCAN, body({**scan, **fields}), NOW)


def test_status() -> None:
    assert decode_status(b"offline") is DeviceStatus.OFFLINE
    assert decode_status(b" Online\n") is DeviceStatus.ONLINE
    with pytest.raises(PayloadError, match=r"^status 'sleeping' is neither"):
        decode_status(b"sleeping")


def test_replay_filter_remembers_the_newest() -> None:
    replays = ReplayFilter(capacity=2)
    a, b, c = (replay_key("t", p) for p in (b"a", b"b", b"c"))
    assert replay_key("t", b"a") == a and replay_key("u", b"a") != a
    replays.remember([a, b])
    assert (replays.seen(a), replays.seen(b), replays.seen(c)) == (True, True, False)
    replays.remember([a, c])  # a is renewed, b is the oldest and goes
    assert (replays.seen(a), replays.seen(b), replays.seen(c), len(replays)) == (
        True,
        False,
        True,
        2,
    )


@pytest.mark.parametrize("where", ["memory", "file"])
async def test_dead_letters_are_stored_capped_and_counted(where: str, tmp_path: Path) -> None:
    path = ":memory:" if where == "memory" else tmp_path / "dl" / "dead_letters.db"
    letters = [DeadLetter("mqtt", f"t/{i}", f"reason {i}", bytes([i]), 100.0 + i) for i in range(5)]
    async with DeadLetters.open(path, max_rows=3) as dead:
        await dead.add(letters[:2])
        await dead.add(letters[2:])
        await dead.add([])
        assert await dead.total() == 5
        assert await dead.recent() == letters[2:]
        assert await dead.recent(1, source="mqtt") == letters[4:]
        assert await dead.recent(source="ble") == []
    if where == "file":
        async with DeadLetters.open(path) as dead:
            assert (await dead.total(), await dead.recent()) == (5, letters[2:])
