"""The ``webhook_deliveries`` outbox: claiming due deliveries (never one row by two senders,
never an order's newer status before its older one), recording outcomes, listing, retrying."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, exists, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from cloud.api_error import ApiError
from cloud.catalog_models import Channel
from cloud.order_models import WebhookDelivery

MAX_ERROR_CHARS = 500


@dataclass(frozen=True, slots=True)
class Claimed:
    """A delivery this sender owns until ``lease_until``; ``attempt`` counts this one."""

    id: int
    order_id: str
    url: str
    payload: dict[str, Any]
    secret: str | None
    attempt: int
    lease_until: datetime


async def claim_due(
    *, session: AsyncSession, now: datetime, lease_s: float, limit: int
) -> list[Claimed]:
    """Claim up to ``limit`` due deliveries, each the oldest pending one of its order.

    A claim is a conditional UPDATE (still pending, still due, attempts unchanged) that moves
    ``next_attempt_at`` to the end of the lease and counts the attempt; a row another sender
    claimed first fails the condition and is skipped. Commit before sending."""
    older = aliased(WebhookDelivery)
    candidates = (
        await session.execute(
            select(
                WebhookDelivery.id,
                WebhookDelivery.order_id,
                WebhookDelivery.url,
                WebhookDelivery.payload,
                WebhookDelivery.attempts,
                Channel.webhook_secret,
            )
            .outerjoin(Channel, Channel.id == WebhookDelivery.channel)
            .where(
                WebhookDelivery.status == "pending",
                WebhookDelivery.next_attempt_at <= now,
                ~exists().where(
                    and_(
                        older.order_id == WebhookDelivery.order_id,
                        older.status == "pending",
                        older.id < WebhookDelivery.id,
                    )
                ),
            )
            .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id)
            .limit(limit)
        )
    ).all()
    lease_until = now + timedelta(seconds=lease_s)
    claimed: list[Claimed] = []
    for row_id, order_id, url, payload, attempts, secret in candidates:
        result = await session.execute(
            update(WebhookDelivery)
            .where(
                WebhookDelivery.id == row_id,
                WebhookDelivery.status == "pending",
                WebhookDelivery.next_attempt_at <= now,
                WebhookDelivery.attempts == attempts,
            )
            .values(attempts=attempts + 1, next_attempt_at=lease_until)
            .execution_options(synchronize_session=False)
        )
        if result.rowcount == 1:  # type: ignore[attr-defined]
            claimed.append(
                Claimed(row_id, order_id, url, payload, secret, attempts + 1, lease_until)
            )
    return claimed


async def record_delivered(*, session: AsyncSession, claim: Claimed, now: datetime) -> bool:
    """Mark the claimed delivery delivered; False if the claim was lost (lease expired and
    another sender took it over)."""
    result = await session.execute(
        _owned(claim)
        .values(status="delivered", delivered_at=now, last_error=None)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


async def record_failed_attempt(
    *,
    session: AsyncSession,
    claim: Claimed,
    error: str,
    retry_at: datetime | None,
) -> bool:
    """A failed attempt: due again at ``retry_at``, or ``failed`` for good when it is None."""
    values: dict[str, Any] = {"last_error": error[:MAX_ERROR_CHARS]}
    if retry_at is None:
        values["status"] = "failed"
    else:
        values["next_attempt_at"] = retry_at
    result = await session.execute(
        _owned(claim).values(**values).execution_options(synchronize_session=False)
    )
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


def _owned(claim: Claimed) -> Any:
    return update(WebhookDelivery).where(
        WebhookDelivery.id == claim.id,
        WebhookDelivery.status == "pending",
        # A sender whose lease ran out and was overtaken sees attempts moved on.
        WebhookDelivery.attempts == claim.attempt,
    )


async def list_deliveries(
    *,
    session: AsyncSession,
    status: str | None,
    channel: str | None,
    order_id: str | None,
    after: int,
    limit: int,
) -> list[WebhookDelivery]:
    """Deliveries with ``id > after``, oldest first, optionally filtered."""
    query = select(WebhookDelivery).where(WebhookDelivery.id > after)
    if status is not None:
        query = query.where(WebhookDelivery.status == status)
    if channel is not None:
        query = query.where(WebhookDelivery.channel == channel)
    if order_id is not None:
        query = query.where(WebhookDelivery.order_id == order_id)
    rows = await session.scalars(query.order_by(WebhookDelivery.id).limit(limit))
    return list(rows)


async def retry_delivery(
    *, session: AsyncSession, delivery_id: int, now: datetime
) -> WebhookDelivery:
    """Put a failed delivery back in the queue with a fresh set of attempts."""
    result = await session.execute(
        update(WebhookDelivery)
        .where(WebhookDelivery.id == delivery_id, WebhookDelivery.status == "failed")
        .values(status="pending", attempts=0, next_attempt_at=now)
        .execution_options(synchronize_session=False)
    )
    delivery = await session.get(WebhookDelivery, delivery_id, populate_existing=True)
    if delivery is None:
        raise ApiError(404, "webhook_not_found", f"no webhook delivery {delivery_id}")
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise ApiError(
            409,
            "webhook_not_failed",
            f"webhook delivery {delivery_id} is {delivery.status}; only failed ones are retried",
        )
    return delivery
