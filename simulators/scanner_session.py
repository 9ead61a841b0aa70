"""A handheld scanner session: receive a pallet at the dock, put its cases away, pick units,
count a bin; driven over MQTT (``{prefix}/{site}/{scanner}/scan``) or over the gateway's web
API (``POST /api/v1/scans``).

:func:`session_steps` is pure: the scans of one session from a catalogue (the body of the cloud's
``GET /api/v1/catalogue/snapshot``, or a gateway's cached ``catalogue.json``; a built-in one when
none is given). With ``mistakes`` the session also scans at a location the catalogue does not
know, which a gateway holding the catalogue refuses (422) and the session counts as refused.
"""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final, TextIO

import httpx

from firmware_bridge.gs1 import with_check_digit
from firmware_bridge.records import Scan, ScanOperation
from firmware_bridge.wire import format_time, record_to_wire
from simulators.mqtt_devices import Broker, device_client, publish_confirmed, sign_off

UNKNOWN_LOCATION: Final = "NO-SUCH-BIN-99"

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
    """Product names the gateway answered (HTTP), per accepted scan."""


class MqttScanner:
    """Publishes scans as the handheld ``scanner_id`` (QoS 1, Last Will ``offline``)."""

    def __init__(self, broker: Broker, scanner_id: str) -> None:
        self.broker = broker
        self.scanner_id = scanner_id
        self.run_id = uuid.uuid4().hex[:8]
        status = broker.topic(scanner_id, "status")
        self._client = device_client(broker, f"sim-{scanner_id}-{self.run_id}", status)
        publish_confirmed(self._client, status, b"online")
        self._count = 0

    def send(self, step: Step, operator: str, at: datetime) -> Scan:
        at = at.replace(microsecond=at.microsecond // 1000 * 1000)
        self._count += 1
        body = {
            "msg_id": f"{self.run_id}-{self._count}",
            "time": format_time(at),
            "operator": operator,
            "operation": step.operation.value,
            "code": step.code,
            "quantity": step.quantity,
            "location": step.location,
        }
        payload = json.dumps(body, separators=(",", ":")).encode()
        publish_confirmed(self._client, self.broker.topic(self.scanner_id, "scan"), payload)
        return Scan(
            self.scanner_id, operator, step.operation, step.code, step.quantity, step.location, at
        )

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
            stats.accepted += 1
            product = answer.get("product")
            stats.products.append(product.get("name") if isinstance(product, dict) else None)
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
            if step.expect_refusal and answer.get("catalogue_checked"):
                stats.unexpected.append(f"{step.location}: accepted, expected a refusal")
            continue
        error = answer.get("error", {})
        message = f"{status} {error.get('code')}: {error.get('message')}"
        stats.refused.append(message)
        if not step.expect_refusal or status != 422:
            stats.unexpected.append(message)
    return stats


def run_mqtt_session(
    scanner: MqttScanner,
    steps: list[Step],
    *,
    operator: str,
    emit_log: TextIO | None = None,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> SessionStats:
    """Scans a gateway could only refuse into its dead letters are not sent over MQTT."""
    stats = SessionStats()
    for step in steps:
        if step.expect_refusal:
            continue
        stats.sent += 1
        _log(emit_log, scanner.send(step, operator, clock()))
        stats.accepted += 1
    return stats
