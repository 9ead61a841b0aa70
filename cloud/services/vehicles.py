"""Vehicle queries: latest positions and tracks."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cloud.api_error import ApiError
from cloud.models import PositionRow, Vehicle
from cloud.schemas import PositionPublic, PositionWire, TrackPublic, VehiclePublic
from firmware_bridge.wire import format_time

POSITION_FIELDS = (
    "lat",
    "lon",
    "speed_mps",
    "course_deg",
    "fix_quality",
    "satellites",
    "hdop",
    "altitude_m",
)


def _wire_fields(row: Vehicle | PositionRow, device_id: str) -> dict[str, Any]:
    fields = {name: getattr(row, name) for name in POSITION_FIELDS}
    return {"device_id": device_id, "time": format_time(row.time), **fields}


async def list_vehicles(*, session: AsyncSession) -> list[VehiclePublic]:
    rows = (await session.scalars(select(Vehicle).order_by(Vehicle.id))).all()
    return [
        VehiclePublic(
            id=row.id,
            gateway_id=row.gateway_id,
            last_seen=format_time(row.last_seen),
            position=PositionWire(**_wire_fields(row, row.id)),
        )
        for row in rows
    ]


async def _vehicle(session: AsyncSession, vehicle_id: str) -> Vehicle:
    row = await session.get(Vehicle, vehicle_id)
    if row is None:
        raise ApiError(
            404,
            "vehicle_not_found",
            f"no vehicle {vehicle_id!r} has reported a position; list them at /api/v1/vehicles",
        )
    return row


async def latest_position(*, session: AsyncSession, vehicle_id: str) -> PositionPublic:
    row = await _vehicle(session, vehicle_id)
    return PositionPublic(gateway_id=row.gateway_id, seq=row.seq, **_wire_fields(row, row.id))


async def vehicle_track(
    *,
    session: AsyncSession,
    vehicle_id: str,
    since: datetime | None,
    until: datetime | None,
    limit: int,
) -> TrackPublic:
    """Positions of ``vehicle_id`` in ``since..until`` (inclusive), oldest first."""
    await _vehicle(session, vehicle_id)
    query = select(PositionRow).where(PositionRow.device_id == vehicle_id)
    if since is not None:
        query = query.where(PositionRow.time >= since)
    if until is not None:
        query = query.where(PositionRow.time <= until)
    query = query.order_by(PositionRow.time, PositionRow.seq).limit(limit)
    rows = (await session.scalars(query)).all()
    return TrackPublic(
        vehicle_id=vehicle_id,
        positions=[
            PositionPublic(gateway_id=row.gateway_id, seq=row.seq, **_wire_fields(row, vehicle_id))
            for row in rows
        ],
    )
