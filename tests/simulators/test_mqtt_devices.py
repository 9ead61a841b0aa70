"""MQTT field devices and the scanner session: payloads the gateway decodes to the logged
records, and a real run against Mosquitto (telemetry, Last Will of the silent probe, scans)."""

from __future__ import annotations

import json
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import paho.mqtt.client as paho
import pytest
from click.testing import CliRunner
from paho.mqtt.enums import CallbackAPIVersion

from edge.catalogue_cache import Catalogue
from edge.mqtt_topics import decode_scan, decode_telemetry
from edge.scanner_api import check_scan, parse_code
from firmware_bridge.records import Measurement, Scan, ScanOperation
from firmware_bridge.wire import record_from_wire
from simulators.cli import simulate_group
from simulators.mqtt_devices import CAST, plan, telemetry_message
from simulators.scanner_session import (
    BUILTIN_CATALOGUE,
    UNKNOWN_LOCATION,
    SessionError,
    Step,
    catalogue_body,
    session_steps,
)

AT = datetime(2026, 3, 1, 8, 0, 0, 123_456, tzinfo=UTC)


def test_plan_is_seeded_and_the_dying_probe_falls_silent() -> None:
    rounds = plan(CAST, readings=4, silent_after=2, seed=7)
    assert rounds == plan(CAST, readings=4, silent_after=2, seed=7)
    assert rounds != plan(CAST, readings=4, silent_after=2, seed=8)
    assert [[r.device.id for r in this_round] for this_round in rounds] == [
        ["chiller-probe", "freezer-probe", "ambient-probe", "dying-probe"],
        ["chiller-probe", "freezer-probe", "ambient-probe", "dying-probe"],
        ["chiller-probe", "freezer-probe", "ambient-probe"],
        ["chiller-probe", "freezer-probe", "ambient-probe"],
    ]
    for reading in (r for this_round in rounds for r in this_round):
        low, high = reading.device.temperature
        assert low <= reading.values[0][1] <= high


def test_telemetry_payload_decodes_to_the_logged_measurements() -> None:
    reading = plan(CAST, readings=1, silent_after=1, seed=1)[0][2]  # temperature and humidity
    payload, records = telemetry_message(reading, AT, "run1")
    assert json.loads(payload)["msg_id"] == "run1-ambient-probe-0"
    decoded = decode_telemetry("ambient-probe", payload, AT)
    assert decoded == records and len(records) == 2
    assert all(
        isinstance(r, Measurement) and r.time == AT.replace(microsecond=123_000) for r in records
    )


def test_session_steps_use_the_catalogue_and_pass_its_checks(tmp_path: Path) -> None:
    steps = session_steps(BUILTIN_CATALOGUE, seed=3, mistakes=True)
    assert [(s.operation, s.expect_refusal) for s in steps] == [
        (ScanOperation.RECEIVE, False),
        (ScanOperation.PUT_AWAY, False),
        (ScanOperation.PICK, True),
        (ScanOperation.PICK, False),
        (ScanOperation.COUNT, False),
    ]
    catalogue = Catalogue.from_snapshot(BUILTIN_CATALOGUE, "x")
    for step in steps:
        parsed = parse_code(step.code)
        if step.expect_refusal:
            assert step.location == UNKNOWN_LOCATION
            continue
        _, answer = check_scan(catalogue, parsed, step.location)
        assert answer["catalogue_checked"]
        if parsed.quantity is not None:
            assert parsed.quantity == step.quantity
    assert steps[1].location == "A-01-01" and steps[0].location == "DOCK-1"
    # A gateway's cache file wraps the snapshot; both are read.
    cache = tmp_path / "catalogue.json"
    cache.write_text(json.dumps({"format": 1, "etag": "x", "body": BUILTIN_CATALOGUE}))
    assert catalogue_body(cache) == BUILTIN_CATALOGUE
    with pytest.raises(SessionError, match="at least two locations"):
        session_steps({**BUILTIN_CATALOGUE, "locations": [{"code": "DOCK-1"}]})


