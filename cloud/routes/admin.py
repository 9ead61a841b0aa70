"""Gateways, users and stats."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, status

from cloud.deps import AdminOnly, AdminOrOperator, RoleDocumentedRoute, SessionDep, TelemetryDep
from cloud.schemas import (
    GatewayCreate,
    GatewayCreated,
    GatewayPublic,
    StatsPublic,
    UserCreate,
    UserCreated,
)
from cloud.services import gateways, stats, users

router = APIRouter(prefix="/api/v1", route_class=RoleDocumentedRoute)


@router.get("/gateways", response_model=list[GatewayPublic], tags=["gateways"])
async def list_gateways(_: AdminOrOperator, session: SessionDep) -> list[GatewayPublic]:
    """Every gateway with its ack, last contact, clock skew and last reported health."""
    return await gateways.list_gateways(session=session)


@router.post(
    "/gateways",
    response_model=GatewayCreated,
    status_code=status.HTTP_201_CREATED,
    tags=["gateways"],
)
async def create_gateway(body: GatewayCreate, _: AdminOnly, session: SessionDep) -> GatewayCreated:
    """Register a gateway; the token in the answer is shown only this once."""
    return await gateways.create_gateway(session=session, gateway_id=body.id, now=datetime.now(UTC))


@router.post(
    "/users", response_model=UserCreated, status_code=status.HTTP_201_CREATED, tags=["users"]
)
async def create_user(body: UserCreate, _: AdminOnly, session: SessionDep) -> UserCreated:
    """Create a user API key; the key in the answer is shown only this once."""
    return await users.create_user(
        session=session, name=body.name, role=body.role, now=datetime.now(UTC)
    )


@router.get("/stats", response_model=StatsPublic, tags=["stats"])
async def get_stats(
    _: AdminOrOperator, session: SessionDep, telemetry: TelemetryDep
) -> StatsPublic:
    """Counts of stored records per kind (rows in the cloud database), rejects, gaps,
    gateways, and the telemetry store's backlog and write failures."""
    return await stats.collect_stats(session=session, telemetry=telemetry)
