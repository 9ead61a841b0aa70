"""The fleet registry and each courier's live state: position (rider app or vehicle GPS) and
the compartments' latest temperatures."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from cloud.api_error import ApiError
from cloud.catalog_models import Node
from cloud.dispatch.eta import Point
from cloud.fleet_models import Courier, CourierState, DeliveryTask
from cloud.fleet_rules import (
    Compartment,
    CompartmentFault,
    Reading,
    check_shifts,
    compartment_faults,
    effective_skills,
)
from cloud.fleet_schemas import (
    CompartmentStatus,
    CourierIn,
    CourierOut,
    PositionOut,
    ShiftIn,
)
from cloud.models import MeasurementRow, Vehicle

ACTIVE_TASKS = ("assigned", "accepted", "picked_up")


def compartments_of(courier: Courier) -> list[Compartment]:
    return [
        Compartment(
            name=c["name"],
            sensor_device_id=c["sensor_device_id"],
            temperature_class=c["temperature_class"],
            min_c=float(c["min_c"]),
            max_c=float(c["max_c"]),
        )
        for c in courier.compartments
    ]


def shifts_of(courier: Courier) -> list[tuple[datetime, datetime]]:
    return [
        (datetime.fromisoformat(s["start"]), datetime.fromisoformat(s["end"]))
        for s in courier.shifts
    ]


def _validate(body: CourierIn) -> None:
    problem = check_shifts([(s.start, s.end) for s in body.shifts])
    if problem is not None:
        raise ApiError(422, "invalid_shifts", problem)
    classes = {c.temperature_class for c in body.compartments}
    missing = classes - set(body.skills)
    if missing:
        raise ApiError(
            422,
            "invalid_compartments",
            f"compartments: a {'/'.join(sorted(missing))} compartment needs that skill in skills",
        )
    if body.kind == "reefer_van" and not body.compartments:
        raise ApiError(
            422,
            "invalid_compartments",
            "compartments: a reefer_van needs at least one monitored compartment",
        )
    names = [c.name for c in body.compartments]
    if len(set(names)) != len(names):
        raise ApiError(422, "invalid_compartments", "compartments: names must be unique")


async def upsert_courier(
    *, session: AsyncSession, body: CourierIn, now: datetime
) -> tuple[Courier, bool]:
    """Create or replace a courier; returns it and whether it is new. Flushes, no commit."""
    _validate(body)
    if await session.get(Node, body.home_node_id) is None:
        raise ApiError(422, "unknown_node", f"home_node_id: there is no node {body.home_node_id!r}")
    if body.gps_device_id is not None:
        other = await session.scalar(
            select(Courier.id).where(
                Courier.gps_device_id == body.gps_device_id, Courier.id != body.id
            )
        )
        if other is not None:
            raise ApiError(
                409,
                "gps_device_taken",
                f"gps_device_id: {body.gps_device_id!r} already belongs to courier {other!r}",
            )
    values = {
        "kind": body.kind,
        "capacity": body.capacity,
        "skills": sorted(set(body.skills)),
        "shifts": [{"start": s.start.isoformat(), "end": s.end.isoformat()} for s in body.shifts],
        "home_node_id": body.home_node_id,
        "gps_device_id": body.gps_device_id,
        "compartments": [c.model_dump() for c in body.compartments],
        "active": body.active,
        "updated_at": now,
    }
    courier = await session.get(Courier, body.id, with_for_update=True)
    created = courier is None
    if courier is None:
        courier = Courier(id=body.id, created_at=now, **values)
        session.add(courier)
    else:
        for name, value in values.items():
            setattr(courier, name, value)
    await session.flush()
    return courier, created


async def latest_readings(
    *, session: AsyncSession, device_ids: Sequence[str]
) -> dict[str, Reading]:
    """The newest temperature of each device (index on device_id, time: one row each)."""
    found: dict[str, Reading] = {}
    for device_id in sorted(set(device_ids)):
        row = (
            await session.execute(
                select(MeasurementRow.time, MeasurementRow.value)
                .where(
                    MeasurementRow.device_id == device_id,
                    MeasurementRow.quantity == "temperature",
                )
                .order_by(MeasurementRow.time.desc())
                .limit(1)
            )
        ).first()
        if row is not None:
            found[device_id] = Reading(device_id, row.time, float(row.value))
    return found


@dataclass(frozen=True)
class CourierLive:
    courier: Courier
    position: PositionOut
    faults: list[CompartmentFault]
    readings: dict[str, Reading]

    @property
    def point(self) -> Point:
        return Point(self.position.lat, self.position.lon)

    @property
    def skills(self) -> frozenset[str]:
        return effective_skills(self.courier.skills, compartments_of(self.courier), self.faults)


def _position(state: CourierState | None, vehicle: Vehicle | None, home: Node) -> PositionOut:
    candidates: list[PositionOut] = []
    if state is not None:
        candidates.append(PositionOut(lat=state.lat, lon=state.lon, time=state.time, source="app"))
    if vehicle is not None:
        candidates.append(
            PositionOut(lat=vehicle.lat, lon=vehicle.lon, time=vehicle.time, source="gps")
        )
    if candidates:
        return max(candidates, key=lambda p: p.time)
    return PositionOut(lat=home.lat, lon=home.lon, time=home.updated_at, source="home")


async def live_couriers(
    *, session: AsyncSession, now: datetime, active_only: bool = True
) -> list[CourierLive]:
    """Every (active) courier with its newest position and its compartments' state."""
    query = select(Courier).order_by(Courier.id)
    if active_only:
        query = query.where(Courier.active.is_(True))
    couriers = list((await session.scalars(query)).all())
    if not couriers:
        return []
    ids = [c.id for c in couriers]
    states = {
        s.courier_id: s
        for s in await session.scalars(select(CourierState).where(CourierState.courier_id.in_(ids)))
    }
    devices = [c.gps_device_id for c in couriers if c.gps_device_id]
    vehicles = {
        v.id: v for v in await session.scalars(select(Vehicle).where(Vehicle.id.in_(devices)))
    }
    nodes = {
        n.id: n
        for n in await session.scalars(
            select(Node).where(Node.id.in_({c.home_node_id for c in couriers}))
        )
    }
    sensors = [comp.sensor_device_id for c in couriers for comp in compartments_of(c)]
    readings = await latest_readings(session=session, device_ids=sensors)
    live: list[CourierLive] = []
    for courier in couriers:
        vehicle = vehicles.get(courier.gps_device_id) if courier.gps_device_id else None
        position = _position(states.get(courier.id), vehicle, nodes[courier.home_node_id])
        faults = compartment_faults(compartments_of(courier), readings, now)
        live.append(CourierLive(courier, position, faults, readings))
    return live


