"""The cloud's HTTP API as a live fleet run uses it: an admin's calls (catalogue reads, couriers,
keys, stock, dispatch reads), a channel's order placement, and a rider app's calls."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

import httpx

PAGE: Final = 500
MAX_TASKS: Final = 5000


class CloudApiError(RuntimeError):
    """The cloud refused a call the run cannot do without; the message says which and why."""


def _checked(response: httpx.Response, what: str, *ok: int) -> Any:
    if response.status_code not in (ok or (200,)):
        raise CloudApiError(f"{what}: HTTP {response.status_code}: {response.text[:500]}")
    return response.json()


def _bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


class AdminApi:
    """Calls made with an admin key (an operator key does for all but creating keys)."""

    def __init__(self, client: httpx.AsyncClient, key: str) -> None:
        self.client = client
        self.headers = _bearer(key)

    async def _get(self, url: str, **params: Any) -> Any:
        return _checked(await self.client.get(url, params=params, headers=self.headers), url)

    async def _pages(self, url: str, **params: Any) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        offset: int | None = 0
        while offset is not None:
            page = await self._get(url, limit=PAGE, offset=offset, **params)
            items += page["items"]
            offset = page["next_offset"]
        return items

    async def nodes(self) -> list[dict[str, Any]]:
        return await self._pages("/api/v1/nodes", active=True)

    async def put_node(self, node: Mapping[str, Any]) -> None:
        url = f"/api/v1/nodes/{node['id']}"
        _checked(await self.client.put(url, json=dict(node), headers=self.headers), url, 200, 201)

    async def skus(self) -> list[dict[str, Any]]:
        return await self._pages("/api/v1/skus", active=True)

    async def channels(self) -> list[dict[str, Any]]:
        return [c for c in await self._pages("/api/v1/channels") if c.get("active", True)]

    async def create_user(self, name: str, role: str) -> str:
        """A new user's API key."""
        body = {"name": name, "role": role}
        response = await self.client.post("/api/v1/users", json=body, headers=self.headers)
        key: str = _checked(response, f"creating the {role} user {name}", 201)["api_key"]
        return key

    async def register_courier(self, body: Mapping[str, Any]) -> dict[str, Any]:
        response = await self.client.post("/api/v1/couriers", json=dict(body), headers=self.headers)
        courier: dict[str, Any] = _checked(response, f"registering courier {body['id']}", 200, 201)
        return courier

    async def receive(self, node_id: str, sku_id: str, quantity: int, key: str) -> None:
        body = {"node_id": node_id, "sku_id": sku_id, "kind": "receive", "quantity": quantity}
        headers = {**self.headers, "Idempotency-Key": key}
        response = await self.client.post("/api/v1/stock/movements", json=body, headers=headers)
        _checked(response, f"receiving {sku_id} at {node_id}", 200, 201)

    async def stock(self, node_id: str) -> list[dict[str, Any]]:
        levels: list[dict[str, Any]] = await self._get("/api/v1/stock", node_id=node_id)
        return levels

    async def couriers(self) -> list[dict[str, Any]]:
        couriers: list[dict[str, Any]] = await self._get("/api/v1/couriers")
        return couriers

    async def tasks(self) -> list[dict[str, Any]]:
        """Every delivery task (up to 5,000) by promised time."""
        tasks: list[dict[str, Any]] = await self._get("/api/v1/dispatch/tasks", limit=MAX_TASKS)
        return tasks

    async def flags(self) -> list[dict[str, Any]]:
        flags: list[dict[str, Any]] = await self._get(
            "/api/v1/dispatch/flags", include_resolved=True, limit=1000
        )
        return flags

    async def order(self, order_id: str) -> dict[str, Any]:
        order: dict[str, Any] = await self._get(f"/api/v1/orders/{order_id}")
        return order


async def place_order(
    client: httpx.AsyncClient, channel: str, payload: Mapping[str, Any], key: str
) -> tuple[int, dict[str, Any]]:
    """``POST /api/v1/orders?channel=`` with the channel's key: the status and the answer."""
    response = await client.post(
        "/api/v1/orders", params={"channel": channel}, json=dict(payload), headers=_bearer(key)
    )
    body = response.json() if response.content else {}
    return response.status_code, body if isinstance(body, dict) else {}


class RiderApi:
    """The rider app of one courier (its key's name is the courier id)."""

    def __init__(self, client: httpx.AsyncClient, key: str) -> None:
        self.client = client
        self.headers = _bearer(key)

    async def tasks(self) -> list[dict[str, Any]]:
        response = await self.client.get("/api/v1/rider/tasks", headers=self.headers)
        tasks: list[dict[str, Any]] = _checked(response, "GET /api/v1/rider/tasks")
        return tasks

    async def step(
        self, task_id: str, step: str, body: Mapping[str, Any] | None = None
    ) -> tuple[int, dict[str, Any]]:
        """``POST /api/v1/rider/tasks/{id}/{step}``: the status and the task (or the error)."""
        response = await self.client.post(
            f"/api/v1/rider/tasks/{task_id}/{step}", json=dict(body or {}), headers=self.headers
        )
        answer = response.json() if response.content else {}
        return response.status_code, answer if isinstance(answer, dict) else {}
