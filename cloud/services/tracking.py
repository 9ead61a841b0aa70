"""Customer tracking links: an unguessable token per link (only its SHA-256 is stored) that
shows the order's status, ETA and, only while the goods are on their way to this customer,
the courier's position rounded to about 100 m. No personal data. Once the order is delivered,
cancelled or failed the link says so, with when, for 24 h; then it answers 404."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cloud.api_error import ApiError
from cloud.catalog_models import Node
from cloud.fleet_models import DeliveryTask, TrackingLink
from cloud.fleet_rules import round_position
from cloud.fleet_schemas import Place, TrackingLinkOut, TrackOut
from cloud.order_models import Order, OrderEvent, OrderLine
from cloud.order_status import OrderStatus, is_final
from cloud.security import Principal, Role, hash_token
from cloud.services.fleet import courier_position

TRACK_PATH = "/api/v1/track/"
PAGE_PATH = "/t/"
SHOWN_AFTER_END = timedelta(hours=24)


def link_out(*, token: str, order_id: str, public_url: str | None) -> TrackingLinkOut:
    """The customer's link is the page; absolute when the cloud knows its public address."""
    page = PAGE_PATH + token
    return TrackingLinkOut(
        token=token,
        url=page if public_url is None else public_url.rstrip("/") + page,
        api_path=TRACK_PATH + token,
        order_id=order_id,
    )


async def create_link(
    *,
    session: AsyncSession,
    principal: Principal,
    order_id: str,
    now: datetime,
    public_url: str | None = None,
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
    return link_out(token=token, order_id=order_id, public_url=public_url)


def _gone() -> ApiError:
    return ApiError(404, "tracking_not_found", "this tracking link is unknown or has expired")


async def track(*, session: AsyncSession, token: str, now: datetime) -> TrackOut:
    link = await session.get(TrackingLink, hash_token(token))
    order = None if link is None else await session.get(Order, link.order_id)
    if link is None or order is None:
        raise _gone()
    timezone = await _timezone(session, order.id)
    if is_final(OrderStatus(order.status)):
        # The delivery stamps the link's expires_at when it ends; the customer may still look.
        ended_at = await _ended_at(session, order)
        if now >= ended_at + SHOWN_AFTER_END:
            raise _gone()
        return TrackOut(
            status=order.status,
            eta=None,
            courier_position=None,
            updated_at=now,
            ended_at=ended_at,
            timezone=timezone,
        )
    if link.expires_at is not None and link.expires_at <= now:
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
    return TrackOut(
        status=order.status,
        eta=eta,
        courier_position=position,
        updated_at=now,
        timezone=timezone,
    )


async def _ended_at(session: AsyncSession, order: Order) -> datetime:
    """When the order reached its final status (its status history), else its last change."""
    at = await session.scalar(
        select(OrderEvent.at)
        .where(OrderEvent.order_id == order.id, OrderEvent.to_status == order.status)
        .order_by(OrderEvent.id.desc())
        .limit(1)
    )
    return at if at is not None else order.updated_at


async def _timezone(session: AsyncSession, order_id: str) -> str | None:
    """The time zone of the (first) node the order ships from; None before allocation."""
    timezone: str | None = await session.scalar(
        select(Node.timezone)
        .join(OrderLine, OrderLine.node_id == Node.id)
        .where(OrderLine.order_id == order_id)
        .order_by(OrderLine.line_no)
        .limit(1)
    )
    return timezone
