"""Delivery tasks: made from allocated orders (one per order and pickup node), read, and
changed only by conditional updates on their status and version."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, Table, and_, exists, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from cloud.catalog_models import Node, Sku
from cloud.fleet_models import DeliveryTask
from cloud.fleet_rules import coldest
from cloud.fleet_schemas import PickupPlace, Place, TaskOut
from cloud.order_models import Order, OrderLine
from cloud.services.sql import upsert_insert

# Orders whose goods are still at the node: a courier can be planned for them.
DISPATCHABLE = ("allocated", "picking", "packed")
CLOSED_ORDERS = ("cancelled", "failed")
UNFINISHED = ("open", "assigned", "accepted", "picked_up", "carrier")
_TASKS: Table = DeliveryTask.__table__  # type: ignore[assignment]


@dataclass(frozen=True)
class TaskTiming:
    handling: timedelta  # pick and pack before a task is ready
    max_late: timedelta  # deadline = promise + max_late
    horizon: timedelta  # orders promised further ahead wait


def task_id(order_id: str, node_id: str) -> str:
    return f"{order_id}@{node_id}"


def waiting_lines(now: datetime, timing: TaskTiming) -> Select[str, str | None, int, str]:
    """Allocated lines of dispatchable orders promised within the horizon whose (order, node)
    has no task yet: new orders, and nodes a re-allocation added."""
    return (
        select(OrderLine.order_id, OrderLine.node_id, OrderLine.quantity, Sku.temperature_class)
        .join(Order, Order.id == OrderLine.order_id)
        .join(Sku, Sku.id == OrderLine.sku_id)
        .where(
            Order.status.in_(DISPATCHABLE),
            Order.promise_by.is_not(None),
            Order.promise_by <= now + timing.horizon,
            OrderLine.node_id.is_not(None),
            ~exists().where(
                DeliveryTask.order_id == OrderLine.order_id,
                DeliveryTask.pickup_node_id == OrderLine.node_id,
            ),
        )
    )


async def create_tasks(*, session: AsyncSession, now: datetime, timing: TaskTiming) -> list[str]:
    """A task per (order, node) of :func:`waiting_lines`; returns their ids (a concurrent run
    creating the same task is ignored)."""
    lines = (await session.execute(waiting_lines(now, timing).limit(20_000))).all()
    # order id -> node id -> (quantity, temperature class) of its lines there
    grouped: dict[str, dict[str, list[tuple[int, str]]]] = {}
    for order_id, node_id, quantity, temperature_class in lines:
        if node_id is not None:
            by_node = grouped.setdefault(order_id, {})
            by_node.setdefault(node_id, []).append((quantity, temperature_class))
    if not grouped:
        return []
    orders = (
        await session.scalars(select(Order).where(Order.id.in_(list(grouped))).order_by(Order.id))
    ).all()
    rows: list[dict[str, Any]] = []
    for order in orders:
        assert order.promise_by is not None
        ready = order.placed_at + timing.handling
        if order.status == "packed":
            ready = min(ready, now)
        for node_id, items in sorted(grouped[order.id].items()):
            rows.append(
                {
                    "id": task_id(order.id, node_id),
                    "order_id": order.id,
                    "pickup_node_id": node_id,
                    "drop_lat": order.delivery_lat,
                    "drop_lon": order.delivery_lon,
                    "ready_at": ready,
                    "window_end": order.promise_by,
                    "deadline": order.promise_by + timing.max_late,
                    "priority": order.priority,
                    "service": dict(order.service),
                    "temperature_class": coldest([c for _, c in items]),
                    "size": sum(q for q, _ in items),
                    "status": "open",
                    "declined_by": [],
                    "created_at": now,
                    "updated_at": now,
                    "version": 1,
                }
            )
    if not rows:
        return []
    statement = upsert_insert(session, _TASKS).on_conflict_do_nothing()
    await session.execute(statement, rows)
    return [row["id"] for row in rows]


async def refresh_tasks(*, session: AsyncSession, now: datetime, timing: TaskTiming) -> int:
    """Follow changes of orders whose goods are still at the node: a new delivery address or
    promise moves the drop and window (until pickup); new lines change size and temperature
    class; a node the order no longer ships from fails its task (``order re-allocated``), and
    :func:`create_tasks` adds the new node's. Returns how many tasks changed."""
    pairs = (
        await session.execute(
            select(DeliveryTask, Order)
            .join(Order, Order.id == DeliveryTask.order_id)
            .where(
                DeliveryTask.status.in_(("open", "assigned", "accepted")),
                Order.status.in_(DISPATCHABLE),
            )
            .execution_options(populate_existing=True)
        )
    ).all()
    if not pairs:
        return 0
    lines = await session.execute(
        select(OrderLine.order_id, OrderLine.node_id, OrderLine.quantity, Sku.temperature_class)
        .join(Sku, Sku.id == OrderLine.sku_id)
        .where(OrderLine.order_id.in_({order.id for _, order in pairs}))
    )
    grouped: dict[tuple[str, str | None], list[tuple[int, str]]] = {}
    for order_id, node_id, quantity, temperature_class in lines:
        grouped.setdefault((order_id, node_id), []).append((quantity, temperature_class))
    changed = 0
    for task, order in pairs:
        items = grouped.get((order.id, task.pickup_node_id))
        values: dict[str, Any]
        if items is None:
            values = {
                "status": "failed",
                "failure_reason": "order re-allocated",
                "finished_at": now,
            }
        else:
            assert order.promise_by is not None
            wanted = {
                "drop_lat": order.delivery_lat,
                "drop_lon": order.delivery_lon,
                "window_end": order.promise_by,
                "deadline": order.promise_by + timing.max_late,
                "size": sum(q for q, _ in items),
                "temperature_class": coldest([c for _, c in items]),
            }
            values = {k: v for k, v in wanted.items() if getattr(task, k) != v}
        if values and await change_task(
            session=session, task=task, expect=(task.status,), values=values, now=now
        ):
            changed += 1
    return changed


