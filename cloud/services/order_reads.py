"""Reading orders: who may see which order, the detail with masked or revealed personal data,
listings, and the status history.

Scope: admins and operators see every order; a channel key sees the orders of its channel; a
warehouse user sees orders with a line allocated to one of its nodes. An order out of scope
answers 404 exactly like an unknown id, so order ids do not leak between channels.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Select, exists, select
from sqlalchemy.ext.asyncio import AsyncSession

from cloud.api_error import ApiError
from cloud.order_models import AllocationDecision, Order, OrderEvent, OrderLine
from cloud.order_read_schemas import (
    AllocationDecisionPublic,
    OrderDetail,
    OrderEventPublic,
    OrderLinePublic,
    OrderPage,
    OrderSummary,
    Recipient,
)
from cloud.order_status import OrderStatus
from cloud.pii import PiiCipher
from cloud.pii_mask import mask_address, mask_name, mask_phone
from cloud.security import Principal, Role
from cloud.services.pii_audit import checked_reason, record_pii_read
from cloud.services.scope import visible_node_ids

PII_FIELDS = ("recipient_name", "recipient_phone", "address")
MASKED_DECIMALS = 2


async def _scope_filter(
    session: AsyncSession, principal: Principal, query: Select[Order]
) -> Select[Order]:
    if principal.role in (Role.ADMIN, Role.OPERATOR):
        return query
    if principal.role is Role.CHANNEL:
        return query.where(Order.channel == principal.name)
    nodes = await visible_node_ids(session=session, principal=principal)
    if nodes is None:
        return query
    return query.where(
        exists().where(OrderLine.order_id == Order.id, OrderLine.node_id.in_(sorted(nodes)))
    )


async def visible_order(
    *, session: AsyncSession, principal: Principal, order_id: str, for_update: bool = False
) -> Order:
    """The order if ``principal`` may see it, else ApiError 404 (also for unknown ids)."""
    query = await _scope_filter(session, principal, select(Order).where(Order.id == order_id))
    if for_update:
        query = query.with_for_update()
    order = await session.scalar(query.execution_options(populate_existing=True))
    if order is None:
        raise ApiError(404, "order_not_found", f"no order {order_id!r}")
    return order


async def order_lines(*, session: AsyncSession, order_id: str) -> list[OrderLine]:
    rows = await session.scalars(
        select(OrderLine).where(OrderLine.order_id == order_id).order_by(OrderLine.line_no)
    )
    return list(rows)


async def order_events(
    *, session: AsyncSession, principal: Principal, order_id: str
) -> list[OrderEventPublic]:
    """The status history of a visible order, oldest first."""
    await visible_order(session=session, principal=principal, order_id=order_id)
    return await _events(session, order_id)


async def _events(session: AsyncSession, order_id: str) -> list[OrderEventPublic]:
    rows = await session.scalars(
        select(OrderEvent).where(OrderEvent.order_id == order_id).order_by(OrderEvent.id)
    )
    return [
        OrderEventPublic(
            id=row.id,
            from_status=row.from_status,
            to_status=row.to_status,
            reason=row.reason,
            actor=row.actor,
            at=row.at,
        )
        for row in rows
    ]


async def latest_decision(
    *, session: AsyncSession, order_id: str
) -> AllocationDecisionPublic | None:
    row = await session.scalar(
        select(AllocationDecision)
        .where(AllocationDecision.order_id == order_id)
        .order_by(AllocationDecision.id.desc())
        .limit(1)
    )
    if row is None:
        return None
    return AllocationDecisionPublic(
        id=row.id,
        outcome=row.outcome,
        node_ids=list(row.node_ids),
        promise_by=row.promise_by,
        summary=row.summary,
        candidates=list(row.candidates),
        decided_at=row.decided_at,
    )


def recipient(order: Order, cipher: PiiCipher, *, reveal: bool) -> Recipient:
    name = cipher.decrypt(order.recipient_name_enc)
    phone = cipher.decrypt(order.recipient_phone_enc)
    address = cipher.decrypt(order.address_enc)
    if reveal:
        return Recipient(name=name, phone=phone, address=address, masked=False)
    return Recipient(
        name=mask_name(name), phone=mask_phone(phone), address=mask_address(address), masked=True
    )


def summary(order: Order, lines: Sequence[OrderLine]) -> OrderSummary:
    return OrderSummary(
        id=order.id,
        channel=order.channel,
        external_id=order.external_id,
        status=order.status,
        status_reason=order.status_reason,
        promise_class=order.promise_class,
        promise_by=order.promise_by,
        priority=order.priority,
        nodes=sorted({line.node_id for line in lines if line.node_id}),
        placed_at=order.placed_at,
        updated_at=order.updated_at,
        version=order.version,
    )


async def order_detail(
    *,
    session: AsyncSession,
    principal: Principal,
    order_id: str,
    cipher: PiiCipher,
    reveal: bool,
    reason: str | None,
    now: datetime,
) -> OrderDetail:
    """A visible order with lines, history and the latest allocation decision.

    ``reveal`` (admins and operators only, with a ``reason``) returns the recipient's personal
    data in clear and records the read in the audit trail in the same transaction."""
    if reveal and principal.role not in (Role.ADMIN, Role.OPERATOR):
        raise ApiError(
            403,
            "reveal_forbidden",
            "reveal: only operators and admins may read personal data in clear",
        )
    checked = checked_reason(reason) if reveal else None
    order = await visible_order(session=session, principal=principal, order_id=order_id)
    lines = await order_lines(session=session, order_id=order.id)
    if checked is not None:
        await record_pii_read(
            session=session,
            principal=principal,
            record_type="order",
            record_id=order.id,
            fields=PII_FIELDS,
            reason=checked,
            now=now,
        )
    lat, lon = order.delivery_lat, order.delivery_lon
    if not reveal:
        lat, lon = round(lat, MASKED_DECIMALS), round(lon, MASKED_DECIMALS)
    return OrderDetail(
        **summary(order, lines).model_dump(),
        member_id=order.member_id,
        service=dict(order.service),
        rule_version=order.rule_version,
        delivery_lat=lat,
        delivery_lon=lon,
        recipient=recipient(order, cipher, reveal=reveal),
        lines=[
            OrderLinePublic(
                line_no=line.line_no,
                sku_id=line.sku_id,
                quantity=line.quantity,
                unit_price_cents=line.unit_price_cents,
                node_id=line.node_id,
            )
            for line in lines
        ],
        history=await _events(session, order.id),
        allocation=await latest_decision(session=session, order_id=order.id),
    )


async def list_orders(
    *,
    session: AsyncSession,
    principal: Principal,
    status: OrderStatus | None,
    channel: str | None,
    after: str | None,
    limit: int,
) -> OrderPage:
    """Visible orders ordered by id (``after`` = the last id of the previous page)."""
    query = await _scope_filter(session, principal, select(Order))
    if status is not None:
        query = query.where(Order.status == status.value)
    if channel is not None:
        query = query.where(Order.channel == channel)
    if after is not None:
        query = query.where(Order.id > after)
    orders = list(await session.scalars(query.order_by(Order.id).limit(limit + 1)))
    more = len(orders) > limit
    orders = orders[:limit]
    nodes: dict[str, list[OrderLine]] = {order.id: [] for order in orders}
    if orders:
        rows = await session.scalars(select(OrderLine).where(OrderLine.order_id.in_(list(nodes))))
        for line in rows:
            nodes[line.order_id].append(line)
    return OrderPage(
        items=[summary(order, nodes[order.id]) for order in orders],
        next_after=orders[-1].id if more else None,
    )
