"""Available-to-promise (pure): which nodes can fulfil a basket for an address, and how soon.

For each node: the great-circle distance to the address, whether the address is inside the
node's delivery radius, whether the node can store every temperature class of the basket,
how many units of each SKU it has available, and an ETA = wait until the node opens (in its own
timezone) + handling time + distance / speed. :func:`classes_met` says which promise classes
that ETA meets; :mod:`cloud.allocation_policy` turns candidates into a decision.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from enum import StrEnum
from functools import lru_cache
from typing import Any, Final
from zoneinfo import ZoneInfo

EARTH_RADIUS_KM: Final = 6371.0088
WEEKDAYS: Final = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
INSTANT_MAX_MIN: Final = 60
# A same-day or next-day promise is kept when the goods arrive by this local time.
DAY_CUTOFF: Final = time(22, 0)
INSTANT_KINDS: Final = frozenset({"front_warehouse", "store"})


class PromiseClass(StrEnum):
    INSTANT = "instant"
    SAME_DAY = "same_day"
    NEXT_DAY = "next_day"


PROMISE_ORDER: Final = (PromiseClass.INSTANT, PromiseClass.SAME_DAY, PromiseClass.NEXT_DAY)


class Verdict(StrEnum):
    OK = "ok"
    INACTIVE = "inactive"
    OUT_OF_RADIUS = "outside_delivery_radius"
    NOT_CAPABLE = "cannot_store_temperature_class"
    NO_STOCK = "insufficient_stock"
    TOO_SLOW = "too_slow_for_promise"


@dataclass(frozen=True, slots=True)
class NodeInfo:
    """What ATP needs to know about a node (a snapshot of the ``nodes`` row)."""

    id: str
    kind: str
    lat: float
    lon: float
    timezone: str
    opening_hours: Mapping[str, Sequence[Sequence[str]]] | None
    capabilities: frozenset[str]
    delivery_radius_km: float
    active: bool = True


@dataclass(frozen=True, slots=True)
class BasketLine:
    sku_id: str
    quantity: int
    temperature_class: str


@dataclass(frozen=True, slots=True)
class Timing:
    """Speed figures from the settings."""

    speed_kmh: float
    handling_min: float


@dataclass(frozen=True, slots=True)
class Candidate:
    node: NodeInfo
    distance_km: float
    within_radius: bool
    capable: bool
    missing_classes: tuple[str, ...]
    # sku_id -> units available at the node (0 when it has no balance row)
    available: Mapping[str, int]
    # sku_id -> units the basket needs
    demand: Mapping[str, int]
    has_stock: bool
    open_now: bool
    ready_at: datetime
    eta: datetime
    eta_min: float
    # Promise classes this node could meet for the whole basket (empty: none).
    meets: tuple[PromiseClass, ...] = field(default=())

    def shortfalls(self) -> list[tuple[str, int, int]]:
        """(sku_id, available, needed) for every SKU the node has too few of."""
        return [
            (sku, self.available.get(sku, 0), needed)
            for sku, needed in sorted(self.demand.items())
            if self.available.get(sku, 0) < needed
        ]

    def eligible(self, promise: PromiseClass) -> bool:
        """Inside radius, capable, active, and fast enough for ``promise`` (stock not checked)."""
        return self.node.active and self.within_radius and self.capable and promise in self.meets

    def verdict(self, promise: PromiseClass) -> Verdict:
        if not self.node.active:
            return Verdict.INACTIVE
        if not self.within_radius:
            return Verdict.OUT_OF_RADIUS
        if not self.capable:
            return Verdict.NOT_CAPABLE
        if promise not in self.meets:
            return Verdict.TOO_SLOW
        if not self.has_stock:
            return Verdict.NO_STOCK
        return Verdict.OK

    def figures(self, promise: PromiseClass) -> dict[str, Any]:
        """The candidate as stored in an allocation decision and shown by ``POST /atp``."""
        return {
            "node_id": self.node.id,
            "kind": self.node.kind,
            "distance_km": round(self.distance_km, 3),
            "delivery_radius_km": self.node.delivery_radius_km,
            "within_radius": self.within_radius,
            "eta_min": round(self.eta_min, 1),
            "eta": self.eta.isoformat(),
            "open": self.open_now,
            "ready_at": self.ready_at.isoformat(),
            "capable": self.capable,
            "missing_classes": list(self.missing_classes),
            "has_stock": self.has_stock,
            "available": dict(self.available),
            "meets": [p.value for p in self.meets],
            "verdict": self.verdict(promise).value,
        }


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in kilometres."""
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    dphi = phi2 - phi1
    dlambda = math.radians(lon2 - lon1)
    a = math.sin(dphi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(dlambda / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(a)))


def _clock(text: str) -> int:
    """Minutes after midnight of "HH:MM" ("24:00" is the end of the day)."""
    hours, minutes = text.split(":")
    return int(hours) * 60 + int(minutes)


