"""Allocation: choose the node(s) for an order, reserve the units, record why.

:func:`allocate_order` reads the nodes (from the per-process snapshot) and the available units
of the basket's SKUs, asks :mod:`cloud.allocation_policy` for the options in order of
preference, and reserves the first option that still has the stock (each attempt in its own
SAVEPOINT, see :mod:`cloud.services.reservation`). The decision, every candidate with its
figures and verdict, and a one-line summary are stored as an ``allocation_decisions`` row.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cloud.allocation_policy import SplitPolicy, explain_choice, explain_rejection, plan_options
from cloud.atp import (
    BasketLine,
    Candidate,
    NodeInfo,
    PromiseClass,
    Timing,
    evaluate_nodes,
    promise_deadline,
)
from cloud.order_models import AllocationDecision, Order, OrderLine
from cloud.services import allocation_cache
from cloud.services.reservation import Pick, allocation_generation, reserve_lines
from cloud.settings import Settings
from cloud.stock_models import StockLevel


@dataclass(frozen=True, slots=True)
class AllocationConfig:
    timing: Timing
    split: SplitPolicy

    @classmethod
    def from_settings(cls, settings: Settings) -> AllocationConfig:
        return cls(
            Timing(speed_kmh=settings.delivery_speed_kmh, handling_min=settings.handling_minutes),
            settings.allocation_split,
        )


@lru_cache(maxsize=1)
def _environment_config() -> AllocationConfig:
    return AllocationConfig.from_settings(Settings())


async def available_units(
    *, session: AsyncSession, sku_ids: Sequence[str]
) -> dict[tuple[str, str], int]:
    """(node, sku) -> on_hand - reserved - on_hold for the given SKUs at every node."""
    level = StockLevel
    rows = await session.execute(
        select(level.node_id, level.sku_id, level.on_hand - level.reserved - level.on_hold).where(
            level.sku_id.in_(sorted(set(sku_ids)))
        )
    )
    return {(node, sku): int(units) for node, sku, units in rows}


async def candidates_for(
    *,
    session: AsyncSession,
    lat: float,
    lon: float,
    basket: Sequence[BasketLine],
    config: AllocationConfig,
    now: datetime,
    nodes: Sequence[NodeInfo] | None = None,
) -> list[Candidate]:
    """Every node's ATP figures for ``basket`` at the address, nearest first."""
    if nodes is None:
        nodes = (await allocation_cache.snapshot(session=session)).nodes
    stock = await available_units(session=session, sku_ids=[line.sku_id for line in basket])
    return evaluate_nodes(
        nodes, lat=lat, lon=lon, basket=basket, stock=stock, timing=config.timing, now=now
    )


async def allocate_order(
    *,
    session: AsyncSession,
    order: Order,
    lines: Sequence[OrderLine],
    now: datetime,
    actor: str,
    config: AllocationConfig | None = None,
    generation: int | None = None,
    candidates: Sequence[Candidate] | None = None,
) -> AllocationDecision:
    """Reserve ``lines`` of ``order`` at the best node(s) and record the decision.

    On success the lines get their ``node_id`` (ORM objects: persistent ones are flushed with
    the session, new ones must be added by the caller) and the order its ``promise_class`` and
    ``promise_by``; the order's status is the caller's business (allocated, or failed with
    the decision's summary when ``outcome == "rejected"``). ``generation`` is 1 for a new order;
    left out, it is counted from earlier decisions (a re-allocation after a modification).
    ``candidates``: the ATP figures when the caller already computed them for this basket.
    """
    config = config or _environment_config()
    catalogue = await allocation_cache.snapshot(session=session)
    basket = [
        BasketLine(line.sku_id, line.quantity, catalogue.skus[line.sku_id].temperature_class)
        if line.sku_id in catalogue.skus
        else BasketLine(line.sku_id, line.quantity, "unknown")
        for line in lines
    ]
    requested = PromiseClass(order.promise_class)
    if candidates is None:
        candidates = await candidates_for(
            session=session,
            lat=order.delivery_lat,
            lon=order.delivery_lon,
            basket=basket,
            config=config,
            now=now,
            nodes=catalogue.nodes,
        )
    if generation is None:
        generation = await allocation_generation(session=session, order_id=order.id) + 1
    for option in plan_options(candidates, basket, requested, config.split):
        picks = [
            Pick(node, line.sku_id, line.quantity)
            for node, line in zip(option.nodes, basket, strict=True)
        ]
        lacking = await reserve_lines(
            session=session,
            order_id=order.id,
            picks=picks,
            now=now,
            actor=actor,
            generation=generation,
        )
        if lacking is not None:
            continue
        by_id = {c.node.id: c for c in candidates}
        promise_by = max(
            promise_deadline(option.promise, by_id[node].node, now) for node in option.node_ids
        )
        _assign_lines(lines, option.nodes)
        order.promise_class = option.promise.value
        order.promise_by = promise_by
        return _record(
            session,
            order,
            outcome=option.outcome,
            node_ids=option.node_ids,
            promise_by=promise_by,
            candidates=candidates,
            promise=option.promise,
            summary=explain_choice(option, candidates, requested),
            now=now,
        )
    return _record(
        session,
        order,
        outcome="rejected",
        node_ids=[],
        promise_by=None,
        candidates=candidates,
        promise=requested,
        summary=explain_rejection(candidates, requested),
        now=now,
    )


def _assign_lines(lines: Sequence[OrderLine], nodes: Sequence[str]) -> None:
    """Set each line's node; the session flushes persistent lines, new ones are the caller's."""
    for line, node in zip(lines, nodes, strict=True):
        line.node_id = node


def _record(
    session: AsyncSession,
    order: Order,
    *,
    outcome: str,
    node_ids: list[str],
    promise_by: datetime | None,
    candidates: Sequence[Candidate],
    promise: PromiseClass,
    summary: str,
    now: datetime,
) -> AllocationDecision:
    decision = AllocationDecision(
        order_id=order.id,
        outcome=outcome,
        node_ids=node_ids,
        promise_by=promise_by,
        candidates=[c.figures(promise) for c in candidates if c.within_radius][:20],
        summary=summary,
        decided_at=now,
    )
    session.add(decision)
    return decision
