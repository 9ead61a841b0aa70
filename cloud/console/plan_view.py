"""The console's Dispatch tab: each courier's planned stops from the newest applied dispatch plan,
what it carries, the tasks a carrier took and the tasks nobody has yet.

:func:`read_facts` does the reading; :func:`build_view` is pure (rows and a clock in, the view
out), and :func:`view_version` names what the view shows so the event stream can tell the page
when to fetch it again."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

import orjson
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cloud.catalog_models import Node
from cloud.console.schemas import (
    CarrierTask,
    CourierPlan,
    DispatchOut,
    DispatchStop,
    WaitingTask,
)
from cloud.dispatch_live import LIVE
from cloud.fleet_models import CarrierShipment, Courier, DeliveryTask, DispatchPlanRow
from cloud.fleet_rules import (
    Reading,
    compartment_faults,
    current_shift,
    effective_skills,
    round_position,
)
from cloud.services.carrier_shipments import REFUSED
from cloud.services.fleet import ACTIVE_TASKS, compartments_of, latest_readings, shifts_of

UNFINISHED = (*LIVE, "carrier")
CourierState = Literal["inactive", "off_shift", "idle", "to_pickup", "delivering"]
# Keys whose times count only to the minute in the version (the planner moves them by seconds).
_MINUTE_KEYS = ("arrival", "pickup_eta", "drop_eta")


@dataclass(frozen=True, slots=True)
class DispatchFacts:
    plan: DispatchPlanRow | None
    newest_error: str | None
    couriers: Sequence[Courier]
    tasks: Sequence[DeliveryTask]
    nodes: Mapping[str, Node]
    shipments: Mapping[str, CarrierShipment]
    readings: Mapping[str, Reading] = field(default_factory=dict)
    """The newest temperature of each compartment sensor, for the skills it still has."""


async def read_facts(*, session: AsyncSession) -> DispatchFacts:
    """The newest applied plan, the unfinished tasks and who may hold them."""
    plan = await session.scalar(
        select(DispatchPlanRow)
        .where(DispatchPlanRow.applied.is_(True))
        .order_by(DispatchPlanRow.id.desc())
        .limit(1)
    )
    newest = (
        await session.execute(
            select(DispatchPlanRow.id, DispatchPlanRow.error)
            .order_by(DispatchPlanRow.id.desc())
            .limit(1)
        )
    ).first()
    newest_error = None
    if newest is not None and (plan is None or newest.id != plan.id):
        newest_error = newest.error
    tasks = (
        await session.scalars(
            select(DeliveryTask)
            .where(DeliveryTask.status.in_(UNFINISHED))
            .order_by(DeliveryTask.window_end, DeliveryTask.id)
        )
    ).all()
    holders = sorted({t.courier_id for t in tasks if t.courier_id})
    couriers = (
        await session.scalars(
            select(Courier)
            .where(Courier.active.is_(True) | Courier.id.in_(holders))
            .order_by(Courier.id)
        )
    ).all()
    node_ids = sorted({t.pickup_node_id for t in tasks})
    nodes = {n.id: n for n in await session.scalars(select(Node).where(Node.id.in_(node_ids)))}
    carried = sorted(t.id for t in tasks if t.status == "carrier")
    shipments = {
        s.task_id: s
        for s in await session.scalars(
            select(CarrierShipment).where(CarrierShipment.task_id.in_(carried))
        )
    }
    sensors = [comp.sensor_device_id for c in couriers for comp in compartments_of(c)]
    readings = await latest_readings(session=session, device_ids=sensors) if sensors else {}
    return DispatchFacts(plan, newest_error, couriers, tasks, nodes, shipments, readings)


def _place(task: DeliveryTask, kind: str, nodes: Mapping[str, Node]) -> tuple[str, float, float]:
    if kind == "pickup":
        node = nodes.get(task.pickup_node_id)
        if node is None:
            return task.pickup_node_id, 0.0, 0.0
        return f"{node.id} ({node.name})", node.lat, node.lon
    lat, lon = round_position(task.drop_lat, task.drop_lon)
    return f"{lat:.3f}, {lon:.3f}", task.drop_lat, task.drop_lon


def _stop(
    task: DeliveryTask,
    kind: Literal["pickup", "dropoff"],
    arrival: datetime | None,
    nodes: Mapping[str, Node],
    late_ids: frozenset[str],
) -> DispatchStop:
    place, lat, lon = _place(task, kind, nodes)
    late = task.id in late_ids or (
        kind == "dropoff" and arrival is not None and arrival > task.window_end
    )
    return DispatchStop(
        task_id=task.id,
        order_id=task.order_id,
        kind=kind,
        node_id=task.pickup_node_id if kind == "pickup" else None,
        place=place,
        lat=lat,
        lon=lon,
        arrival=arrival,
        promise_by=task.window_end,
        deadline=task.deadline,
        task_status=task.status,
        late=late,
    )


def _state(
    courier: Courier, stops: Sequence[DispatchStop], mine: Sequence[DeliveryTask], now: datetime
) -> CourierState:
    if stops:
        return "to_pickup" if stops[0].kind == "pickup" else "delivering"
    if any(t.status == "picked_up" for t in mine):
        return "delivering"
    if mine:
        return "to_pickup"
    if not courier.active:
        return "inactive"
    shift = current_shift(shifts_of(courier), now)
    return "idle" if shift is not None and shift[0] <= now else "off_shift"


def _courier_plan(
    courier: Courier,
    route: Sequence[Mapping[str, Any]],
    tasks: Mapping[str, DeliveryTask],
    nodes: Mapping[str, Node],
    late_ids: frozenset[str],
    readings: Mapping[str, Reading],
    now: datetime,
) -> CourierPlan:
    mine = [t for t in tasks.values() if t.courier_id == courier.id and t.status in ACTIVE_TASKS]
    stops: list[DispatchStop] = []
    for stop in route:
        task = tasks.get(str(stop.get("task_id")))
        kind = stop.get("kind")
        if task is None or task.status not in LIVE or kind not in ("pickup", "dropoff"):
            continue  # done since the plan was made
        if kind == "pickup" and task.status == "picked_up":
            continue
        arrival = datetime.fromisoformat(stop["arrival"]) if stop.get("arrival") else None
        stops.append(_stop(task, kind, arrival, nodes, late_ids))
    planned = {s.task_id for s in stops}
    unplanned = [
        _stop(t, "dropoff" if t.status == "picked_up" else "pickup", None, nodes, late_ids)
        for t in mine
        if t.id not in planned
    ]
    shift = current_shift(shifts_of(courier), now)
    compartments = compartments_of(courier)
    faults = compartment_faults(compartments, readings, now)
    skills = effective_skills(courier.skills, compartments, faults)
    return CourierPlan(
        id=courier.id,
        kind=courier.kind,
        state=_state(courier, stops, mine, now),
        vehicle_id=courier.gps_device_id,
        skills=sorted(skills),
        lost_skills=sorted(set(courier.skills) - skills),
        capacity=courier.capacity,
        on_board=sum(t.size for t in mine if t.status == "picked_up"),
        load=sum(t.size for t in mine),
        shift_end=shift[1] if shift is not None else None,
        stops=stops,
        unplanned=unplanned,
    )


def _carrier_task(task: DeliveryTask, shipment: CarrierShipment | None) -> CarrierTask:
    drop_eta = shipment.drop_eta if shipment else None
    return CarrierTask(
        task_id=task.id,
        order_id=task.order_id,
        carrier=shipment.carrier if shipment else "?",
        external_id=shipment.external_id if shipment else "",
        status=shipment.status if shipment else "unknown",
        pickup_node_id=task.pickup_node_id,
        pickup_eta=shipment.pickup_eta if shipment else None,
        drop_eta=drop_eta,
        promise_by=task.window_end,
        late=drop_eta is not None and drop_eta > task.window_end,
    )


def _why_waiting(task: DeliveryTask, unassigned: frozenset[str]) -> str:
    if (task.failure_reason or "").startswith(REFUSED):
        return task.failure_reason or ""
    if task.id in unassigned:
        return "the plan found no courier that can take it"
    return "waiting for the next plan"


def build_view(facts: DispatchFacts, now: datetime) -> DispatchOut:
    plan = facts.plan
    stored: Mapping[str, Any] = plan.routes if plan is not None else {}
    routes: Mapping[str, Sequence[Mapping[str, Any]]] = stored.get("routes", {})
    late_ids = frozenset(stored.get("late", []))
    unassigned = frozenset(stored.get("unassigned", []))
    tasks = {t.id: t for t in facts.tasks}
    couriers = [
        _courier_plan(c, routes.get(c.id, ()), tasks, facts.nodes, late_ids, facts.readings, now)
        for c in facts.couriers
    ]
    carrier = [
        _carrier_task(t, facts.shipments.get(t.id)) for t in facts.tasks if t.status == "carrier"
    ]
    waiting = [
        WaitingTask(
            task_id=t.id,
            order_id=t.order_id,
            pickup_node_id=t.pickup_node_id,
            promise_by=t.window_end,
            why=_why_waiting(t, unassigned),
        )
        for t in facts.tasks
        if t.status == "open"
    ]
    view = DispatchOut(
        version="",
        plan_id=plan.id if plan is not None else None,
        planned_at=plan.created_at if plan is not None else None,
        solve_ms=plan.solve_ms if plan is not None else None,
        error=facts.newest_error,
        couriers=couriers,
        carrier=carrier,
        waiting=waiting,
    )
    return view.model_copy(update={"version": view_version(view)})


def view_version(view: DispatchOut) -> str:
    """A short digest of what the tab shows; re-plans that move nothing by a minute keep it."""
    shown = view.model_dump(mode="json", exclude={"version", "plan_id", "planned_at", "solve_ms"})
    return hashlib.sha256(orjson.dumps(_to_minutes(shown))).hexdigest()[:16]


def _to_minutes(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            key: item[:16] if key in _MINUTE_KEYS and isinstance(item, str) else _to_minutes(item)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [_to_minutes(item) for item in value]
    return value


async def dispatch_view(*, session: AsyncSession, now: datetime) -> DispatchOut:
    return build_view(await read_facts(session=session), now)


async def plan_version(*, session: AsyncSession, now: datetime) -> str:
    """What the event stream carries each second (``plan``): the view's version."""
    return (await dispatch_view(session=session, now=now)).version
