"""The MQTT connector against the real Mosquitto on 127.0.0.1:1883, into a real Buffer through
the Pipeline; each test uses its own topic prefix and client ids."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import uuid
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from edge.buffer import Buffer
from edge.connectors.mqtt import MqttConnector
from edge.dead_letters import DeadLetters
from edge.mqtt_topics import Topic, decode_envelope
from firmware_bridge.records import Record
from tests.edge.mqtt_helpers import (
    TIMEOUT,
    Publisher,
    buffer_and_pipeline,
    connector,
    forget_session,
    make_device,
    measurement,
    stored,
    telemetry,
    until,
    wire,
)


@pytest.fixture
def publisher(mqtt_broker: tuple[str, int]) -> Iterator[Publisher]:
    pub = Publisher(*mqtt_broker)
    yield pub
    pub.close()


@pytest.fixture
def prefix() -> str:
    return f"test-{uuid.uuid4().hex[:10]}/retailedge/v1"


@pytest.mark.parametrize("protocol", ["5", "3.1.1"])
async def test_telemetry_and_scans_reach_the_buffer(
    protocol: str, mqtt_broker: tuple[str, int], publisher: Publisher, prefix: str, tmp_path: Path
) -> None:
    device = make_device(mqtt_broker, prefix, protocol)
    scan = {
        "time": "2026-03-01T08:00:09Z",
        "operator": "op-12",
        "operation": "receive",
        "code": "00395060001343520018",
        "quantity": 1,
        "location": "DOCK-2",
    }
    async with buffer_and_pipeline(tmp_path) as (buffer, pipeline):
        async with connector(device, pipeline, tmp_path) as conn:
            publisher.publish(f"{prefix}/dc-1/probe-7/telemetry", telemetry(1))
            publisher.publish(f"{prefix}/dc-1/hh-3/scan", json.dumps(scan).encode())
            publisher.publish(f"{prefix}/dc-2/probe-8/telemetry", telemetry(2, -18.5))
            rows = await stored(buffer, 3)
            assert [wire(r) for r in rows] == [
                measurement("probe-7", 1),
                # checked like a scan posted to the local API: stored in bracketed form
                {**scan, "code": "(00)395060001343520018", "scanner_id": "hh-3"},
                measurement("probe-8", 2, -18.5),
            ]
            await until(lambda: conn.counters["measurements"] == 2)
            assert conn.snapshot() == {
                "type": "mqtt",
                "broker": f"{mqtt_broker[0]}:{mqtt_broker[1]}",
                "status": "connected",
                "last_error": None,
                "connects": 1,
                "subscribed": True,
                "counters": {
                    "messages": 3,
                    "measurements": 2,
                    "scans": 1,
                    "positions": 0,
                    "positions_rejected": 0,
                    "status": 0,
                    "dead_letters": 0,
                    "replayed": 0,
                    "store_retries": 0,
                    "dead_letters_unwritten": 0,
                    "scans_refused": 0,
                    "answers": 1,
                    "answers_queued": 0,
                    "answers_unsent": 0,
                },
                "positions_rejected": {"hdop": 0, "speed": 0, "not_newer": 0},
                "devices": {},
            }
        assert conn.snapshot()["status"] == "stopped"
    forget_session(mqtt_broker, device.client_id)


async def test_invalid_payloads_go_to_dead_letters_and_replays_are_dropped(
    mqtt_broker: tuple[str, int], publisher: Publisher, prefix: str, tmp_path: Path
) -> None:
    device = make_device(mqtt_broker, prefix)
    topic = f"{prefix}/dc-1/probe-7/telemetry"
    bad = [
        (b"not json", "not JSON: Expecting value: line 1 column 1 (char 0)"),
        (b'{"readings": 3}', "time: required"),
        (
            telemetry(3, 1e6),
            "readings[0].value: 1000000.0 Cel is outside -90.0..150.0",
        ),
        (
            telemetry(4).replace(b"temperature", b"radiation"),
            "readings[0].quantity: unknown quantity 'radiation' (one of temperature, humidity, "
            "battery_voltage, battery_level, pressure)",
        ),
    ]
    async with buffer_and_pipeline(tmp_path) as (buffer, pipeline):
        async with connector(device, pipeline, tmp_path) as conn:
            publisher.publish(topic, telemetry(1))
            for payload, _ in bad:
                publisher.publish(topic, payload)
            publisher.publish(topic, telemetry(1))  # a replay
            publisher.publish(topic, telemetry(2))
            await until(lambda: conn.counters["messages"] == 7)
            await until(lambda: conn.counters["measurements"] == 2)
            assert conn.counters == {
                "messages": 7,
                "measurements": 2,
                "scans": 0,
                "positions": 0,
                "positions_rejected": 0,
                "status": 0,
                "dead_letters": 4,
                "replayed": 1,
                "store_retries": 0,
                "dead_letters_unwritten": 0,
                "scans_refused": 0,
                "answers": 0,
                "answers_queued": 0,
                "answers_unsent": 0,
            }
        # Everything was acked: a new connection of the same session gets nothing again.
        async with connector(device, pipeline, tmp_path) as again:
            publisher.publish(topic, telemetry(5))
            await until(lambda: again.counters["messages"] >= 1)
            await asyncio.sleep(0.3)
            assert again.counters["messages"] == 1
        rows = await stored(buffer, 3)
        assert [wire(r) for r in rows] == [
            measurement("probe-7", 1),
            measurement("probe-7", 2),
            measurement("probe-7", 5),
        ]
    async with DeadLetters.open(tmp_path / "dead_letters.db") as dead:
        letters = await dead.recent()
        assert [(d.source, d.topic, d.reason, d.payload) for d in letters] == [
            ("mqtt-1", topic, reason, payload) for payload, reason in bad
        ]
        assert await dead.total() == 4
    forget_session(mqtt_broker, device.client_id)


def fix(second: int, lat: float, **extra: object) -> bytes:
    body = {"time": f"2026-03-01T08:00:{second:02d}Z", "lat": lat, "lon": 121.437, **extra}
    return json.dumps(body).encode()


async def test_positions_are_stored_once_per_vehicle_unless_implausible(
    mqtt_broker: tuple[str, int], publisher: Publisher, prefix: str, tmp_path: Path
) -> None:
    """Fixes of two trackers become positions of their vehicles; a jump, a bad HDOP, an old fix
    and a resent one of one vehicle are counted and not stored, and do not disturb the other."""
    device = make_device(mqtt_broker, prefix)
    van = f"{prefix}/sh-fleet/trk-van-01/position"
    phone = f"{prefix}/sh-fleet/phone-rider-07/position"
    async with (
        buffer_and_pipeline(tmp_path) as (buffer, pipeline),
        connector(device, pipeline, tmp_path) as conn,
    ):
        publisher.publish(van, fix(1, 31.188, vehicle_id="van-01", msg_id="v-1"))
        publisher.publish(phone, fix(1, 31.200, speed_mps=4.2, msg_id="p-1"))
        publisher.publish(van, fix(2, 31.198, vehicle_id="van-01"))  # 1.1 km in 1 s: a jump
        publisher.publish(van, fix(3, 31.18805, vehicle_id="van-01", hdop=9.5))
        publisher.publish(van, fix(1, 31.18801, vehicle_id="van-01", msg_id="v-old"))
        publisher.publish(van, fix(1, 31.188, vehicle_id="van-01", msg_id="v-1"))  # replay
        publisher.publish(van, fix(4, 31.18810, vehicle_id="van-01", course_deg=0.0))
        publisher.publish(phone, fix(4, 31.200 + 0.0001, msg_id="p-2"))
        await until(lambda: conn.counters["messages"] == 8)
        await until(lambda: conn.counters["positions"] == 4)
        rows = await stored(buffer, 4)
        snapshot = conn.snapshot()
    assert [(r["device_id"], r["time"][-3:-1], r["lat"]) for r in rows] == [
        ("van-01", "01", 31.188),
        ("phone-rider-07", "01", 31.2),
        ("van-01", "04", 31.1881),
        ("phone-rider-07", "04", 31.2001),
    ]
    assert rows[1]["speed_mps"] == 4.2 and rows[2]["course_deg"] == 0.0
    # The resent fix is not newer than the vehicle's last one: rejected before the buffer
    # would have answered it as a replay.
    assert snapshot["counters"]["positions_rejected"] == 4
    assert snapshot["positions_rejected"] == {"hdop": 1, "speed": 1, "not_newer": 2}
    assert snapshot["counters"]["dead_letters"] == 0
    forget_session(mqtt_broker, device.client_id)


@pytest.mark.parametrize("protocol", ["5", "3.1.1"])
async def test_unacked_and_missed_messages_arrive_after_reconnect(
    protocol: str, mqtt_broker: tuple[str, int], publisher: Publisher, prefix: str, tmp_path: Path
) -> None:
    device = make_device(mqtt_broker, prefix, protocol)
    topic = f"{prefix}/dc-1/probe-7/telemetry"
    never = asyncio.Event()

    async def hang(records: Sequence[Record], *, dedupe_key: str | None = None) -> list[int]:
        await never.wait()  # the buffer never answers: the message must not be acked
        return []

    async with buffer_and_pipeline(tmp_path) as (buffer, pipeline):
        conn = MqttConnector(device, hang, dead_letters_path=tmp_path / "dl.db")
        task = asyncio.create_task(conn.run())
        await until(lambda: conn.session is not None and conn.session.subscribed.is_set())
        publisher.publish(topic, telemetry(1))
        await until(lambda: conn.counters["messages"] == 1)
        task.cancel()  # killed while storing, before the ack
        with pytest.raises(asyncio.CancelledError):
            await task
        publisher.publish(topic, telemetry(2))  # nobody connected: kept by the session
        async with connector(device, pipeline, tmp_path) as conn2:
            rows = await stored(buffer, 2)
            assert [wire(r) for r in rows] == [measurement("probe-7", 1), measurement("probe-7", 2)]
            assert conn2.session is not None and conn2.session.session_present
        # Both were acked once stored: the next session only gets what is new.
        async with connector(device, pipeline, tmp_path) as conn3:
            publisher.publish(topic, telemetry(3))
            rows = await stored(buffer, 3)
            await asyncio.sleep(0.3)
            assert conn3.counters["messages"] == 1
        rows = await stored(buffer, 3)
        assert [wire(r) for r in rows] == [
            measurement("probe-7", 1),
            measurement("probe-7", 2),
            measurement("probe-7", 3),
        ]
    forget_session(mqtt_broker, device.client_id)


async def test_message_stored_but_not_acked_before_a_crash_is_stored_once(
    mqtt_broker: tuple[str, int], publisher: Publisher, prefix: str, tmp_path: Path
) -> None:
    """The gateway dies after the commit and before the PUBACK: the broker redelivers the
    message, and its key, stored with the records, makes the second put a replay."""
    device = make_device(mqtt_broker, prefix)
    topic = f"{prefix}/dc-1/probe-7/telemetry"
    payload = json.loads(telemetry(1))
    committed = asyncio.Event()
    never = asyncio.Event()
    async with buffer_and_pipeline(tmp_path) as (buffer, pipeline):

        async def store_then_die(
            records: Sequence[Record], *, dedupe_key: str | None = None
        ) -> list[int]:
            await pipeline.put(records, dedupe_key=dedupe_key)  # durable
            committed.set()
            await never.wait()  # killed before answering: no PUBACK
            return []

        conn = MqttConnector(device, store_then_die, dead_letters_path=tmp_path / "dl.db")
        task = asyncio.create_task(conn.run())
        await until(lambda: conn.session is not None and conn.session.subscribed.is_set())
        publisher.publish(topic, json.dumps({**payload, "msg_id": "m-1"}).encode())
        await asyncio.wait_for(committed.wait(), TIMEOUT)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        async with connector(device, pipeline, tmp_path) as again:
            await until(lambda: again.counters["replayed"] == 1)
            assert again.counters["measurements"] == 0
            publisher.publish(topic, json.dumps({**payload, "msg_id": "m-2"}).encode())
            await until(lambda: again.counters["measurements"] == 1)
        rows = await stored(buffer, 2)
        assert [(r["time"], r["device_id"]) for r in rows] == [
            ("2026-03-01T08:00:01Z", "probe-7"),
            ("2026-03-01T08:00:01Z", "probe-7"),
        ]
        assert (await buffer.stats()).replayed == 1
    forget_session(mqtt_broker, device.client_id)


async def test_last_will_marks_the_device_offline(
    mqtt_broker: tuple[str, int], prefix: str, tmp_path: Path
) -> None:
    device = make_device(mqtt_broker, prefix)
    status = f"{prefix}/dc-1/probe-7/status"
    async with (
        buffer_and_pipeline(tmp_path) as (_, pipeline),
        connector(device, pipeline, tmp_path) as conn,
    ):
        probe = Publisher(*mqtt_broker, will=(status, b"offline"))
        probe.publish(status, b"online")
        await until(lambda: conn.devices.get("probe-7", {}).get("status") == "online")
        probe.crash()
        await until(lambda: conn.devices["probe-7"]["status"] == "offline")
        snapshot = conn.snapshot()
        assert snapshot["devices"] == {
            "probe-7": {"status": "offline", "since": conn.devices["probe-7"]["since"]}
        }
        assert snapshot["counters"]["status"] == 2
    forget_session(mqtt_broker, device.client_id)


def reading_payload(value: str, quantity: str = "temperature", time: str = "08:00:01Z") -> bytes:
    """Telemetry with the reading's value as raw JSON text (json.dumps writes no such number)."""
    return (
        f'{{"time": "2026-03-01T{time}", "readings": '
        f'[{{"quantity": "{quantity}", "value": {value}, "unit": "Cel"}}]}}'
    ).encode()


