"""A handheld scanner session: receive a pallet at the dock, put its cases away, pick units,
count a bin; driven over MQTT (``{prefix}/{site}/{scanner}/scan``) or over the gateway's web
API (``POST /api/v1/scans``).

:func:`session_steps` is pure: the scans of one session from a catalogue (the body of the cloud's
``GET /api/v1/catalogue/snapshot``, or a gateway's cached ``catalogue.json``; a built-in one when
none is given). With ``mistakes`` the session also scans at a location the catalogue does not
know, which a gateway holding the catalogue refuses (HTTP 422, or an MQTT answer with
``accepted: false``) and the session counts as refused.

Over MQTT the handheld waits for the gateway's answer to each scan on
``{prefix}/{site}/{scanner}/scan/answer`` (matched by ``msg_id``), as a person at a handheld
waits for the beep; an answer that does not come within the timeout is counted as unanswered.
"""

from __future__ import annotations

import json
import queue
import random
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final, TextIO

import httpx
import paho.mqtt.client as paho

from firmware_bridge.gs1 import with_check_digit
from firmware_bridge.records import Scan, ScanOperation
from firmware_bridge.wire import format_time, record_to_wire
from simulators.mqtt_devices import (
    QOS,
    Broker,
    SimulatorError,
    device_client,
    publish_confirmed,
    sign_off,
)

UNKNOWN_LOCATION: Final = "NO-SUCH-BIN-99"
ANSWER_TIMEOUT_S: Final = 10.0
SUBSCRIBE_TIMEOUT_S: Final = 10.0

BUILTIN_CATALOGUE: Final[dict[str, Any]] = {
    "node": {"id": "demo-node", "name": "Demo store"},
    "locations": [
        {"code": "DOCK-1", "zone_id": None},
        {"code": "A-01-01", "zone_id": None},
        {"code": "A-01-02", "zone_id": None},
    ],
    "skus": [
        {"id": "milk-1l", "gtin": "09506000134352", "name": "Fresh milk 1 L", "pack_of": None,
         "pack_quantity": 1},
        {"id": "milk-1l-x12", "gtin": with_check_digit("1950600013435"),
         "name": "Fresh milk 1 L, case of 12", "pack_of": "milk-1l", "pack_quantity": 12},
    ],
}  # fmt: skip


class SessionError(ValueError):
    """The catalogue cannot drive a session; the message says what is missing."""


@dataclass(frozen=True, slots=True)
class Step:
    operation: ScanOperation
    code: str
    quantity: int
    location: str
    expect_refusal: bool = False


def catalogue_body(path: Path | None) -> dict[str, Any]:
    """A snapshot body from ``path`` (a snapshot, or a gateway cache file wrapping one in
    ``body``), or the built-in catalogue."""
    if path is None:
        return BUILTIN_CATALOGUE
    data = json.loads(path.read_text(encoding="utf-8"))
    body = data.get("body", data) if isinstance(data, dict) else data
    if not isinstance(body, dict):
        raise SessionError(f"{path}: not a catalogue snapshot")
    return body


def _codes(body: dict[str, Any]) -> tuple[list[str], dict[str, Any], dict[str, Any]]:
    locations = [loc["code"] for loc in body.get("locations", []) if isinstance(loc, dict)]
    skus = [sku for sku in body.get("skus", []) if isinstance(sku, dict)]
    units = [sku for sku in skus if not sku.get("pack_of")]
    by_id = {sku["id"]: sku for sku in skus}
    cases = [sku for sku in skus if sku.get("pack_of") in by_id]
    if len(locations) < 2:
        raise SessionError("the catalogue needs at least two locations (a dock and a bin)")
    if not units:
        raise SessionError("the catalogue needs a SKU that is not a case")
    case = cases[0] if cases else units[0]
    unit = by_id[case["pack_of"]] if cases else units[0]
    return locations, unit, case


