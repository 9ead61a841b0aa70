"""The MQTT connector across a restart of the broker: a Mosquitto of the test's own (persistence
on, its own port) is killed and started again on the same port while the connector runs."""

from __future__ import annotations

import asyncio
import json
import signal
import uuid
from collections.abc import Sequence
from pathlib import Path

import pytest

from edge.connectors.mqtt import MqttConnector
from firmware_bridge.records import Record
from tests.edge.mosquitto_process import Mosquitto, own_mosquitto
from tests.edge.mqtt_helpers import (
    TIMEOUT,
    Publisher,
    buffer_and_pipeline,
    make_device,
    measurement,
    stored,
    until,
    wire,
)

pytestmark = pytest.mark.integration


def reading(second: int, msg_id: str) -> bytes:
    reading = {"quantity": "temperature", "value": 3.5, "unit": "Cel"}
    body = {"msg_id": msg_id, "time": f"2026-03-01T08:00:{second:02d}Z", "readings": [reading]}
    return json.dumps(body).encode()


@pytest.mark.parametrize(
    ("how", "session_kept"),
    [(signal.SIGTERM, True), (signal.SIGKILL, False)],
    ids=["sigterm", "sigkill"],
)
async def test_every_message_is_stored_once_across_a_broker_restart(
    how: signal.Signals, session_kept: bool, tmp_path: Path
) -> None:
    """Messages 1 and 2 are stored and acknowledged; message 3 is being stored when the broker
    goes: it becomes durable but its PUBACK never leaves. SIGTERM: the broker saved the
    session, so after the restart it queues messages 4 and 5 for the absent gateway and
    redelivers 3, which the buffer recognises as a replay. SIGKILL: the broker forgot
    everything; the connector reconnects to a new session and subscribes again, and the
    messages published then arrive. Either way each message is stored exactly once and health
    shows the reconnect and the subscription."""
    with own_mosquitto(tmp_path / "broker") as broker:
        prefix = f"test-{uuid.uuid4().hex[:10]}/retailedge/v1"
        topic = f"{prefix}/dc-1/probe-7/telemetry"
        device = make_device(broker.address, prefix)
        async with buffer_and_pipeline(tmp_path) as (buffer, pipeline):
            storing_3 = asyncio.Event()
            broker_gone = asyncio.Event()

            async def put(records: Sequence[Record], *, dedupe_key: str | None = None) -> list[int]:
                if dedupe_key is not None and dedupe_key.endswith("#id:m-3"):
                    storing_3.set()
                    await broker_gone.wait()
                return await pipeline.put(records, dedupe_key=dedupe_key)

            conn = MqttConnector(device, put, dead_letters_path=tmp_path / "dead_letters.db")
            task = asyncio.create_task(conn.run())
            try:
                await until(lambda: conn.session is not None and conn.session.subscribed.is_set())
                publisher = Publisher(*broker.address)
                for n in (1, 2):
                    publisher.publish(topic, reading(n, f"m-{n}"))
                # Stored and acked (the ack follows the count at once) before 3 comes: a batch
                # is acked when all of its puts are answered.
                await until(lambda: conn.counters["measurements"] == 2)
                publisher.publish(topic, reading(3, "m-3"))
                await asyncio.wait_for(storing_3.wait(), TIMEOUT)
                publisher.close()

                await asyncio.to_thread(broker.stop, how)
                broker_gone.set()
                await until(lambda: conn.counters["measurements"] == 3)
                await until(lambda: conn.snapshot()["status"] == "disconnected")
                await asyncio.to_thread(broker.start)

                if not session_kept:  # nobody is subscribed until the connector is back
                    await until(lambda: conn.snapshot()["subscribed"])
                publisher = Publisher(*broker.address)
                for n in (4, 5):
                    publisher.publish(topic, reading(n, f"m-{n}"))
                publisher.close()

                rows = await stored(buffer, 5)
                assert [wire(r) for r in rows] == [measurement("probe-7", n) for n in range(1, 6)]
                # The rows are committed a moment before the puts answer and the counts follow.
                await until(lambda: conn.counters["measurements"] == 5)
                await until(lambda: conn.counters["messages"] == (6 if session_kept else 5))
                await until(lambda: conn.counters["replayed"] == (1 if session_kept else 0))
                await until(lambda: conn.snapshot()["subscribed"])
                snapshot = conn.snapshot()
                assert (snapshot["status"], snapshot["connects"]) == ("connected", 2)
                assert conn.session is not None
                assert conn.session.session_present is session_kept
                assert (await buffer.stats()).replayed == (1 if session_kept else 0)
                await asyncio.sleep(0.3)  # nothing else arrives
                assert conn.counters["messages"] == (6 if session_kept else 5)
                assert len(await buffer.peek(1000, 10_000_000)) == 5
            finally:
                conn.stop()
                await asyncio.wait_for(task, TIMEOUT)


def test_the_broker_of_the_test_keeps_a_session_over_sigterm_only(tmp_path: Path) -> None:
    """The premise of the test above, checked on the broker alone: its persistence file
    exists after SIGTERM and not after SIGKILL."""
    with own_mosquitto(tmp_path / "term") as broker:
        broker.stop(signal.SIGTERM)
        assert (broker.directory / "mosquitto.db").exists()
    killed: Mosquitto
    with own_mosquitto(tmp_path / "kill") as killed:
        killed.stop(signal.SIGKILL)
        assert not (killed.directory / "mosquitto.db").exists()