async def close_tasks_of_closed_orders(
    *, session: AsyncSession, now: datetime
) -> list[tuple[DeliveryTask, str]]:
    """Unfinished tasks whose order was cancelled or failed become failed; returns them with
    the status they had (the caller cancels carrier shipments among them)."""
    tasks = list(
        (
            await session.scalars(
                select(DeliveryTask)
                .join(Order, Order.id == DeliveryTask.order_id)
                .where(DeliveryTask.status.in_(UNFINISHED), Order.status.in_(CLOSED_ORDERS))
            )
        ).all()
    )
    closed: list[tuple[DeliveryTask, str]] = []
    for task in tasks:
        was = task.status
        if await change_task(
            session=session,
            task=task,
            expect=(was,),
            values={"status": "failed", "failure_reason": "order closed", "finished_at": now},
            now=now,
        ):
            closed.append((task, was))
    return closed


async def change_task(
    *,
    session: AsyncSession,
    task: DeliveryTask,
    expect: Sequence[str],
    values: dict[str, Any],
    now: datetime,
) -> bool:
    """Apply ``values`` if the task still has the status and version we read; False when
    another writer changed it first. Updates ``task`` in place on success."""
    result = await session.execute(
        update(DeliveryTask)
        .where(
            and_(
                DeliveryTask.id == task.id,
                DeliveryTask.status.in_(expect),
                DeliveryTask.version == task.version,
            )
        )
        .values(**values, updated_at=now, version=DeliveryTask.version + 1)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        return False
    for name, value in values.items():
        setattr(task, name, value)
    task.updated_at = now
    task.version += 1
    return True


def task_out(task: DeliveryTask, node: Node) -> TaskOut:
    return TaskOut(
        id=task.id,
        order_id=task.order_id,
        status=task.status,
        courier_id=task.courier_id,
        pickup=PickupPlace(node_id=node.id, name=node.name, lat=node.lat, lon=node.lon),
        drop=Place(lat=task.drop_lat, lon=task.drop_lon),
        ready_at=task.ready_at,
        window_end=task.window_end,
        deadline=task.deadline,
        priority=task.priority,
        service=dict(task.service),
        temperature_class=task.temperature_class,
        size=task.size,
        planned_pickup_at=task.planned_pickup_at,
        planned_drop_at=task.planned_drop_at,
        accepted_at=task.accepted_at,
        arrived_at=task.arrived_at,
        picked_up_at=task.picked_up_at,
        finished_at=task.finished_at,
        proof=task.proof,
        failure_reason=task.failure_reason,
        temperature_record=task.temperature_record,
    )


async def tasks_out(*, session: AsyncSession, tasks: Sequence[DeliveryTask]) -> list[TaskOut]:
    node_ids = {t.pickup_node_id for t in tasks}
    nodes = {n.id: n for n in await session.scalars(select(Node).where(Node.id.in_(node_ids)))}
    return [task_out(t, nodes[t.pickup_node_id]) for t in tasks]


async def list_tasks(
    *, session: AsyncSession, status: str | None, courier_id: str | None, limit: int
) -> list[TaskOut]:
    query = select(DeliveryTask)
    if status is not None:
        query = query.where(DeliveryTask.status == status)
    if courier_id is not None:
        query = query.where(DeliveryTask.courier_id == courier_id)
    query = query.order_by(DeliveryTask.window_end, DeliveryTask.id).limit(limit)
    return await tasks_out(session=session, tasks=(await session.scalars(query)).all())
