"""The console's fleet picture: where every vehicle and rider is, their planned stops, the nodes,
and one vehicle's tasks and compartment temperature charts."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from cloud.api_error import ApiError
from cloud.catalog_models import Node
from cloud.console.alarm_rules import with_acks
from cloud.console.alarms import latest_acks, record_alarms
from cloud.console.schemas import (
    ChartPoint,
    CompartmentChart,
    NodeOut,
    StopOut,
    TaskBrief,
    VehicleDetail,
    VehicleDot,
)
from cloud.fleet_models import Courier, CourierState, DeliveryTask, DispatchPlanRow
from cloud.models import AlarmRow, MeasurementRow, Vehicle
from cloud.services.fleet import ACTIVE_TASKS, compartments_of

CHART_POINTS = 600
CHART_ALARMS = 50


@dataclass(frozen=True, slots=True)
class _Dot:
    id: str
    kind: str
    lat: float
    lon: float
    speed_mps: float | None
    course_deg: float | None
    last_seen: datetime
    courier_id: str | None


async def _dots(session: AsyncSession) -> list[_Dot]:
    """Plain rows (no model validation: the event stream reads them every second)."""
    couriers = (
        await session.execute(
            select(Courier.id, Courier.kind, Courier.gps_device_id).where(Courier.active.is_(True))
        )
    ).all()
    by_device = {c.gps_device_id: c for c in couriers if c.gps_device_id}
    rows = (
        await session.execute(
            select(
                Vehicle.id,
                Vehicle.lat,
                Vehicle.lon,
                Vehicle.speed_mps,
                Vehicle.course_deg,
                Vehicle.time,
            )
        )
    ).all()
    dots = []
    for row in rows:
        courier = by_device.get(row.id)
        dots.append(
            _Dot(
                row.id,
                courier.kind if courier else "vehicle",
                row.lat,
                row.lon,
                row.speed_mps,
                row.course_deg,
                row.time,
                courier.id if courier else None,
            )
        )
    riders = {c.id: c.kind for c in couriers if not c.gps_device_id}
    if riders:
        states = await session.execute(
            select(
                CourierState.courier_id, CourierState.lat, CourierState.lon, CourierState.time
            ).where(CourierState.courier_id.in_(sorted(riders)))
        )
        for state in states:
            dots.append(
                _Dot(
                    state.courier_id,
                    riders[state.courier_id],
                    state.lat,
                    state.lon,
                    None,
                    None,
                    state.time,
                    state.courier_id,
                )
            )
    return sorted(dots, key=lambda d: d.id)


async def vehicle_dots(*, session: AsyncSession) -> list[VehicleDot]:
    """GPS vehicles (with their courier, if one drives it) and app-tracked riders, by id."""
    return [
        VehicleDot(
            id=d.id,
            kind=d.kind,
            lat=d.lat,
            lon=d.lon,
            speed_mps=d.speed_mps,
            course_deg=d.course_deg,
            last_seen=d.last_seen,
            courier_id=d.courier_id,
        )
        for d in await _dots(session)
    ]


async def vehicles_wire(*, session: AsyncSession) -> dict[str, dict[str, Any]]:
    """The event stream's form of each dot: short keys, rounded, keyed by id (``t``: epoch
    seconds of the last fix, so an unchanged vehicle produces no delta)."""
    return {
        d.id: {
            "k": d.kind,
            "lat": round(d.lat, 6),
            "lon": round(d.lon, 6),
            "v": None if d.speed_mps is None else round(d.speed_mps, 1),
            "c": None if d.course_deg is None else round(d.course_deg),
            "t": round(d.last_seen.timestamp(), 1),
            "r": d.courier_id,
        }
        for d in await _dots(session)
    }


async def nodes_out(*, session: AsyncSession) -> list[NodeOut]:
    rows = await session.scalars(select(Node).where(Node.active.is_(True)).order_by(Node.id))
    return [
        NodeOut(
            id=n.id,
            name=n.name,
            kind=n.kind,
            lat=n.lat,
            lon=n.lon,
            delivery_radius_km=n.delivery_radius_km,
        )
        for n in rows
    ]


async def planned_routes(*, session: AsyncSession) -> dict[str, list[StopOut]]:
    """The newest applied dispatch plan's stops per courier, with coordinates; {} if none."""
    plan = await session.scalar(
        select(DispatchPlanRow)
        .where(DispatchPlanRow.applied.is_(True))
        .order_by(DispatchPlanRow.id.desc())
        .limit(1)
    )
    if plan is None:
        return {}
    routes: dict[str, list[dict[str, Any]]] = plan.routes.get("routes", {})
    task_ids = {stop["task_id"] for stops in routes.values() for stop in stops}
    tasks = {
        t.id: t
        for t in await session.scalars(
            select(DeliveryTask).where(DeliveryTask.id.in_(sorted(task_ids)))
        )
    }
    nodes = {
        n.id: n
        for n in await session.scalars(
            select(Node).where(Node.id.in_(sorted({t.pickup_node_id for t in tasks.values()})))
        )
    }
    out: dict[str, list[StopOut]] = {}
    for courier_id, stops in routes.items():
        placed = []
        for stop in stops:
            task = tasks.get(stop["task_id"])
            if task is None:
                continue
            if stop["kind"] == "pickup":
                node = nodes[task.pickup_node_id]
                lat, lon = node.lat, node.lon
            else:
                lat, lon = task.drop_lat, task.drop_lon
            placed.append(
                StopOut(
                    task_id=task.id,
                    kind=str(stop["kind"]),
                    lat=lat,
                    lon=lon,
                    arrival=stop.get("arrival"),
                )
            )
        out[courier_id] = placed
    return out


