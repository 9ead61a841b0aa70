"""Orders after placement: read (scoped, personal data masked), status steps, cancel, modify."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Query, Request
from sqlalchemy.ext.asyncio import AsyncSession

from cloud.api_error import ApiError
from cloud.channels import ChannelPayloadError
from cloud.channels.modification import parse_changes
from cloud.deps import AnyUser, PiiDep, RoleDocumentedRoute, SessionDep, StockStaff, require_roles
from cloud.order_read_schemas import (
    CancelRequest,
    OrderDetail,
    OrderEventPublic,
    OrderPage,
    StatusChange,
)
from cloud.order_status import OrderStatus
from cloud.pii import PiiCipher
from cloud.routes.orders import allocation_config, placement_queue, request_time
from cloud.security import Principal, Role
from cloud.services import order_changes, order_reads
from cloud.services.placement_queue import mark_writing

router = APIRouter(prefix="/api/v1/orders", route_class=RoleDocumentedRoute, tags=["orders"])

OrderOwner = Annotated[Principal, Depends(require_roles(Role.ADMIN, Role.OPERATOR, Role.CHANNEL))]


@router.get("", response_model=OrderPage)
async def list_orders(
    principal: AnyUser,
    session: SessionDep,
    status: Annotated[OrderStatus | None, Query()] = None,
    channel: Annotated[str | None, Query(max_length=64)] = None,
    after: Annotated[
        str | None, Query(max_length=64, description="next_after of the last page")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> OrderPage:
    """Orders in scope, by id: operators and admins see all, a channel its own, a warehouse
    user those with a line at one of its nodes."""
    return await order_reads.list_orders(
        session=session,
        principal=principal,
        status=status,
        channel=channel,
        after=after,
        limit=limit,
    )


@router.get("/{order_id}", response_model=OrderDetail)
async def get_order(
    order_id: str,
    request: Request,
    principal: AnyUser,
    session: SessionDep,
    cipher: PiiDep,
    reveal: Annotated[bool, Query(description="Personal data in clear (operator, admin)")] = False,
    reason: Annotated[str | None, Query(max_length=500, description="Why; audited")] = None,
) -> OrderDetail:
    """One order with its lines (and the node each ships from), status history and the latest
    allocation decision ("why this store"). The recipient is masked unless an operator or
    admin asks ``?reveal=true&reason=...``, which is recorded in the personal-data audit trail.
    Orders out of the caller's scope answer 404."""
    return await order_reads.order_detail(
        session=session,
        principal=principal,
        order_id=order_id,
        cipher=cipher,
        reveal=reveal,
        reason=reason,
        now=request_time(request),
    )


@router.get("/{order_id}/events", response_model=list[OrderEventPublic])
async def get_order_events(
    order_id: str, principal: AnyUser, session: SessionDep
) -> list[OrderEventPublic]:
    """The status history of an order, oldest first (placement, every step, modifications)."""
    return await order_reads.order_events(session=session, principal=principal, order_id=order_id)


@router.post("/{order_id}/status", response_model=OrderDetail)
async def change_status(
    order_id: str, request: Request, principal: StockStaff, cipher: PiiDep, body: StatusChange
) -> OrderDetail:
    """Record an operational step: picking, packed, dispatched (consumes the reserved units),
    delivered, or failed (reason required; releases what is still reserved). Warehouse users
    only for orders at their nodes. Repeating the current status changes nothing."""
    now = request_time(request)

    async def work(session: AsyncSession) -> OrderDetail:
        await order_changes.change_status(
            session=session,
            principal=principal,
            order_id=order_id,
            target=OrderStatus(body.status),
            reason=body.reason,
            now=now,
        )
        return await _detail(session, principal, order_id, cipher, request)

    return await _run(request, work)


@router.post("/{order_id}/cancel", response_model=OrderDetail)
async def cancel_order(
    order_id: str, request: Request, principal: OrderOwner, cipher: PiiDep, body: CancelRequest
) -> OrderDetail:
    """Cancel an order before dispatch (a channel only its own): the reserved units are
    released in the same transaction and the channel's webhook is told. Cancelling again
    changes nothing."""
    now = request_time(request)

    async def work(session: AsyncSession) -> OrderDetail:
        await order_changes.cancel_order(
            session=session, principal=principal, order_id=order_id, reason=body.reason, now=now
        )
        return await _detail(session, principal, order_id, cipher, request)

    return await _run(request, work)


@router.patch("/{order_id}", response_model=OrderDetail)
async def modify_order(
    order_id: str,
    request: Request,
    principal: OrderOwner,
    cipher: PiiDep,
    payload: Annotated[dict[str, Any], Body(description="recipient, delivery, lines")],
) -> OrderDetail:
    """Change recipient, delivery address or lines, all or nothing (see the README). New
    lines release the reservation and allocate again; ``expected_version`` guards against
    concurrent changes."""
    try:
        changes = parse_changes(payload)
    except ChannelPayloadError as exc:
        raise ApiError(422, "invalid_change", f"{exc.field}: {exc.message}") from None
    now, config = request_time(request), allocation_config(request)

    async def work(session: AsyncSession) -> OrderDetail:
        await order_changes.modify_order(
            session=session,
            principal=principal,
            order_id=order_id,
            changes=changes,
            cipher=cipher,
            config=config,
            now=now,
        )
        return await _detail(session, principal, order_id, cipher, request)

    return await _run(request, work)


async def _run(
    request: Request, work: Callable[[AsyncSession], Awaitable[OrderDetail]]
) -> OrderDetail:
    """``work`` in its transaction (through the placement queue: on SQLite, grouped with
    placements behind BEGIN IMMEDIATE). Every change may be refused after it wrote, so it is
    marked as writing and a grouped batch runs it in its own savepoint."""

    async def marked(session: AsyncSession) -> OrderDetail:
        mark_writing(session)
        return await work(session)

    return await placement_queue(request).run(marked)


async def _detail(
    session: AsyncSession, principal: Principal, order_id: str, cipher: PiiCipher, request: Request
) -> OrderDetail:
    return await order_reads.order_detail(
        session=session,
        principal=principal,
        order_id=order_id,
        cipher=cipher,
        reveal=False,
        reason=None,
        now=request_time(request),
    )
