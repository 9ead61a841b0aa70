"""A scan's answer while the broker is away: a Mosquitto of the test's own (persistence on, its
own port) stops while the scan is being stored and starts again on the same port."""

from __future__ import annotations

import asyncio
import json
import signal
import uuid
from collections.abc import Sequence
from pathlib import Path

import pytest

from edge.catalogue_cache import Catalogue
from edge.connectors.mqtt import MqttConnector
from firmware_bridge.records import Record
from tests.edge.downlink_docs import MILK_GTIN, SNAPSHOT
from tests.edge.mosquitto_process import own_mosquitto
from tests.edge.mqtt_answers import AnswerListener
from tests.edge.mqtt_helpers import (
    TIMEOUT,
    Publisher,
    buffer_and_pipeline,
    make_device,
    until,
)

pytestmark = pytest.mark.integration

CATALOGUE = Catalogue.from_snapshot(SNAPSHOT, '"c1"')
SCAN = {
    "msg_id": "m-1",
    "time": "2026-03-01T08:00:09Z",
    "operator": "op-12",
    "operation": "pick",
    "code": MILK_GTIN,
    "quantity": 1,
    "location": "A-01-01",
}


async def test_an_answer_waits_for_the_broker_and_the_redelivered_scan_is_answered_again(
    tmp_path: Path,
) -> None:
    """The scan becomes durable after the broker went: neither its PUBACK nor its answer can
    leave, and storing does not wait for them. The answer is kept and sent once the broker is
    back; the broker redelivers the unacknowledged scan, which is a replay: stored once and
    answered again with the same seq."""
    with own_mosquitto(tmp_path / "broker") as broker:
        prefix = f"test-{uuid.uuid4().hex[:10]}/retailedge/v1"
        device = make_device(broker.address, prefix)
        # The handheld keeps its session too, so answers wait for it at the broker.
        ear = AnswerListener(
            broker.address,
            f"{prefix}/+/+/scan/answer",
            client_id=f"ear-{uuid.uuid4().hex[:12]}",
            clean=False,
        )
        async with buffer_and_pipeline(tmp_path) as (buffer, pipeline):
            storing = asyncio.Event()
            broker_gone = asyncio.Event()

            async def put(records: Sequence[Record], *, dedupe_key: str | None = None) -> list[int]:
                if not broker_gone.is_set():
                    storing.set()
                    await broker_gone.wait()
                return await pipeline.put(records, dedupe_key=dedupe_key)

            conn = MqttConnector(
                device,
                put,
                dead_letters_path=tmp_path / "dead_letters.db",
                catalogue=lambda: CATALOGUE,
            )
            task = asyncio.create_task(conn.run())
            try:
                await until(lambda: conn.session is not None and conn.session.subscribed.is_set())
                publisher = Publisher(*broker.address)
                publisher.publish(f"{prefix}/dc-1/hh-3/scan", json.dumps(SCAN).encode())
                publisher.close()
                await asyncio.wait_for(storing.wait(), TIMEOUT)

                await asyncio.to_thread(broker.stop, signal.SIGTERM)
                await until(lambda: conn.snapshot()["status"] == "disconnected")
                broker_gone.set()
                await until(lambda: conn.counters["scans"] == 1)
                assert (conn.counters["answers_queued"], conn.counters["answers"]) == (1, 0)
                assert ear.received() == []

                await asyncio.to_thread(broker.start)
                answers = await ear.wait_for(2)
                assert [
                    (a.body["msg_id"], a.body["accepted"], a.body["seq"], a.body["replayed"])
                    for a in answers
                ] == [("m-1", True, 1, False), ("m-1", True, 1, True)]
                assert answers[0].body["product"]["name"] == "Fresh milk 1 L"
                await until(lambda: conn.counters["replayed"] == 1)
                counters = conn.counters
                assert (counters["messages"], counters["scans"], counters["answers"]) == (2, 1, 1)
                assert counters["answers_unsent"] == 0
                assert len(await buffer.peek(1000, 10_000_000)) == 1
            finally:
                conn.stop()
                await asyncio.wait_for(task, TIMEOUT)
                ear.close()
