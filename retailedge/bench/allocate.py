"""``retailedge bench allocate``: orders/s through ``POST /api/v1/orders`` with concurrent
clients against a real ``retailedge cloud serve`` on an ephemeral port, on SQLite and/or
PostgreSQL, and the oversell count (units reserved beyond the stock seeded; must be 0).

Per backend: start the server on a fresh database (a temporary SQLite file, or a new
PostgreSQL database that is dropped afterwards) and seed through the API a DC and six
round-the-clock front warehouses around People's Square, 20 SKUs (fewer below 200 orders), an
app channel with its key, four members, and stock for about half of the demand at the front
warehouses and a quarter at the DC, so orders are allocated near, split, sent slower from the
DC, or refused as stock runs out. Then ``--clients`` keep-alive connections send ``--orders``
pre-rendered app payloads as fast as the server answers. The baseline, in the same run with the
same clients, is ``GET /healthz`` (one ``SELECT 1``). The load generator is a minimal HTTP/1.1
client on asyncio streams, so the figure measures the server rather than the client library.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import random
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from retailedge.bench.progress import Progress, ProgressBar
from retailedge.bench.stats import median
from retailedge.processes import Child, free_port, retailedge_command, start_child, wait_for_http
from simulators.order_payloads import app_payload, random_order

DEFAULT_POSTGRES_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
CENTER = (31.2304, 121.4737)
FRONT_WAREHOUSES = 6
SKU_COUNT = 20


def sku_count(orders: int) -> int:
    """20 SKUs for a real run; fewer for a small one, so seeding stays quick."""
    return max(4, min(SKU_COUNT, orders // 10))


CHANNEL = "bench-app"
MEMBERS = ("bm-vip", "bm-baby", "bm-freq", "bm-std")


# -- a minimal keep-alive HTTP/1.1 client (the load generator) --


class _Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, host: str, port: int) -> _Connection:
        reader, writer = await asyncio.open_connection(host, port)
        return cls(reader, writer)

    async def request(self, raw: bytes) -> tuple[int, bytes]:
        self.writer.write(raw)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        body = await self.reader.readexactly(length) if length else b""
        return status, body

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(OSError):
            await self.writer.wait_closed()


def _raw_request(method: str, path: str, token: str | None, body: bytes = b"") -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: bench", f"Content-Length: {len(body)}"]
    if body:
        lines.append("Content-Type: application/json")
    if token:
        lines.append(f"Authorization: Bearer {token}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def _blast(
    port: int, requests: list[bytes], clients: int, bar: ProgressBar | None = None
) -> tuple[float, list[tuple[int, bytes]]]:
    """Send ``requests`` over ``clients`` connections as fast as answered: (seconds, answers).
    A request whose connection fails is answered with status 0 (and the client reconnects).
    ``bar`` counts the answers."""
    answers: list[tuple[int, bytes]] = [(0, b"")] * len(requests)
    queue: Iterator[int] = iter(range(len(requests)))
    answered = 0

    async def client() -> None:
        nonlocal answered
        connection = await _Connection.open("127.0.0.1", port)
        try:
            for index in queue:
                try:
                    answers[index] = await connection.request(requests[index])
                except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
                    answers[index] = (0, repr(exc).encode())
                    await connection.close()
                    connection = await _Connection.open("127.0.0.1", port)
                answered += 1
                if bar is not None:
                    bar.update(answered)
        finally:
            await connection.close()

    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(clients)))
    seconds = time.perf_counter() - started
    if bar is not None:
        bar.finish()
    return seconds, answers


# -- the seeded network --


def _network(rng: random.Random, skus_wanted: int) -> dict[str, list[dict[str, Any]]]:
    nodes = [
        {
            "id": "bench-dc",
            "name": "Bench regional DC",
            "kind": "dc",
            "lat": 31.3520,
            "lon": 121.2460,
            "address": "嘉定区",
            "timezone": "Asia/Shanghai",
            "opening_hours": None,
            "capabilities": ["ambient", "chilled", "frozen"],
            "delivery_radius_km": 60.0,
        }
    ]
    for number in range(FRONT_WAREHOUSES):
        angle = 2 * math.pi * number / FRONT_WAREHOUSES
        nodes.append(
            {
                "id": f"bench-fw-{number}",
                "name": f"Bench front warehouse {number}",
                "kind": "front_warehouse",
                "lat": round(CENTER[0] + 0.018 * rng.uniform(0.6, 1.0) * math.cos(angle), 6),
                "lon": round(CENTER[1] + 0.021 * rng.uniform(0.6, 1.0) * math.sin(angle), 6),
                "address": "上海市",
                "timezone": "Asia/Shanghai",
                "opening_hours": None,
                "capabilities": ["ambient", "chilled"],
                "delivery_radius_km": 3.0,
            }
        )
    skus = [
        {
            "id": f"bench-sku-{number:02d}",
            "gtin": _gtin13(number + 1),
            "name": f"Bench item {number}",
            "category": "grocery" if number % 3 else "dairy",
            "temperature_class": "ambient" if number % 3 else "chilled",
            "weight_g": 500,
            "volume_cm3": 800,
            "pack_of": None,
            "pack_quantity": 1,
        }
        for number in range(skus_wanted)
    ]
    members = [
        {
            "id": member,
            "tier": "vip" if member == "bm-vip" else "standard",
            "tags": {"bm-baby": ["mother-and-baby"], "bm-freq": ["high-frequency"]}.get(member, []),
            "name": "测试",
            "phone": "13800138000",
            "addresses": [],
        }
        for member in MEMBERS
    ]
    channels = [{"id": CHANNEL, "kind": "app", "webhook_url": None, "webhook_secret": None}]
    return {"nodes": nodes, "skus": skus, "channels": channels, "members": members}


def _gtin13(item: int) -> str:
    digits = f"690999000{item:03d}"
    total = sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(digits))
    return digits + str((10 - total % 10) % 10)


def _orders(count: int, rng: random.Random) -> list[dict[str, Any]]:
    skus = [f"bench-sku-{n:02d}" for n in range(sku_count(count))]
    placed = datetime.now(UTC)
    return [
        app_payload(
            random_order(
                rng,
                external_id=f"BENCH-{n:07d}",
                sku_refs=skus,
                placed_at=placed,
                center=CENTER,
                radius_km=3.0,
                member_ids=MEMBERS,
                max_lines=3,
                max_quantity=2,
            )
        )
        for n in range(count)
    ]


def _stock_plan(orders: list[dict[str, Any]]) -> dict[tuple[str, str], int]:
    """Units per (node, sku): about half the demand at the front warehouses, a quarter at the
    DC, so stock runs out during the run."""
    demand: Counter[str] = Counter()
    for order in orders:
        for line in order["lines"]:
            demand[line["sku"]] += line["quantity"]
    plan: dict[tuple[str, str], int] = {}
    for sku, units in demand.items():
        for number in range(FRONT_WAREHOUSES):
            plan[(f"bench-fw-{number}", sku)] = max(1, units // (2 * FRONT_WAREHOUSES))
        plan[("bench-dc", sku)] = max(1, units // 4)
    return plan


async def _seed(
    url: str, admin: str, stock: dict[tuple[str, str], int], skus_wanted: int, progress: Progress
) -> str:
    """Create the network and the stock through the API; returns the channel's key."""
    headers = {"Authorization": f"Bearer {admin}"}
    rng = random.Random(7)
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=60.0) as client:
        for kind, items in _network(rng, skus_wanted).items():
            response = await client.post(
                "/api/v1/catalogue/import", json={"kind": kind, "items": items}
            )
            _check(response, f"import {kind}")
        response = await client.post("/api/v1/users", json={"name": CHANNEL, "role": "channel"})
        _check(response, "create the channel key")
        token: str = response.json()["api_key"]
        semaphore = asyncio.Semaphore(8)

        async def receive(node: str, sku: str, units: int) -> None:
            async with semaphore:
                response = await client.post(
                    "/api/v1/stock/movements",
                    json={
                        "node_id": node,
                        "sku_id": sku,
                        "kind": "receive",
                        "quantity": units,
                        "idempotency_key": f"bench-seed:{node}:{sku}",
                    },
                )
                _check(response, f"receive {sku} at {node}")

        await asyncio.gather(*(receive(n, s, u) for (n, s), u in stock.items()))
    progress(f"seeded {len(stock)} stock balances ({sum(stock.values()):,} units)")
    return token


