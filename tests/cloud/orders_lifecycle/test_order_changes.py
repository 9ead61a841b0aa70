"""Status steps with their stock effects, cancellation and modification, all or nothing."""

from __future__ import annotations

import asyncio
from typing import Any

from tests.cloud.allocation.helpers import (
    HANGZHOU,
    LUJIAZUI_OFFICE,
    assert_ledger_balances,
    levels,
)
from tests.cloud.cloud_helpers import Cloud
from tests.cloud.domain_seed import DC, FW_XUHUI, MILK, STORE_LUJIAZUI, WATER
from tests.cloud.orders_lifecycle.lifecycle_helpers import (
    place_app_order,
    seeded_with_stock,
    set_status,
    webhook_payloads,
)


async def test_warehouse_steps_to_delivery_and_dispatch_consumes(cloud: Cloud) -> None:
    network = await seeded_with_stock(cloud)
    placed = await place_app_order(cloud, network, "APP-S1", [(WATER, 3), (MILK, 2)])
    order_id = placed.order_id
    assert (await levels(cloud.database))[(FW_XUHUI, WATER)] == (10, 3, 0)
    # A channel may not record warehouse steps.
    refused = await set_status(cloud, placed.token("app"), order_id, "picking")
    assert refused.status_code == 403
    skipped = await set_status(cloud, cloud.warehouse, order_id, "packed")
    assert skipped.status_code == 409
    assert skipped.json()["error"]["message"] == (
        f"status: order {order_id}: an order that is allocated cannot become packed; "
        "allowed next: cancelled, failed, picking"
    )
    for status in ("picking", "packed", "dispatched"):
        response = await set_status(cloud, cloud.warehouse, order_id, status)
        assert response.status_code == 200, response.text
        assert response.json()["status"] == status
    balances = await levels(cloud.database)
    assert balances[(FW_XUHUI, WATER)] == (7, 0, 0)
    assert balances[(FW_XUHUI, MILK)] == (8, 0, 0)
    # Repeating the current status is a replay: nothing changes, no new history entry.
    again = await set_status(cloud, cloud.warehouse, order_id, "dispatched")
    assert again.status_code == 200
    assert again.json()["version"] == 5
    delivered = await set_status(cloud, cloud.operator, order_id, "delivered")
    assert delivered.json()["status"] == "delivered"
    assert [(e["to_status"], e["actor"]) for e in delivered.json()["history"]] == [
        ("received", "app"),
        ("allocated", "app"),
        ("picking", "warehouse"),
        ("packed", "warehouse"),
        ("dispatched", "warehouse"),
        ("delivered", "operator"),
    ]
    closed = await set_status(cloud, cloud.admin, order_id, "failed", "lost")
    assert closed.status_code == 409
    # Every status went to the channel's webhook, in order and with rising versions.
    payloads = await webhook_payloads(cloud, order_id)
    assert [(p["status"], p["version"]) for p in payloads] == [
        ("received", 1),
        ("allocated", 2),
        ("picking", 3),
        ("packed", 4),
        ("dispatched", 5),
        ("delivered", 6),
    ]
    assert {p["external_id"] for p in payloads} == {"APP-S1"}
    await assert_ledger_balances(cloud.database)


