"""The MQTT connector against the real Mosquitto on 127.0.0.1:1883, into a real Buffer through
the Pipeline; each test uses its own topic prefix and client ids."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion

from edge.buffer import Buffer
from edge.config import MqttDevice
from edge.connectors.mqtt import MqttConnector
from edge.dead_letters import DeadLetters
from edge.pipeline import Pipeline
from firmware_bridge.records import Record

Put = Callable[..., Awaitable[list[int]]]
TIMEOUT = 10.0


def telemetry(second: int, value: float = 3.5) -> bytes:
    reading = {"quantity": "temperature", "value": value, "unit": "Cel"}
    return json.dumps({"time": f"2026-03-01T08:00:{second:02d}Z", "readings": [reading]}).encode()


def wire(record: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in record.items() if k != "kind"}


class Publisher:
    """A device on the broker: QoS 1 publishes, confirmed by the broker."""

    def __init__(self, host: str, port: int, will: tuple[str, bytes] | None = None) -> None:
        self.client = paho.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=f"dev-{uuid.uuid4().hex[:12]}",
            protocol=MQTTProtocolVersion.MQTTv311,
        )
        if will is not None:
            self.client.will_set(will[0], will[1], qos=1)
        self.client.connect(host, port, keepalive=30)
        self.client.loop_start()

    def publish(self, topic: str, payload: bytes) -> None:
        info = self.client.publish(topic, payload, qos=1)
        info.wait_for_publish(TIMEOUT)
        assert info.is_published()

    def crash(self) -> None:
        """Vanish without DISCONNECT, so the broker publishes the Last Will."""
        self.client.loop_stop()
        sock = self.client.socket()
        assert sock is not None
        sock.close()

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture
def publisher(mqtt_broker: tuple[str, int]) -> Iterator[Publisher]:
    pub = Publisher(*mqtt_broker)
    yield pub
    pub.close()


@pytest.fixture
def prefix() -> str:
    return f"test-{uuid.uuid4().hex[:10]}/retailedge/v1"


def make_device(
    broker: tuple[str, int], prefix: str, protocol: str = "5", client_id: str | None = None
) -> MqttDevice:
    return MqttDevice(
        id="mqtt-1",
        type="mqtt",
        host=broker[0],
        port=broker[1],
        protocol=protocol,
        client_id=client_id or f"gw-{uuid.uuid4().hex[:16]}",
        topic_prefix=prefix,
        session_expiry_s=60,
    )


def forget_session(broker: tuple[str, int], client_id: str) -> None:
    """Leave no persistent session behind on the shared broker."""
    client = paho.Client(
        callback_api_version=CallbackAPIVersion.VERSION2,
        client_id=client_id,
        protocol=MQTTProtocolVersion.MQTTv311,
        clean_session=True,
    )
    client.connect(*broker)
    client.disconnect()


@asynccontextmanager
async def connector(
    device: MqttDevice, pipeline: Pipeline, tmp_path: Path, put: Put | None = None
) -> AsyncIterator[MqttConnector]:
    conn = MqttConnector(
        device, put or pipeline.put, dead_letters_path=tmp_path / "dead_letters.db"
    )
    task = asyncio.create_task(conn.run())
    try:
        await until(lambda: conn.session is not None and conn.session.subscribed.is_set())
        yield conn
    finally:
        conn.stop()
        await asyncio.wait_for(task, TIMEOUT)


@asynccontextmanager
async def buffer_and_pipeline(tmp_path: Path) -> AsyncIterator[tuple[Buffer, Pipeline]]:
    async with Buffer.open(tmp_path / "outbox.db") as buffer:
        pipeline = Pipeline(buffer)
        task = asyncio.create_task(pipeline.run())
        try:
            yield buffer, pipeline
        finally:
            pipeline.stop()
            await asyncio.wait_for(task, TIMEOUT)


async def until(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + TIMEOUT
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


async def stored(buffer: Buffer, count: int) -> list[dict[str, Any]]:
    deadline = time.monotonic() + TIMEOUT
    while True:
        rows = await buffer.peek(1000, 10_000_000)
        if len(rows) >= count or time.monotonic() > deadline:
            return [json.loads(r.payload) for r in rows]
        await asyncio.sleep(0.02)


def measurement(device: str, second: int, value: float = 3.5) -> dict[str, Any]:
    return {
        "device_id": device,
        "time": f"2026-03-01T08:00:{second:02d}Z",
        "quantity": "temperature",
        "value": value,
        "unit": "Cel",
    }


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
                {**scan, "scanner_id": "hh-3"},
                measurement("probe-8", 2, -18.5),
            ]
            await until(lambda: conn.counters["measurements"] == 2)
            assert conn.snapshot() == {
                "type": "mqtt",
                "broker": f"{mqtt_broker[0]}:{mqtt_broker[1]}",
                "status": "connected",
                "last_error": None,
                "connects": 1,
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
            "readings[0].quantity: unknown quantity 'radiation'",
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