POISON_SCAN = (
    b'{"time": "2026-03-01T08:00:01Z", "operator": "op-1", "operation": "\\ud800", '
    b'"code": "09506000134352", "quantity": 1, "location": "A-1"}'
)


async def test_poison_payloads_become_dead_letters_and_the_connector_goes_on(
    mqtt_broker: tuple[str, int], publisher: Publisher, prefix: str, tmp_path: Path
) -> None:
    """Payloads that made the decoder raise something other than PayloadError (and so stopped
    the connector, unacked, at every restart) are dead letters with a reason; the good message
    after them is stored, and the dead-letter count survives a restart of the connector."""
    device = make_device(mqtt_broker, prefix)
    telemetry_topic = f"{prefix}/dc-1/probe-7/telemetry"
    poison = [
        (
            telemetry_topic,
            reading_payload("1" + "0" * 400),
            "JSON beyond limits: an integer of 401 digits (at most 20)",
        ),
        (
            telemetry_topic,
            reading_payload("1" + "0" * 5000),
            "JSON beyond limits: an integer of 5001 digits (at most 20)",
        ),
        (
            telemetry_topic,
            reading_payload("[" * 20_000 + "]" * 20_000),
            "JSON beyond limits: nested deeper than 16 levels",
        ),
        (
            telemetry_topic,
            reading_payload("1", quantity="door_open"),
            "readings[0].quantity: unknown quantity 'door_open' (one of temperature, humidity, "
            "battery_voltage, battery_level, pressure)",
        ),
        (
            telemetry_topic,
            reading_payload("3.5", time="23:59:59-12:00").replace(b"2026-03-01", b"9999-12-31"),
            "time: 9999-12-31T23:59:59-12:00 is out of range in UTC",
        ),
        (
            f"{prefix}/dc-1/trk-1/position",
            b'{"time": "2026-03-01T08:00:01Z", "lat": 1' + b"0" * 300 + b', "lon": 121.4}',
            "JSON beyond limits: an integer of 301 digits (at most 20)",
        ),
        (
            f"{prefix}/dc-1/hh-1/scan",
            POISON_SCAN,
            "operation: '\\ud800' is not a valid ScanOperation",
        ),
    ]
    async with buffer_and_pipeline(tmp_path) as (buffer, pipeline):
        async with connector(device, pipeline, tmp_path) as conn:
            for topic, payload, _ in poison:
                publisher.publish(topic, payload)
            publisher.publish(telemetry_topic, telemetry(2))
            await until(lambda: conn.counters["measurements"] == 1)
            assert conn.counters["dead_letters"] == len(poison)
            assert conn.snapshot()["status"] == "connected"
            publisher.publish(telemetry_topic, telemetry(3))  # still running
            await until(lambda: conn.counters["measurements"] == 2)
        assert [wire(r) for r in await stored(buffer, 2)] == [
            measurement("probe-7", 2),
            measurement("probe-7", 3),
        ]
        # All were acked: the session redelivers nothing, and the count is the table's.
        async with connector(device, pipeline, tmp_path) as again:
            assert again.counters["dead_letters"] == len(poison)
            await asyncio.sleep(0.3)
            assert again.counters["messages"] == 0
    async with DeadLetters.open(tmp_path / "dead_letters.db") as dead:
        letters = await dead.recent()
        assert [(d.topic, d.payload, d.reason) for d in letters] == poison
        assert await dead.total("mqtt-1") == len(poison)
    forget_session(mqtt_broker, device.client_id)


