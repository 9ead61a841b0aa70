"""HTTP API against a real database: each test runs on SQLite and on PostgreSQL (but those
answered before any SQL that differs between them, marked SQLITE_ONLY)."""

from __future__ import annotations

import asyncio
import gzip
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import select

from cloud.models import IngestGap, IngestReject
from firmware_bridge.wire import record_to_wire
from tests.cloud.cloud_helpers import (
    ALARM,
    MAX_BATCH_BYTES,
    MEASUREMENT,
    SCAN,
    SQLITE_ONLY,
    T0,
    TAG_READ,
    Cloud,
    batch,
    position,
    positions,
    stored_view,
    wire,
)

NO_STORE = {"stored": 0, "rejected": [], "gaps": []}


async def ingest(
    cloud: Cloud, body: dict[str, Any], token: str | None = None, gzipped: bool = False
) -> httpx.Response:
    payload = json.dumps(body).encode()
    headers = {**cloud.auth(token or cloud.gateway_a), "Content-Type": "application/json"}
    if gzipped:
        payload = gzip.compress(payload)
        headers["Content-Encoding"] = "gzip"
    return await cloud.client.post("/api/v1/ingest", content=payload, headers=headers)


def result(response: httpx.Response, status: int = 200) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    server_time = datetime.fromisoformat(body.pop("server_time"))
    assert abs(server_time - datetime.now(UTC)) < timedelta(seconds=30)
    return body


def error(code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message}}


async def stats(cloud: Cloud) -> dict[str, Any]:
    response = await cloud.client.get("/api/v1/stats", headers=cloud.auth(cloud.operator))
    assert response.status_code == 200
    body: dict[str, Any] = response.json()
    return body


def counts(positions: int = 0, rejected: int = 0, gaps: int = 0, **kinds: int) -> dict[str, Any]:
    stored = dict.fromkeys(("measurement", "tag_read", "scan", "alarm", "tag_event"), 0)
    stored["position"] = positions
    return {
        "stored": stored | kinds,
        "rejected": rejected,
        "gaps": gaps,
        "gateways": 2,
        "telemetry": SQL_TELEMETRY,
    }


SQL_TELEMETRY = {
    "store": "sql",
    "pending_records": 0,
    "pending_batches": 0,
    "written_records": 0,
    "write_failures": 0,
    "consecutive_failures": 0,
    "last_error": None,
    "last_write_at": None,
}


@SQLITE_ONLY
async def test_healthz_needs_no_token(cloud: Cloud) -> None:
    response = await cloud.client.get("/healthz")
    assert (response.status_code, response.json()) == (200, {"status": "ok", "database": "ok"})


async def test_auth_matrix(cloud: Cloud) -> None:
    ingest_body = batch("gw-a", 1, 1, [wire(position("truck-1", 0), 1)])
    cases: list[tuple[str, str, Any, str | None, int, str | None]] = []
    for path in ("/api/v1/vehicles", "/api/v1/stats", "/api/v1/gateways"):
        cases += [
            ("GET", path, None, cloud.admin, 200, None),
            ("GET", path, None, cloud.operator, 200, None),
            ("GET", path, None, cloud.warehouse, 403, "forbidden_role"),
            ("GET", path, None, cloud.gateway_a, 403, "forbidden_role"),
            ("GET", path, None, None, 401, "missing_token"),
            ("GET", path, None, "rku_not-a-real-key", 401, "invalid_token"),
            ("GET", path, None, "garbage", 401, "invalid_token"),
        ]
    cases += [
        ("POST", "/api/v1/gateways", {"id": "gw-c"}, cloud.operator, 403, "forbidden_role"),
        ("POST", "/api/v1/gateways", {"id": "gw-c"}, cloud.gateway_a, 403, "forbidden_role"),
        ("POST", "/api/v1/gateways", {"id": "gw-c"}, cloud.admin, 201, None),
        ("POST", "/api/v1/users", {"name": "x", "role": "admin"}, cloud.operator, 403, None),
        ("POST", "/api/v1/users", {"name": "x", "role": "admin"}, None, 401, None),
        ("POST", "/api/v1/ingest", ingest_body, cloud.admin, 403, "forbidden_role"),
        ("POST", "/api/v1/ingest", ingest_body, cloud.warehouse, 403, "forbidden_role"),
        ("POST", "/api/v1/ingest", ingest_body, None, 401, "missing_token"),
        ("POST", "/api/v1/ingest", ingest_body, cloud.gateway_a, 200, None),
    ]
    for method, path, body, token, status, code in cases:
        headers = {} if token is None else cloud.auth(token)
        response = await cloud.client.request(method, path, json=body, headers=headers)
        assert response.status_code == status, (method, path, token, response.text)
        if code is not None:
            assert response.json()["error"]["code"] == code
    response = await cloud.client.get("/api/v1/stats", headers=cloud.auth(cloud.warehouse))
    assert response.json() == error(
        "forbidden_role", "role 'warehouse' may not call this; it needs one of: admin, operator"
    )
    response = await cloud.client.get("/api/v1/stats")
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.json() == error(
        "missing_token",
        "send 'Authorization: Bearer <token>' with a gateway token or user API key",
    )