def _check(response: httpx.Response, what: str) -> None:
    if response.status_code >= 300:
        raise RuntimeError(f"{what}: {response.status_code} {response.text[:500]}")


async def _reserved(url: str, admin: str) -> dict[tuple[str, str], tuple[int, int]]:
    headers = {"Authorization": f"Bearer {admin}"}
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=60.0) as client:
        response = await client.get("/api/v1/stock")
        _check(response, "read stock")
        return {
            (row["node_id"], row["sku_id"]): (int(row["on_hand"]), int(row["reserved"]))
            for row in response.json()
        }


# -- one backend --


@dataclass
class _Database:
    url: str
    drop: Callable[[], Any] | None = None


async def _postgres_database(base_url: str) -> _Database:
    import asyncpg
    from sqlalchemy.engine import make_url

    base = make_url(base_url)
    name = f"retailedge_bench_{uuid.uuid4().hex[:10]}"
    dsn = base.set(drivername="postgresql").render_as_string(hide_password=False)
    connection = await asyncpg.connect(dsn)
    try:
        await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()

    async def drop() -> None:
        connection = await asyncpg.connect(dsn)
        try:
            await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await connection.close()

    return _Database(base.set(database=name).render_as_string(hide_password=False), drop)


async def _run_backend(
    backend: str,
    folder: Path,
    *,
    orders: int,
    clients: int,
    postgres_url: str,
    progress: Progress,
    run_label: str,
) -> dict[str, Any]:
    if backend == "sqlite":
        database = _Database(f"sqlite+aiosqlite:///{folder / 'cloud.db'}")
    else:
        database = await _postgres_database(postgres_url)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    child: Child | None = None
    try:
        child = start_child(
            f"cloud ({backend})",
            retailedge_command(
                "cloud",
                "serve",
                "--port",
                str(port),
                "--database-url",
                database.url,
                "--data-dir",
                str(folder),
            ),
            folder / "cloud.log",
        )
        await wait_for_http(f"{url}/healthz", child, timeout_s=60)
        from cloud.services.users import create_user_in

        admin = await create_user_in(database.url, name="bench-admin", role="admin")
        payloads = _orders(orders, random.Random(42))
        stock = _stock_plan(payloads)
        token = await _seed(url, admin, stock, sku_count(orders), progress)
        requests = [
            _raw_request("POST", f"/api/v1/orders?channel={CHANNEL}", token, json.dumps(p).encode())
            for p in payloads
        ]
        progress(f"{backend}: {orders:,} orders over {clients} connections")
        bar = ProgressBar(progress, run_label, orders, "orders placed")
        seconds, answers = await _blast(port, requests, clients, bar)
        statuses = Counter(status for status, _ in answers)
        failed = [body for status, body in answers if status not in (200, 201)]
        if failed:
            progress(f"{backend}: {len(failed)} requests failed, e.g. {failed[0][:300]!r}")
        outcomes: Counter[str] = Counter()
        allocated: Counter[tuple[str, str]] = Counter()
        for status, body in answers:
            if status != 201:
                continue
            placed = json.loads(body)
            outcomes[placed["allocation"]["outcome"] if placed["allocation"] else "none"] += 1
            if placed["status"] == "allocated":
                for line in placed["lines"]:
                    allocated[(line["node_id"], line["sku_id"])] += line["quantity"]
        progress(f"{backend}: {orders / seconds:,.0f} orders/s; measuring the /healthz baseline")
        health = [_raw_request("GET", "/healthz", None)] * max(1000, orders)
        baseline_seconds, health_answers = await _blast(port, health, clients)
        balances = await _reserved(url, admin)
    finally:
        if child is not None:
            await child.stop(timeout_s=15)
        if database.drop is not None:
            await database.drop()
    oversold = 0
    for key, seeded in stock.items():
        on_hand, reserved = balances.get(key, (0, 0))
        oversold += max(0, reserved - on_hand, allocated[key] - seeded)
    return {
        "backend": backend,
        "orders": orders,
        "clients": clients,
        "seconds": round(seconds, 3),
        "orders_per_s": round(orders / seconds),
        "oversold": oversold,
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
        "outcomes": dict(sorted(outcomes.items())),
        "units_seeded": sum(stock.values()),
        "units_reserved": sum(reserved for _, reserved in balances.values()),
        "baseline_requests_per_s": round(len(health) / baseline_seconds),
        "baseline": "GET /healthz (SELECT 1), same server, same clients",
        "baseline_errors": sum(1 for status, _ in health_answers if status != 200),
    }


