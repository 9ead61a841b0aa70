"""Scans over MQTT through the real Mosquitto on 127.0.0.1:1883: checked against the catalogue
like those posted to the local API, refused ones dead-lettered and not stored, and every one
answered on ``.../scan/answer``. Each test uses its own topic prefix and client ids."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from edge.catalogue_cache import Catalogue
from edge.dead_letters import DeadLetters
from edge.scan_check import NO_CATALOGUE_WARNING
from tests.edge.downlink_docs import MILK_CASE_GTIN, SNAPSHOT, YOGURT_GTIN
from tests.edge.mqtt_answers import Answer, AnswerListener
from tests.edge.mqtt_helpers import (
    Publisher,
    buffer_and_pipeline,
    connector,
    forget_session,
    make_device,
    stored,
    until,
    wire,
)

CATALOGUE = Catalogue.from_snapshot(SNAPSHOT, '"c1"')
MILK_CASE = {
    "sku_id": "milk-1l-x12",
    "gtin": MILK_CASE_GTIN,
    "name": "Fresh milk 1 L, case of 12",
    "temperature_class": "chilled",
    "pack_of": "milk-1l",
    "pack_quantity": 12,
    "contains": {"sku_id": "milk-1l", "name": "Fresh milk 1 L", "quantity": 12},
}


@pytest.fixture
def publisher(mqtt_broker: tuple[str, int]) -> Iterator[Publisher]:
    pub = Publisher(*mqtt_broker)
    yield pub
    pub.close()


@pytest.fixture
def prefix() -> str:
    return f"test-{uuid.uuid4().hex[:10]}/retailedge/v1"


@pytest.fixture
def ear(mqtt_broker: tuple[str, int], prefix: str) -> Iterator[AnswerListener]:
    listener = AnswerListener(mqtt_broker, f"{prefix}/+/+/scan/answer")
    yield listener
    listener.close()


def scan(msg_id: str | None = None, **fields: Any) -> dict[str, Any]:
    body = {
        "time": "2026-03-01T08:00:09Z",
        "operator": "op-12",
        "operation": "put_away",
        "code": MILK_CASE_GTIN,
        "quantity": 2,
        "location": "dock-1",  # the catalogue spells it DOCK-1
        **fields,
    }
    return body if msg_id is None else {"msg_id": msg_id, **body}


def encoded(body: dict[str, Any]) -> bytes:
    return json.dumps(body).encode()


def accepted_milk_case(msg_id: str | None, seq: int, *, replayed: bool = False) -> dict[str, Any]:
    return {
        "msg_id": msg_id,
        "accepted": True,
        "seq": seq,
        "code": f"(01){MILK_CASE_GTIN}",
        "gtin": MILK_CASE_GTIN,
        "sscc": None,
        "epc_uri": None,
        "quantity": 2,
        "net_weight_kg": None,
        "elements": [
            {"ai": "01", "title": "GTIN", "data": MILK_CASE_GTIN, "value": MILK_CASE_GTIN}
        ],
        "location": "DOCK-1",
        "product": MILK_CASE,
        "pallet": None,
        "location_zone": "fw-pudong-ambient",
        "catalogue_checked": True,
        "warning": None,
        "pending_sync": True,
        "replayed": replayed,
    }


async def test_an_accepted_scan_is_stored_as_checked_and_answered_with_its_product(
    mqtt_broker: tuple[str, int],
    publisher: Publisher,
    ear: AnswerListener,
    prefix: str,
    tmp_path: Path,
) -> None:
    device = make_device(mqtt_broker, prefix)
    async with (
        buffer_and_pipeline(tmp_path) as (buffer, pipeline),
        connector(device, pipeline, tmp_path) as conn,
    ):
        conn.catalogue = lambda: CATALOGUE
        publisher.publish(f"{prefix}/dc-1/hh-3/scan", encoded(scan("hh-3-0001")))
        [answer] = await ear.wait_for(1)
        assert answer == Answer(
            f"{prefix}/dc-1/hh-3/scan/answer",
            accepted_milk_case("hh-3-0001", 1),
            qos=1,
            retain=False,
        )
        rows = await stored(buffer, 1)
        assert [wire(r) for r in rows] == [
            {
                "scanner_id": "hh-3",
                "operator": "op-12",
                "operation": "put_away",
                "code": f"(01){MILK_CASE_GTIN}",
                "quantity": 2,
                "location": "DOCK-1",
                "time": "2026-03-01T08:00:09Z",
            }
        ]
        # The gateway's subscriptions (.../+/scan) do not match its own answers
        # (.../+/scan/answer): its answer reached the broker, yet it heard nothing more.
        await asyncio.sleep(0.3)
        counters = conn.counters
        assert (counters["messages"], counters["scans"], counters["answers"]) == (1, 1, 1)
        assert (counters["dead_letters"], counters["scans_refused"]) == (0, 0)
    forget_session(mqtt_broker, device.client_id)


REFUSED = [
    (
        scan("m-loc", location="NO-SUCH-BIN"),
        {
            "code": "unknown_location",
            "message": "location: 'NO-SUCH-BIN' is not a location of node fw-pudong in the "
            "catalogue",
            "field": "location",
        },
    ),
    (
        scan("m-sku", code=YOGURT_GTIN),
        {
            "code": "unknown_product",
            "message": f"code: GTIN {YOGURT_GTIN} is not an active SKU in the catalogue",
            "field": "code",
        },
    ),
    (
        scan("m-qty", code=f"(01){MILK_CASE_GTIN}(37)3"),
        {
            "code": "invalid_scan",
            "message": "quantity: 2 contradicts the code's 3",
            "field": "quantity",
        },
    ),
    (
        scan("m-key", colour="red"),
        {"code": "invalid_scan", "message": "colour: unknown key"},
    ),
]


async def test_refused_scans_are_dead_lettered_not_stored_and_answered_with_the_reason(
    mqtt_broker: tuple[str, int],
    publisher: Publisher,
    ear: AnswerListener,
    prefix: str,
    tmp_path: Path,
) -> None:
    device = make_device(mqtt_broker, prefix)
    topic = f"{prefix}/dc-1/hh-3/scan"
    payloads = [encoded(body) for body, _ in REFUSED] + [b"not json"]
    async with (
        buffer_and_pipeline(tmp_path) as (buffer, pipeline),
        connector(device, pipeline, tmp_path) as conn,
    ):
        conn.catalogue = lambda: CATALOGUE
        for payload in payloads:
            publisher.publish(topic, payload)
        publisher.publish(topic, encoded(scan("m-good")))
        answers = await ear.wait_for(len(payloads) + 1)
        await until(lambda: conn.counters["scans"] == 1)
        assert [a.body for a in answers] == [
            *({"msg_id": body["msg_id"], "accepted": False, "error": error}
              for body, error in REFUSED),
            {
                "msg_id": None,
                "accepted": False,
                "error": {
                    "code": "invalid_scan",
                    "message": "not JSON: Expecting value: line 1 column 1 (char 0)",
                },
            },
            accepted_milk_case("m-good", 1),
        ]  # fmt: skip
        assert {a.topic for a in answers} == {f"{topic}/answer"}
        assert [wire(r)["code"] for r in await stored(buffer, 1)] == [f"(01){MILK_CASE_GTIN}"]
        assert len(await buffer.peek(1000, 10_000_000)) == 1  # the refused are not stored
        counters = conn.counters
        assert (counters["messages"], counters["scans_refused"], counters["answers"]) == (
            len(payloads) + 1,
            len(payloads),
            len(payloads) + 1,
        )
    async with DeadLetters.open(tmp_path / "dead_letters.db") as dead:
        letters = await dead.recent()
    reasons = [error["message"] for _, error in REFUSED] + [answers[-2].body["error"]["message"]]
    assert sorted((d.topic, d.payload, d.reason) for d in letters) == sorted(
        zip([topic] * len(payloads), payloads, reasons, strict=True)
    )
    forget_session(mqtt_broker, device.client_id)


async def test_before_any_catalogue_a_scan_is_accepted_unchecked_with_a_warning(
    mqtt_broker: tuple[str, int],
    publisher: Publisher,
    ear: AnswerListener,
    prefix: str,
    tmp_path: Path,
) -> None:
    """The gateway's downlink holds no catalogue yet (first start without the cloud): even a
    location and a product the catalogue would not know are accepted, as over HTTP."""
    device = make_device(mqtt_broker, prefix)
    async with (
        buffer_and_pipeline(tmp_path) as (buffer, pipeline),
        connector(device, pipeline, tmp_path) as conn,
    ):
        conn.catalogue = lambda: None
        body = scan("m-1", code=YOGURT_GTIN, location="bin-9", quantity=1)
        publisher.publish(f"{prefix}/dc-1/hh-3/scan", encoded(body))
        [answer] = await ear.wait_for(1)
        assert answer.body == {
            "msg_id": "m-1",
            "accepted": True,
            "seq": 1,
            "code": f"(01){YOGURT_GTIN}",
            "gtin": YOGURT_GTIN,
            "sscc": None,
            "epc_uri": None,
            "quantity": 1,
            "net_weight_kg": None,
            "elements": [{"ai": "01", "title": "GTIN", "data": YOGURT_GTIN, "value": YOGURT_GTIN}],
            "location": "bin-9",
            "product": None,
            "pallet": None,
            "location_zone": None,
            "catalogue_checked": False,
            "warning": NO_CATALOGUE_WARNING,
            "pending_sync": True,
            "replayed": False,
        }
        [row] = [wire(r) for r in await stored(buffer, 1)]
        assert (row["code"], row["location"]) == (f"(01){YOGURT_GTIN}", "bin-9")
        await until(lambda: conn.counters["scans"] == 1)
    forget_session(mqtt_broker, device.client_id)


async def test_a_replayed_scan_is_answered_again_and_stored_once(
    mqtt_broker: tuple[str, int],
    publisher: Publisher,
    ear: AnswerListener,
    prefix: str,
    tmp_path: Path,
) -> None:
    device = make_device(mqtt_broker, prefix)
    topic = f"{prefix}/dc-1/hh-3/scan"
    async with (
        buffer_and_pipeline(tmp_path) as (buffer, pipeline),
        connector(device, pipeline, tmp_path) as conn,
    ):
        conn.catalogue = lambda: CATALOGUE
        publisher.publish(topic, encoded(scan("m-1")))
        await ear.wait_for(1)
        # The handheld heard nothing (say) and sends the same scan again.
        publisher.publish(topic, encoded(scan("m-1")))
        answers = await ear.wait_for(2)
        assert [a.body for a in answers] == [
            accepted_milk_case("m-1", 1),
            accepted_milk_case("m-1", 1, replayed=True),
        ]
        await until(lambda: conn.counters["replayed"] == 1)
        assert (conn.counters["scans"], conn.counters["answers"]) == (1, 2)
        await asyncio.sleep(0.2)
        assert len(await buffer.peek(1000, 10_000_000)) == 1
        assert len(ear.received()) == 2
    forget_session(mqtt_broker, device.client_id)