@asynccontextmanager
async def bad_then_good(
    mqtt_broker: tuple[str, int], publisher: Publisher, prefix: str, tmp_path: Path, bad: bytes
) -> AsyncIterator[tuple[Buffer, MqttConnector, str]]:
    """A running connector on probe-7's telemetry topic that has taken ``bad`` and then the good
    reading 1: its buffer, itself and the topic. Its broker session is forgotten afterwards."""
    device = make_device(mqtt_broker, prefix)
    topic = f"{prefix}/dc-1/probe-7/telemetry"
    async with (
        buffer_and_pipeline(tmp_path) as (buffer, pipeline),
        connector(device, pipeline, tmp_path) as conn,
    ):
        publisher.publish(topic, bad)
        publisher.publish(topic, telemetry(1))
        await until(lambda: conn.counters["measurements"] == 1)
        yield buffer, conn, topic
    forget_session(mqtt_broker, device.client_id)


async def test_a_decoder_bug_dead_letters_the_message_instead_of_stopping_the_connector(
    mqtt_broker: tuple[str, int],
    publisher: Publisher,
    prefix: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """No payload known raises anything but PayloadError any more; should a future decoder
    bug raise, the message still becomes a dead letter naming the exception."""
    real_decode = decode_envelope

    def buggy_decode(topic: Topic, payload: bytes, received_at: datetime) -> Any:
        if b"bug" in payload:
            raise ZeroDivisionError("division by zero")
        return real_decode(topic, payload, received_at)

    monkeypatch.setattr("edge.connectors.mqtt.decode_envelope", buggy_decode)
    bad_message = bad_then_good(mqtt_broker, publisher, prefix, tmp_path, b'{"bug": 1}')
    async with bad_message as (buffer, conn, _):
        assert conn.counters["dead_letters"] == 1
        assert [wire(r) for r in await stored(buffer, 1)] == [measurement("probe-7", 1)]
    async with DeadLetters.open(tmp_path / "dead_letters.db") as dead:
        assert [(d.reason, d.payload) for d in await dead.recent()] == [
            ("cannot decode (ZeroDivisionError): division by zero", b'{"bug": 1}')
        ]


async def test_a_dead_letter_file_that_cannot_be_written_does_not_stop_the_good_messages(
    mqtt_broker: tuple[str, int],
    publisher: Publisher,
    prefix: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A full disk under dead_letters.db: the bad message is counted as unwritten and
    acknowledged, the good ones are stored, the connector goes on."""

    async def disk_full(self: DeadLetters, letters: Any) -> None:
        if letters:
            raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr(DeadLetters, "add", disk_full)
    bad_message = bad_then_good(mqtt_broker, publisher, prefix, tmp_path, b"not json")
    async with bad_message as (buffer, conn, topic):
        assert (conn.counters["dead_letters"], conn.counters["dead_letters_unwritten"]) == (0, 1)
        publisher.publish(topic, telemetry(2))
        await until(lambda: conn.counters["measurements"] == 2)
        assert [wire(r) for r in await stored(buffer, 2)] == [
            measurement("probe-7", 1),
            measurement("probe-7", 2),
        ]
