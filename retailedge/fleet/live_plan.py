"""What a live fleet run sets up and when orders arrive (pure, seeded).

- the fleet: e-bike riders, vans and reefer vans spread over the stores, each with a GPS tracker
  and, for a reefer van, a monitored chilled compartment;
- the orders: over the ordering window, which stands for a trading day compressed, orders arrive
  from each sales channel on its own daily demand curve (lunch and dinner peaks, see
  :mod:`retailedge.fleet.generate`), delivered close to a store in the channel's own payload
  shape, promised ``instant``.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, Final

from retailedge.fleet.generate import CHANNELS, Channel, placed_minute
from simulators.fleet_motion import Spot
from simulators.order_payloads import SimLine, random_order, render

CHILLED_BAND_C: Final = (0.0, 5.0)
"""The band a reefer van's chilled compartment is registered with."""
COMPARTMENT_C: Final = 3.0
MAX_LINES: Final = 3
MAX_QUANTITY: Final = 2
METRES_PER_DEG: Final = 111_320.0

CURVES: Final[dict[str, Channel]] = {
    "app": CHANNELS[0],
    "delivery_platform": CHANNELS[1],
    "marketplace": CHANNELS[2],
}
"""Each channel kind's daily demand curve and share of the day's orders."""


@dataclass(frozen=True, slots=True)
class CourierKind:
    kind: str
    """The cloud's courier kind: rider, van or reefer_van."""
    label: str
    speed_kmh: tuple[float, float]
    """Each courier's steady speed in town is drawn from this range."""
    capacity: int
    """Units carried at once."""
    skills: tuple[str, ...] = ()


KINDS: Final[dict[str, CourierKind]] = {
    "rider": CourierKind("rider", "ebike", (15.0, 18.0), 10),
    "van": CourierKind("van", "van", (22.0, 27.0), 60),
    "reefer_van": CourierKind("reefer_van", "reefer", (22.0, 27.0), 60, ("chilled",)),
}


@dataclass(frozen=True, slots=True)
class Store:
    id: str
    spot: Spot
    capabilities: frozenset[str]


@dataclass(frozen=True, slots=True)
class SimCourier:
    id: str
    kind: CourierKind
    store: Store
    start: Spot
    speed_mps: float

    @property
    def tracker_id(self) -> str:
        """The GPS tracker's device id, which is also the courier's ``gps_device_id``."""
        return f"{self.id}-gps"

    @property
    def sensor_id(self) -> str | None:
        return f"{self.id}-chiller" if "chilled" in self.kind.skills else None


def offset(origin: Spot, north_m: float, east_m: float) -> Spot:
    lat = origin.lat + north_m / METRES_PER_DEG
    lon = origin.lon + east_m / (METRES_PER_DEG * math.cos(math.radians(origin.lat)))
    return Spot(round(lat, 7), round(lon, 7))


def plan_fleet(
    rng: random.Random, counts: Mapping[str, int], stores: Sequence[Store], tag: str
) -> list[SimCourier]:
    """``counts`` couriers per kind, handed round-robin to ``stores`` (reefer vans only to
    stores that keep chilled goods), each starting within 100 m of its store."""
    if not stores:
        raise ValueError("no store to base the fleet at")
    couriers = []
    for kind_name, count in counts.items():
        kind = KINDS[kind_name]
        bases = [s for s in stores if set(kind.skills) <= s.capabilities] or list(stores)
        for number in range(count):
            store = bases[number % len(bases)]
            speed_kmh = rng.uniform(*kind.speed_kmh)
            start = offset(store.spot, rng.uniform(-100, 100), rng.uniform(-100, 100))
            courier_id = f"{tag}-{kind.label}-{number + 1:02d}"
            couriers.append(SimCourier(courier_id, kind, store, start, speed_kmh / 3.6))
    return couriers


def courier_body(
    courier: SimCourier, shift: tuple[datetime, datetime], active: bool
) -> dict[str, Any]:
    """``POST /api/v1/couriers`` for ``courier``, on shift for ``shift``."""
    compartments = []
    if courier.sensor_id is not None:
        low, high = CHILLED_BAND_C
        compartments.append(
            {
                "name": "chiller",
                "sensor_device_id": courier.sensor_id,
                "temperature_class": "chilled",
                "min_c": low,
                "max_c": high,
            }
        )
    return {
        "id": courier.id,
        "kind": courier.kind.kind,
        "capacity": courier.kind.capacity,
        "skills": list(courier.kind.skills),
        "shifts": [{"start": shift[0].isoformat(), "end": shift[1].isoformat()}],
        "home_node_id": courier.store.id,
        "gps_device_id": courier.tracker_id,
        "compartments": compartments,
        "active": active,
    }


