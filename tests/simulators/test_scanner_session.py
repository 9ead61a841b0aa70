"""The handheld simulator over MQTT hears the gateway's answers: a real Mosquitto, a real MQTT
connector checking against the built-in catalogue, a real buffer."""

from __future__ import annotations

import asyncio
import io
import json
import uuid
from pathlib import Path

from edge.catalogue_cache import Catalogue
from firmware_bridge.records import Scan
from firmware_bridge.wire import record_from_wire
from simulators.mqtt_devices import Broker
from simulators.scanner_session import (
    BUILTIN_CATALOGUE,
    MqttScanner,
    SessionStats,
    Step,
    run_mqtt_session,
    session_steps,
)
from tests.edge.mqtt_helpers import buffer_and_pipeline, connector, forget_session, make_device

CATALOGUE = Catalogue.from_snapshot(BUILTIN_CATALOGUE, '"builtin"')


def run_session(
    broker: Broker, steps: list[Step], log: io.StringIO, timeout: float
) -> SessionStats:
    scanner = MqttScanner(broker, "hh-7")
    try:
        return run_mqtt_session(
            scanner, steps, operator="op-1", emit_log=log, answer_timeout_s=timeout
        )
    finally:
        scanner.close()


async def test_a_session_reports_what_the_gateway_answered_and_logs_what_it_stored(
    mqtt_broker: tuple[str, int], tmp_path: Path
) -> None:
    prefix = f"test-{uuid.uuid4().hex[:10]}/retailedge/v1"
    device = make_device(mqtt_broker, prefix)
    steps = session_steps(BUILTIN_CATALOGUE, seed=3, mistakes=True)
    log = io.StringIO()
    async with (
        buffer_and_pipeline(tmp_path) as (buffer, pipeline),
        connector(device, pipeline, tmp_path) as conn,
    ):
        conn.catalogue = lambda: CATALOGUE
        broker = Broker(*mqtt_broker, prefix, "s1")
        stats = await asyncio.to_thread(run_session, broker, steps, log, 5.0)
        rows = await buffer.peek(1000, 10_000_000)
    forget_session(mqtt_broker, device.client_id)
    assert stats == SessionStats(
        sent=5,
        accepted=4,
        refused=[
            "unknown_location: location: 'NO-SUCH-BIN-99' is not a location of node demo-node "
            "in the catalogue"
        ],
        unexpected=[],
        products=[None, "Fresh milk 1 L, case of 12", "Fresh milk 1 L", "Fresh milk 1 L"],
        unanswered=0,
    )
    # The log holds each scan as the gateway stored it, at its seq: the mistake is not there.
    stored = {row.seq: record_from_wire(json.loads(row.payload)) for row in rows}
    lines = [json.loads(line) for line in log.getvalue().splitlines()]
    logged = {line.pop("seq"): record_from_wire(line) for line in lines}
    assert logged == stored and len(stored) == 4
    scans = [s for s in stored.values() if isinstance(s, Scan)]
    assert [s.code for s in scans] == [
        steps[0].code,
        steps[1].code,
        f"(01){steps[3].code}",  # a bare GTIN is stored in bracketed form
        f"(01){steps[4].code}",
    ]


async def test_without_a_gateway_every_scan_is_unanswered_and_unexpected(
    mqtt_broker: tuple[str, int],
) -> None:
    prefix = f"test-{uuid.uuid4().hex[:10]}/retailedge/v1"
    steps = session_steps(BUILTIN_CATALOGUE, seed=3)
    log = io.StringIO()
    broker = Broker(*mqtt_broker, prefix, "s1")
    stats = await asyncio.to_thread(run_session, broker, steps, log, 0.2)
    assert (stats.sent, stats.accepted, stats.unanswered) == (4, 0, 4)
    assert [message.split(": ")[1] for message in stats.unexpected] == [
        "no answer within 0.2 s"
    ] * 4
    assert log.getvalue() == ""
