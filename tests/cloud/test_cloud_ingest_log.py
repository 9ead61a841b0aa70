"""GET /api/v1/gateways/{id}/gaps and /rejects: exact entries, paging, roles."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from tests.cloud.cloud_helpers import SCAN, SQLITE_ONLY, Cloud, batch, wire
from tests.cloud.test_cloud_api import ingest, result


def recent(text: str) -> bool:
    return abs(datetime.fromisoformat(text) - datetime.now(UTC)) < timedelta(seconds=30)


def strip_times(page: dict[str, Any], key: str) -> dict[str, Any]:
    for item in page["items"]:
        assert recent(item.pop(key))
    return page


async def test_gaps_and_rejects_are_listed_and_paged(cloud: Cloud) -> None:
    bad = {"seq": 3, "kind": "position", "device_id": "v"}
    # seqs 1 and 6..7 never sent (first_seq 2 after ack 0 -> gap 1..1), 5 evicted, 3 malformed.
    body = batch("gw-a", 2, 7, [wire(SCAN, 2), bad, wire(SCAN, 4), wire(SCAN, 6)])
    body["first_seq"] = 2
    outcome = result(await ingest(cloud, body))
    assert outcome["gaps"] == [[1, 1], [5, 5], [7, 7]]
    operator = cloud.auth(cloud.operator)

    page = (await cloud.client.get("/api/v1/gateways/gw-a/gaps?limit=2", headers=operator)).json()
    first_ids = [item["id"] for item in page["items"]]
    assert strip_times(page, "recorded_at") == {
        "gateway_id": "gw-a",
        "items": [
            {"id": first_ids[0], "from_seq": 1, "to_seq": 1, "reason": "not sent by gateway"},
            {"id": first_ids[1], "from_seq": 5, "to_seq": 5, "reason": "evicted at gateway"},
        ],
        "next_after": first_ids[1],
    }
    path = f"/api/v1/gateways/gw-a/gaps?limit=2&after={page['next_after']}"
    page = (await cloud.client.get(path, headers=operator)).json()
    assert strip_times(page, "recorded_at") == {
        "gateway_id": "gw-a",
        "items": [
            {"id": first_ids[1] + 1, "from_seq": 7, "to_seq": 7, "reason": "evicted at gateway"}
        ],
        "next_after": None,
    }

    admin = cloud.auth(cloud.admin)
    page = (await cloud.client.get("/api/v1/gateways/gw-a/rejects", headers=admin)).json()
    assert strip_times(page, "received_at") == {
        "gateway_id": "gw-a",
        "items": [
            {
                "id": page["items"][0]["id"],
                "seq": 3,
                "kind": "position",
                "reason": "time: required for position records",
                "raw": bad,
            }
        ],
        "next_after": None,
    }
    empty = (await cloud.client.get("/api/v1/gateways/gw-b/rejects", headers=admin)).json()
    assert empty == {"gateway_id": "gw-b", "items": [], "next_after": None}


@SQLITE_ONLY
async def test_gaps_and_rejects_need_operator_and_a_known_gateway(cloud: Cloud) -> None:
    for path in ("/api/v1/gateways/gw-a/gaps", "/api/v1/gateways/gw-a/rejects"):
        response = await cloud.client.get(path, headers=cloud.auth(cloud.warehouse))
        assert response.status_code == 403
        response = await cloud.client.get(path, headers=cloud.auth(cloud.gateway_a))
        assert response.status_code == 403
    response = await cloud.client.get(
        "/api/v1/gateways/nope/gaps", headers=cloud.auth(cloud.operator)
    )
    assert (response.status_code, response.json()) == (
        404,
        {"error": {"code": "gateway_not_found", "message": "gateway 'nope' is not registered"}},
    )
    response = await cloud.client.get(
        "/api/v1/gateways/gw-a/gaps?limit=0", headers=cloud.auth(cloud.operator)
    )
    assert response.status_code == 422
