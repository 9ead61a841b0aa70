"""The demo's business chain, over HTTP only: load the example network into the cloud, install
the warehouse gateway at its node and give each sales channel a key (:func:`setup_network`);
then a handheld receives goods at the gateway, the stock reaches ``GET /api/v1/stock`` through
buffer → uplink → ingest → projector, and channel orders are allocated from it
(:class:`OrderFlow`)."""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final
from urllib.parse import urljoin

import httpx

from retailedge.demo_plan import (
    PlannedOrder,
    PlannedScan,
    order_plan,
    planned_units,
    receive_plan,
    received_since,
    stock_figures,
    unit_sku_ids,
)
from retailedge.demo_report import BusinessReport, FailedOrder, TrackingLink
from simulators.scanner_session import catalogue_body, http_scan

CATALOGUE_KINDS: Final = ("nodes", "zones", "locations", "skus", "manifests", "channels", "members")
DEMO_NODE: Final = "fw-sh-xuhui"
SCANNER_ID: Final = "hh-01"
SCANNER_OPERATOR: Final = "demo-receiver"
GATEWAY_READY_TIMEOUT_S: Final = 60.0
SETTLE_TIMEOUT_S: Final = 10.0
STOCK_TIMEOUT_S: Final = 60.0
POLL_S: Final = 0.25
PAGE: Final = 1000

Say = Callable[[str], None]


class DemoFlowError(RuntimeError):
    """A step of the business flow failed; the message says which and what the cloud said."""


def default_catalogue_dir() -> Path:
    """``deploy/catalogue`` of the source tree the demo runs from."""
    return Path(__file__).resolve().parents[1] / "deploy" / "catalogue"


def checked(response: httpx.Response, what: str, *ok: int) -> Any:
    if response.status_code not in (ok or (200,)):
        raise DemoFlowError(f"{what}: HTTP {response.status_code}: {response.text[:500]}")
    return response.json()


def _kept(path: Path) -> dict[str, Any] | None:
    if not path.exists():
        return None
    kept: dict[str, Any] = json.loads(path.read_text())
    return kept


def _keep(path: Path, created: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(created))
    path.chmod(0o600)


async def eventually(
    fetch: Callable[[], Awaitable[httpx.Response]],
    done: Callable[[httpx.Response], bool],
    what: str,
    timeout_s: float = SETTLE_TIMEOUT_S,
) -> httpx.Response:
    """Repeat ``fetch`` until ``done``. The cloud commits a write just after answering it, so
    the next request may briefly not see it yet."""
    deadline = time.monotonic() + timeout_s
    while True:
        response = await fetch()
        if done(response):
            return response
        if time.monotonic() > deadline:
            raise DemoFlowError(f"{what}: HTTP {response.status_code}: {response.text[:500]}")
        await asyncio.sleep(0.05)


async def provision(
    client: httpx.AsyncClient,
    path: Path,
    url: str,
    body: Mapping[str, Any],
    *,
    verify: str | None = None,
) -> dict[str, Any]:
    """Create a credential through the API once per data folder and keep it in ``path``; with
    ``verify``, wait until the new user key is accepted there."""
    kept = _kept(path)
    if kept is not None:
        return kept
    created: dict[str, Any] = checked(await client.post(url, json=dict(body)), url, 201)
    _keep(path, created)
    if verify is not None:
        headers = {"Authorization": f"Bearer {created['api_key']}"}
        await eventually(
            lambda: client.get(verify, headers=headers),
            lambda response: response.status_code != 401,
            f"the new key of {body.get('name')} is not accepted by {verify}",
        )
    return created


