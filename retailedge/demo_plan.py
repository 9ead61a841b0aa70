"""What the demo's business flow does, as pure functions: the receive scans a warehouse worker
makes from the gateway's catalogue (a pallet, cases, loose units), the units each scan books,
the channel orders placed near the node, and the figures read back from ``GET /api/v1/stock``.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from firmware_bridge.records import ScanOperation
from simulators.order_payloads import random_order, render
from simulators.scanner_session import Step

UNIT_QUANTITY: Final = (4, 12)
"""Loose units received per SKU (inclusive): enough for most orders, while a busy SKU can run
out, so an order fails with its reason rather than being oversold."""
CASES_RECEIVED: Final = 3
ORDER_RADIUS_KM: Final = 2.5
MAX_LINES: Final = 3
MAX_QUANTITY: Final = 3


class PlanError(ValueError):
    """The catalogue cannot drive the demo; the message says what is missing."""


@dataclass(frozen=True, slots=True)
class PlannedScan:
    step: Step
    units: dict[str, int]
    """Base units per SKU id this scan books on hand (a case or a pallet counts its contents)."""


@dataclass(frozen=True, slots=True)
class PlannedOrder:
    channel: str
    channel_kind: str
    external_id: str
    payload: dict[str, Any]


def _skus(body: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    return {sku["id"]: sku for sku in body.get("skus", []) if isinstance(sku, dict)}


def unit_sku_ids(body: Mapping[str, Any]) -> list[str]:
    """Active SKUs of the snapshot that are not cases, sorted."""
    return sorted(sku_id for sku_id, sku in _skus(body).items() if not sku.get("pack_of"))


def base_units(skus: Mapping[str, Mapping[str, Any]], sku_id: str, quantity: int) -> dict[str, int]:
    """``quantity`` of ``sku_id`` in base units: a case counts ``pack_quantity`` of its unit."""
    sku = skus.get(sku_id)
    if sku is None:
        raise PlanError(f"SKU {sku_id!r} is not in the gateway's catalogue")
    pack_of = sku.get("pack_of")
    if pack_of:
        return {str(pack_of): quantity * int(sku.get("pack_quantity") or 1)}
    return {sku_id: quantity}


def _add(total: dict[str, int], more: Mapping[str, int]) -> None:
    for sku_id, quantity in more.items():
        total[sku_id] = total.get(sku_id, 0) + quantity


def _scanned_gtin(gtin: str) -> str:
    """What a handheld reads off the pack: the EAN-13 of a GTIN-14 with a leading zero."""
    return gtin[1:] if len(gtin) == 14 and gtin.startswith("0") else gtin


def dock_location(body: Mapping[str, Any]) -> str:
    codes = [loc["code"] for loc in body.get("locations", []) if isinstance(loc, dict)]
    if not codes:
        raise PlanError("the gateway's node has no locations in the catalogue")
    return str(next((code for code in codes if code.upper().startswith("DOCK")), codes[0]))


def receive_plan(
    body: Mapping[str, Any],
    manifests: Sequence[Mapping[str, Any]],
    rng: random.Random,
) -> list[PlannedScan]:
    """Receive scans at the node's dock: one pallet (SSCC, when a manifest exists), a few cases
    of the first case SKU (GTIN with AI 37), and loose units of every unit SKU."""
    skus = _skus(body)
    units = unit_sku_ids(body)
    if not units:
        raise PlanError("the gateway's catalogue has no SKU that is not a case")
    dock = dock_location(body)
    plan: list[PlannedScan] = []
    if manifests:
        manifest = manifests[0]
        booked: dict[str, int] = {}
        for line in manifest["lines"]:
            _add(booked, base_units(skus, str(line["sku_id"]), int(line["quantity"])))
        step = Step(ScanOperation.RECEIVE, f"(00){manifest['sscc']}", 1, dock)
        plan.append(PlannedScan(step, booked))
    cases = sorted(sku_id for sku_id, sku in skus.items() if sku.get("pack_of") in skus)
    if cases:
        case = skus[cases[0]]
        code = f"(01){case['gtin']}(37){CASES_RECEIVED}"
        step = Step(ScanOperation.RECEIVE, code, CASES_RECEIVED, dock)
        plan.append(PlannedScan(step, base_units(skus, case["id"], CASES_RECEIVED)))
    for sku_id in units:
        quantity = rng.randint(*UNIT_QUANTITY)
        step = Step(ScanOperation.RECEIVE, _scanned_gtin(skus[sku_id]["gtin"]), quantity, dock)
        plan.append(PlannedScan(step, {sku_id: quantity}))
    return plan


def planned_units(plan: Sequence[PlannedScan]) -> dict[str, int]:
    total: dict[str, int] = {}
    for scan in plan:
        _add(total, scan.units)
    return total


def order_plan(
    rng: random.Random,
    *,
    count: int,
    channels: Sequence[tuple[str, str]],
    sku_ids: Sequence[str],
    member_ids: Sequence[str],
    center: tuple[float, float],
    run_tag: str,
    placed_at: datetime,
) -> list[PlannedOrder]:
    """``count`` orders round-robin over ``channels`` (id, kind), each in its channel's own
    payload shape, delivered within :data:`ORDER_RADIUS_KM` of ``center``."""
    if not channels:
        raise PlanError("the catalogue has no active channel to place orders from")
    if not sku_ids:
        raise PlanError("the catalogue has no SKU to order")
    orders = []
    for number in range(count):
        channel, kind = channels[number % len(channels)]
        external_id = f"DEMO-{run_tag}-{number + 1:03d}"
        order = random_order(
            rng,
            external_id=external_id,
            sku_refs=sku_ids,
            placed_at=placed_at,
            center=center,
            radius_km=ORDER_RADIUS_KM,
            member_ids=member_ids,
            max_lines=MAX_LINES,
            max_quantity=MAX_QUANTITY,
        )
        orders.append(PlannedOrder(channel, kind, external_id, render(kind, order)))
    return orders


@dataclass(frozen=True, slots=True)
class StockFigures:
    on_hand: dict[str, int]
    """Per SKU at the node asked about."""
    reserved_total: int
    """Over every node."""
    oversold: int
    """Units reserved or held beyond on-hand, over every node (must be 0)."""


def stock_figures(levels: Sequence[Mapping[str, Any]], node_id: str) -> StockFigures:
    """Figures of ``GET /api/v1/stock`` rows."""
    on_hand: Counter[str] = Counter()
    reserved = oversold = 0
    for level in levels:
        if level["node_id"] == node_id:
            on_hand[str(level["sku_id"])] += int(level["on_hand"])
        reserved += int(level["reserved"])
        committed = int(level["reserved"]) + int(level["on_hold"])
        oversold += max(0, committed - int(level["on_hand"]))
    return StockFigures(dict(on_hand), reserved, oversold)


def received_since(before: Mapping[str, int], after: Mapping[str, int]) -> dict[str, int]:
    """On-hand gained per SKU (SKUs without a gain left out)."""
    gained = {sku: after.get(sku, 0) - before.get(sku, 0) for sku in {*before, *after}}
    return {sku: delta for sku, delta in sorted(gained.items()) if delta}
