"""Helpers for the order lifecycle tests: a seeded network with stock and a placed order."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
from sqlalchemy import select

from cloud.order_models import WebhookDelivery
from tests.cloud.allocation.helpers import OPEN_HOURS, app_order, place, receive, set_clock
from tests.cloud.cloud_helpers import Cloud
from tests.cloud.domain_seed import (
    DC,
    FW_XUHUI,
    MILK,
    STORE_LUJIAZUI,
    WATER,
    SeedNetwork,
    seed_network,
)


@dataclass(frozen=True)
class Placed:
    network: SeedNetwork
    order_id: str
    body: dict[str, Any]

    def token(self, channel: str) -> str:
        return self.network.channel_tokens[channel]


async def seeded_with_stock(cloud: Cloud) -> SeedNetwork:
    """The seed network at 10:00 Shanghai time with water and milk at Xuhui, Lujiazui, DC."""
    network = await seed_network(cloud.client, cloud.admin)
    set_clock(cloud, OPEN_HOURS)
    for node, quantity in ((FW_XUHUI, 10), (STORE_LUJIAZUI, 10), (DC, 100)):
        await receive(cloud, node, WATER, quantity)
        await receive(cloud, node, MILK, quantity)
    return network


async def place_app_order(
    cloud: Cloud,
    network: SeedNetwork,
    external_id: str,
    lines: list[tuple[str, int]],
    **kwargs: Any,
) -> Placed:
    response = await place(
        cloud, network.channel_tokens["app"], app_order(external_id, lines, **kwargs)
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["status"] == "allocated", body
    return Placed(network, body["order_id"], body)


async def set_status(
    cloud: Cloud, token: str, order_id: str, status: str, reason: str | None = None
) -> httpx.Response:
    return await cloud.client.post(
        f"/api/v1/orders/{order_id}/status",
        json={"status": status, "reason": reason},
        headers=cloud.auth(token),
    )


async def webhook_payloads(cloud: Cloud, order_id: str) -> list[dict[str, Any]]:
    async with cloud.database.sessions() as session:
        rows = await session.scalars(
            select(WebhookDelivery)
            .where(WebhookDelivery.order_id == order_id)
            .order_by(WebhookDelivery.id)
        )
        return [dict(row.payload) for row in rows]
