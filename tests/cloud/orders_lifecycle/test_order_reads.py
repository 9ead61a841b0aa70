"""GET /api/v1/orders[/{id}[/events]]: scope per role, masking, reveal with audit."""

from __future__ import annotations

from sqlalchemy import select

from cloud.catalog_models import PiiAccess
from tests.cloud.allocation.helpers import LUJIAZUI_OFFICE
from tests.cloud.cloud_helpers import Cloud
from tests.cloud.domain_seed import FW_XUHUI, MILK, STANDARD, STORE_LUJIAZUI, WATER
from tests.cloud.orders_lifecycle.lifecycle_helpers import place_app_order, seeded_with_stock


async def test_detail_masked_by_default_with_lines_history_and_why(cloud: Cloud) -> None:
    network = await seeded_with_stock(cloud)
    placed = await place_app_order(
        cloud, network, "APP-R1", [(WATER, 3), (MILK, 1)], member_id=STANDARD
    )
    response = await cloud.client.get(
        f"/api/v1/orders/{placed.order_id}", headers=cloud.auth(placed.token("app"))
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["id"] == placed.order_id
    assert (body["channel"], body["external_id"], body["status"]) == ("app", "APP-R1", "allocated")
    assert body["member_id"] == STANDARD
    assert body["version"] == 2
    assert body["nodes"] == [FW_XUHUI]
    assert body["recipient"] == {
        "name": "王*",
        "phone": "*******8000",
        "address": "上海市徐汇区***",
        "masked": True,
    }
    # Coordinates are coarsened to about a kilometre while masked.
    assert (body["delivery_lat"], body["delivery_lon"]) == (31.19, 121.44)
    assert [
        (
            line["line_no"],
            line["sku_id"],
            line["quantity"],
            line["unit_price_cents"],
            line["node_id"],
        )
        for line in body["lines"]
    ] == [(1, WATER, 3, 1290, FW_XUHUI), (2, MILK, 1, 1290, FW_XUHUI)]
    assert [(e["from_status"], e["to_status"], e["actor"]) for e in body["history"]] == [
        (None, "received", "app"),
        ("received", "allocated", "app"),
    ]
    allocation = body["allocation"]
    assert allocation["outcome"] == "single"
    assert allocation["node_ids"] == [FW_XUHUI]
    assert FW_XUHUI in allocation["summary"]
    assert {c["node_id"] for c in allocation["candidates"]} >= {FW_XUHUI}
    events = await cloud.client.get(
        f"/api/v1/orders/{placed.order_id}/events", headers=cloud.auth(cloud.operator)
    )
    assert events.status_code == 200
    assert events.json() == body["history"]


async def test_scope_per_role_filters_and_pages(cloud: Cloud) -> None:
    network = await seeded_with_stock(cloud)
    placed = await place_app_order(cloud, network, "APP-R2", [(WATER, 1)])
    more = [
        (await place_app_order(cloud, network, f"APP-P{n}", [(WATER, 1)])).order_id
        for n in range(2)
    ]
    at_lujiazui = await place_app_order(cloud, network, "APP-R4", [(WATER, 1)], at=LUJIAZUI_OFFICE)
    assert at_lujiazui.body["nodes"] == [STORE_LUJIAZUI]
    ids = sorted([placed.order_id, *more, at_lujiazui.order_id])
    # Another channel: 404 exactly like an unknown id, and an empty listing.
    other = network.channel_tokens["meituan"]
    for path in (f"/api/v1/orders/{placed.order_id}", f"/api/v1/orders/{placed.order_id}/events"):
        response = await cloud.client.get(path, headers=cloud.auth(other))
        assert response.status_code == 404, path
        assert response.json()["error"] == {
            "code": "order_not_found",
            "message": f"no order {placed.order_id!r}",
        }
    unknown = await cloud.client.get("/api/v1/orders/ord-nope", headers=cloud.auth(other))
    assert unknown.json()["error"] == {"code": "order_not_found", "message": "no order 'ord-nope'"}
    theirs = await cloud.client.get("/api/v1/orders", headers=cloud.auth(other))
    assert theirs.json() == {"items": [], "next_after": None}
    mine = await cloud.client.get("/api/v1/orders", headers=cloud.auth(placed.token("app")))
    assert [item["id"] for item in mine.json()["items"]] == ids
    gateway = await cloud.client.get("/api/v1/orders", headers=cloud.auth(cloud.gateway_a))
    assert gateway.status_code == 403
    # The warehouse user works at Xuhui: the Lujiazui order is not there for it.
    listing = await cloud.client.get("/api/v1/orders", headers=cloud.auth(cloud.warehouse))
    assert [item["id"] for item in listing.json()["items"]] == sorted([placed.order_id, *more])
    hidden = await cloud.client.get(
        f"/api/v1/orders/{at_lujiazui.order_id}", headers=cloud.auth(cloud.warehouse)
    )
    assert hidden.status_code == 404
    # Paging by id, and filters.
    headers = cloud.auth(cloud.admin)
    first = await cloud.client.get("/api/v1/orders", params={"limit": 3}, headers=headers)
    page = first.json()
    assert [item["id"] for item in page["items"]] == ids[:3]
    assert page["next_after"] == ids[2]
    second = await cloud.client.get(
        "/api/v1/orders", params={"limit": 3, "after": page["next_after"]}, headers=headers
    )
    assert [item["id"] for item in second.json()["items"]] == ids[3:]
    assert second.json()["next_after"] is None
    assert second.json()["items"][0]["nodes"] in ([FW_XUHUI], [STORE_LUJIAZUI])
    for params, expected in (
        ({"status": "allocated"}, 4),
        ({"status": "cancelled"}, 0),
        ({"channel": "app"}, 4),
        ({"channel": "meituan"}, 0),
    ):
        response = await cloud.client.get("/api/v1/orders", params=params, headers=headers)
        assert len(response.json()["items"]) == expected, params
    bad = await cloud.client.get("/api/v1/orders", params={"status": "lost"}, headers=headers)
    assert bad.status_code == 422


async def test_reveal_needs_role_and_reason_and_is_audited(cloud: Cloud) -> None:
    network = await seeded_with_stock(cloud)
    placed = await place_app_order(cloud, network, "APP-R5", [(WATER, 1)])
    path = f"/api/v1/orders/{placed.order_id}"
    for token in (placed.token("app"), cloud.warehouse):
        refused = await cloud.client.get(
            path, params={"reveal": "true", "reason": "curious"}, headers=cloud.auth(token)
        )
        assert refused.status_code == 403
        assert refused.json()["error"]["code"] == "reveal_forbidden"
    no_reason = await cloud.client.get(
        path, params={"reveal": "true"}, headers=cloud.auth(cloud.operator)
    )
    assert no_reason.status_code == 422
    assert no_reason.json()["error"]["message"].startswith("reason:")
    async with cloud.database.sessions() as session:
        assert (await session.scalars(select(PiiAccess))).all() == []
    clear = await cloud.client.get(
        path,
        params={"reveal": "true", "reason": "ticket-4711 courier cannot find the door"},
        headers=cloud.auth(cloud.operator),
    )
    assert clear.status_code == 200, clear.text
    body = clear.json()
    assert body["recipient"] == {
        "name": "王芳",
        "phone": "13800138000",
        "address": "上海市徐汇区漕溪北路88号",
        "masked": False,
    }
    assert (body["delivery_lat"], body["delivery_lon"]) == (31.19, 121.438)
    async with cloud.database.sessions() as session:
        rows = (await session.scalars(select(PiiAccess))).all()
    assert [(r.actor, r.role, r.record_type, r.record_id, r.reason) for r in rows] == [
        (
            "operator",
            "operator",
            "order",
            placed.order_id,
            "ticket-4711 courier cannot find the door",
        )
    ]
    assert rows[0].fields == ["recipient_name", "recipient_phone", "address"]
