"""Getting a running cloud ready for a live fleet run, through its API: the stores and SKUs to
use, a key per sales channel, the couriers with their rider keys, and stock at every store."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from retailedge.fleet.live_api import AdminApi, CloudApiError
from retailedge.fleet.live_plan import (
    CURVES,
    SalesChannel,
    SimCourier,
    Store,
    courier_body,
    plan_fleet,
)
from simulators.fleet_motion import Spot

INSTANT_KINDS: Final = ("store", "front_warehouse")
STOCK_TIMEOUT_S: Final = 30.0

Say = Callable[[str], None]


@dataclass(frozen=True)
class World:
    stores: list[Store]
    sku_classes: dict[str, str]
    """SKU id → temperature class, for the SKUs orders are made of."""
    channels: list[SalesChannel]
    channel_keys: dict[str, str]
    couriers: list[SimCourier]
    rider_keys: dict[str, str]


async def pick_stores(admin: AdminApi, node_ids: Sequence[str]) -> list[Store]:
    """The named nodes, or every active store and front warehouse."""
    nodes = await admin.nodes()
    if node_ids:
        by_id = {n["id"]: n for n in nodes}
        missing = [n for n in node_ids if n not in by_id]
        if missing:
            raise CloudApiError(f"--node: no active node {', '.join(missing)} in the cloud")
        chosen = [by_id[n] for n in node_ids]
    else:
        chosen = [n for n in nodes if n["kind"] in INSTANT_KINDS]
    if not chosen:
        raise CloudApiError("the cloud has no active store or front warehouse to deliver from")
    return [
        Store(n["id"], Spot(float(n["lat"]), float(n["lon"])), frozenset(n["capabilities"]))
        for n in chosen
    ]


async def pick_skus(admin: AdminApi, chilled: bool) -> dict[str, str]:
    """Unit SKUs (not cases) that are ambient, or chilled when a reefer van can carry them."""
    classes = ("ambient", "chilled") if chilled else ("ambient",)
    found = {
        s["id"]: s["temperature_class"]
        for s in await admin.skus()
        if not s.get("pack_of") and s["temperature_class"] in classes
    }
    if not found:
        raise CloudApiError(f"the cloud has no active {' or '.join(classes)} SKU to order")
    return dict(sorted(found.items()))


async def channel_keys(
    admin: AdminApi, given: Mapping[str, str]
) -> tuple[list[SalesChannel], dict[str, str]]:
    """Active channels of a known kind and a key for each: given, else created."""
    channels = [
        SalesChannel(c["id"], c["kind"]) for c in await admin.channels() if c["kind"] in CURVES
    ]
    if not channels:
        raise CloudApiError("the cloud has no active app, marketplace or delivery_platform channel")
    keys = {}
    for channel in channels:
        key = given.get(channel.id)
        if key is None:
            try:
                key = await admin.create_user(channel.id, "channel")
            except CloudApiError as exc:
                raise CloudApiError(
                    f"{exc}\nPass its key with --channel-key {channel.id}=KEY."
                ) from None
        keys[channel.id] = key
    return channels, keys


async def stock_stores(
    admin: AdminApi, stores: Sequence[Store], sku_classes: Mapping[str, str], units: int, tag: str
) -> None:
    """Receive ``units`` of every SKU a store keeps, and wait until the stock shows them."""
    wanted: dict[str, set[str]] = {}
    for store in stores:
        skus = {s for s, cls in sku_classes.items() if cls in store.capabilities}
        wanted[store.id] = skus
        for sku in sorted(skus):
            await admin.receive(store.id, sku, units, key=f"live-fleet:{tag}:{store.id}:{sku}")
    deadline = time.monotonic() + STOCK_TIMEOUT_S
    for store_id, skus in wanted.items():
        while True:
            available = {
                level["sku_id"]
                for level in await admin.stock(store_id)
                if int(level["available"]) >= units
            }
            if skus <= available:
                break
            if time.monotonic() > deadline:
                raise CloudApiError(f"the stock received at {store_id} does not show as available")
            await asyncio.sleep(0.2)


async def prepare(
    admin: AdminApi,
    *,
    rng: random.Random,
    tag: str,
    counts: Mapping[str, int],
    node_ids: Sequence[str],
    given_keys: Mapping[str, str],
    shift: tuple[datetime, datetime],
    stock_units: int,
    say: Say,
) -> World:
    stores = await pick_stores(admin, node_ids)
    sku_classes = await pick_skus(admin, chilled=counts.get("reefer_van", 0) > 0)
    channels, keys = await channel_keys(admin, given_keys)
    say(
        f"[live-fleet] stores {', '.join(s.id for s in stores)}; {len(sku_classes)} SKUs; "
        f"channels {', '.join(f'{c.id} ({c.kind})' for c in channels)}"
    )
    couriers = plan_fleet(rng, counts, stores, tag)
    rider_keys = {}
    for courier in couriers:
        await admin.register_courier(courier_body(courier, shift, active=True))
        rider_keys[courier.id] = await admin.create_user(courier.id, "rider")
    say(
        f"[live-fleet] registered {len(couriers)} couriers with rider keys: "
        + ", ".join(f"{count} {kind}" for kind, count in counts.items() if count)
    )
    await stock_stores(admin, stores, sku_classes, stock_units, tag)
    say(f"[live-fleet] received {stock_units} units of each SKU at each store")
    return World(stores, sku_classes, channels, keys, couriers, rider_keys)