def session_steps(body: dict[str, Any], *, seed: int = 0, mistakes: bool = False) -> list[Step]:
    """Receive a pallet (SSCC) at the dock, put two cases away (case GTIN with AI 37), pick
    units from the bin, count the bin."""
    rng = random.Random(seed)
    locations, unit, case = _codes(body)
    dock = next((code for code in locations if code.upper().startswith("DOCK")), locations[0])
    bin_code = next(code for code in locations if code != dock)
    sscc = with_check_digit(f"3{rng.randrange(10**15, 10**16)}")
    cases = rng.randint(2, 4)
    picks = rng.randint(1, 3)
    steps = [
        Step(ScanOperation.RECEIVE, f"(00){sscc}", 1, dock),
        Step(ScanOperation.PUT_AWAY, f"(01){case['gtin']}(37){cases}", cases, bin_code),
        Step(ScanOperation.PICK, unit["gtin"], picks, bin_code),
        Step(ScanOperation.COUNT, unit["gtin"], rng.randint(5, 30), bin_code),
    ]
    if mistakes:
        steps.insert(2, Step(ScanOperation.PICK, unit["gtin"], 1, UNKNOWN_LOCATION, True))
    return steps


@dataclass
class SessionStats:
    sent: int = 0
    accepted: int = 0
    refused: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)
    """Answers that contradict the step's expectation."""
    products: list[str | None] = field(default_factory=list)
    """Product names the gateway answered, per accepted scan."""
    unanswered: int = 0
    """MQTT scans the gateway did not answer in time (or whose answers were not awaited)."""

    def accept(self, step: Step, answer: dict[str, Any]) -> None:
        self.accepted += 1
        product = answer.get("product")
        self.products.append(product.get("name") if isinstance(product, dict) else None)
        if step.expect_refusal and answer.get("catalogue_checked"):
            self.unexpected.append(f"{step.location}: accepted, expected a refusal")

    def refuse(self, step: Step, message: str, *, expected_kind: bool = True) -> None:
        """``expected_kind``: a refusal a wrong scan gets (not, say, a full buffer)."""
        self.refused.append(message)
        if not step.expect_refusal or not expected_kind:
            self.unexpected.append(message)