@dataclass(frozen=True, slots=True)
class SalesChannel:
    id: str
    kind: str


@dataclass(frozen=True, slots=True)
class PlannedOrder:
    at_s: float
    """Seconds into the ordering window."""
    channel: SalesChannel
    external_id: str
    store: Store
    sku_ids: tuple[str, ...]
    """The basket's SKUs (quantities and prices are drawn when it is placed)."""
    drop: Spot


def basket(
    rng: random.Random, sku_classes: Mapping[str, str], store: Store, chilled_share: float
) -> tuple[str, ...]:
    """1–3 SKUs the store keeps: with probability ``chilled_share`` (when the store keeps
    chilled goods) a chilled basket, at least one chilled SKU among any; else ambient only."""
    ambient = sorted(s for s, cls in sku_classes.items() if cls == "ambient")
    chilled = sorted(
        s for s, cls in sku_classes.items() if cls == "chilled" and cls in store.capabilities
    )
    size = rng.randint(1, MAX_LINES)
    if chilled and (not ambient or rng.random() < chilled_share):
        first = rng.choice(chilled)
        others = [s for s in ambient + chilled if s != first]
        return (first, *rng.sample(others, k=min(len(others), size - 1)))
    return tuple(rng.sample(ambient, k=min(len(ambient), size)))


def order_schedule(
    rng: random.Random,
    *,
    count: int,
    window_s: float,
    day_hours: tuple[float, float],
    channels: Sequence[SalesChannel],
    stores: Sequence[Store],
    sku_classes: Mapping[str, str],
    chilled_share: float,
    radius_m: float,
    tag: str,
) -> list[PlannedOrder]:
    """``count`` orders over ``window_s`` seconds, which stand for ``day_hours`` of a day: a
    channel is drawn by its share, a moment by its daily curve, then a store, a basket, and a
    drop within ``radius_m`` of the store. Sorted by time."""
    usable = [c for c in channels if c.kind in CURVES]
    if not usable:
        raise ValueError("no sales channel of a known kind (app, marketplace, delivery_platform)")
    start_h, end_h = day_hours
    orders = []
    for number in range(count):
        channel = rng.choices(usable, weights=[CURVES[c.kind].share for c in usable])[0]
        hour = placed_minute(rng, CURVES[channel.kind], start_h, end_h) / 60
        at_s = round((hour - start_h) / (end_h - start_h) * window_s, 2)
        store = rng.choice(list(stores))
        skus = basket(rng, sku_classes, store, chilled_share)
        distance = radius_m * math.sqrt(rng.uniform(0.04, 1.0))
        bearing = rng.uniform(0, 2 * math.pi)
        drop = offset(store.spot, distance * math.cos(bearing), distance * math.sin(bearing))
        external_id = f"LF-{tag}-{number + 1:04d}"
        orders.append(PlannedOrder(at_s, channel, external_id, store, skus, drop))
    orders.sort(key=lambda o: (o.at_s, o.external_id))
    return orders


def order_payload(rng: random.Random, order: PlannedOrder, placed_at: datetime) -> dict[str, Any]:
    """The order in its channel's payload shape, promised instant (no member, so no
    member-tier rule changes the promise)."""
    made = random_order(
        rng,
        external_id=order.external_id,
        sku_refs=order.sku_ids,
        placed_at=placed_at,
        center=(order.drop.lat, order.drop.lon),
        radius_km=0.0,
        max_lines=MAX_LINES,
        max_quantity=MAX_QUANTITY,
    )
    lines = tuple(
        SimLine(sku, rng.randint(1, MAX_QUANTITY), rng.randint(150, 25_000))
        for sku in order.sku_ids
    )
    return render(order.channel.kind, replace(made, lines=lines, promise="instant"))


def shift_for(now: datetime, run_s: float) -> tuple[datetime, datetime]:
    """A shift covering the whole run, starting a minute ago."""
    return now - timedelta(minutes=1), now + timedelta(seconds=run_s + 600)