async def vehicle_detail(*, session: AsyncSession, vehicle_id: str) -> VehicleDetail:
    """One vehicle or rider: position, speed, last seen, active tasks and compartment charts."""
    vehicle = await session.get(Vehicle, vehicle_id)
    courier = await session.scalar(
        select(Courier).where(or_(Courier.gps_device_id == vehicle_id, Courier.id == vehicle_id))
    )
    if vehicle is None and courier is not None and courier.gps_device_id:
        vehicle = await session.get(Vehicle, courier.gps_device_id)
    state = await session.get(CourierState, courier.id) if courier else None
    if vehicle is not None:
        lat, lon, speed, seen = vehicle.lat, vehicle.lon, vehicle.speed_mps, vehicle.time
    elif state is not None:
        lat, lon, speed, seen = state.lat, state.lon, None, state.time
    else:
        raise ApiError(
            404, "vehicle_not_found", f"no vehicle or rider {vehicle_id!r} has a position"
        )
    tasks: Sequence[DeliveryTask] = []
    charts: list[CompartmentChart] = []
    if courier is not None:
        tasks = (
            await session.scalars(
                select(DeliveryTask)
                .where(DeliveryTask.courier_id == courier.id, DeliveryTask.status.in_(ACTIVE_TASKS))
                .order_by(DeliveryTask.planned_drop_at, DeliveryTask.id)
            )
        ).all()
        for compartment in compartments_of(courier):
            charts.append(
                await _chart(
                    session,
                    compartment.name,
                    compartment.sensor_device_id,
                    compartment.temperature_class,
                    compartment.min_c,
                    compartment.max_c,
                )
            )
    return VehicleDetail(
        id=vehicle_id,
        courier_id=courier.id if courier else None,
        kind=courier.kind if courier else "vehicle",
        lat=lat,
        lon=lon,
        speed_mps=speed,
        last_seen=seen,
        tasks=[
            TaskBrief(
                id=t.id,
                order_id=t.order_id,
                status=t.status,
                temperature_class=t.temperature_class,
                window_end=t.window_end,
                planned_drop_at=t.planned_drop_at,
            )
            for t in tasks
        ],
        compartments=charts,
    )


async def _chart(
    session: AsyncSession,
    name: str,
    device_id: str,
    temperature_class: str,
    min_c: float,
    max_c: float,
) -> CompartmentChart:
    rows = (
        await session.execute(
            select(MeasurementRow.time, MeasurementRow.value)
            .where(MeasurementRow.device_id == device_id, MeasurementRow.quantity == "temperature")
            .order_by(MeasurementRow.time.desc())
            .limit(CHART_POINTS)
        )
    ).all()
    points = [
        ChartPoint(t=r.time, c=r.value, out=not min_c <= r.value <= max_c) for r in reversed(rows)
    ]
    excursions = await record_alarms(
        session=session,
        where=or_(AlarmRow.subject == device_id, AlarmRow.subject.like(f"%/{device_id}")),
        limit=CHART_ALARMS,
    )
    acks = await latest_acks(session=session, keys=[a.key for a in excursions])
    return CompartmentChart(
        name=name,
        sensor_device_id=device_id,
        temperature_class=temperature_class,
        min_c=min_c,
        max_c=max_c,
        points=points,
        excursions=with_acks(excursions, acks),
    )
