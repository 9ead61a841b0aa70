"""Release, consume, re-allocation and ATP on a real database (SQLite + PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select

from cloud.order_models import AllocationDecision, Order, OrderLine
from cloud.services.allocation import allocate_order
from cloud.services.reservation import Pick, consume_order, release_order, reserve_lines
from cloud.stock_models import StockMovement
from tests.cloud.allocation.helpers import (
    BEFORE_OPENING,
    LUJIAZUI_OFFICE,
    OPEN_HOURS,
    XUHUI_HOME,
    app_order,
    assert_ledger_balances,
    levels,
    place,
    receive,
    set_clock,
)
from tests.cloud.cloud_helpers import Cloud
from tests.cloud.domain_seed import DC, FW_XUHUI, MILK, STORE_LUJIAZUI, WATER, seed_network

NOW = datetime(2026, 11, 25, 2, 30, tzinfo=UTC)


async def test_release_consume_and_reallocate_keep_the_ledger_balanced(cloud: Cloud) -> None:
    network = await seed_network(cloud.client, cloud.admin)
    set_clock(cloud, OPEN_HOURS)
    await receive(cloud, FW_XUHUI, WATER, 10)
    await receive(cloud, FW_XUHUI, MILK, 4)
    token = network.channel_tokens["app"]
    first = (await place(cloud, token, app_order("R-1", [(WATER, 3), (MILK, 1)]))).json()
    second = (await place(cloud, token, app_order("R-2", [(WATER, 2)]))).json()
    assert first["status"] == second["status"] == "allocated"
    assert (await levels(cloud.database))[(FW_XUHUI, WATER)] == (10, 5, 0)
    async with cloud.database.sessions.begin() as session:
        released = await release_order(
            session=session, order_id=first["order_id"], now=NOW, actor="ops"
        )
        assert released == [Pick(FW_XUHUI, MILK, 1), Pick(FW_XUHUI, WATER, 3)]
        # a second release finds nothing held: no change, no movement
        assert (
            await release_order(session=session, order_id=first["order_id"], now=NOW, actor="ops")
            == []
        )
        consumed = await consume_order(
            session=session, order_id=second["order_id"], now=NOW, actor="ops"
        )
        assert consumed == [Pick(FW_XUHUI, WATER, 2)]
    balances = await levels(cloud.database)
    assert balances[(FW_XUHUI, WATER)] == (8, 0, 0)
    assert balances[(FW_XUHUI, MILK)] == (4, 0, 0)
    # re-allocate the released order (a modification): later keys carry the generation
    async with cloud.database.sessions.begin() as session:
        order = await session.get(Order, first["order_id"])
        assert order is not None
        lines = (
            await session.scalars(select(OrderLine).where(OrderLine.order_id == order.id))
        ).all()
        decision = await allocate_order(
            session=session, order=order, lines=lines, now=NOW, actor="app"
        )
        assert decision.outcome == "single" and decision.node_ids == [FW_XUHUI]
    async with cloud.database.sessions.begin() as session:
        again = await release_order(session=session, order_id=first["order_id"], now=NOW, actor="x")
        assert len(again) == 2
        keys = set(
            (
                await session.scalars(
                    select(StockMovement.idempotency_key).where(
                        StockMovement.source_ref == first["order_id"]
                    )
                )
            ).all()
        )
    oid = first["order_id"]
    assert keys == {
        f"order:{oid}:{action}:{FW_XUHUI}:{sku}{suffix}"
        for action in ("reserve", "release")
        for sku in (WATER, MILK)
        for suffix in ("", ":2")
    }
    # a basket that cannot be reserved whole leaves no partial reservation behind
    async with cloud.database.sessions.begin() as session:
        lacking = await reserve_lines(
            session=session,
            order_id=first["order_id"],
            picks=[Pick(FW_XUHUI, WATER, 2), Pick(FW_XUHUI, MILK, 5)],
            now=NOW,
            actor="test",
        )
        assert lacking == Pick(FW_XUHUI, MILK, 5)
    assert (await levels(cloud.database))[(FW_XUHUI, WATER)] == (8, 0, 0)
    await assert_ledger_balances(cloud.database)


async def test_split_over_two_nodes_when_no_single_node_has_the_basket(cloud: Cloud) -> None:
    network = await seed_network(cloud.client, cloud.admin)
    set_clock(cloud, OPEN_HOURS)
    # Near the Lujiazui store (milk, 2 km radius) and the DC (water, 60 km): neither has the
    # whole basket, so a same-day order is split over both.
    await receive(cloud, STORE_LUJIAZUI, MILK, 3)
    await receive(cloud, DC, WATER, 3)
    response = await place(
        cloud,
        network.channel_tokens["app"],
        app_order("SP-1", [(MILK, 2), (WATER, 2)], at=LUJIAZUI_OFFICE, promise="same_day"),
    )
    body = response.json()
    assert response.status_code == 201, body
    assert body["allocation"]["outcome"] == "split"
    assert body["nodes"] == sorted([DC, STORE_LUJIAZUI])
    assert [(line["sku_id"], line["node_id"]) for line in body["lines"]] == [
        (MILK, STORE_LUJIAZUI),
        (WATER, DC),
    ]
    async with cloud.database.sessions() as session:
        decision = await session.scalar(select(AllocationDecision))
        assert decision is not None and decision.outcome == "split"
    await assert_ledger_balances(cloud.database)


async def test_atp_lists_candidates_with_figures_and_reserves_nothing(cloud: Cloud) -> None:
    network = await seed_network(cloud.client, cloud.admin)
    await receive(cloud, FW_XUHUI, MILK, 3)
    await receive(cloud, DC, MILK, 50)
    set_clock(cloud, BEFORE_OPENING)  # 05:00 in Shanghai: the front warehouse opens at 07:00
    body = {"lat": XUHUI_HOME[0], "lon": XUHUI_HOME[1], "lines": [{"sku_ref": MILK, "quantity": 2}]}
    response = await cloud.client.post(
        "/api/v1/atp", json=body, headers=cloud.auth(network.channel_tokens["app"])
    )
    assert response.status_code == 200, response.text
    result = response.json()
    by_node = {c["node_id"]: c for c in result["candidates"]}
    assert set(by_node) == {FW_XUHUI, DC}
    near = by_node[FW_XUHUI]
    assert near["open"] is False and near["has_stock"] is True
    assert near["ready_at"].startswith("2026-11-24T23:00:00")
    assert near["eta_min"] > 120 and near["verdict"] == "too_slow_for_promise"
    assert near["meets"] == ["same_day", "next_day"]
    assert by_node[DC]["available"] == {MILK: 50}
    assert [(o["outcome"], o["promise_class"], o["node_ids"]) for o in result["options"]] == [
        ("slower_promise", "same_day", [FW_XUHUI]),
        ("slower_promise", "same_day", [DC]),
    ]
    unknown = await cloud.client.post(
        "/api/v1/atp",
        json={**body, "lines": [{"sku_ref": MILK, "quantity": 1}, {"sku_ref": "x", "quantity": 1}]},
        headers=cloud.auth(cloud.operator),
    )
    assert unknown.status_code == 422
    assert "lines[1].sku_ref" in unknown.json()["error"]["message"]
    refused = await cloud.client.post("/api/v1/atp", json=body, headers=cloud.auth(cloud.warehouse))
    assert refused.status_code == 403
    assert (await levels(cloud.database))[(FW_XUHUI, MILK)] == (3, 0, 0)