class MqttScanner:
    """Publishes scans as the handheld ``scanner_id`` (QoS 1, Last Will ``offline``) and, with
    ``answers``, hears the gateway's answers to them."""

    def __init__(self, broker: Broker, scanner_id: str, *, answers: bool = True) -> None:
        self.broker = broker
        self.scanner_id = scanner_id
        self.run_id = uuid.uuid4().hex[:8]
        self._answers: queue.Queue[dict[str, Any]] = queue.Queue()
        status = broker.topic(scanner_id, "status")
        self._client = device_client(broker, f"sim-{scanner_id}-{self.run_id}", status)
        try:
            if answers:
                self._listen(broker.topic(scanner_id, "scan/answer"))
            publish_confirmed(self._client, status, b"online")
        except BaseException:
            self._client.disconnect()
            self._client.loop_stop()
            raise
        self._count = 0

    def _listen(self, topic: str) -> None:
        """Subscribe to ``topic`` (again after every reconnect: the session is clean)."""
        answered = threading.Event()
        refused: list[str] = []

        def on_connect(client: paho.Client, *_: Any) -> None:
            client.subscribe(topic, qos=QOS)

        def on_subscribe(_c: paho.Client, _u: Any, _mid: int, codes: list[Any], _p: Any) -> None:
            refused.extend(str(code) for code in codes if code.is_failure)
            answered.set()

        def on_message(_client: paho.Client, _userdata: Any, message: paho.MQTTMessage) -> None:
            try:
                answer = json.loads(message.payload)
            except ValueError:
                return
            if isinstance(answer, dict):
                self._answers.put(answer)

        self._client.on_message = on_message
        self._client.on_subscribe = on_subscribe
        self._client.on_connect = on_connect
        self._client.subscribe(topic, qos=QOS)
        if not answered.wait(SUBSCRIBE_TIMEOUT_S):
            raise SimulatorError(f"{self.scanner_id}: no SUBACK for {topic}")
        if refused:
            raise SimulatorError(f"{self.scanner_id}: subscription to {topic} refused: {refused}")

    def send(self, step: Step, operator: str, at: datetime) -> tuple[Scan, str]:
        """The scan as sent, and its ``msg_id``."""
        at = at.replace(microsecond=at.microsecond // 1000 * 1000)
        self._count += 1
        msg_id = f"{self.run_id}-{self._count}"
        body = {
            "msg_id": msg_id,
            "time": format_time(at),
            "operator": operator,
            "operation": step.operation.value,
            "code": step.code,
            "quantity": step.quantity,
            "location": step.location,
        }
        payload = json.dumps(body, separators=(",", ":")).encode()
        publish_confirmed(self._client, self.broker.topic(self.scanner_id, "scan"), payload)
        scan = Scan(
            self.scanner_id, operator, step.operation, step.code, step.quantity, step.location, at
        )
        return scan, msg_id

    def answer(self, msg_id: str, timeout_s: float) -> dict[str, Any] | None:
        """The gateway's answer to ``msg_id``, or None after ``timeout_s``; answers to earlier
        scans that come late are passed over."""
        deadline = time.monotonic() + timeout_s
        while (left := deadline - time.monotonic()) > 0:
            try:
                answer = self._answers.get(timeout=left)
            except queue.Empty:
                return None
            if answer.get("msg_id") == msg_id:
                return answer
        return None

    def close(self) -> None:
        sign_off(self._client, self.broker.topic(self.scanner_id, "status"))


def http_scan(
    client: httpx.Client, scanner_id: str, operator: str, step: Step
) -> tuple[int, dict[str, Any]]:
    """POST one scan to the gateway; (status, answer)."""
    response = client.post(
        "/api/v1/scans",
        json={
            "scanner_id": scanner_id,
            "operator": operator,
            "operation": step.operation.value,
            "code": step.code,
            "quantity": step.quantity,
            "location": step.location,
        },
    )
    answer = response.json()
    return response.status_code, answer if isinstance(answer, dict) else {}


def _log(emit_log: TextIO | None, scan: Scan, seq: int | None = None) -> None:
    if emit_log is not None:
        emit_log.write(json.dumps(record_to_wire(scan, seq), separators=(",", ":")) + "\n")
        emit_log.flush()


def run_http_session(
    client: httpx.Client,
    steps: list[Step],
    *,
    scanner_id: str,
    operator: str,
    emit_log: TextIO | None = None,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> SessionStats:
    """Each accepted scan is logged as the gateway stored it (its code, location and quantity)
    with the gateway's ``seq``; the time is the session's clock at the answer."""
    stats = SessionStats()
    for step in steps:
        stats.sent += 1
        status, answer = http_scan(client, scanner_id, operator, step)
        if status == 200:
            stats.accept(step, answer)
            scan = Scan(
                scanner_id,
                operator,
                step.operation,
                str(answer["code"]),
                int(answer["quantity"]),
                str(answer["location"]),
                clock(),
            )
            _log(emit_log, scan, int(answer["seq"]))
            continue
        error = answer.get("error", {})
        stats.refuse(
            step,
            f"{status} {error.get('code')}: {error.get('message')}",
            expected_kind=status == 422,
        )
    return stats


def run_mqtt_session(
    scanner: MqttScanner,
    steps: list[Step],
    *,
    operator: str,
    emit_log: TextIO | None = None,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    answer_timeout_s: float = ANSWER_TIMEOUT_S,
) -> SessionStats:
    """Each accepted scan is logged as the gateway stored it (its code, location and quantity)
    with the answer's ``seq``; the time is the scanner's, which the gateway keeps.
    ``answer_timeout_s`` 0: answers are not awaited (a scanner without a screen, or no gateway
    listening); every scan but the mistakes is then logged as sent, without a seq."""
    stats = SessionStats()
    for step in steps:
        if answer_timeout_s == 0 and step.expect_refusal:
            continue  # nobody would hear the refusal
        stats.sent += 1
        scan, msg_id = scanner.send(step, operator, clock())
        if answer_timeout_s == 0:
            stats.unanswered += 1
            _log(emit_log, scan)
            continue
        answer = scanner.answer(msg_id, answer_timeout_s)
        if answer is None:
            stats.unanswered += 1
            stats.unexpected.append(f"{msg_id}: no answer within {answer_timeout_s:g} s")
        elif answer.get("accepted") is True:
            stats.accept(step, answer)
            stored = Scan(
                scanner.scanner_id,
                operator,
                step.operation,
                str(answer["code"]),
                int(answer["quantity"]),
                str(answer["location"]),
                scan.time,
            )
            seq = answer.get("seq")
            _log(emit_log, stored, seq if isinstance(seq, int) else None)
        else:
            error = answer.get("error")
            error = error if isinstance(error, dict) else {}
            stats.refuse(step, f"{error.get('code')}: {error.get('message')}")
    return stats