def courier_out(live: CourierLive, open_tasks: int) -> CourierOut:
    courier = live.courier
    fault_of = {f.compartment.name: f for f in live.faults}
    compartments = []
    for comp in compartments_of(courier):
        reading = live.readings.get(comp.sensor_device_id)
        fault = fault_of.get(comp.name)
        compartments.append(
            CompartmentStatus(
                name=comp.name,
                sensor_device_id=comp.sensor_device_id,
                temperature_class=comp.temperature_class,
                min_c=comp.min_c,
                max_c=comp.max_c,
                latest_c=reading.value if reading else None,
                latest_at=reading.time if reading else None,
                in_band=fault is None,
                why=fault.why if fault else None,
            )
        )
    return CourierOut(
        id=courier.id,
        kind=courier.kind,
        capacity=courier.capacity,
        skills=list(courier.skills),
        effective_skills=sorted(live.skills),
        shifts=[ShiftIn(start=s, end=e) for s, e in shifts_of(courier)],
        home_node_id=courier.home_node_id,
        gps_device_id=courier.gps_device_id,
        compartments=compartments,
        active=courier.active,
        position=live.position,
        open_tasks=open_tasks,
    )


async def list_couriers(*, session: AsyncSession, now: datetime) -> list[CourierOut]:
    live = await live_couriers(session=session, now=now, active_only=False)
    rows = await session.execute(
        select(DeliveryTask.courier_id, func.count())
        .where(DeliveryTask.status.in_(ACTIVE_TASKS))
        .group_by(DeliveryTask.courier_id)
    )
    counts = {courier_id: int(count) for courier_id, count in rows}
    return [courier_out(c, int(counts.get(c.courier.id, 0))) for c in live]


async def get_courier(*, session: AsyncSession, courier_id: str, now: datetime) -> CourierOut:
    for courier in await list_couriers(session=session, now=now):
        if courier.id == courier_id:
            return courier
    raise ApiError(404, "courier_not_found", f"no courier {courier_id!r}")


async def courier_position(*, session: AsyncSession, courier_id: str) -> PositionOut | None:
    """The newest position of one courier (None when it is not registered)."""
    courier = await session.get(Courier, courier_id)
    if courier is None:
        return None
    state = await session.get(CourierState, courier_id)
    vehicle = await session.get(Vehicle, courier.gps_device_id) if courier.gps_device_id else None
    home = await session.get(Node, courier.home_node_id)
    assert home is not None
    return _position(state, vehicle, home)