def next_opening(node: NodeInfo, now: datetime) -> datetime:
    """``now`` if the node is open, else the start of its next opening interval (UTC).

    Hours are local to the node's timezone, per weekday: ``{"mon": [["08:00", "22:00"]]}``;
    an interval whose end is not after its start runs past midnight; ``None`` means always
    open. A node with no opening at all in the coming week is never ready (ValueError).
    """
    if node.opening_hours is None:
        return now
    zone = ZoneInfo(node.timezone)
    local = now.astimezone(zone)
    later: list[datetime] = []
    # From yesterday, whose interval may run past midnight into today.
    for offset in range(-1, 8):
        day = local.date() + timedelta(days=offset)
        midnight = datetime(day.year, day.month, day.day, tzinfo=zone)
        for interval in node.opening_hours.get(WEEKDAYS[day.weekday()], ()):
            opens, closes = _clock(interval[0]), _clock(interval[1])
            if closes <= opens:
                closes += 24 * 60
            start = midnight + timedelta(minutes=opens)
            if start <= local < midnight + timedelta(minutes=closes):
                return now
            if start > local:
                later.append(start)
    if not later:
        raise ValueError(f"node {node.id} has no opening hours in the coming week")
    return min(later).astimezone(UTC)


def promise_deadline(promise: PromiseClass, node: NodeInfo, now: datetime) -> datetime:
    """Latest arrival that keeps ``promise`` for an order placed ``now`` (UTC).

    instant: now + 60 min; same day: today's cutoff (22:00 local to the node); next day:
    tomorrow's cutoff.
    """
    if promise is PromiseClass.INSTANT:
        return now + timedelta(minutes=INSTANT_MAX_MIN)
    same_day, next_day = _day_cutoffs(node.timezone, now)
    return next_day if promise is PromiseClass.NEXT_DAY else same_day


@lru_cache(maxsize=256)
def _day_cutoffs(timezone: str, now: datetime) -> tuple[datetime, datetime]:
    """Today's and tomorrow's cutoff (UTC) in ``timezone`` for ``now``: computed once per
    order for all nodes in the same zone, not once per node and promise class."""
    zone = ZoneInfo(timezone)
    day = now.astimezone(zone).date()
    return (
        datetime.combine(day, DAY_CUTOFF, tzinfo=zone).astimezone(UTC),
        datetime.combine(day + timedelta(days=1), DAY_CUTOFF, tzinfo=zone).astimezone(UTC),
    )


def classes_met(node: NodeInfo, eta: datetime, now: datetime) -> tuple[PromiseClass, ...]:
    """The promise classes an arrival at ``eta`` keeps (instant only from stores and front
    warehouses)."""
    met = []
    for promise in PROMISE_ORDER:
        if promise is PromiseClass.INSTANT and node.kind not in INSTANT_KINDS:
            continue
        if eta <= promise_deadline(promise, node, now):
            met.append(promise)
    return tuple(met)


def evaluate_node(
    node: NodeInfo,
    *,
    lat: float,
    lon: float,
    basket: Sequence[BasketLine],
    available: Mapping[str, int],
    timing: Timing,
    now: datetime,
) -> Candidate:
    """Figures for one node; ``available`` maps the basket's SKUs to units available there."""
    distance = haversine_km(node.lat, node.lon, lat, lon)
    needed = {line.temperature_class for line in basket}
    missing = tuple(sorted(needed - node.capabilities))
    units = {line.sku_id: max(0, int(available.get(line.sku_id, 0))) for line in basket}
    demand: dict[str, int] = {}
    for line in basket:
        demand[line.sku_id] = demand.get(line.sku_id, 0) + line.quantity
    has_stock = all(units[sku] >= quantity for sku, quantity in demand.items())
    within_radius = distance <= node.delivery_radius_km
    travel_min = distance / timing.speed_kmh * 60 if timing.speed_kmh > 0 else math.inf
    if within_radius:
        try:
            ready = next_opening(node, now)
        except ValueError:
            ready = now + timedelta(days=3650)
    else:  # cannot deliver here at all: skip the opening hours and promise classes
        ready = now
    eta = ready + timedelta(minutes=timing.handling_min + travel_min)
    return Candidate(
        node=node,
        distance_km=distance,
        within_radius=within_radius,
        capable=not missing,
        missing_classes=missing,
        available=units,
        demand=demand,
        has_stock=has_stock,
        open_now=ready == now,
        ready_at=ready,
        eta=eta,
        eta_min=(eta - now).total_seconds() / 60,
        meets=classes_met(node, eta, now) if within_radius else (),
    )


def evaluate_nodes(
    nodes: Sequence[NodeInfo],
    *,
    lat: float,
    lon: float,
    basket: Sequence[BasketLine],
    stock: Mapping[tuple[str, str], int],
    timing: Timing,
    now: datetime,
) -> list[Candidate]:
    """Every node's candidate, nearest first; ``stock`` maps (node, sku) to units available."""
    candidates = [
        evaluate_node(
            node,
            lat=lat,
            lon=lon,
            basket=basket,
            available={line.sku_id: stock.get((node.id, line.sku_id), 0) for line in basket},
            timing=timing,
            now=now,
        )
        for node in nodes
    ]
    candidates.sort(key=lambda c: (c.distance_km, c.node.id))
    return candidates


def outside_every_area(candidates: Sequence[Candidate]) -> bool:
    """True when no active node delivers to the address at all."""
    return not any(c.node.active and c.within_radius for c in candidates)
