"""Helpers for the allocation tests: a fixed clock, stock receipts, app payloads, ledger checks."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select

from cloud.db import Database
from cloud.stock_models import Reservation, StockLevel, StockMovement
from tests.cloud.cloud_helpers import Cloud

# 10:00 in Shanghai on a Wednesday: every node of the seed network is open.
OPEN_HOURS = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)
# 05:00 in Shanghai: front warehouses open at 07:00, stores at 08:00.
BEFORE_OPENING = datetime(2026, 11, 24, 21, 0, tzinfo=UTC)

# A flat near the Xuhui front warehouse (3 km radius) and the DC's 60 km radius.
XUHUI_HOME = (31.1900, 121.4380)
# Near the Lujiazui store (2 km) and the DC.
LUJIAZUI_OFFICE = (31.2350, 121.5080)
# Hangzhou: no node delivers there.
HANGZHOU = (30.2741, 120.1551)


def set_clock(cloud: Cloud, moment: datetime) -> None:
    """Fix the time the placement and ATP routes see."""
    app = cloud.client._transport.app  # type: ignore[attr-defined]
    app.state.clock = lambda: moment


async def receive(cloud: Cloud, node_id: str, sku_id: str, quantity: int, key: str = "") -> None:
    response = await cloud.client.post(
        "/api/v1/stock/movements",
        json={
            "node_id": node_id,
            "sku_id": sku_id,
            "kind": "receive",
            "quantity": quantity,
            "idempotency_key": key or f"test-receive:{node_id}:{sku_id}:{quantity}",
        },
        headers=cloud.auth(cloud.admin),
    )
    assert response.status_code == 201, response.text


def app_order(
    external_id: str,
    lines: list[tuple[str, int]],
    *,
    at: tuple[float, float] = XUHUI_HOME,
    member_id: str | None = None,
    promise: str | None = None,
) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "external_id": external_id,
        "recipient": {"name": "王芳", "phone": "13800138000"},
        "delivery": {"address": "上海市徐汇区漕溪北路88号", "lat": at[0], "lon": at[1]},
        "lines": [
            {"sku": sku, "quantity": quantity, "unit_price_cents": 1290} for sku, quantity in lines
        ],
    }
    if member_id is not None:
        payload["member_id"] = member_id
    if promise is not None:
        payload["promise"] = promise
    return payload


async def place(cloud: Cloud, token: str, payload: dict[str, Any], channel: str = "app") -> Any:
    return await cloud.client.post(
        "/api/v1/orders", params={"channel": channel}, json=payload, headers=cloud.auth(token)
    )


async def levels(database: Database) -> dict[tuple[str, str], tuple[int, int, int]]:
    async with database.sessions() as session:
        rows = await session.execute(
            select(
                StockLevel.node_id,
                StockLevel.sku_id,
                StockLevel.on_hand,
                StockLevel.reserved,
                StockLevel.on_hold,
            )
        )
        return {(n, s): (h, r, o) for n, s, h, r, o in rows}


async def assert_ledger_balances(database: Database) -> None:
    """Movements sum to every balance; reserved equals the held reservations."""
    async with database.sessions() as session:
        sums = {
            (n, s): (int(h), int(r), int(o))
            for n, s, h, r, o in await session.execute(
                select(
                    StockMovement.node_id,
                    StockMovement.sku_id,
                    func.sum(StockMovement.delta_on_hand),
                    func.sum(StockMovement.delta_reserved),
                    func.sum(StockMovement.delta_on_hold),
                ).group_by(StockMovement.node_id, StockMovement.sku_id)
            )
        }
        held = {
            (n, s): int(q)
            for n, s, q in await session.execute(
                select(Reservation.node_id, Reservation.sku_id, func.sum(Reservation.quantity))
                .where(Reservation.state == "held")
                .group_by(Reservation.node_id, Reservation.sku_id)
            )
        }
    balances = await levels(database)
    for key, (on_hand, reserved, on_hold) in balances.items():
        assert sums.get(key, (0, 0, 0)) == (on_hand, reserved, on_hold), key
        assert held.get(key, 0) == reserved, key
    assert set(held) <= set(balances)
