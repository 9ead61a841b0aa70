"""The console's gateways table, orders board and stock view (read-only queries)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from cloud.console.alarm_rules import (
    OPEN_ORDER_STATUSES,
    GatewayFacts,
    OrderFacts,
    buffer_records,
    evicted_total,
    is_late_risk,
    is_online,
    oldest_unsent_s,
)
from cloud.console.alarms import gateway_facts
from cloud.console.schemas import GatewayOut, OrderCard, OrdersBoard, StockOut
from cloud.fleet_models import DeliveryTask
from cloud.gateway_config_models import GatewayConfigRow
from cloud.order_models import AllocationDecision, Order, OrderLine
from cloud.order_read_schemas import AllocationDecisionPublic
from cloud.security import Principal
from cloud.services import stock, stock_lookup
from cloud.services.scope import visible_node_ids
from cloud.stock_models import StockMovement

BOARD_LIMIT = 300
MOVEMENTS_SHOWN = 200


def _section(health: Mapping[str, Any] | None, name: str) -> Mapping[str, Any]:
    found = (health or {}).get(name)
    return found if isinstance(found, Mapping) else {}


def _connectors(health: Mapping[str, Any] | None) -> dict[str, str]:
    """Each connector's ``status`` as the edge's connector snapshots write it."""
    return {
        name: str(snap.get("status", "?")) if isinstance(snap, Mapping) else str(snap)
        for name, snap in sorted(_section(health, "connectors").items())
    }


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def gateway_out(facts: GatewayFacts, config_version: int | None, now: datetime) -> GatewayOut:
    health = dict(facts.health) if facts.health is not None else None
    quarantined = (health or {}).get("quarantined")
    uplink = _section(health, "uplink")
    downlink = _section(health, "downlink")
    reported = downlink.get("config_version")
    return GatewayOut(
        id=facts.id,
        last_seen=facts.last_seen,
        online=is_online(facts, now),
        ack_seq=facts.ack_seq,
        clock_skew_s=facts.clock_skew_s,
        buffer_records=buffer_records(health),
        oldest_unsent_s=oldest_unsent_s(health),
        evicted=evicted_total(health),
        quarantined=int(quarantined) if isinstance(quarantined, int | float) else None,
        uplink_state=_text(uplink.get("state")),
        connectors=_connectors(health),
        config_version=None if config_version is None else str(config_version),
        reported_config_version=reported
        if isinstance(reported, int) and not isinstance(reported, bool)
        else None,
        config_source=_text(downlink.get("config_source")),
        config_status=_text(_section(downlink, "config").get("status")),
    )


async def list_gateways(*, session: AsyncSession, now: datetime) -> list[GatewayOut]:
    rows = await session.execute(select(GatewayConfigRow.gateway_id, GatewayConfigRow.version))
    versions = {gateway_id: version for gateway_id, version in rows}
    facts = await gateway_facts(session=session)
    return [gateway_out(f, versions.get(f.id), now) for f in facts]


async def _visible_orders(session: AsyncSession, principal: Principal) -> Select[Order]:
    query = select(Order)
    nodes = await visible_node_ids(session=session, principal=principal)
    if nodes is not None:
        query = query.where(
            select(OrderLine.order_id)
            .where(OrderLine.order_id == Order.id, OrderLine.node_id.in_(sorted(nodes)))
            .exists()
        )
    return query


async def board_orders(
    *, session: AsyncSession, principal: Principal, limit: int = BOARD_LIMIT
) -> list[Order]:
    """Up to ``limit`` orders: every open one first, most urgent (earliest promise) first,
    then the most recently closed ones to fill the board."""
    query = await _visible_orders(session, principal)
    open_orders = list(
        await session.scalars(
            query.where(Order.status.in_(sorted(OPEN_ORDER_STATUSES)))
            .order_by(Order.promise_by.is_(None), Order.promise_by, Order.id)
            .limit(limit)
        )
    )
    room = limit - len(open_orders)
    if room <= 0:
        return open_orders
    closed = await session.scalars(
        query.where(Order.status.not_in(sorted(OPEN_ORDER_STATUSES)))
        .order_by(Order.updated_at.desc(), Order.id)
        .limit(room)
    )
    return [*open_orders, *closed]


async def orders_board(
    *, session: AsyncSession, principal: Principal, now: datetime, limit: int = BOARD_LIMIT
) -> OrdersBoard:
    """Counts by status and up to ``limit`` orders (every open one first, by promise, then the
    most recently closed), each with its late risk, the latest allocation decision (the "why")
    and the courier carrying it."""
    counts = await order_status_counts(session=session, principal=principal)
    orders = await board_orders(session=session, principal=principal, limit=limit)
    ids = [o.id for o in orders]
    lines: dict[str, set[str]] = {i: set() for i in ids}
    tasks: dict[str, DeliveryTask] = {}
    decisions: dict[str, AllocationDecision] = {}
    if ids:
        for order_id, node_id in await session.execute(
            select(OrderLine.order_id, OrderLine.node_id).where(OrderLine.order_id.in_(ids))
        ):
            if node_id:
                lines[order_id].add(node_id)
        for row in await session.scalars(
            select(DeliveryTask).where(DeliveryTask.order_id.in_(ids)).order_by(DeliveryTask.id)
        ):
            tasks.setdefault(row.order_id, row)
        newest = (
            select(func.max(AllocationDecision.id))
            .where(AllocationDecision.order_id.in_(ids))
            .group_by(AllocationDecision.order_id)
        )
        for made in await session.scalars(
            select(AllocationDecision).where(AllocationDecision.id.in_(newest))
        ):
            decisions[made.order_id] = made
    cards = []
    for order in orders:
        task = tasks.get(order.id)
        facts = OrderFacts(
            order.id, order.status, order.promise_by, task.planned_drop_at if task else None
        )
        decision = decisions.get(order.id)
        cards.append(
            OrderCard(
                id=order.id,
                channel=order.channel,
                status=order.status,
                promise_class=order.promise_class,
                promise_by=order.promise_by,
                nodes=sorted(lines[order.id]),
                late_risk=is_late_risk(facts, now),
                minutes_left=None
                if order.promise_by is None
                else round((order.promise_by - now).total_seconds() / 60, 1),
                why=None if decision is None else _decision(decision),
                courier_id=task.courier_id if task else None,
            )
        )
    return OrdersBoard(counts=counts, orders=cards)


def _decision(row: AllocationDecision) -> AllocationDecisionPublic:
    return AllocationDecisionPublic(
        id=row.id,
        outcome=row.outcome,
        node_ids=list(row.node_ids),
        promise_by=row.promise_by,
        summary=row.summary,
        candidates=list(row.candidates),
        decided_at=row.decided_at,
    )


async def stock_view(
    *, session: AsyncSession, principal: Principal, node_id: str | None, sku_id: str | None
) -> StockOut:
    """Balances per node × SKU and the newest movements with their sources (scoped by role)."""
    levels = await stock.list_levels(
        session=session, principal=principal, node_id=node_id, sku_id=sku_id
    )
    nodes = await stock_lookup.scoped_nodes(session, principal=principal, node_id=node_id)
    query = select(StockMovement)
    if nodes is not None:
        query = query.where(StockMovement.node_id.in_(nodes))
    if sku_id is not None:
        query = query.where(StockMovement.sku_id == sku_id)
    rows = await session.scalars(query.order_by(StockMovement.id.desc()).limit(MOVEMENTS_SHOWN))
    return StockOut(levels=levels, movements=[stock.movement_public(row) for row in rows])


async def order_status_counts(*, session: AsyncSession, principal: Principal) -> dict[str, int]:
    scoped = (await _visible_orders(session, principal)).subquery()
    rows = await session.execute(select(scoped.c.status, func.count()).group_by(scoped.c.status))
    return {status: int(n) for status, n in sorted(rows, key=lambda row: str(row[0]))}
