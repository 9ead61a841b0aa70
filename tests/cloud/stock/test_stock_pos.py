"""The POS endpoint: sales and returns, case GTINs, replay, conflicts, unknown SKUs, scope."""

from __future__ import annotations

from typing import Any

from tests.cloud.cloud_helpers import Cloud
from tests.cloud.domain_seed import FW_XUHUI, MILK, STORE_LUJIAZUI, WATER, WATER_CASE
from tests.cloud.stock.stock_helpers import assert_ledger_balances, balance, receive, seeded
from tests.cloud.test_cloud_api import error

URL = "/api/v1/pos/sales"


async def test_pos_sales_returns_replay_and_refusals(cloud: Cloud) -> None:
    network = await seeded(cloud)
    await receive(cloud, STORE_LUJIAZUI, WATER, 60, "st-1")
    await receive(cloud, STORE_LUJIAZUI, MILK, 5, "st-2")
    headers = cloud.auth(cloud.admin)
    case_gtin = network.skus[WATER_CASE]["gtin"]
    receipt: dict[str, Any] = {
        "store_id": STORE_LUJIAZUI,
        "receipt_id": "R-0001",
        "sold_at": "2025-03-01T10:15:00Z",
        "lines": [
            {"sku_id": WATER, "quantity": 3},
            {"gtin": case_gtin, "quantity": 1},
            {"gtin": network.skus[MILK]["gtin"][1:], "quantity": 1, "kind": "return"},
        ],
    }
    sold = await cloud.client.post(URL, json=receipt, headers=headers)
    assert sold.status_code == 201, sold.text
    assert sold.headers["Idempotent-Replayed"] == "false"
    booked = [
        (m["idempotency_key"], m["sku_id"], m["kind"], m["delta_on_hand"], m["source"])
        for m in sold.json()["movements"]
    ]
    assert booked == [
        (f"pos:{STORE_LUJIAZUI}:R-0001:1", WATER, "pos_sale", -3, "pos"),
        (f"pos:{STORE_LUJIAZUI}:R-0001:2", WATER, "pos_sale", -24, "pos"),
        (f"pos:{STORE_LUJIAZUI}:R-0001:3", MILK, "pos_return", 1, "pos"),
    ]
    assert await balance(cloud, STORE_LUJIAZUI, WATER) == (33, 0, 0, 33)
    assert await balance(cloud, STORE_LUJIAZUI, MILK) == (6, 0, 0, 6)
    replay = await cloud.client.post(URL, json=receipt, headers=headers)
    assert (replay.status_code, replay.headers["Idempotent-Replayed"]) == (201, "true")
    assert replay.json() == sold.json()
    assert await balance(cloud, STORE_LUJIAZUI, WATER) == (33, 0, 0, 33)
    changed = {**receipt, "lines": [{"sku_id": WATER, "quantity": 4}]}
    conflict = await cloud.client.post(URL, json=changed, headers=headers)
    assert conflict.status_code == 409
    assert conflict.json()["error"]["code"] == "idempotency_conflict"
    assert "receipt_id: receipt 'R-0001'" in conflict.json()["error"]["message"]

    # Unknown SKU: 422 naming the line; nothing of the receipt is booked.
    unknown = {
        "store_id": STORE_LUJIAZUI,
        "receipt_id": "R-0002",
        "lines": [{"sku_id": WATER, "quantity": 1}, {"gtin": "6901234599992", "quantity": 1}],
    }
    response = await cloud.client.post(URL, json=unknown, headers=headers)
    assert response.json() == error("unknown_sku", "lines[1].gtin: no SKU with GTIN 6901234599992")
    unknown["lines"][1] = {"sku_id": "sku-ghost", "quantity": 1}
    response = await cloud.client.post(URL, json=unknown, headers=headers)
    assert response.json() == error("unknown_sku", "lines[1].sku_id: no SKU 'sku-ghost'")
    unknown["lines"][1] = {"gtin": "6901234500012", "quantity": 1}
    response = await cloud.client.post(URL, json=unknown, headers=headers)
    assert response.json()["error"]["message"] == (
        "lines[1].gtin: '6901234500012' is not a valid GTIN"
    )
    # More than the shelf holds: 409 naming the line, and the first line is rolled back.
    greedy = {
        "store_id": STORE_LUJIAZUI,
        "receipt_id": "R-0003",
        "lines": [{"sku_id": WATER, "quantity": 1}, {"sku_id": MILK, "quantity": 7}],
    }
    response = await cloud.client.post(URL, json=greedy, headers=headers)
    assert response.status_code == 409
    assert response.json()["error"]["message"].startswith("lines[1].quantity: pos_sale of 7")
    assert await balance(cloud, STORE_LUJIAZUI, WATER) == (33, 0, 0, 33)
    both = {**greedy, "lines": [{"sku_id": WATER, "gtin": network.skus[WATER]["gtin"]}]}
    assert (await cloud.client.post(URL, json=both, headers=headers)).status_code == 422
    # A front warehouse has no POS; the warehouse user does not work at this store; an
    # operator is not a POS.
    not_store = await cloud.client.post(URL, json={**greedy, "store_id": FW_XUHUI}, headers=headers)
    assert not_store.json() == error(
        "not_a_store", f"store_id: '{FW_XUHUI}' is a front_warehouse, not a store"
    )
    scoped = await cloud.client.post(URL, json=greedy, headers=cloud.auth(cloud.warehouse))
    assert scoped.json()["error"]["code"] == "node_out_of_scope"
    operator = await cloud.client.post(URL, json=greedy, headers=cloud.auth(cloud.operator))
    assert operator.status_code == 403
    assert operator.json()["error"]["code"] == "forbidden_role"
    await assert_ledger_balances(cloud)
