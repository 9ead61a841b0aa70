"""Couriers: register or replace, list with live position and compartment state."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from cloud.deps import AdminOrOperator, RoleDocumentedRoute, SessionDep
from cloud.fleet_schemas import CourierIn, CourierOut
from cloud.routes.orders import request_time
from cloud.services import fleet

router = APIRouter(prefix="/api/v1/couriers", route_class=RoleDocumentedRoute, tags=["fleet"])


@router.post("", response_model=CourierOut, status_code=201)
async def put_courier(
    body: CourierIn,
    request: Request,
    response: Response,
    _: AdminOrOperator,
    session: SessionDep,
) -> CourierOut:
    """Register a courier (rider, van or reefer van) or replace one with the same id (200):
    capacity, cold skills, shifts, home node, the vehicle gateway's GPS device, and the
    compartments whose sensors decide whether a cold skill is live."""
    now = request_time(request)
    _courier, created = await fleet.upsert_courier(session=session, body=body, now=now)
    if not created:
        response.status_code = 200
    dispatch = getattr(request.app.state, "dispatch", None)
    if dispatch is not None:
        dispatch.notify()
    return await fleet.get_courier(session=session, courier_id=body.id, now=now)


@router.get("", response_model=list[CourierOut])
async def list_couriers(
    request: Request, _: AdminOrOperator, session: SessionDep
) -> list[CourierOut]:
    """Every courier with its newest position (rider app or vehicle GPS, else its home
    node), its effective skills and each compartment's latest temperature."""
    return await fleet.list_couriers(session=session, now=request_time(request))


@router.get("/{courier_id}", response_model=CourierOut)
async def get_courier(
    courier_id: str, request: Request, _: AdminOrOperator, session: SessionDep
) -> CourierOut:
    """One courier with its live state."""
    return await fleet.get_courier(
        session=session, courier_id=courier_id, now=request_time(request)
    )
