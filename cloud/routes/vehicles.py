from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query

from cloud.api_error import ApiError
from cloud.deps import AdminOrOperator, RoleDocumentedRoute, SessionDep
from cloud.schemas import PositionPublic, TrackPublic, VehiclePublic
from cloud.services import vehicles

router = APIRouter(prefix="/api/v1/vehicles", route_class=RoleDocumentedRoute, tags=["vehicles"])


@router.get("", response_model=list[VehiclePublic])
async def list_vehicles(_: AdminOrOperator, session: SessionDep) -> list[VehiclePublic]:
    """Every vehicle with its latest position."""
    return await vehicles.list_vehicles(session=session)


@router.get("/{vehicle_id}/position", response_model=PositionPublic)
async def vehicle_position(
    vehicle_id: str, _: AdminOrOperator, session: SessionDep
) -> PositionPublic:
    """The newest position of one vehicle."""
    return await vehicles.latest_position(session=session, vehicle_id=vehicle_id)


@router.get("/{vehicle_id}/track", response_model=TrackPublic)
async def vehicle_track(
    vehicle_id: str,
    _: AdminOrOperator,
    session: SessionDep,
    since: Annotated[datetime | None, Query(description="ISO 8601, inclusive")] = None,
    until: Annotated[datetime | None, Query(description="ISO 8601, inclusive")] = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
) -> TrackPublic:
    """Positions of one vehicle between ``since`` and ``until``, oldest first."""
    for name, moment in (("since", since), ("until", until)):
        if moment is not None and moment.tzinfo is None:
            raise ApiError(422, "validation_failed", f"{name}: add a timezone, e.g. a Z suffix")
    if since is not None and until is not None and since > until:
        raise ApiError(422, "validation_failed", "since is after until; swap them")
    return await vehicles.vehicle_track(
        session=session, vehicle_id=vehicle_id, since=since, until=until, limit=limit
    )