def test_scan_payload_decodes_to_the_logged_scan() -> None:
    step = Step(ScanOperation.PICK, "09506000134352", 2, "A-01-01")
    body = {
        "time": "2026-03-01T08:00:00Z",
        "operator": "op-1",
        "operation": "pick",
        "code": step.code,
        "quantity": 2,
        "location": step.location,
    }
    assert decode_scan("hh-1", json.dumps(body).encode(), AT) == Scan(
        "hh-1",
        "op-1",
        ScanOperation.PICK,
        step.code,
        2,
        step.location,
        AT.replace(microsecond=0, second=0),
    )


class Listener:
    def __init__(self, host: str, port: int, prefix: str) -> None:
        self.messages: list[tuple[str, bytes]] = []
        self.lock = threading.Lock()
        self.subscribed = threading.Event()
        self.client = paho.Client(callback_api_version=CallbackAPIVersion.VERSION2)
        self.client.on_message = self._on_message
        self.client.on_subscribe = lambda *args: self.subscribed.set()
        self.client.connect(host, port)
        self.client.subscribe(f"{prefix}/#", qos=1)
        self.client.loop_start()
        assert self.subscribed.wait(5)

    def _on_message(self, _client: object, _userdata: object, message: paho.MQTTMessage) -> None:
        with self.lock:
            self.messages.append((message.topic, message.payload))

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def test_devices_and_scanner_over_a_real_broker(
    mqtt_broker: tuple[str, int], tmp_path: Path
) -> None:
    host, port = mqtt_broker
    prefix = f"test-{uuid.uuid4().hex[:10]}/retailedge/v1"
    listener = Listener(host, port, prefix)
    broker_args = ["--host", host, "--port", str(port), "--topic-prefix", prefix, "--site", "s1"]
    try:
        devices = CliRunner().invoke(
            simulate_group,
            ["mqtt-devices", *broker_args, "--readings", "3", "--period", "0",
             "--silent-after", "1", "--emit-log", str(tmp_path / "devices.jsonl")],
        )  # fmt: skip
        assert devices.exit_code == 0, devices.output
        scans = CliRunner().invoke(
            simulate_group,
            ["scanner", "--via", "mqtt", *broker_args, "--scanner-id", "hh-7",
             "--answer-timeout", "0",  # no gateway listens here: nobody answers
             "--emit-log", str(tmp_path / "scans.jsonl")],
        )  # fmt: skip
        assert scans.exit_code == 0, scans.output
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            with listener.lock:
                offline = [m for m in listener.messages if m[1] == b"offline"]
                if (
                    len(offline) == len(CAST) + 1
                    and len([m for m in listener.messages if m[0].endswith("/scan")]) == 4
                ):
                    break
            time.sleep(0.05)
    finally:
        listener.close()
    assert json.loads(devices.output.splitlines()[-1]) == {
        "published": 10,
        "measurements": 13,
        "wills_armed": 4,
        "silenced": ["dying-probe"],
    }
    logged = [
        record_from_wire(json.loads(line))
        for line in (tmp_path / "devices.jsonl").read_text().splitlines()
    ]
    received: list[Measurement] = []
    for topic, payload in listener.messages:
        if topic.endswith("/telemetry"):
            received.extend(decode_telemetry(topic.split("/")[-2], payload, datetime.now(UTC)))
    assert sorted(map(repr, received)) == sorted(map(repr, logged))
    statuses = [(t.split("/")[-2], p) for t, p in listener.messages if t.endswith("/status")]
    # every device announces itself, and every one goes offline: the dying probe by its Last
    # Will, the others (and the handheld) by signing off when the simulator stops
    assert sorted(statuses) == sorted(
        [(d.id, b"online") for d in CAST]
        + [(d.id, b"offline") for d in CAST]
        + [("hh-7", b"online"), ("hh-7", b"offline")]
    )
    sent_scans = [
        decode_scan("hh-7", p, datetime.now(UTC))
        for t, p in listener.messages
        if t.endswith("/scan")
    ]
    logged_scans = [
        record_from_wire(json.loads(line))
        for line in (tmp_path / "scans.jsonl").read_text().splitlines()
    ]
    assert sent_scans == logged_scans and len(sent_scans) == 4
    assert [s.operation for s in sent_scans] == [
        ScanOperation.RECEIVE, ScanOperation.PUT_AWAY, ScanOperation.PICK, ScanOperation.COUNT
    ]  # fmt: skip