@SQLITE_ONLY
async def test_openapi_documents_bearer_and_roles(cloud: Cloud) -> None:
    spec = (await cloud.client.get("/openapi.json")).json()
    assert spec["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    ops = spec["paths"]
    assert ops["/api/v1/ingest"]["post"]["x-roles"] == ["gateway"]
    assert ops["/api/v1/vehicles"]["get"]["x-roles"] == ["admin", "operator"]
    assert ops["/api/v1/users"]["post"]["description"].endswith("Allowed roles: admin")
    assert ops["/healthz"]["get"]["x-roles"] == []
    assert ops["/api/v1/stats"]["get"]["security"] == [{"HTTPBearer": []}]


async def test_ingest_happy_path_reads_back_exact_values(cloud: Cloud) -> None:
    p1, p2, p4 = position("truck-1", 0), position("truck-2", 1, 48.1, 11.5), position("truck-1", 2)
    records = [wire(p1, 1), wire(p2, 2), wire(MEASUREMENT, 3), wire(p4, 4)]
    records += [wire(SCAN, 5), wire(ALARM, 6), wire(TAG_READ, 7)]
    sent_at = datetime.now(UTC) - timedelta(seconds=5)
    body = batch("gw-a", 1, 7, records, health={"buffer_depth": 3}, sent_at=sent_at)
    assert result(await ingest(cloud, body)) == {
        "ack_seq": 7,
        "stored": 7,
        "duplicates": 0,
        "rejected": [],
        "gaps": [],
    }
    operator = cloud.auth(cloud.operator)
    response = await cloud.client.get("/api/v1/vehicles/truck-1/position", headers=operator)
    assert response.json() == stored_view(p4, gateway_id="gw-a", seq=4)
    response = await cloud.client.get("/api/v1/vehicles/truck-1/track", headers=operator)
    assert response.json() == {
        "vehicle_id": "truck-1",
        "positions": [
            stored_view(p1, gateway_id="gw-a", seq=1),
            stored_view(p4, gateway_id="gw-a", seq=4),
        ],
    }
    vehicles = (await cloud.client.get("/api/v1/vehicles", headers=operator)).json()
    for vehicle in vehicles:
        assert abs(datetime.fromisoformat(vehicle.pop("last_seen")) - datetime.now(UTC)) < (
            timedelta(seconds=30)
        )
    assert vehicles == [
        {"id": "truck-1", "gateway_id": "gw-a", "position": record_to_wire(p4)},
        {"id": "truck-2", "gateway_id": "gw-a", "position": record_to_wire(p2)},
    ]
    assert await stats(cloud) == counts(2 + 1, measurement=1, tag_read=1, scan=1, alarm=1)
    gateways = (await cloud.client.get("/api/v1/gateways", headers=operator)).json()
    skew = gateways[0].pop("clock_skew_s")
    assert 4.5 < skew < 30
    assert datetime.fromisoformat(gateways[0].pop("last_seen")) > sent_at
    assert gateways == [
        {"id": "gw-a", "ack_seq": 7, "health": {"buffer_depth": 3}},
        {"id": "gw-b", "ack_seq": 0, "last_seen": None, "clock_skew_s": None, "health": None},
    ]


async def test_resent_batch_is_all_duplicates_with_same_ack(cloud: Cloud) -> None:
    body = batch("gw-a", 1, 5, positions("truck-1", 1, 5))
    assert result(await ingest(cloud, body))["stored"] == 5
    again = result(await ingest(cloud, body, gzipped=True))
    assert again == {"ack_seq": 5, "duplicates": 5, **NO_STORE}
    assert await stats(cloud) == counts(5)


async def test_overlapping_batch_stores_only_new_seqs(cloud: Cloud) -> None:
    assert (
        result(await ingest(cloud, batch("gw-a", 1, 5, positions("truck-1", 1, 5))))["ack_seq"] == 5
    )
    body = batch("gw-a", 3, 8, positions("truck-1", 3, 8))
    assert result(await ingest(cloud, body)) == {
        "ack_seq": 8,
        "stored": 3,
        "duplicates": 3,
        "rejected": [],
        "gaps": [],
    }
    track = await cloud.client.get(
        "/api/v1/vehicles/truck-1/track", headers=cloud.auth(cloud.admin)
    )
    assert [p["seq"] for p in track.json()["positions"]] == [1, 2, 3, 4, 5, 6, 7, 8]


async def test_unsent_and_evicted_seqs_are_recorded_as_gaps(cloud: Cloud) -> None:
    await ingest(cloud, batch("gw-a", 1, 2, positions("truck-1", 1, 2)))
    records = [wire(position("truck-1", seq), seq) for seq in (5, 6, 9)]
    assert result(await ingest(cloud, batch("gw-a", 5, 10, records))) == {
        "ack_seq": 10,
        "stored": 3,
        "duplicates": 0,
        "rejected": [],
        "gaps": [[3, 4], [7, 8], [10, 10]],
    }
    async with cloud.database.sessions() as session:
        rows = (await session.scalars(select(IngestGap).order_by(IngestGap.from_seq))).all()
    assert [(r.gateway_id, r.from_seq, r.to_seq, r.reason) for r in rows] == [
        ("gw-a", 3, 4, "not sent by gateway"),
        ("gw-a", 7, 8, "evicted at gateway"),
        ("gw-a", 10, 10, "evicted at gateway"),
    ]
    assert await stats(cloud) == counts(5, gaps=3)


async def test_malformed_record_is_rejected_and_the_rest_stored(cloud: Cloud) -> None:
    bad = wire(position("truck-1", 2), 2) | {"lat": 123.0}
    body = batch("gw-a", 1, 3, [wire(position("truck-1", 1), 1), bad, wire(SCAN, 3)])
    assert result(await ingest(cloud, body)) == {
        "ack_seq": 3,
        "stored": 2,
        "duplicates": 0,
        "rejected": [{"seq": 2, "error": "lat: 123.0 is outside -90.0..90.0"}],
        "gaps": [],
    }
    async with cloud.database.sessions() as session:
        rows = (await session.scalars(select(IngestReject))).all()
    assert [(r.gateway_id, r.seq, r.kind, r.reason, r.raw) for r in rows] == [
        ("gw-a", 2, "position", "lat: 123.0 is outside -90.0..90.0", bad)
    ]
    assert await stats(cloud) == counts(1, rejected=1, scan=1)
    resent = result(await ingest(cloud, body))
    assert resent == {"ack_seq": 3, "duplicates": 3, **NO_STORE}


@SQLITE_ONLY
async def test_body_errors(cloud: Cloud) -> None:
    headers = {**cloud.auth(cloud.gateway_a), "Content-Type": "application/json"}
    post = cloud.client.post
    response = await post("/api/v1/ingest", content=b"{not json", headers=headers)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_json"
    gz = {**headers, "Content-Encoding": "gzip"}
    response = await post("/api/v1/ingest", content=b"\x1f\x8b not gzip", headers=gz)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_gzip"
    whole = gzip.compress(json.dumps(batch("gw-a", 1, 1, [])).encode())
    response = await post("/api/v1/ingest", content=whole[:-6], headers=gz)
    assert response.json() == error(
        "invalid_gzip", "gzip stream is truncated; resend the whole batch"
    )
    big = b" " * (MAX_BATCH_BYTES + 1)
    response = await post("/api/v1/ingest", content=big, headers=headers)
    assert (response.status_code, response.json()) == (
        413,
        error(
            "batch_too_large",
            f"request body exceeds {MAX_BATCH_BYTES} bytes; send fewer records per batch",
        ),
    )
    bomb = gzip.compress(b" " * (MAX_BATCH_BYTES + 1))
    assert len(bomb) < MAX_BATCH_BYTES
    response = await post("/api/v1/ingest", content=bomb, headers=gz)
    assert response.status_code == 413
    assert response.json()["error"]["message"].startswith("decompressed body exceeds")
    response = await post(
        "/api/v1/ingest", content=b"{}", headers={**headers, "Content-Type": "text/plain"}
    )
    assert response.status_code == 415
    assert await stats(cloud) == counts()


@SQLITE_ONLY
async def test_envelope_errors_are_422(cloud: Cloud) -> None:
    one = [wire(position("truck-1", 1), 1)]
    cases = [
        (batch("gw-a", 2, 3, one), "records[0].seq 1 is outside 2..3"),
        (batch("gw-a", 3, 2, []), "last_seq 2 is below first_seq 3"),
        (batch("gw-a", 1, 3, one + one), "records[1].seq 1 is not above the previous seq 1"),
        (batch("gw-a", 1, 3, [one[0] | {"seq": "1"}]), "records[0].seq must be an integer"),
        (batch("gw-a", 1, 3, []) | {"first_seq": 1.5}, "first_seq must be an integer"),
        (batch("gw-a", 1, 3, []) | {"records": {}}, "records must be a list"),
        (batch("gw-a", 1, 3, []) | {"sent_at": "yesterday"}, None),
    ]
    for body, message in cases:
        response = await ingest(cloud, body)
        assert response.status_code == 422, body
        assert response.json()["error"]["code"] == "invalid_batch"
        if message is not None:
            assert response.json()["error"]["message"] == message
    assert await stats(cloud) == counts()


async def test_gateway_cannot_post_as_another(cloud: Cloud) -> None:
    response = await ingest(cloud, batch("gw-b", 1, 1, []), token=cloud.gateway_a)
    assert (response.status_code, response.json()) == (
        403,
        error("wrong_gateway", "this token belongs to gateway 'gw-a', not 'gw-b'"),
    )
    assert result(await ingest(cloud, batch("gw-b", 1, 1, []), token=cloud.gateway_b)) == {
        "ack_seq": 1,
        "duplicates": 0,
        "stored": 0,
        "rejected": [],
        "gaps": [[1, 1]],
    }


async def test_concurrent_identical_batches_apply_once(cloud: Cloud) -> None:
    body = batch("gw-a", 1, 300, positions("truck-1", 1, 300))
    first, second = await asyncio.gather(ingest(cloud, body), ingest(cloud, body))
    outcomes = sorted([result(first), result(second)], key=lambda r: r["stored"])
    assert outcomes == [
        {"ack_seq": 300, "duplicates": 300, **NO_STORE},
        {"ack_seq": 300, "stored": 300, "duplicates": 0, "rejected": [], "gaps": []},
    ]
    assert await stats(cloud) == counts(300)


async def test_track_filters_and_limits(cloud: Cloud) -> None:
    await ingest(cloud, batch("gw-a", 1, 10, positions("truck-1", 1, 10)))
    since, until = T0 + timedelta(minutes=3), T0 + timedelta(minutes=7)
    params: dict[str, Any] = {"since": since.isoformat(), "until": until.isoformat(), "limit": 3}
    response = await cloud.client.get(
        "/api/v1/vehicles/truck-1/track", params=params, headers=cloud.auth(cloud.operator)
    )
    assert [p["seq"] for p in response.json()["positions"]] == [3, 4, 5]
    params = {"since": until.isoformat(), "until": since.isoformat()}
    response = await cloud.client.get(
        "/api/v1/vehicles/truck-1/track", params=params, headers=cloud.auth(cloud.operator)
    )
    assert (response.status_code, response.json()) == (
        422,
        error("validation_failed", "since is after until; swap them"),
    )


async def test_older_batch_does_not_move_vehicle_back(cloud: Cloud) -> None:
    await ingest(cloud, batch("gw-a", 1, 1, [wire(position("truck-1", 30, 50.0, 10.0), 1)]))
    await ingest(cloud, batch("gw-a", 2, 2, [wire(position("truck-1", 5, 51.0, 11.0), 2)]))
    response = await cloud.client.get(
        "/api/v1/vehicles/truck-1/position", headers=cloud.auth(cloud.admin)
    )
    assert (response.json()["seq"], response.json()["lat"]) == (1, 50.0)


async def test_error_shape_on_404_405_409_422(cloud: Cloud) -> None:
    admin = cloud.auth(cloud.admin)
    response = await cloud.client.get("/api/v1/nowhere", headers=admin)
    assert (response.status_code, response.json()) == (
        404,
        error("not_found", "no such resource; see /openapi.json for the available routes"),
    )
    response = await cloud.client.get("/api/v1/vehicles/ghost/position", headers=admin)
    assert (response.status_code, response.json()) == (
        404,
        error(
            "vehicle_not_found",
            "no vehicle 'ghost' has reported a position; list them at /api/v1/vehicles",
        ),
    )
    response = await cloud.client.get("/api/v1/ingest", headers=admin)
    assert (response.status_code, response.json()) == (
        405,
        error("method_not_allowed", "GET is not allowed on /api/v1/ingest; see /openapi.json"),
    )
    response = await cloud.client.post("/api/v1/gateways", json={"id": "gw-a"}, headers=admin)
    assert (response.status_code, response.json()) == (
        409,
        error("gateway_exists", "gateway 'gw-a' already exists; choose another id"),
    )
    response = await cloud.client.post("/api/v1/users", json={"name": "x"}, headers=admin)
    assert (response.status_code, response.json()) == (
        422,
        error("validation_failed", "fix the request: body.role: Field required"),
    )
    response = await cloud.client.get(
        "/api/v1/vehicles/x/track", params={"limit": 0}, headers=admin
    )
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "validation_failed"


async def test_created_credentials_work(cloud: Cloud) -> None:
    admin = cloud.auth(cloud.admin)
    response = await cloud.client.post("/api/v1/gateways", json={"id": "gw-c"}, headers=admin)
    assert response.status_code == 201
    created = response.json()
    assert created["id"] == "gw-c" and created["token"].startswith("rgw_")
    ok = result(await ingest(cloud, batch("gw-c", 1, 1, [wire(SCAN, 1)]), token=created["token"]))
    assert ok == {"ack_seq": 1, "stored": 1, "duplicates": 0, "rejected": [], "gaps": []}
    body = {"name": "dispatcher", "role": "operator"}
    response = await cloud.client.post("/api/v1/users", json=body, headers=admin)
    user = response.json()
    assert (response.status_code, user["name"], user["role"]) == (201, "dispatcher", "operator")
    response = await cloud.client.get("/api/v1/stats", headers=cloud.auth(user["api_key"]))
    assert response.json()["stored"]["scan"] == 1
