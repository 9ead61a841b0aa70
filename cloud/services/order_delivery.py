"""What a delivery does to its order: picked up -> dispatched (the reserved units leave the
node), every task delivered -> delivered, failed after pickup -> failed. Each step goes
through :func:`record_transition`, so it is logged and the channel's webhook is queued in the
caller's transaction; tracking links expire when the delivery ends."""

from __future__ import annotations

from datetime import datetime
from typing import Final

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from cloud.api_error import ApiError
from cloud.fleet_models import DeliveryTask, TrackingLink
from cloud.order_models import Order
from cloud.order_status import OrderStatus, is_final
from cloud.services.order_lifecycle import record_transition
from cloud.services.reservation import consume_order, release_order

_S = OrderStatus
# The steps a courier's pickup walks the order through when the node did not record them.
TO_DISPATCHED: Final[dict[OrderStatus, tuple[OrderStatus, ...]]] = {
    _S.ALLOCATED: (_S.PICKING, _S.PACKED, _S.DISPATCHED),
    _S.PICKING: (_S.PACKED, _S.DISPATCHED),
    _S.PACKED: (_S.DISPATCHED,),
}


async def locked_order(session: AsyncSession, order_id: str) -> Order:
    order = await session.scalar(
        select(Order)
        .where(Order.id == order_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if order is None:
        raise ApiError(404, "order_not_found", f"no order {order_id!r}")
    return order


async def order_picked_up(
    *, session: AsyncSession, order_id: str, actor: str, now: datetime
) -> Order:
    """The order is on its way: dispatched, its reservation consumed (once)."""
    order = await locked_order(session, order_id)
    status = OrderStatus(order.status)
    if status in (_S.DISPATCHED, _S.DELIVERED):
        return order  # another task of a split order got there first
    steps = TO_DISPATCHED.get(status)
    if steps is None:
        raise ApiError(
            409,
            "order_not_dispatchable",
            f"order {order_id} is {status}; it cannot be picked up (ask the operator)",
        )
    for step in steps:
        if step is _S.DISPATCHED:
            await consume_order(session=session, order_id=order.id, now=now, actor=actor)
        await record_transition(
            session=session,
            order=order,
            to_status=step,
            reason="picked up by courier" if step is _S.DISPATCHED else None,
            actor=actor,
            now=now,
        )
    return order


async def order_delivered(
    *, session: AsyncSession, order_id: str, actor: str, now: datetime
) -> Order:
    """Delivered once every task of the order is delivered (a split order has several)."""
    order = await locked_order(session, order_id)
    pending = await session.scalar(
        select(DeliveryTask.id).where(
            DeliveryTask.order_id == order_id, DeliveryTask.status != "delivered"
        )
    )
    if pending is not None or order.status == _S.DELIVERED.value:
        return order
    await record_transition(
        session=session, order=order, to_status=_S.DELIVERED, reason=None, actor=actor, now=now
    )
    await expire_links(session=session, order_id=order_id, now=now)
    return order


async def order_failed(
    *, session: AsyncSession, order_id: str, reason: str, actor: str, now: datetime
) -> Order:
    """The delivery failed after pickup: the order fails with the courier's reason."""
    order = await locked_order(session, order_id)
    if not is_final(OrderStatus(order.status)):
        await release_order(session=session, order_id=order.id, now=now, actor=actor)
        await record_transition(
            session=session,
            order=order,
            to_status=_S.FAILED,
            reason=reason,
            actor=actor,
            now=now,
        )
    await expire_links(session=session, order_id=order_id, now=now)
    return order


async def expire_links(*, session: AsyncSession, order_id: str, now: datetime) -> None:
    await session.execute(
        update(TrackingLink)
        .where(TrackingLink.order_id == order_id, TrackingLink.expires_at.is_(None))
        .values(expires_at=now)
    )
