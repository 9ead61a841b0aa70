"""POST /api/v1/gateway/heartbeat: an idle gateway's last_seen, clock skew and health move;
records and ack_seq never do. Runs on SQLite and PostgreSQL (but requests refused before any
SQL: SQLITE_ONLY)."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from cloud.api_error import ApiError
from cloud.ingest.heartbeat import parse_heartbeat
from cloud.services.gateways import record_heartbeat
from firmware_bridge.wire import format_time, parse_time
from tests.cloud.cloud_helpers import SQLITE_ONLY, Cloud, batch, positions

PATH = "/api/v1/gateway/heartbeat"
HEALTH: dict[str, Any] = {
    "gateway_id": "gw-a",
    "uptime_s": 3600.0,
    "buffer": {"records": 0, "oldest_age_s": None},
    "uplink": {"state": "idle", "heartbeats_sent": 12},
    "connectors": {"fridge-1": {"type": "ble", "status": "listening"}},
}


def beat(gateway_id: str = "gw-a", sent_at: datetime | None = None, **extra: Any) -> dict[str, Any]:
    return {
        "gateway_id": gateway_id,
        "sent_at": format_time(sent_at or datetime.now(UTC)),
        "health": HEALTH,
        **extra,
    }


async def post_beat(
    cloud: Cloud, body: Any, token: str | None = None, gzipped: bool = True
) -> httpx.Response:
    payload = json.dumps(body).encode()
    headers = {**cloud.auth(token or cloud.gateway_a), "Content-Type": "application/json"}
    if gzipped:
        payload = gzip.compress(payload)
        headers["Content-Encoding"] = "gzip"
    return await cloud.client.post(PATH, content=payload, headers=headers)


async def gateways(cloud: Cloud) -> dict[str, dict[str, Any]]:
    response = await cloud.client.get("/api/v1/gateways", headers=cloud.auth(cloud.operator))
    assert response.status_code == 200, response.text
    return {g["id"]: g for g in response.json()}


async def stored(cloud: Cloud) -> dict[str, int]:
    response = await cloud.client.get("/api/v1/stats", headers=cloud.auth(cloud.operator))
    counts: dict[str, int] = response.json()["stored"]
    return counts


async def test_heartbeat_updates_last_seen_skew_and_health_but_not_records(cloud: Cloud) -> None:
    old_health = {"uptime_s": 1.0}
    body = batch("gw-a", 1, 3, positions("van-1", 1, 3), health=old_health)
    ingested = await cloud.client.post(
        "/api/v1/ingest", json=body, headers=cloud.auth(cloud.gateway_a)
    )
    assert ingested.status_code == 200, ingested.text
    before = (await gateways(cloud))["gw-a"]
    records_before = await stored(cloud)

    sent_at = datetime.now(UTC) - timedelta(seconds=4)  # the gateway's clock runs 4 s behind
    response = await post_beat(cloud, beat(sent_at=sent_at))

    assert response.status_code == 200, response.text
    answer = response.json()
    assert set(answer) == {"server_time", "ack_seq"}
    assert answer["ack_seq"] == 3
    server_time = parse_time(answer["server_time"])
    assert abs(server_time - datetime.now(UTC)) < timedelta(seconds=30)
    after = (await gateways(cloud))["gw-a"]
    assert after["ack_seq"] == 3
    assert after["health"] == HEALTH
    assert parse_time(after["last_seen"]) == server_time
    assert parse_time(after["last_seen"]) >= parse_time(before["last_seen"])
    assert after["clock_skew_s"] == pytest.approx((server_time - sent_at).total_seconds())
    assert after["clock_skew_s"] >= 4.0
    assert await stored(cloud) == records_before
    # The other gateway is untouched.
    assert (await gateways(cloud))["gw-b"]["last_seen"] is None

    # The stream carries on where it was: a heartbeat moved nothing the next batch relies on.
    body = batch("gw-a", 4, 4, positions("van-1", 4, 4))
    ingested = await cloud.client.post(
        "/api/v1/ingest", json=body, headers=cloud.auth(cloud.gateway_a)
    )
    assert (ingested.json()["ack_seq"], ingested.json()["stored"]) == (4, 1)


async def test_a_heartbeat_alone_makes_a_never_seen_gateway_online(cloud: Cloud) -> None:
    console = await cloud.client.get("/console/api/gateways", headers=cloud.auth(cloud.operator))
    assert {g["id"]: g["online"] for g in console.json()} == {"gw-a": False, "gw-b": False}

    response = await post_beat(cloud, beat("gw-b"), token=cloud.gateway_b, gzipped=False)

    assert response.status_code == 200, response.text
    assert response.json()["ack_seq"] == 0
    console = await cloud.client.get("/console/api/gateways", headers=cloud.auth(cloud.operator))
    assert {g["id"]: g["online"] for g in console.json()} == {"gw-a": False, "gw-b": True}
    assert (await gateways(cloud))["gw-b"]["health"] == HEALTH


@SQLITE_ONLY
@pytest.mark.parametrize(
    ("body", "message"),
    [
        ([], "the heartbeat must be a JSON object"),
        (
            beat(records=[]),
            "a heartbeat carries no records; send them to POST /api/v1/ingest",
        ),
        ({"sent_at": "2026-03-01T09:00:00Z", "health": {}}, "gateway_id must be a non-empty"),
        (beat(gateway_id=""), "gateway_id must be a non-empty string"),
        ({"gateway_id": "gw-a", "health": {}}, "sent_at must be an ISO 8601 UTC string"),
        (beat(sent_at=None) | {"sent_at": "9 o'clock"}, "sent_at: "),
        ({"gateway_id": "gw-a", "sent_at": "2026-03-01T09:00:00Z"}, "health must be an object"),
        (beat() | {"health": [1, 2]}, "health must be an object"),
    ],
)
async def test_malformed_heartbeats_are_refused_naming_the_problem(
    cloud: Cloud, body: Any, message: str
) -> None:
    response = await post_beat(cloud, body)
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "invalid_heartbeat"
    assert error["message"].startswith(message)
    assert (await gateways(cloud))["gw-a"]["last_seen"] is None


@SQLITE_ONLY
async def test_body_errors_are_the_ingest_ones(cloud: Cloud) -> None:
    headers = {**cloud.auth(cloud.gateway_a), "Content-Type": "application/json"}
    response = await cloud.client.post(PATH, content=b"{not json", headers=headers)
    assert (response.status_code, response.json()["error"]["code"]) == (400, "invalid_json")
    gz = {**headers, "Content-Encoding": "gzip"}
    response = await cloud.client.post(PATH, content=b"\x1f\x8b not gzip", headers=gz)
    assert (response.status_code, response.json()["error"]["code"]) == (400, "invalid_gzip")
    text = {**cloud.auth(cloud.gateway_a), "Content-Type": "text/plain"}
    response = await cloud.client.post(PATH, content=json.dumps(beat()), headers=text)
    assert (response.status_code, response.json()["error"]["code"]) == (
        415,
        "unsupported_media_type",
    )


@SQLITE_ONLY
async def test_only_the_gateway_itself_may_send_its_heartbeat(cloud: Cloud) -> None:
    body = json.dumps(beat()).encode()
    for token, status, code in [
        (None, 401, "missing_token"),
        ("garbage", 401, "invalid_token"),
        (cloud.operator, 403, "forbidden_role"),
        (cloud.admin, 403, "forbidden_role"),
        (cloud.gateway_b, 403, "wrong_gateway"),
    ]:
        headers = {"Content-Type": "application/json"}
        if token is not None:
            headers.update(cloud.auth(token))
        response = await cloud.client.post(PATH, content=body, headers=headers)
        assert (response.status_code, response.json()["error"]["code"]) == (status, code)
    assert {g["last_seen"] for g in (await gateways(cloud)).values()} == {None}
    spec = (await cloud.client.get("/openapi.json")).json()
    assert spec["paths"][PATH]["post"]["x-roles"] == ["gateway"]


async def test_an_unregistered_gateway_is_not_found_and_nothing_is_written(cloud: Cloud) -> None:
    heartbeat = parse_heartbeat(beat("gw-ghost"))
    with pytest.raises(ApiError) as refused:
        async with cloud.database.sessions.begin() as session:
            await record_heartbeat(session=session, heartbeat=heartbeat, now=datetime.now(UTC))
    assert (refused.value.status, refused.value.code) == (404, "gateway_not_found")
    assert set(await gateways(cloud)) == {"gw-a", "gw-b"}
