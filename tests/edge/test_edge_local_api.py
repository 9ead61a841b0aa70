"""The local producer API through a real uvicorn on a free port, a real pipeline and buffer."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from edge.buffer import Buffer
from edge.config import parse_config
from edge.gateway import Gateway
from edge.local_api import create_app, serve
from edge.pipeline import Pipeline
from firmware_bridge.wire import record_from_wire, record_to_wire
from tests.edge.edge_factories import measurement, position, scan
from tests.edge.fake_cloud import FakeCloud
from tests.edge.pty_gps import until


@dataclass
class Api:
    url: str
    buffer: Buffer
    pipeline: Pipeline
    token: str | None


@pytest.fixture(params=[None, "s3cret"], ids=["open", "token"])
async def api(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Api]:
    token: str | None = request.param
    async with Buffer.open(tmp_path / "o.db", max_records=4) as buffer:
        pipeline = Pipeline(buffer, max_delay_s=0.01)
        task = asyncio.create_task(pipeline.run())
        app = create_app(put=pipeline.put, health=lambda: {"gateway_id": "gw-1"}, token=token)
        async with serve(app, "127.0.0.1", 0) as url:
            yield Api(url, buffer, pipeline, token)
        pipeline.stop()
        await asyncio.wait_for(task, 2)


def client(api: Api, token: str | None = "s3cret") -> httpx.AsyncClient:
    headers = {} if token is None else {"Authorization": f"Bearer {token}"}
    return httpx.AsyncClient(base_url=api.url, headers=headers, timeout=5)


def wire(*records: Any) -> list[dict[str, Any]]:
    return [record_to_wire(r) for r in records]


async def stored(api: Api) -> list[tuple[int, Any]]:
    return [
        (r.seq, record_from_wire(json.loads(r.payload))) for r in await api.buffer.peek(100, 10**9)
    ]


async def test_records_are_accepted_with_their_seqs_once_durable(api: Api) -> None:
    assert api.url.startswith("http://127.0.0.1:") and not api.url.endswith(":0")
    async with client(api) as http:
        first = await http.post("/api/v1/records", json={"records": wire(position(0), scan(1))})
        second = await http.post("/api/v1/records", json={"records": wire(measurement(2))})
        empty = await http.post("/api/v1/records", json={"records": []})
        health = await http.get("/api/v1/health")
    assert (first.status_code, first.json()) == (
        200,
        {"accepted": 2, "first_seq": 1, "last_seq": 2},
    )
    assert (second.status_code, second.json()) == (
        200,
        {"accepted": 1, "first_seq": 3, "last_seq": 3},
    )
    assert (empty.status_code, empty.json()) == (
        200,
        {"accepted": 0, "first_seq": None, "last_seq": None},
    )
    assert (health.status_code, health.json()) == (200, {"gateway_id": "gw-1"})
    assert await stored(api) == [(1, position(0)), (2, scan(1)), (3, measurement(2))]


@pytest.mark.parametrize(
    ("content", "status", "expected"),
    [
        (b"{not json", 400, {"code": "invalid_json"}),
        (b"[1, 2]", 422, {"code": "invalid_body"}),
        (b'{"records": {}}', 422, {"code": "invalid_body"}),
    ],
)
async def test_bodies_that_are_not_a_record_list_are_refused(
    api: Api, content: bytes, status: int, expected: dict[str, Any]
) -> None:
    async with client(api) as http:
        response = await http.post("/api/v1/records", content=content)
    assert response.status_code == status
    error = response.json()["error"]
    assert {k: v for k, v in error.items() if k != "message"} == expected
    assert error["message"]
    assert await stored(api) == []


async def test_one_invalid_record_refuses_the_request_naming_it(api: Api) -> None:
    bad = record_to_wire(position(2)) | {"lat": 95.0}
    async with client(api) as http:
        response = await http.post(
            "/api/v1/records", json={"records": [*wire(position(0), scan(1)), bad]}
        )
        with_seq = await http.post(
            "/api/v1/records", json={"records": [record_to_wire(scan(0), seq=7)]}
        )
    assert response.status_code == 422
    error = response.json()["error"]
    assert (error["code"], error["index"]) == ("invalid_record", 2)
    assert error["message"].startswith("records[2].lat: ")
    assert with_seq.json() == {
        "error": {
            "code": "invalid_record",
            "message": "records[0].seq: assigned by the gateway; leave it out",
            "index": 0,
        }
    }
    assert await stored(api) == []


async def test_too_many_records_in_one_request(api: Api) -> None:
    body = {"records": [record_to_wire(position(0))] * 10_001}
    async with client(api) as http:
        response = await http.post("/api/v1/records", json=body)
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "too_many_records"
    assert await stored(api) == []


async def test_full_buffer_answers_503_with_retry_after_and_stores_nothing(api: Api) -> None:
    async with client(api) as http:
        ok = await http.post("/api/v1/records", json={"records": wire(scan(0), scan(1), scan(2))})
        full = await http.post("/api/v1/records", json={"records": wire(scan(3), scan(4))})
        telemetry = await http.post("/api/v1/records", json={"records": wire(position(5))})
    assert ok.status_code == 200
    assert full.status_code == 503
    assert full.headers["retry-after"] == "5"
    error = full.json()["error"]
    assert error["code"] == "buffer_full"
    assert "retry later" in error["message"]
    assert telemetry.json() == {"accepted": 1, "first_seq": 4, "last_seq": 4}
    assert await stored(api) == [(1, scan(0)), (2, scan(1)), (3, scan(2)), (4, position(5))]


async def test_token_is_required_when_configured(api: Api) -> None:
    async with client(api, token=None) as http:
        anonymous = await http.post("/api/v1/records", json={"records": wire(scan(0))})
        health = await http.get("/api/v1/health")
    async with client(api, token="wrong") as http:
        wrong = await http.post("/api/v1/records", json={"records": wire(scan(0))})
    if api.token is None:
        assert (anonymous.status_code, health.status_code, wrong.status_code) == (200, 200, 200)
        return
    for response in (anonymous, health, wrong):
        assert response.status_code == 401
        assert response.headers["www-authenticate"] == "Bearer"
        assert response.json()["error"]["code"] == "unauthorized"
    assert await stored(api) == []


async def test_unknown_path_is_a_json_error(api: Api) -> None:
    async with client(api) as http:
        response = await http.get("/api/v1/nothing")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


async def test_port_in_use_raises_oserror(api: Api) -> None:
    port = int(api.url.rsplit(":", 1)[1])
    app = create_app(put=api.pipeline.put, health=dict)
    with pytest.raises(OSError):
        async with serve(app, "127.0.0.1", port):
            pass


async def test_gateway_serves_the_api_on_a_free_port_and_reports_it(tmp_path: Path) -> None:
    config = parse_config(
        {
            "gateway": {"id": "gw-1", "data_dir": "data"},
            "cloud": {"url": "https://cloud.example", "token": "secret-token"},
            "uplink": {"interval_s": 0.02, "drain_timeout_s": 1},
            "local_api": {"port": 0},
        },
        source=tmp_path / "gw.toml",
        environ={},
    )
    status_path = config.gateway.data_dir / "status.json"

    def status() -> dict[str, Any]:
        return json.loads(status_path.read_text()) if status_path.exists() else {}

    cloud = FakeCloud()
    stop = asyncio.Event()
    task = asyncio.create_task(Gateway(config, transport=cloud.transport()).run(stop))
    try:
        await until(lambda: bool(status().get("local_api_url")), within=5)
        url = status()["local_api_url"]
        assert url.startswith("http://127.0.0.1:") and not url.endswith(":8700")
        async with httpx.AsyncClient(base_url=url, timeout=5) as http:
            response = await http.post("/api/v1/records", json={"records": wire(scan(0))})
        assert response.json() == {"accepted": 1, "first_seq": 1, "last_seq": 1}
        await until(lambda: 1 in cloud.stored, within=5)
    finally:
        stop.set()
        await asyncio.wait_for(task, 5)
    assert cloud.stored[1] == record_to_wire(scan(0), 1)
