"""The handheld scanner API through a real uvicorn on a free port, a real pipeline and buffer."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from edge.buffer import Buffer
from edge.local_api import create_app, serve
from edge.pipeline import Pipeline
from edge.scanner_api import NO_CATALOGUE_WARNING, pending_scans_from
from firmware_bridge.records import Scan, ScanOperation
from firmware_bridge.wire import record_from_wire, record_to_wire
from tests.edge.edge_factories import measurement

TOKEN = "s3cret"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@dataclass
class Api:
    url: str
    buffer: Buffer


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[Api]:
    async with Buffer.open(tmp_path / "o.db") as buffer:
        pipeline = Pipeline(buffer, max_delay_s=0.01)
        task = asyncio.create_task(pipeline.run())
        app = create_app(
            put=pipeline.put,
            health=lambda: {},
            token=TOKEN,
            pending_scans=pending_scans_from(buffer),
        )
        async with serve(app, "127.0.0.1", 0) as url:
            yield Api(url, buffer)
        pipeline.stop()
        await asyncio.wait_for(task, 2)


def client(api: Api) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=api.url, headers=AUTH, timeout=5)


def body(**overrides: Any) -> dict[str, Any]:
    base = {
        "scanner_id": "hh-1",
        "operator": "ann",
        "operation": "receive",
        "code": "(01)09506000134352(17)201225(10)ABC123",
        "quantity": 6,
        "location": "DOCK-1",
    }
    return {**base, **overrides}


async def stored(api: Api) -> list[tuple[int, Any]]:
    rows = await api.buffer.peek(100, 10**9)
    return [(r.seq, record_from_wire(json.loads(r.payload))) for r in rows]


async def test_scan_is_parsed_and_durable_before_the_answer(api: Api) -> None:
    before = datetime.now(UTC)
    async with client(api) as http:
        answer = await http.post("/api/v1/scans", json=body())
    assert (answer.status_code, answer.json()) == (
        200,
        {
            "seq": 1,
            "code": "(01)09506000134352(17)201225(10)ABC123",
            "gtin": "09506000134352",
            "sscc": None,
            "epc_uri": None,
            "quantity": 6,
            "net_weight_kg": None,
            "elements": [
                {"ai": "01", "title": "GTIN", "data": "09506000134352", "value": "09506000134352"},
                {"ai": "17", "title": "USE BY", "data": "201225", "value": "2020-12-25"},
                {"ai": "10", "title": "BATCH/LOT", "data": "ABC123", "value": "ABC123"},
            ],
            "location": "DOCK-1",
            # No catalogue source: accepted unchecked, with the warning.
            "product": None,
            "pallet": None,
            "location_zone": None,
            "catalogue_checked": False,
            "warning": NO_CATALOGUE_WARNING,
            "pending_sync": True,
        },
    )
    [(seq, scan)] = await stored(api)
    assert isinstance(scan, Scan) and before <= scan.time <= datetime.now(UTC)
    assert (seq, scan) == (
        1,
        Scan(
            "hh-1",
            "ann",
            ScanOperation.RECEIVE,
            "(01)09506000134352(17)201225(10)ABC123",
            6,
            "DOCK-1",
            scan.time,
        ),
    )


@pytest.mark.parametrize(
    ("overrides", "code", "gtin", "sscc", "quantity"),
    [
        ({"code": "4006381333931"}, "(01)04006381333931", "04006381333931", None, 6),
        (  # no symbology identifier, and every character hex: still GS1, not an EPC
            {"code": "010950600013435210ABC123"},
            "(01)09506000134352(10)ABC123",
            "09506000134352",
            None,
            6,
        ),
        (
            {"code": "]C100106141412345678908", "quantity": None, "operation": "ship"},
            "(00)106141412345678908",
            None,
            "106141412345678908",
            1,
        ),
        (
            {"code": "]C10100614141123452\x1d3712", "quantity": None},
            "(01)00614141123452(37)12",
            "00614141123452",
            None,
            12,
        ),
        (  # one item of 1.25 kg
            {"code": "(01)00614141123452(3103)001250", "quantity": None},
            "(01)00614141123452(3103)001250",
            "00614141123452",
            None,
            1,
        ),
        (  # a variable count of 4 items
            {"code": "(01)00614141123452(30)4", "quantity": None},
            "(01)00614141123452(30)4",
            "00614141123452",
            None,
            4,
        ),
        (
            {"operation": "count", "quantity": 0},
            "(01)09506000134352(17)201225(10)ABC123",
            "09506000134352",
            None,
            0,
        ),
    ],
)
async def test_codes_normalize(
    api: Api,
    overrides: dict[str, Any],
    code: str,
    gtin: str | None,
    sscc: str | None,
    quantity: int,
) -> None:
    request = {k: v for k, v in body(**overrides).items() if v is not None}
    async with client(api) as http:
        answer = (await http.post("/api/v1/scans", json=request)).json()
    assert (answer["code"], answer["gtin"], answer["sscc"], answer["quantity"]) == (
        code,
        gtin,
        sscc,
        quantity,
    )


@pytest.mark.parametrize(("given", "quantity"), [(None, 1), (1, 1), (3, 3)])
async def test_a_weighed_item_is_one_item_with_its_weight(
    api: Api, given: int | None, quantity: int
) -> None:
    """(3103)001500 is 1.5 kg: the scan counts items (1 unless the operator says otherwise),
    the weight stays in the code and is answered as net_weight_kg."""
    code = "(01)00614141123452(3103)001500"
    request = {k: v for k, v in body(code=code, quantity=given).items() if v is not None}
    async with client(api) as http:
        answer = await http.post("/api/v1/scans", json=request)
    assert answer.status_code == 200, answer.text
    assert {k: answer.json()[k] for k in ("code", "quantity", "net_weight_kg")} == {
        "code": code,
        "quantity": quantity,
        "net_weight_kg": "1.500",
    }
    assert answer.json()["elements"][1] == {
        "ai": "3103",
        "title": "NET WEIGHT (kg)",
        "data": "001500",
        "value": "1.500",
    }
    [(_, scan)] = await stored(api)
    assert isinstance(scan, Scan) and (scan.code, scan.quantity) == (code, quantity)


async def test_epc_hex_scan(api: Api) -> None:
    async with client(api) as http:
        answer = await http.post("/api/v1/scans", json=body(code="3034257bf7194e4000001a85"))
    assert answer.status_code == 200
    assert {k: answer.json()[k] for k in ("code", "gtin", "epc_uri", "elements")} == {
        "code": "3034257BF7194E4000001A85",
        "gtin": "80614141123458",
        "epc_uri": "urn:epc:id:sgtin:0614141.812345.6789",
        "elements": [],
    }


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        (
            {"code": "(01)09506000134353"},
            "code",
            "code: AI (01): check digit of 09506000134353 is 3, expected 2",
        ),
        (
            {"code": "4006381333932"},
            "code",
            "code: AI (01): check digit of 04006381333932 is 2, expected 1",
        ),
        ({"code": "  "}, "code", "code: must not be empty"),
        ({"code": 42}, "code", "code: must be a string"),
        ({"code": "3034257BF7194E4000001A8"}, "code", None),
        ({"quantity": 1_000_001}, "quantity", "quantity: must be 1..1000000 for receive"),
        ({"quantity": 0}, "quantity", "quantity: must be 1..1000000 for receive"),
        (
            {"quantity": -1, "operation": "count"},
            "quantity",
            "quantity: must be 0..1000000 for count",
        ),
        ({"quantity": "3"}, "quantity", "quantity: must be an integer"),
        (
            {"code": "(01)00614141123452(37)12", "quantity": 5},
            "quantity",
            "quantity: 5 contradicts the code's 12",
        ),
        ({"location": ""}, "location", "location: must be a non-empty string"),
        (
            {"operator": "ann\x00"},
            "operator",
            "operator: NUL characters and lone surrogates are not text",
        ),
        ({"operator": None}, "operator", "operator: must be a non-empty string"),
        (
            {"operation": "steal"},
            "operation",
            "operation: must be one of receive|put_away|pick|pack|ship|count",
        ),
    ],
)
async def test_bad_scans_are_refused_naming_the_field(
    api: Api, overrides: dict[str, Any], field: str, message: str | None
) -> None:
    async with client(api) as http:
        answer = await http.post("/api/v1/scans", json=body(**overrides))
    error = answer.json()["error"]
    assert (answer.status_code, error["code"], error["field"]) == (422, "invalid_scan", field)
    if message is not None:
        assert error["message"] == message
    assert await stored(api) == []


async def test_a_lone_surrogate_escape_is_refused_not_stored(api: Api) -> None:
    # JSON can spell "\ud800" but no UTF-8 encoder takes it: the answer itself would fail.
    raw = json.dumps(body(location="DOCK-\ud800")).encode("ascii")
    assert b"\\ud800" in raw
    async with client(api) as http:
        answer = await http.post(
            "/api/v1/scans", content=raw, headers={"Content-Type": "application/json"}
        )
    assert (answer.status_code, answer.json()["error"]) == (
        422,
        {
            "code": "invalid_scan",
            "message": "location: NUL characters and lone surrogates are not text",
            "field": "location",
        },
    )
    assert await stored(api) == []


async def test_pending_lists_unacked_scans_only_and_shrinks_after_ack(api: Api) -> None:
    async with client(api) as http:
        first = (await http.post("/api/v1/scans", json=body())).json()["seq"]
        telemetry = {"records": [record_to_wire(measurement(0))]}
        assert (await http.post("/api/v1/records", json=telemetry)).status_code == 200
        second = (await http.post("/api/v1/scans", json=body(code="4006381333931"))).json()["seq"]
        pending = (await http.get("/api/v1/scans/pending")).json()
        assert [(s["seq"], s["code"]) for s in pending["scans"]] == [
            (1, "(01)09506000134352(17)201225(10)ABC123"),
            (3, "(01)04006381333931"),
        ]
        assert (first, second, pending["count"]) == (1, 3, 2)
        limited = (await http.get("/api/v1/scans/pending", params={"limit": 1})).json()
        assert [s["seq"] for s in limited["scans"]] == [1]
        await api.buffer.ack(2)
        after = (await http.get("/api/v1/scans/pending")).json()
        await api.buffer.ack(3)
        none = (await http.get("/api/v1/scans/pending")).json()
    assert [(s["seq"], s["kind"], s["code"]) for s in after["scans"]] == [
        (3, "scan", "(01)04006381333931")
    ]
    assert none == {"count": 0, "scans": []}


async def test_scanner_page_is_served_without_token_but_the_api_needs_one(api: Api) -> None:
    async with httpx.AsyncClient(base_url=api.url, timeout=5) as http:
        page = await http.get("/scanner")
        refused = await http.post("/api/v1/scans", json=body())
        listing = await http.get("/api/v1/scans/pending")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert '<form id="scan">' in page.text and "pending sync" in page.text.lower()
    assert 'fetch("/api/v1/scans"' in page.text and "<script src" not in page.text
    assert (refused.status_code, listing.status_code) == (401, 401)


async def test_pending_without_buffer_access_is_501(tmp_path: Path) -> None:
    async def put(records: Any) -> list[int]:
        raise AssertionError("not called")

    app = create_app(put=put, health=dict)
    async with serve(app, "127.0.0.1", 0) as url, httpx.AsyncClient(base_url=url) as http:
        answer = await http.get("/api/v1/scans/pending")
    assert (answer.status_code, answer.json()["error"]["code"]) == (501, "not_available")