async def _all_items(client: httpx.AsyncClient, url: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    offset: int | None = 0
    while offset is not None:
        page = checked(await client.get(url, params={"limit": 500, "offset": offset}), url)
        items += page["items"]
        offset = page["next_offset"]
    return items


async def _until_listed(admin: httpx.AsyncClient, kind: str, rows: int) -> None:
    url = f"/api/v1/{kind}"
    await eventually(
        lambda: admin.get(url, params={"limit": 1}),
        lambda response: response.status_code == 200 and response.json()["total"] >= rows,
        f"the imported {kind} do not show in GET {url}",
    )


@dataclass(frozen=True, slots=True)
class Channel:
    id: str
    kind: str
    key: str


async def setup_network(
    admin: httpx.AsyncClient,
    *,
    cloud_dir: Path,
    catalogue_dir: Path,
    gateway_id: str | None,
    say: Say,
) -> list[Channel]:
    """Import ``catalogue_dir`` (all or nothing per kind; re-importing changes nothing),
    install ``gateway_id`` (if any) at :data:`DEMO_NODE` and give every active channel a key."""
    counts = []
    for kind in CATALOGUE_KINDS:
        path = catalogue_dir / f"{kind}.csv"
        if not path.is_file():
            raise DemoFlowError(f"the example catalogue file {path} is missing")
        answer = checked(
            await admin.post(
                "/api/v1/catalogue/import",
                data={"kind": kind},
                files={"file": (path.name, path.read_bytes(), "text/csv")},
            ),
            f"importing {path}",
        )
        counts.append(f"{kind} {answer['total']}")
        # The next kind refers to this one: wait until the import is visible.
        await _until_listed(admin, kind, int(answer["total"]))
    say(f"[demo] catalogue imported from {catalogue_dir}: {', '.join(counts)}")
    if gateway_id is not None:
        await _install_gateway(admin, gateway_id, say)
    return await _channel_keys(admin, cloud_dir, say)


async def _install_gateway(admin: httpx.AsyncClient, gateway_id: str, say: Say) -> None:
    node_url = f"/api/v1/nodes/{DEMO_NODE}"
    node = checked(await admin.get(node_url), node_url)
    if gateway_id not in node["gateways"]:
        node["gateways"] = sorted([*node["gateways"], gateway_id])
        checked(await admin.put(node_url, json=node), f"installing {gateway_id}", 200, 201)
        await eventually(
            lambda: admin.get(node_url),
            lambda response: gateway_id in response.json().get("gateways", []),
            f"{gateway_id} does not show among the gateways of {DEMO_NODE}",
        )
    say(f"[demo] gateway {gateway_id} installed at {DEMO_NODE} ({node['name']})")


async def _channel_keys(admin: httpx.AsyncClient, cloud_dir: Path, say: Say) -> list[Channel]:
    channels = []
    for item in await _all_items(admin, "/api/v1/channels"):
        if not item.get("active", True):
            continue
        user = await provision(
            admin,
            cloud_dir / f"channel-{item['id']}.json",
            "/api/v1/users",
            {"name": item["id"], "role": "channel"},
            verify="/api/v1/orders?limit=1",
        )
        channels.append(Channel(item["id"], item["kind"], user["api_key"]))
    say(
        "[demo] channel keys: "
        + ", ".join(f"{c.id} ({c.kind})" for c in channels)
        + f" (in {cloud_dir}/channel-*.json)"
    )
    return channels


class OrderFlow:
    """Receive scans at the warehouse gateway, wait for the stock, place channel orders."""

    def __init__(
        self,
        *,
        operator: httpx.AsyncClient,
        channels: list[Channel],
        gateway_dir: Path,
        gateway_status: Callable[[], dict[str, Any]],
        orders: int,
        seed: int,
        say: Say,
    ) -> None:
        self.operator = operator
        self.channels = channels
        self.gateway_dir = gateway_dir
        self.gateway_status = gateway_status
        self.orders = orders
        self.rng = random.Random(seed)
        self.say = say
        self.report = BusinessReport(node_id=DEMO_NODE)

    async def run(self) -> BusinessReport:
        local_api = await self._gateway_ready()
        body = catalogue_body(self.gateway_dir / "catalogue.json")
        manifests = await _all_items(self.operator, "/api/v1/manifests")
        plan = receive_plan(body, manifests, self.rng)
        before = stock_figures(await self._levels(DEMO_NODE), DEMO_NODE).on_hand
        exceptions_before = await self._exception_count()
        accepted = await self._scan(local_api, plan)
        await self._wait_for_stock(before, planned_units(accepted))
        self.report.stock_exceptions = await self._exception_count() - exceptions_before
        await self._place_orders(body)
        self.report.completed = True
        return self.report

    async def _gateway_ready(self) -> str:
        """The gateway's local API once it holds a catalogue checked with the cloud."""
        deadline = time.monotonic() + GATEWAY_READY_TIMEOUT_S
        while True:
            status = self.gateway_status()
            catalogue = (status.get("downlink") or {}).get("catalogue") or {}
            url = status.get("local_api_url")
            if url and catalogue.get("status") in ("applied", "unchanged"):
                return str(url)
            if time.monotonic() > deadline:
                raise DemoFlowError(
                    f"the warehouse gateway has no catalogue from the cloud after "
                    f"{GATEWAY_READY_TIMEOUT_S:.0f} s (downlink: {catalogue or 'no status yet'})"
                )
            await asyncio.sleep(POLL_S)

    async def _scan(self, local_api: str, plan: list[PlannedScan]) -> list[PlannedScan]:
        accepted: list[PlannedScan] = []
        unchecked = 0
        report = self.report
        with httpx.Client(base_url=local_api, timeout=10.0) as client:
            for planned in plan:
                report.scans_sent += 1
                status, answer = await asyncio.to_thread(
                    http_scan, client, SCANNER_ID, SCANNER_OPERATOR, planned.step
                )
                if status != 200:
                    error = answer.get("error", {})
                    report.scans_refused.append(
                        f"{planned.step.code}: {status} {error.get('code')}: {error.get('message')}"
                    )
                    continue
                accepted.append(planned)
                unchecked += not answer.get("catalogue_checked")
        report.scans_accepted = len(accepted)
        report.units_scanned = sum(planned_units(accepted).values())
        checked = "unchecked" if unchecked else "checked against the gateway's catalogue"
        self.say(
            f"[demo] handheld {SCANNER_ID} sent {report.scans_sent} receive scans to the "
            f"warehouse gateway ({local_api}/api/v1/scans): {report.scans_accepted} accepted "
            f"({checked}), {report.units_scanned} units"
        )
        return accepted

    async def _wait_for_stock(self, before: Mapping[str, int], expected: dict[str, int]) -> None:
        deadline = time.monotonic() + STOCK_TIMEOUT_S
        wanted = sum(expected.values())
        shown = -1
        while True:
            now = stock_figures(await self._levels(DEMO_NODE), DEMO_NODE).on_hand
            received = received_since(before, now)
            self.report.stock_units_received = sum(received.values())
            if self.report.stock_units_received != shown:
                shown = self.report.stock_units_received
                self.say(
                    f"[demo] stock at {DEMO_NODE} in GET /api/v1/stock: {shown}/{wanted} units "
                    "received (gateway buffer → uplink → ingest → projector)"
                )
            if received == expected or time.monotonic() > deadline:
                return
            await asyncio.sleep(POLL_S)

    async def _place_orders(self, body: Mapping[str, Any]) -> None:
        node = body["node"]
        members = [item["id"] for item in await _all_items(self.operator, "/api/v1/members")]
        plan = order_plan(
            self.rng,
            count=self.orders,
            channels=[(c.id, c.kind) for c in self.channels],
            sku_ids=unit_sku_ids(body),
            member_ids=members,
            center=(float(node["lat"]), float(node["lon"])),
            run_tag=datetime.now(UTC).strftime("%Y%m%d%H%M%S") + f"{self.rng.randrange(10**4):04d}",
            placed_at=datetime.now(UTC),
        )
        reserved_before = stock_figures(await self._levels(None), DEMO_NODE).reserved_total
        keys = {c.id: c.key for c in self.channels}
        first: dict[str, str] = {}
        allocated: list[tuple[datetime, PlannedOrder, str]] = []
        for order in plan:
            placed = await self._place(order, keys[order.channel])
            if placed is not None:
                first.setdefault(placed["status"], placed["order_id"])
                if placed["status"] == "allocated" and placed["promise_by"]:
                    due = datetime.fromisoformat(placed["promise_by"])
                    allocated.append((due, order, placed["order_id"]))
        after = stock_figures(await self._levels(None), DEMO_NODE)
        self.report.units_reserved = after.reserved_total - reserved_before
        self.report.oversold = after.oversold
        chosen = first.get("allocated") or first.get("failed")
        if chosen is not None:
            self.report.allocation_why = await self._why(chosen)
        if allocated:
            # The order due soonest is the one dispatch plans first: its page shows an ETA.
            _, order, order_id = min(allocated, key=lambda item: item[0])
            self.report.tracking = await self._tracking_link(order, order_id)

    async def _place(self, order: PlannedOrder, key: str) -> dict[str, Any] | None:
        report = self.report
        report.orders_placed += 1
        response = await self.operator.post(
            "/api/v1/orders",
            params={"channel": order.channel},
            json=order.payload,
            headers={"Authorization": f"Bearer {key}"},
        )
        label = f"[demo] order {order.channel} ({order.channel_kind}) {order.external_id}"
        if response.status_code not in (200, 201):
            error = response.json().get("error", {}) if response.content else {}
            reason = f"HTTP {response.status_code} {error.get('code')}: {error.get('message')}"
            report.failed.append(FailedOrder(order.channel, order.external_id, reason))
            self.say(f"{label}: refused, {reason}")
            return None
        placed: dict[str, Any] = response.json()
        if placed["status"] == "allocated":
            report.orders_allocated += 1
            report.units_allocated += sum(int(line["quantity"]) for line in placed["lines"])
            outcome = (placed.get("allocation") or {}).get("outcome")
            self.say(
                f"{label}: allocated from {', '.join(placed['nodes'])} ({outcome}, "
                f"{placed['promise_class']})"
            )
        else:
            reason = str(placed.get("status_reason") or placed["status"])
            report.failed.append(FailedOrder(order.channel, order.external_id, reason))
            self.say(f"{label}: {placed['status']}, {reason}")
        return placed

    async def _tracking_link(self, order: PlannedOrder, order_id: str) -> TrackingLink:
        """A tracking link made with the operator's key; its page on the cloud's address."""
        url = f"/api/v1/orders/{order_id}/tracking-link"
        response = await eventually(
            lambda: self.operator.post(url),
            lambda response: response.status_code != 404,
            f"POST {url}",
        )
        link = checked(response, f"POST {url}", 201)
        page = urljoin(str(self.operator.base_url), str(link["url"]))
        tracking = TrackingLink(order_id, order.channel, order.external_id, page)
        self.say(f"[demo] {tracking.line()}")
        return tracking

    async def _why(self, order_id: str) -> dict[str, Any]:
        url = f"/api/v1/orders/{order_id}"
        order = checked(await self.operator.get(url), url)
        decision = order.get("allocation") or {}
        return {
            "order_id": order_id,
            "channel": order["channel"],
            "external_id": order["external_id"],
            "status": order["status"],
            "promise_class": order["promise_class"],
            "outcome": decision.get("outcome"),
            "nodes": decision.get("node_ids", []),
            "summary": decision.get("summary"),
            "candidates": [
                {k: c.get(k) for k in ("node_id", "distance_km", "eta_min", "verdict")}
                for c in decision.get("candidates", [])
            ],
        }

    async def _levels(self, node_id: str | None) -> list[dict[str, Any]]:
        params = {} if node_id is None else {"node_id": node_id}
        levels: list[dict[str, Any]] = checked(
            await self.operator.get("/api/v1/stock", params=params), "GET /api/v1/stock"
        )
        return levels

    async def _exception_count(self) -> int:
        count, after = 0, 0
        while True:
            page = checked(
                await self.operator.get(
                    "/api/v1/stock/exceptions", params={"after": after, "limit": PAGE}
                ),
                "GET /api/v1/stock/exceptions",
            )
            count += len(page["items"])
            if page["next_after"] is None:
                return count
            after = page["next_after"]
