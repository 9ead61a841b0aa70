"""The MQTT topic scheme, payload decoding, message keys and the dead-letter table (no broker)."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest

from edge.config import MqttDevice
from edge.dead_letters import (
    MAX_PAYLOAD_BYTES,
    MAX_REASON_CHARS,
    MIGRATIONS,
    DeadLetter,
    DeadLetters,
)
from edge.mqtt_replay import AGE_MARGIN_S, dedupe_key, dedupe_limits
from edge.mqtt_topics import (
    DeviceStatus,
    MessageKind,
    PayloadError,
    Topic,
    decode_envelope,
    decode_message,
    decode_position,
    decode_status,
    parse_topic,
    subscriptions,
)
from firmware_bridge.records import Measurement, Position, Quantity, Scan, ScanOperation, Unit

NOW = datetime(2026, 3, 1, 8, 0, 5, tzinfo=UTC)
T = datetime(2026, 3, 1, 8, 0, 0, tzinfo=UTC)
TELEMETRY = Topic("dc-1", "probe-7", MessageKind.TELEMETRY)
SCAN = Topic("dc-1", "hh-3", MessageKind.SCAN)
POSITION = Topic("sh-fleet", "trk-rider-07", MessageKind.POSITION)


def body(data: object) -> bytes:
    return json.dumps(data).encode()


def test_subscriptions_and_topics() -> None:
    assert subscriptions("p/v1", "dc-1") == [
        "p/v1/dc-1/+/telemetry",
        "p/v1/dc-1/+/scan",
        "p/v1/dc-1/+/position",
        "p/v1/dc-1/+/status",
    ]
    assert parse_topic("retailedge/v1/dc-1/probe-7/telemetry") == TELEMETRY
    assert parse_topic("x/y/s/hh-3/scan", "x/y") == Topic("s", "hh-3", MessageKind.SCAN)
    assert parse_topic("retailedge/v1/sh-fleet/trk-rider-07/position") == POSITION


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


FIX = {
    "time": "2026-03-01T08:00:00Z",
    "lat": 31.188012,
    "lon": 121.437055,
    "speed_mps": 4.4,
    "course_deg": 87.5,
    "hdop": 0.9,
}


def test_position_of_a_vehicle_tracker() -> None:
    records, msg_id = decode_envelope(
        POSITION, body({**FIX, "vehicle_id": "ebike-07", "msg_id": "f-1"}), NOW
    )
    assert (records, msg_id) == (
        [Position("ebike-07", T, 31.188012, 121.437055, 4.4, 87.5, hdop=0.9)],
        "f-1",
    )


def test_position_without_vehicle_id_is_the_devices_with_only_the_required_fields() -> None:
    fix = {"time": "2026-03-01T08:00:00Z", "lat": -33, "lon": 151}
    assert decode_position("trk-rider-07", body(fix), NOW) == Position(
        "trk-rider-07", T, -33.0, 151.0
    )
    assert decode_message(POSITION, body({**fix, "hdop": None}), NOW) == [
        Position("trk-rider-07", T, -33.0, 151.0)
    ]


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"time": None}, "time: required"),
        ({"time": "2026-03-01 08:00:00"}, "time: time has no timezone"),
        ({"time": "2026-03-01T09:30:00Z"}, "time: 2026-03-01T09:30:00Z is not plausible"),
        ({"lat": None}, "lat: required"),
        ({"lon": None}, "lon: required"),
        ({"lat": "31.2"}, "lat: expected a finite number"),
        ({"lat": True}, "lat: expected a finite number"),
        ({"lat": 91.0}, "lat: 91.0 is outside -90..90"),
        ({"lon": -180.5}, "lon: -180.5 is outside -180..180"),
        ({"lat": 0, "lon": 0.0}, r"lat, lon: \(0, 0\) is a receiver without a fix"),
        ({"speed_mps": -1}, "speed_mps: -1 is outside 0..150"),
        ({"speed_mps": 151.0}, "speed_mps: 151.0 is outside 0..150"),
        ({"speed_mps": "fast"}, "speed_mps: expected a finite number"),
        ({"course_deg": 361}, "course_deg: 361 is outside 0..360"),
        ({"course_deg": -0.5}, "course_deg: -0.5 is outside 0..360"),
        ({"hdop": 0}, r"hdop: 0 is not a dilution of precision"),
        ({"hdop": 120.0}, "hdop: 120.0 is outside 0..100"),
        ({"vehicle_id": ""}, "vehicle_id: expected 1..128 printable characters without spaces"),
        ({"vehicle_id": "van 01"}, "vehicle_id: expected 1..128 printable"),
        ({"vehicle_id": 7}, "vehicle_id: expected 1..128 printable"),
        ({"vehicle_id": "v" * 129}, "vehicle_id: expected 1..128 printable"),
        ({"satellites": 9}, "satellites: unknown key"),
        ({"msg_id": ""}, "msg_id: expected 1..128 printable characters"),
    ],
)
def test_invalid_positions_name_the_reason(fields: dict[str, object], reason: str) -> None:
    with pytest.raises(PayloadError, match=f"^{reason}"):
        decode_message(POSITION, body({**FIX, **fields}), NOW)


def test_position_payload_that_is_not_an_object() -> None:
    with pytest.raises(PayloadError, match=r"^expected a JSON object, got list"):
        decode_position("trk-1", b"[31.2, 121.4]", NOW)
    with pytest.raises(PayloadError, match=r"^not JSON"):
        decode_position("trk-1", b"$GPGGA,...", NOW)


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


def test_msg_id_is_the_message_identity_and_not_a_record_field() -> None:
    reading = {"quantity": "temperature", "value": 3.5, "unit": "Cel"}
    telemetry = {"time": "2026-03-01T08:00:00Z", "readings": [reading]}
    records, msg_id = decode_envelope(TELEMETRY, body({**telemetry, "msg_id": "m-17"}), NOW)
    assert (records, msg_id) == (
        [Measurement("probe-7", T, Quantity.TEMPERATURE, 3.5, Unit.CELSIUS)],
        "m-17",
    )
    assert decode_envelope(TELEMETRY, body(telemetry), NOW)[1] is None
    scan = {
        "time": "2026-03-01T08:00:00Z",
        "operator": "op-12",
        "operation": "pick",
        "code": "09506000134352",
        "quantity": 3,
        "location": "A-01-02",
        "msg_id": "s-1",
    }
    assert decode_envelope(SCAN, body(scan), NOW) == (
        [Scan("hh-3", "op-12", ScanOperation.PICK, "09506000134352", 3, "A-01-02", T)],
        "s-1",
    )
    for bad in ("", 17, "x" * 129, "tab\there"):
        with pytest.raises(PayloadError, match=r"^msg_id: expected 1..128 printable characters"):
            decode_envelope(TELEMETRY, body({**telemetry, "msg_id": bad}), NOW)


def test_dedupe_key_uses_msg_id_else_the_payload() -> None:
    topic = "retailedge/v1/dc-1/probe-7/telemetry"
    with_id = dedupe_key("mqtt-1", topic, b"{}", "m-17")
    assert with_id == f"mqtt:mqtt-1:{topic}#id:m-17"
    # The msg_id alone identifies the message: a changed payload is the same message again.
    assert dedupe_key("mqtt-1", topic, b'{"a":1}', "m-17") == with_id
    assert dedupe_key("mqtt-1", topic + "x", b"{}", "m-17") != with_id
    assert dedupe_key("mqtt-2", topic, b"{}", "m-17") != with_id
    hashed = dedupe_key("mqtt-1", topic, b"payload", None)
    assert hashed.startswith(f"mqtt:mqtt-1:{topic}#h:") and len(hashed.split("#h:")[1]) == 32
    assert dedupe_key("mqtt-1", topic, b"payload", None) == hashed
    assert dedupe_key("mqtt-1", topic, b"payload2", None) != hashed


def test_dedupe_limits_follow_the_mqtt_devices() -> None:
    def device(name: str, memory: int, expiry: int) -> MqttDevice:
        return MqttDevice(
            id=name, type="mqtt", client_id=name, replay_memory=memory, session_expiry_s=expiry
        )

    assert dedupe_limits([device("a", 500, 3600), device("b", 700, 7200)]) == {
        "dedupe_max_keys": 1200,
        "dedupe_max_age_s": 7200 + AGE_MARGIN_S,
    }
    assert dedupe_limits([])["dedupe_max_keys"] == 100_000


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


SCAN_BODY = {
    "time": "2026-03-01T08:00:00Z",
    "operator": "op-12",
    "operation": "pick",
    "code": "09506000134352",
    "quantity": 3,
    "location": "A-01-02",
}


def raw_reading(value: str, quantity: str = "temperature") -> bytes:
    return (
        '{"time": "2026-03-01T08:00:00Z", "readings": '
        f'[{{"quantity": "{quantity}", "value": {value}, "unit": "Cel"}}]}}'
    ).encode()


@pytest.mark.parametrize(
    ("topic", "payload", "reason"),
    [
        # Each raised something other than PayloadError before: the connector stopped.
        (TELEMETRY, raw_reading("1" + "0" * 400), "JSON beyond limits: an integer of 401 digits"),
        (TELEMETRY, raw_reading("-" + "9" * 21), "JSON beyond limits: an integer of 21 digits"),
        (TELEMETRY, raw_reading("1" + "0" * 5000), "JSON beyond limits: an integer of 5001"),
        (TELEMETRY, raw_reading("[" * 30_000 + "]" * 30_000), "JSON beyond limits: nested deeper"),
        (TELEMETRY, b'{"a": ' + b'{"a": ' * 17 + b"1" + b"}" * 18, "JSON beyond limits: nested"),
        (
            TELEMETRY,
            raw_reading("1", "door_open"),
            r"readings\[0\].quantity: unknown quantity 'door_open' \(one of temperature,",
        ),
        (TELEMETRY, raw_reading('{"x": 1}', "[]"), r"readings\[0\].quantity: unknown quantity"),
        (
            TELEMETRY,
            body({"time": "9999-12-31T23:59:59-12:00", "readings": [1]}),
            "time: 9999-12-31T23:59:59-12:00 is out of range in UTC",
        ),
        (
            TELEMETRY,
            body({"time": "0001-01-01T00:00:00+12:00", "readings": [1]}),
            r"time: 0001-01-01T00:00:00\+12:00 is out of range in UTC",
        ),
        (POSITION, body({**FIX, "lat": 10**19}), "lat: 10000000000000000000 is outside -90..90"),
        (SCAN, body({**SCAN_BODY, "operator": "a\x00b"}), "operator: NUL characters and lone"),
        (SCAN, body({**SCAN_BODY, "location": "A-\ud800"}), "location: NUL characters and lone"),
        (SCAN, body({**SCAN_BODY, "quantity": 10**19}), "quantity: 10000000000000000000 is"),
        (
            SCAN,
            body({**SCAN_BODY, "operation": "x" * 10_000}),
            "operation: 'xxxxxxxxxxxxxxxxxxxx.{100,}\\.\\.\\.$",
        ),
    ],
)
def test_poison_payloads_raise_only_payload_error(
    topic: Topic, payload: bytes, reason: str
) -> None:
    with pytest.raises(PayloadError, match=f"^{reason}") as info:
        decode_envelope(topic, payload, NOW)
    assert len(str(info.value)) <= 200


def test_text_with_valid_unicode_and_group_separators_is_a_scan() -> None:
    code = "]C10109506000134352\x1d10LOT"
    scan = {**SCAN_BODY, "operator": "Zoë 🙂", "code": code}
    assert decode_message(SCAN, body(scan), NOW) == [
        Scan("hh-3", "Zoë 🙂", ScanOperation.PICK, code, 3, "A-01-02", T)
    ]


def test_status_reads_only_the_start_of_a_huge_payload() -> None:
    with pytest.raises(PayloadError, match=r"^status 'xxxxxxxxxxxxxxxxx.*' is neither"):
        decode_status(b"x" * 10_000_000)


async def test_dead_letter_totals_per_source_survive_reopening(tmp_path: Path) -> None:
    path = tmp_path / "dead_letters.db"
    async with DeadLetters.open(path, max_rows=2) as dead:
        await dead.add([DeadLetter("mqtt-a", "t", "r", b"x") for _ in range(3)])
        await dead.add([DeadLetter("mqtt-b", "t", "r", b"y"), DeadLetter("mqtt-a", "t", "r", b"")])
        assert (await dead.total("mqtt-a"), await dead.total("mqtt-b")) == (4, 1)
    async with DeadLetters.open(path) as dead:
        assert (await dead.total(), await dead.total("mqtt-a"), await dead.total("mqtt-b")) == (
            5,
            4,
            1,
        )
        assert await dead.total("never") == 0


async def test_a_file_from_before_per_source_totals_counts_its_rows(tmp_path: Path) -> None:
    path = tmp_path / "dead_letters.db"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at REAL)")
        for statement in MIGRATIONS[0]:
            db.execute(statement)
        db.execute("INSERT INTO schema_migrations VALUES (1, 0)")
        db.executemany(
            "INSERT INTO dead_letters (received_at, source, topic, reason, payload) "
            "VALUES (1, ?, 't', 'r', x'00')",
            [("mqtt-a",), ("mqtt-a",), ("mqtt-b",)],
        )
        db.execute("UPDATE dead_letter_meta SET value = 7")
    async with DeadLetters.open(path) as dead:
        assert (await dead.total(), await dead.total("mqtt-a"), await dead.total("mqtt-b")) == (
            7,
            2,
            1,
        )
        await dead.add([DeadLetter("mqtt-a", "t", "r", b"")])
        assert (await dead.total(), await dead.total("mqtt-a")) == (8, 3)


async def test_any_reason_and_payload_can_be_stored() -> None:
    long_payload = bytes(range(256)) * 1000
    async with DeadLetters.open(":memory:") as dead:
        await dead.add(
            [
                DeadLetter("mqtt", "t/\ud800", "operation: '\ud800' is not valid", b"\xed\xa0"),
                DeadLetter("mqtt", "t", "r" * 10_000, long_payload),
            ]
        )
        first, second = await dead.recent()
    assert (first.topic, first.reason, first.payload) == (
        "t/\\ud800",
        "operation: '\\ud800' is not valid",
        b"\xed\xa0",
    )
    assert second.reason == "r" * MAX_REASON_CHARS
    assert second.payload == long_payload[:MAX_PAYLOAD_BYTES]
