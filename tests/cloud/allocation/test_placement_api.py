"""POST /api/v1/orders: placement, idempotency, bad input, allocation outcomes."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import select

from cloud.order_models import (
    AllocationDecision,
    Order,
    OrderEvent,
    OrderLine,
    WebhookDelivery,
)
from cloud.stock_models import Reservation, StockMovement
from tests.cloud.allocation.helpers import (
    HANGZHOU,
    LUJIAZUI_OFFICE,
    OPEN_HOURS,
    app_order,
    assert_ledger_balances,
    levels,
    place,
    receive,
    set_clock,
)
from tests.cloud.cloud_helpers import Cloud
from tests.cloud.domain_seed import (
    DC,
    DUMPLINGS,
    FW_XUHUI,
    MILK,
    STANDARD,
    STORE_LUJIAZUI,
    VIP,
    WATER,
    SeedNetwork,
    seed_network,
)


async def _seeded(cloud: Cloud) -> SeedNetwork:
    network = await seed_network(cloud.client, cloud.admin)
    set_clock(cloud, OPEN_HOURS)
    return network


async def test_nearest_front_warehouse_gets_an_instant_order(cloud: Cloud) -> None:
    network = await _seeded(cloud)
    await receive(cloud, FW_XUHUI, WATER, 10)
    await receive(cloud, FW_XUHUI, MILK, 5)
    await receive(cloud, DC, WATER, 100)
    payload = app_order("APP-1", [(WATER, 3), (MILK, 2)], member_id=STANDARD)
    response = await place(cloud, network.channel_tokens["app"], payload)
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["status"] == "allocated"
    assert body["nodes"] == [FW_XUHUI]
    assert body["promise_class"] == "instant"
    assert body["allocation"]["outcome"] == "single"
    assert FW_XUHUI in body["allocation"]["summary"]
    assert [(line["sku_id"], line["quantity"], line["node_id"]) for line in body["lines"]] == [
        (WATER, 3, FW_XUHUI),
        (MILK, 2, FW_XUHUI),
    ]
    assert body["replayed"] is False
    balances = await levels(cloud.database)
    assert balances[(FW_XUHUI, WATER)] == (10, 3, 0)
    assert balances[(FW_XUHUI, MILK)] == (5, 2, 0)
    assert balances[(DC, WATER)] == (100, 0, 0)
    async with cloud.database.sessions() as session:
        order = await session.get(Order, body["order_id"])
        assert order is not None and order.status == "allocated" and order.version == 2
        # personal data is stored encrypted
        assert (
            "王芳" not in order.recipient_name_enc
            and "13800138000" not in order.recipient_phone_enc
        )
        events = (
            await session.scalars(
                select(OrderEvent.to_status).where(OrderEvent.order_id == order.id)
            )
        ).all()
        assert sorted(events) == ["allocated", "received"]
        keys = set(
            (
                await session.scalars(
                    select(StockMovement.idempotency_key).where(StockMovement.source == "order")
                )
            ).all()
        )
        assert keys == {
            f"order:{order.id}:reserve:{FW_XUHUI}:{WATER}",
            f"order:{order.id}:reserve:{FW_XUHUI}:{MILK}",
        }
        decision = await session.scalar(select(AllocationDecision))
        assert decision is not None and decision.node_ids == [FW_XUHUI]
        verdicts = {c["node_id"]: c["verdict"] for c in decision.candidates}
        assert verdicts[FW_XUHUI] == "ok"
        lines = (
            await session.scalars(select(OrderLine).where(OrderLine.order_id == order.id))
        ).all()
        assert [(line.sku_id, line.quantity, line.node_id) for line in lines] == [
            (WATER, 3, FW_XUHUI),
            (MILK, 2, FW_XUHUI),
        ]
        hooks = (
            await session.scalars(
                select(WebhookDelivery)
                .where(WebhookDelivery.order_id == order.id)
                .order_by(WebhookDelivery.id)
            )
        ).all()
        assert [(h.payload["status"], h.payload["version"], h.status) for h in hooks] == [
            ("received", 1, "pending"),
            ("allocated", 2, "pending"),
        ]
        assert hooks[1].payload["promise_by"] == body["promise_by"].replace("Z", "+00:00")
        held = (await session.scalars(select(Reservation))).all()
        assert sorted((r.node_id, r.sku_id, r.quantity, r.state) for r in held) == [
            (FW_XUHUI, MILK, 2, "held"),
            (FW_XUHUI, WATER, 3, "held"),
        ]
    # the same order again: 200 with the stored order; other content: 409, nothing changes
    token = network.channel_tokens["app"]
    again = await place(cloud, token, payload)
    assert again.status_code == 200, again.text
    assert again.json() == {**body, "replayed": True}
    changed = await place(cloud, token, app_order("APP-1", [(WATER, 4)], member_id=STANDARD))
    assert changed.status_code == 409
    assert changed.json()["error"]["code"] == "duplicate_order_conflict"
    assert "external_id" in changed.json()["error"]["message"]
    assert (await levels(cloud.database))[(FW_XUHUI, WATER)] == (10, 3, 0)
    # the same new order sent three times at once is placed once
    twice = app_order("APP-2", [(WATER, 1)])
    answers = await asyncio.gather(*(place(cloud, token, twice) for _ in range(3)))
    assert sorted(a.status_code for a in answers) == [200, 200, 201], [a.text for a in answers]
    assert len({a.json()["order_id"] for a in answers}) == 1
    assert (await levels(cloud.database))[(FW_XUHUI, WATER)] == (10, 4, 0)
    await assert_ledger_balances(cloud.database)


async def _refused(cloud: Cloud, token: str, payload: dict[str, Any], channel: str = "app") -> Any:
    response = await place(cloud, token, payload, channel)
    assert response.status_code in (403, 404, 409, 422), response.text
    return response.status_code, response.json()["error"]


async def test_bad_input_is_refused_naming_the_field_and_changes_nothing(cloud: Cloud) -> None:
    network = await _seeded(cloud)
    await receive(cloud, FW_XUHUI, WATER, 10)
    token = network.channel_tokens["app"]
    status, error = await _refused(cloud, token, app_order("B-1", [(WATER, 1), ("sku-nope", 1)]))
    assert (status, error["code"]) == (422, "unknown_sku")
    assert "line 2" in error["message"] and "sku-nope" in error["message"]
    status, error = await _refused(cloud, token, app_order("B-2", [(WATER, 1)], member_id="m-x"))
    assert (status, error["code"]) == (422, "unknown_member")
    assert "member_id" in error["message"]
    status, error = await _refused(cloud, token, app_order("B-3", [(WATER, 1)], at=HANGZHOU))
    assert (status, error["code"]) == (422, "outside_delivery_area")
    status, error = await _refused(cloud, token, app_order("B-4", [(WATER, 0)]))
    assert (status, error["code"]) == (422, "invalid_order")
    assert "lines.0.quantity" in error["message"]
    status, error = await _refused(cloud, token, app_order("B-5", [(WATER, 10**7)]))
    assert (status, error["code"]) == (422, "invalid_order")
    # a channel key places orders for its own channel only
    status, error = await _refused(cloud, token, app_order("B-6", [(WATER, 1)]), channel="meituan")
    assert (status, error["code"]) == (403, "forbidden_channel")
    status, error = await _refused(cloud, cloud.admin, app_order("B-7", [(WATER, 1)]), "nochan")
    assert (status, error["code"]) == (422, "unknown_channel")
    warehouse = await place(cloud, cloud.warehouse, app_order("B-8", [(WATER, 1)]))
    assert warehouse.status_code == 403
    async with cloud.database.sessions() as session:
        assert (await session.scalars(select(Order.id))).all() == []
        assert (await session.scalars(select(Reservation.order_id))).all() == []
    assert (await levels(cloud.database))[(FW_XUHUI, WATER)] == (10, 0, 0)


async def test_failed_slower_promise_and_member_rules(cloud: Cloud) -> None:
    network = await _seeded(cloud)
    token = network.channel_tokens["app"]
    await receive(cloud, FW_XUHUI, WATER, 2)
    await receive(cloud, FW_XUHUI, MILK, 5)
    # No node has 3 water: the order is stored as failed with the reason, nothing reserved.
    response = await place(cloud, token, app_order("F-1", [(MILK, 1), (WATER, 3)]))
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["status"] == "failed"
    assert body["status_reason"].startswith("no node can fulfil")
    assert f"{FW_XUHUI} lacks {WATER} (2 of 3)" in body["status_reason"]
    assert body["nodes"] == [] and body["allocation"]["outcome"] == "rejected"
    balances = await levels(cloud.database)
    assert balances[(FW_XUHUI, MILK)] == (5, 0, 0)
    assert balances[(FW_XUHUI, WATER)] == (2, 0, 0)
    # Near Lujiazui: the store has milk but cannot keep dumplings; the DC has both but cannot
    # deliver instant, so the whole basket goes same day from the DC.
    await receive(cloud, STORE_LUJIAZUI, MILK, 5)
    await receive(cloud, DC, DUMPLINGS, 5)
    await receive(cloud, DC, MILK, 5)
    response = await place(
        cloud, token, app_order("S-1", [(MILK, 1), (DUMPLINGS, 1)], at=LUJIAZUI_OFFICE)
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["status"] == "allocated"
    assert body["allocation"]["outcome"] == "slower_promise"
    assert body["promise_class"] == "same_day"
    assert body["nodes"] == [DC]
    # VIP: next day and door delivery from the shipped rules, from the nearest node
    response = await place(cloud, token, app_order("V-1", [(WATER, 1)], member_id=VIP))
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["promise_class"] == "next_day"
    assert body["service"]["door_delivery"] is True
    assert body["rule_version"] == 1
    assert body["nodes"] == [FW_XUHUI]
    assert body["allocation"]["outcome"] == "single"
    await assert_ledger_balances(cloud.database)