async def test_failed_and_cancelled_release_and_scopes_hold(cloud: Cloud) -> None:
    network = await seeded_with_stock(cloud)
    failing = await place_app_order(cloud, network, "APP-F1", [(WATER, 4)])
    no_reason = await set_status(cloud, cloud.warehouse, failing.order_id, "failed")
    assert no_reason.status_code == 422
    assert no_reason.json()["error"]["code"] == "reason_required"
    failed = await set_status(
        cloud, cloud.warehouse, failing.order_id, "failed", "freezer broke down, goods spoiled"
    )
    assert failed.status_code == 200
    assert failed.json()["status_reason"] == "freezer broke down, goods spoiled"
    assert (await levels(cloud.database))[(FW_XUHUI, WATER)] == (10, 0, 0)

    elsewhere = await place_app_order(cloud, network, "APP-C1", [(MILK, 2)], at=LUJIAZUI_OFFICE)
    assert elsewhere.body["nodes"] == [STORE_LUJIAZUI]
    # The warehouse user works at Xuhui: the Lujiazui order does not exist for it.
    hidden = await set_status(cloud, cloud.warehouse, elsewhere.order_id, "picking")
    assert hidden.status_code == 404
    path = f"/api/v1/orders/{elsewhere.order_id}/cancel"
    other = await cloud.client.post(
        path, json={"reason": "x"}, headers=cloud.auth(network.channel_tokens["meituan"])
    )
    assert other.status_code == 404
    empty = await cloud.client.post(
        path, json={"reason": ""}, headers=cloud.auth(elsewhere.token("app"))
    )
    assert empty.status_code == 422
    for _ in range(2):  # the second cancel is a replay
        cancelled = await cloud.client.post(
            path,
            json={"reason": "customer changed their mind"},
            headers=cloud.auth(elsewhere.token("app")),
        )
        assert cancelled.status_code == 200, cancelled.text
        assert cancelled.json()["status"] == "cancelled"
        assert cancelled.json()["version"] == 3
    assert (await levels(cloud.database))[(STORE_LUJIAZUI, MILK)] == (10, 0, 0)

    shipped = await place_app_order(cloud, network, "APP-C2", [(WATER, 1)])
    for status in ("picking", "packed", "dispatched"):
        assert (await set_status(cloud, cloud.admin, shipped.order_id, status)).status_code == 200
    late = await cloud.client.post(
        f"/api/v1/orders/{shipped.order_id}/cancel",
        json={"reason": "too late"},
        headers=cloud.auth(cloud.operator),
    )
    assert late.status_code == 409
    assert late.json()["error"]["code"] == "invalid_transition"
    assert (await levels(cloud.database))[(FW_XUHUI, WATER)] == (9, 0, 0)

    # Cancel and dispatch race for a packed order: exactly one wins, the stock follows it.
    raced = await place_app_order(cloud, network, "APP-C3", [(WATER, 2)])
    for status in ("picking", "packed"):
        assert (await set_status(cloud, cloud.admin, raced.order_id, status)).status_code == 200
    cancel, dispatch = await asyncio.gather(
        cloud.client.post(
            f"/api/v1/orders/{raced.order_id}/cancel",
            json={"reason": "customer called"},
            headers=cloud.auth(raced.token("app")),
        ),
        set_status(cloud, cloud.warehouse, raced.order_id, "dispatched"),
    )
    assert sorted([cancel.status_code, dispatch.status_code]) == [200, 409]
    expected = (9, 0, 0) if cancel.status_code == 200 else (7, 0, 0)
    assert (await levels(cloud.database))[(FW_XUHUI, WATER)] == expected
    await assert_ledger_balances(cloud.database)


async def _patch(cloud: Cloud, token: str, order_id: str, body: dict[str, Any]) -> Any:
    return await cloud.client.patch(
        f"/api/v1/orders/{order_id}", json=body, headers=cloud.auth(token)
    )


