"""Helpers of the MQTT connector's tests against a real Mosquitto: a publishing device, a
connector and a buffer with its pipeline, run as async context managers, and polling helpers."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion

from edge.buffer import Buffer
from edge.config import MqttDevice
from edge.connectors.mqtt import MqttConnector
from edge.pipeline import Pipeline, Put

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