def run_allocate_bench(
    backends: list[str],
    orders: int,
    clients: int,
    postgres_url: str,
    progress: Progress,
    repeat: int = 1,
) -> Iterator[dict[str, Any]]:
    """One result per backend, each as soon as that backend's runs are done: the run with the
    median orders/s, with every run's figure, the median baseline and the worst oversell."""
    for backend in backends:
        runs: list[dict[str, Any]] = []
        for attempt in range(1, repeat + 1):
            prefix = f"retailedge-bench-allocate-{backend}-"
            with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
                runs.append(
                    asyncio.run(
                        _run_backend(
                            backend,
                            Path(tmp),
                            orders=orders,
                            clients=clients,
                            postgres_url=postgres_url,
                            progress=progress,
                            run_label=f"{backend} run {attempt}/{repeat}",
                        )
                    )
                )
            if repeat > 1:
                progress(
                    f"{backend}: run {attempt}/{repeat}: {runs[-1]['orders_per_s']:,} orders/s"
                )
        yield _summary(runs)


def _summary(runs: list[dict[str, Any]]) -> dict[str, Any]:
    by_speed = sorted(runs, key=lambda run: run["orders_per_s"])
    result = dict(by_speed[(len(by_speed) - 1) // 2])
    result["runs"] = len(runs)
    result["runs_orders_per_s"] = [run["orders_per_s"] for run in runs]
    result["baseline_requests_per_s"] = round(
        median([float(run["baseline_requests_per_s"]) for run in runs])
    )
    result["oversold"] = max(run["oversold"] for run in runs)
    return result
