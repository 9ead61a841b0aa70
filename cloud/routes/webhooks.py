"""The order status webhook outbox: what is pending, delivered or failed; retry a failed one."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request

from cloud.deps import AdminOrOperator, RoleDocumentedRoute, SessionDep
from cloud.order_models import WebhookDelivery
from cloud.order_read_schemas import WebhookDeliveryPublic, WebhookPage
from cloud.routes.orders import request_time
from cloud.services import webhook_outbox

router = APIRouter(prefix="/api/v1/webhooks", route_class=RoleDocumentedRoute, tags=["webhooks"])


def _public(row: WebhookDelivery) -> WebhookDeliveryPublic:
    return WebhookDeliveryPublic(
        id=row.id,
        order_id=row.order_id,
        channel=row.channel,
        url=row.url,
        payload=dict(row.payload),
        status=row.status,
        attempts=row.attempts,
        next_attempt_at=row.next_attempt_at,
        last_error=row.last_error,
        created_at=row.created_at,
        delivered_at=row.delivered_at,
    )


@router.get("", response_model=WebhookPage)
async def list_webhooks(
    _: AdminOrOperator,
    session: SessionDep,
    status: Annotated[Literal["pending", "delivered", "failed"] | None, Query()] = None,
    channel: Annotated[str | None, Query(max_length=64)] = None,
    order_id: Annotated[str | None, Query(max_length=64)] = None,
    after: Annotated[int, Query(ge=0, description="next_after of the last page")] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> WebhookPage:
    """Status webhook deliveries, oldest first; ``?status=failed`` lists those that gave up."""
    rows = await webhook_outbox.list_deliveries(
        session=session,
        status=status,
        channel=channel,
        order_id=order_id,
        after=after,
        limit=limit + 1,
    )
    more = len(rows) > limit
    rows = rows[:limit]
    return WebhookPage(
        items=[_public(row) for row in rows], next_after=rows[-1].id if more else None
    )


@router.post("/{delivery_id}/retry", response_model=WebhookDeliveryPublic)
async def retry_webhook(
    delivery_id: int, request: Request, _: AdminOrOperator, session: SessionDep
) -> WebhookDeliveryPublic:
    """Queue a failed delivery again with a fresh set of attempts (409 unless it failed)."""
    row = await webhook_outbox.retry_delivery(
        session=session, delivery_id=delivery_id, now=request_time(request)
    )
    return _public(row)
