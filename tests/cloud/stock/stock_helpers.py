"""Shared helpers of the stock tests: a seeded network with stock, ledger checks, records."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import func, select

from cloud.services.projector import ProjectionReport, project_pending
from cloud.stock_models import StockLevel, StockMovement
from firmware_bridge.epc_encode import encode_sgtin96, encode_sscc96
from firmware_bridge.gs1 import with_check_digit
from firmware_bridge.records import Record, Scan, ScanOperation
from tests.cloud.cloud_helpers import T0, Cloud, batch, wire
from tests.cloud.domain_seed import SeedNetwork, seed_network
from tests.cloud.test_cloud_api import ingest, result

# SGTIN-96 of the seed's mineral water (GTIN-13 6901234500014 = prefix 6901234 + item 50001).
WATER_PREFIX = "6901234"
WATER_ITEM_REF = "050001"  # indicator 0 + item reference
SSCC_SERIAL_REF = "0000000042"  # extension 0 + serial
PALLET_SSCC = with_check_digit("0" + WATER_PREFIX + "000000042")


def water_epc(serial: int) -> str:
    return encode_sgtin96(WATER_PREFIX, WATER_ITEM_REF, serial)


def pallet_epc() -> str:
    return encode_sscc96(WATER_PREFIX, SSCC_SERIAL_REF)


async def seeded(cloud: Cloud) -> SeedNetwork:
    """The shared Shanghai network plus one pallet manifest (SSCC): 48 water, 6 milk."""
    network = await seed_network(cloud.client, cloud.admin)
    response = await cloud.client.post(
        "/api/v1/catalogue/import",
        json={
            "kind": "manifests",
            "items": [
                {
                    "sscc": PALLET_SSCC,
                    "lines": [
                        {"sku_id": "sku-water-550-x24", "quantity": 2},
                        {"sku_id": "sku-milk-950", "quantity": 6},
                    ],
                }
            ],
        },
        headers=cloud.auth(cloud.admin),
    )
    assert response.status_code == 200, response.text
    return network


async def post_movement(
    cloud: Cloud, body: dict[str, Any], *, key: str | None = None, token: str | None = None
) -> httpx.Response:
    headers = cloud.auth(token or cloud.admin)
    if key is not None:
        headers["Idempotency-Key"] = key
    return await cloud.client.post("/api/v1/stock/movements", json=body, headers=headers)


async def receive(cloud: Cloud, node_id: str, sku_id: str, quantity: int, key: str) -> None:
    body = {"node_id": node_id, "sku_id": sku_id, "kind": "receive", "quantity": quantity}
    response = await post_movement(cloud, body, key=key)
    assert response.status_code == 201, response.text


async def level(cloud: Cloud, node_id: str, sku_id: str) -> dict[str, Any] | None:
    response = await cloud.client.get(
        "/api/v1/stock",
        params={"node_id": node_id, "sku_id": sku_id},
        headers=cloud.auth(cloud.admin),
    )
    assert response.status_code == 200, response.text
    rows: list[dict[str, Any]] = response.json()
    assert len(rows) <= 1
    return rows[0] if rows else None


async def balance(cloud: Cloud, node_id: str, sku_id: str) -> tuple[int, int, int, int]:
    """(on_hand, reserved, on_hold, available); zeros when there is no balance row."""
    row = await level(cloud, node_id, sku_id)
    if row is None:
        return (0, 0, 0, 0)
    return (row["on_hand"], row["reserved"], row["on_hold"], row["available"])


async def movements(cloud: Cloud, **params: Any) -> list[dict[str, Any]]:
    response = await cloud.client.get(
        "/api/v1/stock/movements",
        params={"limit": 1000, **params},
        headers=cloud.auth(cloud.admin),
    )
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def exceptions(cloud: Cloud) -> list[dict[str, Any]]:
    response = await cloud.client.get(
        "/api/v1/stock/exceptions", params={"limit": 1000}, headers=cloud.auth(cloud.operator)
    )
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def assert_ledger_balances(cloud: Cloud) -> None:
    """For every (node, SKU): the sums of the movement deltas equal the balance columns."""
    async with cloud.database.sessions() as session:
        sums = {
            (row.node_id, row.sku_id): (row.on_hand, row.reserved, row.on_hold)
            for row in (
                await session.execute(
                    select(
                        StockMovement.node_id,
                        StockMovement.sku_id,
                        func.sum(StockMovement.delta_on_hand).label("on_hand"),
                        func.sum(StockMovement.delta_reserved).label("reserved"),
                        func.sum(StockMovement.delta_on_hold).label("on_hold"),
                    ).group_by(StockMovement.node_id, StockMovement.sku_id)
                )
            ).all()
        }
        levels = {
            (row.node_id, row.sku_id): (row.on_hand, row.reserved, row.on_hold)
            for row in (await session.scalars(select(StockLevel))).all()
        }
    nonzero_levels = {key: value for key, value in levels.items() if value != (0, 0, 0)}
    assert {k: tuple(int(x) for x in v) for k, v in sums.items() if v != (0, 0, 0)} == (
        nonzero_levels
    )
    assert set(sums) <= set(levels)


def scan(operation: ScanOperation, code: str, quantity: int, location: str, minute: int) -> Scan:
    return Scan("hh-1", "op-7", operation, code, quantity, location, T0 + timedelta(minutes=minute))


async def send(cloud: Cloud, gateway: str, first_seq: int, records: list[Record]) -> None:
    """Ingest ``records`` as seqs first_seq.. through POST /api/v1/ingest (as ``gateway``)."""
    token = {"gw-a": cloud.gateway_a, "gw-b": cloud.gateway_b}[gateway]
    body = batch(
        gateway,
        first_seq,
        first_seq + len(records) - 1,
        [wire(record, first_seq + i) for i, record in enumerate(records)],
    )
    outcome = result(await ingest(cloud, body, token))
    assert outcome["rejected"] == [], outcome
    assert outcome["ack_seq"] == first_seq + len(records) - 1


async def project(cloud: Cloud, batch_size: int = 200) -> ProjectionReport:
    return await project_pending(cloud.database, batch_size=batch_size)
