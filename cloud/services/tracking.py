"""Customer tracking links: an unguessable token per link (only its SHA-256 is stored) that
shows the order's status, ETA and, only while the goods are on their way to this customer,
the courier's position rounded to about 100 m. No personal data; 404 once the delivery ended."""

from __future__ import annotations

import secrets
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cloud.api_error import ApiError
from cloud.fleet_models import DeliveryTask, TrackingLink
from cloud.fleet_rules import round_position
from cloud.fleet_schemas import Place, TrackingLinkOut, TrackOut
from cloud.order_models import Order
from cloud.order_status import OrderStatus, is_final
from cloud.security import Principal, Role, hash_token
from cloud.services.fleet import courier_position

TRACK_PATH = "/api/v1/track/"


async def create_link(
    *, session: AsyncSession, principal: Principal, order_id: str, now: datetime
) -> TrackingLinkOut:
    order = await session.get(Order, order_id)
    if order is None or (principal.role is Role.CHANNEL and order.channel != principal.name):
        raise ApiError(404, "order_not_found", f"no order {order_id!r} in your scope")
    if is_final(OrderStatus(order.status)):
        raise ApiError(
            409, "delivery_ended", f"order {order_id} is {order.status}; there is nothing to track"
        )
    token = secrets.token_urlsafe(32)
    session.add(
        TrackingLink(
            token_hash=hash_token(token),
            order_id=order_id,
            created_by=principal.name,
            created_at=now,
            expires_at=None,
        )
    )
    await session.flush()
    return TrackingLinkOut(token=token, path=TRACK_PATH + token, order_id=order_id)


def _gone() -> ApiError:
    return ApiError(404, "tracking_not_found", "this tracking link is unknown or has expired")


async def track(*, session: AsyncSession, token: str, now: datetime) -> TrackOut:
    link = await session.get(TrackingLink, hash_token(token))
    if link is None or (link.expires_at is not None and link.expires_at <= now):
        raise _gone()
    order = await session.get(Order, link.order_id)
    if order is None or is_final(OrderStatus(order.status)):
        raise _gone()
    tasks = (
        await session.scalars(
            select(DeliveryTask)
            .where(DeliveryTask.order_id == order.id, DeliveryTask.status != "failed")
            .order_by(DeliveryTask.id)
        )
    ).all()
    unfinished = [t for t in tasks if t.status != "delivered"]
    etas = [t.planned_drop_at for t in unfinished]
    eta = max(e for e in etas if e is not None) if etas and None not in etas else None
    position = None
    for task in unfinished:
        if task.status == "picked_up" and task.courier_id is not None:
            fix = await courier_position(session=session, courier_id=task.courier_id)
            if fix is not None and fix.source != "home":
                lat, lon = round_position(fix.lat, fix.lon)
                position = Place(lat=lat, lon=lon)
                break
    return TrackOut(status=order.status, eta=eta, courier_position=position, updated_at=now)
