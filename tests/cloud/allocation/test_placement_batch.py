"""The batch writer (SQLite and PostgreSQL) reserves in memory and applies one conditional
UPDATE per (node, SKU): orders of one batch share the stock exactly, and if the database does
not hold what the batch read, the guard refuses, the batch rolls back and its orders are placed
again one by one."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import Connection

from cloud.services import placement_batch
from tests.cloud.allocation.helpers import (
    OPEN_HOURS,
    app_order,
    assert_ledger_balances,
    levels,
    place,
    receive,
    set_clock,
)
from tests.cloud.cloud_helpers import Cloud
from tests.cloud.domain_seed import DC, FW_XUHUI, MILK, WATER, seed_network


async def test_one_batch_shares_the_stock_to_the_unit(cloud: Cloud) -> None:
    network = await seed_network(cloud.client, cloud.admin)
    set_clock(cloud, OPEN_HOURS)
    await receive(cloud, FW_XUHUI, WATER, 5)
    await receive(cloud, DC, WATER, 4)
    token = network.channel_tokens["app"]
    responses = await asyncio.gather(
        *(place(cloud, token, app_order(f"BATCH-{n}", [(WATER, 2)])) for n in range(6))
    )
    assert [r.status_code for r in responses] == [201] * 6, [r.text for r in responses]
    bodies = [r.json() for r in responses]
    nodes = sorted(tuple(b["nodes"]) for b in bodies if b["status"] == "allocated")
    # 5 units at the front warehouse serve two orders of 2, the DC's 4 two more; two fail.
    assert nodes == [(DC,), (DC,), (FW_XUHUI,), (FW_XUHUI,)]
    assert sum(1 for b in bodies if b["status"] == "failed") == 2
    balances = await levels(cloud.database)
    assert balances[(FW_XUHUI, WATER)] == (5, 4, 0)
    assert balances[(DC, WATER)] == (4, 4, 0)
    await assert_ledger_balances(cloud.database)


async def test_stock_read_wrong_is_caught_by_the_conditional_update(
    cloud: Cloud, monkeypatch: pytest.MonkeyPatch
) -> None:
    network = await seed_network(cloud.client, cloud.admin)
    set_clock(cloud, OPEN_HOURS)
    await receive(cloud, FW_XUHUI, WATER, 2)
    await receive(cloud, FW_XUHUI, MILK, 5)
    await receive(cloud, DC, WATER, 10)
    await receive(cloud, DC, MILK, 10)
    read = placement_batch._stock
    refused: list[int] = []

    def inflated(connection: Connection, jobs: Any) -> dict[tuple[str, str], int]:
        # The batch believes the front warehouse has 5 more than it has.
        stock = read(connection, jobs)
        stock[(FW_XUHUI, WATER)] = stock.get((FW_XUHUI, WATER), 0) + 5
        return stock

    apply = placement_batch._apply_reservations

    def counted(connection: Connection, totals: Any, now: Any) -> None:
        try:
            apply(connection, totals, now)
        except placement_batch.StockMoved:
            refused.append(1)
            raise

    monkeypatch.setattr(placement_batch, "_stock", inflated)
    monkeypatch.setattr(placement_batch, "_apply_reservations", counted)
    response = await place(cloud, network.channel_tokens["app"], app_order("MOVED-1", [(WATER, 3)]))
    assert response.status_code == 201, response.text
    body = response.json()
    # Placed again outside the batch, against the real stock: the DC serves it.
    assert body["status"] == "allocated" and body["nodes"] == [DC]
    assert refused == [1]  # the batch path ran and its guard refused
    balances = await levels(cloud.database)
    assert balances[(FW_XUHUI, WATER)] == (2, 0, 0)
    assert balances[(DC, WATER)] == (10, 3, 0)
    await assert_ledger_balances(cloud.database)
