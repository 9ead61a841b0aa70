"""Manual movements, idempotency, listings, warehouse scope and transfers, on SQLite and
PostgreSQL."""

from __future__ import annotations

from tests.cloud.cloud_helpers import Cloud
from tests.cloud.domain_seed import DC, FW_XUHUI, FW_ZHANGJIANG, MILK, WATER, WATER_CASE
from tests.cloud.stock.stock_helpers import (
    assert_ledger_balances,
    balance,
    movements,
    post_movement,
    receive,
    seeded,
)
from tests.cloud.test_cloud_api import error


async def test_receive_replay_and_conflict(cloud: Cloud) -> None:
    await seeded(cloud)
    body = {"node_id": FW_XUHUI, "sku_id": WATER, "kind": "receive", "quantity": 10}
    first = await post_movement(cloud, body, key="rcv-1")
    assert first.status_code == 201, first.text
    assert first.headers["Idempotent-Replayed"] == "false"
    movement = first.json()
    assert {k: movement[k] for k in ("kind", "delta_on_hand", "source", "source_ref", "actor")} == {
        "kind": "receive",
        "delta_on_hand": 10,
        "source": "manual",
        "source_ref": "rcv-1",
        "actor": "admin",
    }
    # The same key and content, as a body field this time: the same answer, nothing changes.
    again = await post_movement(cloud, {**body, "idempotency_key": "rcv-1"})
    assert again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == movement
    assert await balance(cloud, FW_XUHUI, WATER) == (10, 0, 0, 10)
    # The same key with other content is a conflict and changes nothing.
    conflict = await post_movement(cloud, {**body, "quantity": 11}, key="rcv-1")
    assert conflict.status_code == 409
    assert conflict.json()["error"]["code"] == "idempotency_conflict"
    assert await balance(cloud, FW_XUHUI, WATER) == (10, 0, 0, 10)
    # A case of 24 is booked as units of its pack_of SKU.
    case = {**body, "sku_id": WATER_CASE, "quantity": 2}
    assert (await post_movement(cloud, case, key="rcv-2")).json()["sku_id"] == WATER
    assert await balance(cloud, FW_XUHUI, WATER) == (58, 0, 0, 58)
    await assert_ledger_balances(cloud)


async def test_adjust_count_and_bad_input(cloud: Cloud) -> None:
    await seeded(cloud)
    await receive(cloud, FW_XUHUI, MILK, 10, "m-1")
    adjust = {"node_id": FW_XUHUI, "sku_id": MILK, "kind": "adjust", "quantity": -3}
    assert (await post_movement(cloud, adjust, key="adj-1")).json()["delta_on_hand"] == -3
    too_much = await post_movement(cloud, {**adjust, "quantity": -8}, key="adj-2")
    assert too_much.status_code == 409
    assert too_much.json()["error"]["code"] == "insufficient_stock"
    assert too_much.json()["error"]["message"].startswith("quantity: count_adjust of 8")
    count = {"node_id": FW_XUHUI, "sku_id": MILK, "kind": "count", "quantity": 4}
    counted = await post_movement(cloud, count, key="cnt-1")
    assert (counted.json()["kind"], counted.json()["delta_on_hand"]) == ("count_adjust", -3)
    assert await balance(cloud, FW_XUHUI, MILK) == (4, 0, 0, 4)
    # Replaying the count does not count again, even though the balance is now 4.
    assert (await post_movement(cloud, count, key="cnt-1")).json() == counted.json()
    assert await balance(cloud, FW_XUHUI, MILK) == (4, 0, 0, 4)
    missing_key = await post_movement(cloud, count)
    assert missing_key.status_code == 422
    assert missing_key.json()["error"]["message"].startswith("idempotency_key: send")
    unknown = await post_movement(cloud, {**count, "sku_id": "sku-nope"}, key="x-1")
    assert unknown.json() == error("unknown_sku", "sku_id: no SKU 'sku-nope'")
    no_node = await post_movement(cloud, {**count, "node_id": "nowhere"}, key="x-2")
    assert no_node.json() == error("unknown_node", "node_id: no node 'nowhere'")
    zero = await post_movement(cloud, {**adjust, "quantity": 0}, key="x-3")
    assert zero.status_code == 422
    assert "quantity: an adjustment of 0" in zero.json()["error"]["message"]
    absurd = await post_movement(cloud, {**adjust, "quantity": 10**9}, key="x-4")
    assert absurd.status_code == 422
    assert "quantity" in absurd.json()["error"]["message"]
    await assert_ledger_balances(cloud)


