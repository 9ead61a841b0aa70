"""Never oversell: 50 concurrent clients race for the last units through a real ``retailedge
cloud serve`` (uvicorn on an ephemeral port), on SQLite and on PostgreSQL. Exactly the units
in stock are reserved — no more — and the ledger balances to the unit."""

from __future__ import annotations

import asyncio
from collections import Counter
from functools import partial
from pathlib import Path

import httpx
import pytest

from cloud.db import Database
from cloud.services.users import create_user_in
from retailedge.processes import Child, free_port, retailedge_command, start_child
from tests.cloud.allocation.helpers import XUHUI_HOME, app_order, assert_ledger_balances, levels
from tests.cloud.domain_seed import DC, FW_XUHUI, WATER, seed_network
from tests.integration.cluster import stop_gently, wait_until

pytestmark = pytest.mark.integration

CLIENTS = 50
LAST_UNITS_NEAR = 10  # at the front warehouse next door
LAST_UNITS_DC = 5  # at the regional DC, a slower promise


async def _race(urls: list[str], admin_key: str) -> tuple[Counter[str], Counter[str]]:
    """Seed through the first server; client n places its order through server n mod len."""
    async with httpx.AsyncClient(base_url=urls[0], timeout=60.0) as client:
        network = await seed_network(client, admin_key, warehouse_user=None)
        headers = {"Authorization": f"Bearer {admin_key}"}
        for node, units in ((FW_XUHUI, LAST_UNITS_NEAR), (DC, LAST_UNITS_DC)):
            response = await client.post(
                "/api/v1/stock/movements",
                json={
                    "node_id": node,
                    "sku_id": WATER,
                    "kind": "receive",
                    "quantity": units,
                    "idempotency_key": f"race-stock:{node}",
                },
                headers=headers,
            )
            assert response.status_code == 201, response.text
    token = network.channel_tokens["app"]
    start = asyncio.Event()
    limits = httpx.Limits(max_connections=CLIENTS, max_keepalive_connections=CLIENTS)

    async def one(client: httpx.AsyncClient, number: int) -> tuple[str, str]:
        await start.wait()
        response = await client.post(
            "/api/v1/orders",
            params={"channel": "app"},
            json=app_order(f"RACE-{number:03d}", [(WATER, 1)], at=XUHUI_HOME),
            headers={"Authorization": f"Bearer {token}"},
        )
        assert response.status_code == 201, response.text
        body = response.json()
        return body["status"], ",".join(body["nodes"])

    clients = [httpx.AsyncClient(base_url=url, timeout=60.0, limits=limits) for url in urls]
    try:
        tasks = [asyncio.create_task(one(clients[n % len(clients)], n)) for n in range(CLIENTS)]
        await asyncio.sleep(0.2)
        start.set()
        results = await asyncio.gather(*tasks)
    finally:
        for client in clients:
            await client.aclose()
    return Counter(status for status, _ in results), Counter(nodes for _, nodes in results)


def _up(child: Child, url: str) -> bool:
    child.ensure_running()
    return _serving(url)


def _serving(url: str) -> bool:
    try:
        return httpx.get(f"{url}/healthz", timeout=1.0).status_code == 200
    except httpx.TransportError:
        return False


async def _check_ledger(url: str) -> None:
    database = Database(url)
    try:
        balances = await levels(database)
        assert balances[(FW_XUHUI, WATER)] == (LAST_UNITS_NEAR, LAST_UNITS_NEAR, 0)
        assert balances[(DC, WATER)] == (LAST_UNITS_DC, LAST_UNITS_DC, 0)
        await assert_ledger_balances(database)
    finally:
        await database.dispose()


@pytest.mark.parametrize(
    ("backend", "servers"), [("sqlite", 1), ("postgresql", 1), ("postgresql", 2)]
)
def test_fifty_clients_race_for_the_last_units(
    backend: str, servers: int, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """With two servers on one PostgreSQL database, each batches its own orders and reads
    stock the other is reserving: only the conditional reservations keep the count exact."""
    if backend == "sqlite":
        database_url = f"sqlite+aiosqlite:///{tmp_path / 'cloud.db'}"
    else:
        database_url = request.getfixturevalue("postgres_url")
    children = []
    urls = []
    try:
        for number in range(servers):
            # serve migrates the database before it listens; the second waits for the first
            port = free_port()
            url = f"http://127.0.0.1:{port}"
            folder = tmp_path / f"cloud-{number}"
            folder.mkdir()
            child = start_child(
                f"cloud-{number}",
                retailedge_command(
                    "cloud",
                    "serve",
                    "--port",
                    str(port),
                    "--database-url",
                    database_url,
                    "--data-dir",
                    str(folder),
                ),
                folder / "cloud.log",
            )
            children.append(child)
            up = partial(_up, child, url)
            wait_until(up, 60, "cloud /healthz")
            urls.append(url)
        admin = asyncio.run(create_user_in(database_url, name="root", role="admin"))
        statuses, nodes = asyncio.run(_race(urls, admin))
    finally:
        for child in children:
            stop_gently(child)
    sold = LAST_UNITS_NEAR + LAST_UNITS_DC
    assert statuses == {"allocated": sold, "failed": CLIENTS - sold}
    assert nodes == {FW_XUHUI: LAST_UNITS_NEAR, DC: LAST_UNITS_DC, "": CLIENTS - sold}
    asyncio.run(_check_ledger(database_url))
