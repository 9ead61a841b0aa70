"""Status transitions of an order: conditional on its current status, logged, and pushed to
the channel's webhook through the ``webhook_deliveries`` outbox in the same transaction."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from cloud.api_error import ApiError
from cloud.catalog_models import Channel
from cloud.order_models import Order, OrderEvent, WebhookDelivery
from cloud.order_status import OrderStatus, TransitionError, check_transition


async def record_transition(
    *,
    session: AsyncSession,
    order: Order,
    to_status: OrderStatus,
    reason: str | None,
    actor: str,
    now: datetime,
) -> Order:
    """Move ``order`` to ``to_status``; ApiError 409 if the move is not allowed or another
    request changed the order first. Updates ``order`` in place; flushes, no commit."""
    current = OrderStatus(order.status)
    try:
        check_transition(current, to_status, reason)
    except TransitionError as exc:
        raise ApiError(409, "invalid_transition", f"order {order.id}: {exc}") from None
    # Conditional on the status and version we read: a concurrent transition makes this a no-op.
    result = await session.execute(
        update(Order)
        .where(Order.id == order.id, Order.status == current.value, Order.version == order.version)
        .values(
            status=to_status.value,
            status_reason=reason,
            updated_at=now,
            version=Order.version + 1,
        )
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise ApiError(
            409,
            "order_changed",
            f"order {order.id} was changed by another request; read it again and retry",
        )
    order.status = to_status.value
    order.status_reason = reason
    order.updated_at = now
    order.version += 1
    session.add(
        OrderEvent(
            order_id=order.id,
            from_status=current.value,
            to_status=to_status.value,
            reason=reason,
            actor=actor,
            at=now,
        )
    )
    await enqueue_status_webhook(session=session, order=order, now=now)
    await session.flush()
    return order


async def record_creation(
    *, session: AsyncSession, order: Order, actor: str, now: datetime
) -> None:
    """The first history entry of a new order (status ``received``) and its webhook."""
    session.add(
        OrderEvent(
            order_id=order.id,
            from_status=None,
            to_status=order.status,
            reason=None,
            actor=actor,
            at=now,
        )
    )
    await enqueue_status_webhook(session=session, order=order, now=now)


def status_payload(order: Order, now: datetime) -> dict[str, Any]:
    """What a channel receives on every status change (documented in the README)."""
    return {
        "order_id": order.id,
        "channel": order.channel,
        "external_id": order.external_id,
        "status": order.status,
        "reason": order.status_reason,
        "version": order.version,
        "promise_by": order.promise_by.isoformat() if order.promise_by else None,
        "at": now.isoformat(),
    }


async def enqueue_status_webhook(*, session: AsyncSession, order: Order, now: datetime) -> None:
    url = await session.scalar(select(Channel.webhook_url).where(Channel.id == order.channel))
    if not url:
        return
    session.add(
        WebhookDelivery(
            order_id=order.id,
            channel=order.channel,
            url=url,
            payload=status_payload(order, now),
            status="pending",
            attempts=0,
            next_attempt_at=now,
            created_at=now,
        )
    )