async def test_modifying_lines_reallocates_all_or_nothing(cloud: Cloud) -> None:
    network = await seeded_with_stock(cloud)
    placed = await place_app_order(cloud, network, "APP-M1", [(WATER, 2)])
    token = placed.token("app")
    before = await levels(cloud.database)
    for body, status, code, field in (
        ({}, 422, "invalid_change", "payload"),
        ({"lines": [{"sku": WATER, "quantity": 0}]}, 422, "invalid_change", "lines.0.quantity"),
        ({"lines": [{"sku": "sku-nope", "quantity": 1}]}, 422, "unknown_sku", "lines.0.sku"),
        (
            {"delivery": {"address": "x", "lat": 95, "lon": 1}},
            422,
            "invalid_change",
            "delivery.lat",
        ),
        ({"colour": "red"}, 422, "invalid_change", "colour"),
        (
            {"lines": [{"sku": WATER, "quantity": 1}], "expected_version": 1},
            409,
            "version_mismatch",
            "expected_version",
        ),
        # More water than any node holds: the order stays as it was.
        ({"lines": [{"sku": WATER, "quantity": 500}]}, 409, "cannot_reallocate", "lines"),
        # Nobody delivers to Hangzhou.
        (
            {"delivery": {"address": "杭州市西湖区", "lat": HANGZHOU[0], "lon": HANGZHOU[1]}},
            409,
            "cannot_reallocate",
            "delivery",
        ),
    ):
        response = await _patch(cloud, token, placed.order_id, body)
        assert response.status_code == status, (body, response.text)
        error = response.json()["error"]
        assert error["code"] == code, response.text
        assert error["message"].startswith(f"{field}:"), response.text
    assert await levels(cloud.database) == before
    changed = await _patch(
        cloud,
        token,
        placed.order_id,
        {
            "lines": [
                {"sku": WATER, "quantity": 12, "unit_price_cents": 250},
                {"sku": MILK, "quantity": 1},
            ],
            "recipient": {"phone": "13900139000"},
            "expected_version": 2,
        },
    )
    assert changed.status_code == 200, changed.text
    body = changed.json()
    # Xuhui holds only 10 waters: the changed basket is allocated again elsewhere.
    assert [
        (line["sku_id"], line["quantity"], line["unit_price_cents"], line["node_id"])
        for line in body["lines"]
    ] == [(WATER, 12, 250, DC), (MILK, 1, None, DC)]
    assert body["allocation"]["node_ids"] == [DC]
    assert body["version"] == 3
    assert body["status"] == "allocated"
    assert body["recipient"]["phone"] == "*******9000"
    assert body["history"][-1]["reason"].startswith(
        "modified: recipient.phone, lines; allocated to"
    )
    balances = await levels(cloud.database)
    assert balances[(FW_XUHUI, WATER)] == (10, 0, 0)
    reserved = sum(r for (node, sku), (_, r, _) in balances.items() if sku == WATER)
    assert reserved == 12
    assert sum(r for (node, sku), (_, r, _) in balances.items() if sku == MILK) == 1
    await assert_ledger_balances(cloud.database)
    payloads = await webhook_payloads(cloud, placed.order_id)
    assert [(p["status"], p["version"]) for p in payloads][-1] == ("allocated", 3)
    # Once picking started the lines are fixed, and the address may move only within reach.
    await set_status(cloud, cloud.admin, placed.order_id, "picking")
    fixed = await _patch(cloud, token, placed.order_id, {"lines": [{"sku": WATER, "quantity": 1}]})
    assert fixed.status_code == 409
    assert fixed.json()["error"]["code"] == "order_not_modifiable"
    far = await _patch(
        cloud,
        token,
        placed.order_id,
        {"delivery": {"address": "杭州市西湖区", "lat": HANGZHOU[0], "lon": HANGZHOU[1]}},
    )
    assert far.status_code == 409
    assert far.json()["error"]["code"] == "delivery_out_of_reach"
    near = await _patch(
        cloud,
        token,
        placed.order_id,
        {"delivery": {"address": "上海市徐汇区漕溪北路90号", "lat": 31.1905, "lon": 121.4385}},
    )
    assert near.status_code == 200, near.text
    assert near.json()["status"] == "picking"
    assert near.json()["recipient"]["address"] == "上海市徐汇区***"
    others = await _patch(
        cloud, network.channel_tokens["tmall"], placed.order_id, {"recipient": {"name": "x"}}
    )
    assert others.status_code == 404
    await assert_ledger_balances(cloud.database)