async def test_listings_and_warehouse_scope(cloud: Cloud) -> None:
    await seeded(cloud)
    await receive(cloud, FW_XUHUI, WATER, 5, "a")
    await receive(cloud, FW_ZHANGJIANG, WATER, 7, "b")
    await receive(cloud, FW_XUHUI, MILK, 2, "c")
    # The warehouse user works at Xuhui only: sees and moves stock there, nowhere else.
    mine = await cloud.client.get("/api/v1/stock", headers=cloud.auth(cloud.warehouse))
    assert [(r["node_id"], r["sku_id"], r["on_hand"]) for r in mine.json()] == [
        (FW_XUHUI, MILK, 2),
        (FW_XUHUI, WATER, 5),
    ]
    assert mine.json()[0]["zone_id"] == f"{FW_XUHUI}-chilled"
    other = await cloud.client.get(
        "/api/v1/stock", params={"node_id": FW_ZHANGJIANG}, headers=cloud.auth(cloud.warehouse)
    )
    assert other.status_code == 403
    assert other.json()["error"]["code"] == "node_out_of_scope"
    body = {"node_id": FW_ZHANGJIANG, "sku_id": WATER, "kind": "receive", "quantity": 1}
    refused = await post_movement(cloud, body, key="w-1", token=cloud.warehouse)
    assert refused.status_code == 403
    assert refused.json()["error"]["message"] == (
        f"node_id: 'warehouse' does not work at '{FW_ZHANGJIANG}'"
    )
    allowed = await post_movement(
        cloud, {**body, "node_id": FW_XUHUI}, key="w-2", token=cloud.warehouse
    )
    assert allowed.json()["actor"] == "warehouse"
    wh_moves = await cloud.client.get(
        "/api/v1/stock/movements", headers=cloud.auth(cloud.warehouse)
    )
    assert {m["node_id"] for m in wh_moves.json()["items"]} == {FW_XUHUI}
    # Movements page by id.
    page = await cloud.client.get(
        "/api/v1/stock/movements", params={"limit": 2}, headers=cloud.auth(cloud.operator)
    )
    first = page.json()
    assert len(first["items"]) == 2
    rest = await movements(cloud, after=first["next_after"])
    assert [m["source_ref"] for m in first["items"] + rest] == ["a", "b", "c", "w-2"]
    assert (await movements(cloud, after=rest[-1]["id"])) == []
    assert [m["source_ref"] for m in await movements(cloud, sku_id=MILK)] == ["c"]
    # Exceptions are for admin and operator only.
    forbidden = await cloud.client.get(
        "/api/v1/stock/exceptions", headers=cloud.auth(cloud.warehouse)
    )
    assert forbidden.status_code == 403


async def test_transfer_out_now_in_on_receive_once(cloud: Cloud) -> None:
    await seeded(cloud)
    await receive(cloud, DC, WATER, 30, "dc-1")
    url = "/api/v1/stock/transfers"
    body = {
        "from_node_id": DC,
        "to_node_id": FW_XUHUI,
        "lines": [{"sku_id": WATER, "quantity": 20}, {"sku_id": WATER_CASE, "quantity": 1}],
    }
    headers = {**cloud.auth(cloud.operator), "Idempotency-Key": "tr-1"}
    # 20 + 24 units are more than the 30 at the DC: nothing moves.
    short = await cloud.client.post(url, json=body, headers=headers)
    assert short.status_code == 409
    assert short.json()["error"]["code"] == "insufficient_stock"
    assert await balance(cloud, DC, WATER) == (30, 0, 0, 30)
    body["lines"] = [{"sku_id": WATER, "quantity": 20}]
    created = await cloud.client.post(url, json=body, headers=headers)
    assert created.status_code == 201, created.text
    transfer = created.json()
    assert (transfer["status"], transfer["lines"]) == (
        "in_transit",
        [{"sku_id": WATER, "quantity": 20}],
    )
    assert await balance(cloud, DC, WATER) == (10, 0, 0, 10)
    assert await balance(cloud, FW_XUHUI, WATER) == (0, 0, 0, 0)
    replay = await cloud.client.post(url, json=body, headers=headers)
    assert (replay.json(), replay.headers["Idempotent-Replayed"]) == (transfer, "true")
    other = await cloud.client.post(url, json={**body, "to_node_id": DC}, headers=headers)
    assert other.status_code == 422  # same node twice
    conflict = await cloud.client.post(
        url, json={**body, "to_node_id": FW_ZHANGJIANG}, headers=headers
    )
    assert conflict.json()["error"]["code"] == "idempotency_conflict"
    # The warehouse user works at Xuhui, the receiving node, so may receive it.
    received = await cloud.client.post(
        f"{url}/{transfer['id']}/receive", headers=cloud.auth(cloud.warehouse)
    )
    assert received.status_code == 200, received.text
    assert (received.json()["status"], received.json()["received_by"]) == ("received", "warehouse")
    assert await balance(cloud, FW_XUHUI, WATER) == (20, 0, 0, 20)
    twice = await cloud.client.post(
        f"{url}/{transfer['id']}/receive", headers=cloud.auth(cloud.admin)
    )
    assert twice.status_code == 409
    assert twice.json()["error"]["code"] == "transfer_already_received"
    assert await balance(cloud, FW_XUHUI, WATER) == (20, 0, 0, 20)
    kinds = [(m["node_id"], m["kind"], m["delta_on_hand"]) for m in await movements(cloud)]
    assert kinds[-2:] == [(DC, "transfer_out", -20), (FW_XUHUI, "transfer_in", 20)]
    # The warehouse user may not send from the DC.
    refused = await cloud.client.post(
        url, json=body, headers={**cloud.auth(cloud.warehouse), "Idempotency-Key": "tr-2"}
    )
    assert refused.json()["error"]["code"] == "node_out_of_scope"
    await assert_ledger_balances(cloud)
