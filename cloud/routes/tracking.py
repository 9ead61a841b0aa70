"""Tracking links: created by operators or the order's channel, read by anyone with the token."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request

from cloud.deps import RoleDocumentedRoute, SessionDep, SettingsDep, require_roles
from cloud.fleet_schemas import TrackingLinkOut, TrackOut
from cloud.routes.orders import request_time
from cloud.security import Principal, Role
from cloud.services import tracking

router = APIRouter(prefix="/api/v1", route_class=RoleDocumentedRoute, tags=["tracking"])

LinkMaker = Annotated[Principal, Depends(require_roles(Role.ADMIN, Role.OPERATOR, Role.CHANNEL))]


@router.post("/orders/{order_id}/tracking-link", response_model=TrackingLinkOut, status_code=201)
async def create_tracking_link(
    order_id: str,
    request: Request,
    principal: LinkMaker,
    session: SessionDep,
    settings: SettingsDep,
) -> TrackingLinkOut:
    """A new tracking link for the customer (a channel only for its own orders): ``url`` is
    the page to send them (absolute with RETAILEDGE_PUBLIC_URL), ``api_path`` the same as JSON.
    The token is shown once; the link ends 24 h after the delivery does."""
    return await tracking.create_link(
        session=session,
        principal=principal,
        order_id=order_id,
        now=request_time(request),
        public_url=settings.public_url,
    )


@router.get("/track/{token}", response_model=TrackOut)
async def track(
    request: Request,
    session: SessionDep,
    token: Annotated[str, Path(min_length=20, max_length=128)],
) -> TrackOut:
    """Status, ETA and (only while the goods are on their way) the courier's position
    rounded to about 100 m; once delivered, cancelled or failed, when (``ended_at``), for 24 h.
    No personal data. 404 for unknown or expired links."""
    return await tracking.track(session=session, token=token, now=request_time(request))
