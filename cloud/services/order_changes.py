"""Changing an order after placement: operational status steps with their stock effects,
cancellation, and modification by the channel. Each runs in the caller's transaction, so a
refused change leaves nothing behind (no release without the transition, and so on).

Stock effects: ``dispatched`` consumes the order's reservation (the units leave the node);
``failed`` and ``cancelled`` release whatever is still reserved; changing the lines (or the
delivery address while nothing is picked yet) releases and allocates again.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from cloud.api_error import ApiError
from cloud.atp import haversine_km
from cloud.catalog_models import Node
from cloud.channels.model import NormalisedLine
from cloud.channels.modification import OrderChanges
from cloud.order_models import Order, OrderEvent, OrderLine
from cloud.order_status import (
    MODIFIABLE,
    NEEDS_REASON,
    OrderStatus,
    TransitionError,
    check_transition,
)
from cloud.pii import PiiCipher
from cloud.security import Principal
from cloud.services import allocation_cache
from cloud.services.allocation import AllocationConfig, allocate_order
from cloud.services.order_lifecycle import enqueue_status_webhook, record_transition
from cloud.services.order_reads import order_lines, visible_order
from cloud.services.reservation import consume_order, release_order

BEFORE_DISPATCH = frozenset(
    {OrderStatus.RECEIVED, OrderStatus.ALLOCATED, OrderStatus.PICKING, OrderStatus.PACKED}
)


def _check(order: Order, target: OrderStatus, reason: str | None) -> None:
    try:
        check_transition(OrderStatus(order.status), target, reason)
    except TransitionError as exc:
        raise ApiError(409, "invalid_transition", f"status: order {order.id}: {exc}") from None


async def change_status(
    *,
    session: AsyncSession,
    principal: Principal,
    order_id: str,
    target: OrderStatus,
    reason: str | None,
    now: datetime,
) -> Order:
    """Move a visible order to ``target`` (picking, packed, dispatched, delivered, failed).

    Asking for the status the order already has is a replay and changes nothing."""
    order = await visible_order(
        session=session, principal=principal, order_id=order_id, for_update=True
    )
    if order.status == target.value:
        return order
    if target in NEEDS_REASON and not (reason and reason.strip()):
        raise ApiError(422, "reason_required", f"reason: say why the order is {target}")
    _check(order, target, reason)
    if target is OrderStatus.DISPATCHED:
        await consume_order(session=session, order_id=order.id, now=now, actor=principal.name)
    elif target is OrderStatus.FAILED:
        await release_order(session=session, order_id=order.id, now=now, actor=principal.name)
    return await record_transition(
        session=session,
        order=order,
        to_status=target,
        reason=reason.strip() if reason else None,
        actor=principal.name,
        now=now,
    )


async def cancel_order(
    *, session: AsyncSession, principal: Principal, order_id: str, reason: str, now: datetime
) -> Order:
    """Cancel before dispatch: the reserved units go back, the channel hears of it.
    Cancelling a cancelled order again is a replay."""
    order = await visible_order(
        session=session, principal=principal, order_id=order_id, for_update=True
    )
    if order.status == OrderStatus.CANCELLED.value:
        return order
    _check(order, OrderStatus.CANCELLED, reason)
    await release_order(session=session, order_id=order.id, now=now, actor=principal.name)
    return await record_transition(
        session=session,
        order=order,
        to_status=OrderStatus.CANCELLED,
        reason=reason.strip(),
        actor=principal.name,
        now=now,
    )


async def modify_order(
    *,
    session: AsyncSession,
    principal: Principal,
    order_id: str,
    changes: OrderChanges,
    cipher: PiiCipher,
    config: AllocationConfig,
    now: datetime,
) -> Order:
    """Apply ``changes`` all or nothing.

    Recipient and delivery address may change until dispatch; the lines only while the order
    is received or allocated. New lines, or a new address before picking starts, release the
    reservation and allocate again (409 ``cannot_reallocate`` with the reason when no node can
    serve the changed order, leaving it as it was). Once picking started, a new address must
    lie within the delivery radius of the nodes already picking."""
    order = await visible_order(
        session=session, principal=principal, order_id=order_id, for_update=True
    )
    status = OrderStatus(order.status)
    if changes.expected_version is not None and changes.expected_version != order.version:
        raise ApiError(
            409,
            "version_mismatch",
            f"expected_version: the order is at version {order.version}, not "
            f"{changes.expected_version}; read it again",
        )
    if status not in BEFORE_DISPATCH:
        raise ApiError(
            409,
            "order_not_modifiable",
            f"{changes.changed_fields[0]}: order {order.id} is {status}; it can change only "
            "before dispatch",
        )
    if changes.lines is not None and status not in MODIFIABLE:
        raise ApiError(
            409,
            "order_not_modifiable",
            f"lines: order {order.id} is {status}; lines can change only while it is received "
            "or allocated (cancel it and place a new order)",
        )
    lines = await order_lines(session=session, order_id=order.id)
    if changes.delivery is not None and status not in MODIFIABLE:
        await _check_reach(session, lines, changes.delivery.lat, changes.delivery.lon)
    read_version = order.version
    bumped = await session.execute(
        update(Order)
        .where(Order.id == order.id, Order.version == read_version)
        .values(version=read_version + 1, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    if bumped.rowcount != 1:  # type: ignore[attr-defined]
        raise ApiError(
            409, "order_changed", f"order {order.id} was changed by another request; retry"
        )
    order.version = read_version + 1
    order.updated_at = now
    if changes.recipient_name is not None:
        order.recipient_name_enc = cipher.encrypt(changes.recipient_name)
    if changes.recipient_phone is not None:
        order.recipient_phone_enc = cipher.encrypt(changes.recipient_phone)
    if changes.delivery is not None:
        order.address_enc = cipher.encrypt(changes.delivery.address_text)
        order.delivery_lat = changes.delivery.lat
        order.delivery_lon = changes.delivery.lon
    note = ""
    if changes.lines is not None or (changes.delivery is not None and status in MODIFIABLE):
        note = await _reallocate(
            session,
            order,
            lines,
            changes.lines,
            actor=principal.name,
            config=config,
            now=now,
        )
    session.add(
        OrderEvent(
            order_id=order.id,
            from_status=status.value,
            to_status=order.status,
            reason=f"modified: {', '.join(changes.changed_fields)}{note}",
            actor=principal.name,
            at=now,
        )
    )
    # The channel learns the new version and, after a re-allocation, the new promise.
    await enqueue_status_webhook(session=session, order=order, now=now)
    await session.flush()
    return order


async def _check_reach(
    session: AsyncSession, lines: Sequence[OrderLine], lat: float, lon: float
) -> None:
    node_ids = sorted({line.node_id for line in lines if line.node_id})
    nodes = await session.scalars(select(Node).where(Node.id.in_(node_ids)))
    for node in nodes:
        distance = haversine_km(node.lat, node.lon, lat, lon)
        if distance > node.delivery_radius_km:
            raise ApiError(
                409,
                "delivery_out_of_reach",
                f"delivery: the new address is {distance:.1f} km from {node.id}, which is already "
                f"picking the order and delivers within {node.delivery_radius_km:g} km; "
                "cancel the order and place a new one",
            )


async def _reallocate(
    session: AsyncSession,
    order: Order,
    current: Sequence[OrderLine],
    wanted: Sequence[NormalisedLine] | None,
    *,
    actor: str,
    config: AllocationConfig,
    now: datetime,
) -> str:
    """Release, replace the lines (if ``wanted``), allocate again; the history note."""
    if wanted is None:
        specs = [(line.sku_id, line.quantity, line.unit_price_cents) for line in current]
    else:
        specs = await _resolve(session, wanted)
    await release_order(session=session, order_id=order.id, now=now, actor=actor)
    await session.execute(delete(OrderLine).where(OrderLine.order_id == order.id))
    for line in current:
        session.expunge(line)
    lines = [
        OrderLine(
            order_id=order.id,
            line_no=number,
            sku_id=sku_id,
            quantity=quantity,
            unit_price_cents=price,
            node_id=None,
        )
        for number, (sku_id, quantity, price) in enumerate(specs, start=1)
    ]
    session.add_all(lines)
    await session.flush()
    decision = await allocate_order(
        session=session, order=order, lines=lines, now=now, actor=actor, config=config
    )
    if decision.outcome == "rejected":
        field = "delivery" if wanted is None else "lines"
        raise ApiError(
            409,
            "cannot_reallocate",
            f"{field}: no node can serve the changed order ({decision.summary}); "
            "the order is unchanged",
        )
    if order.status == OrderStatus.RECEIVED.value:
        await _mark_allocated(session, order, actor=actor, now=now)
    return f"; allocated to {', '.join(decision.node_ids)}"


async def _mark_allocated(
    session: AsyncSession, order: Order, *, actor: str, now: datetime
) -> None:
    await session.flush()
    await record_transition(
        session=session,
        order=order,
        to_status=OrderStatus.ALLOCATED,
        reason=None,
        actor=actor,
        now=now,
    )


async def _resolve(
    session: AsyncSession, wanted: Sequence[NormalisedLine]
) -> list[tuple[str, int, int | None]]:
    catalogue = await allocation_cache.snapshot(session=session)
    found = await allocation_cache.resolve_skus(
        session=session, catalogue=catalogue, references=[line.sku_ref for line in wanted]
    )
    specs: list[tuple[str, int, int | None]] = []
    for index, line in enumerate(wanted):
        sku = found.get(line.sku_ref)
        if sku is None:
            raise ApiError(
                422, "unknown_sku", f"lines.{index}.sku: no SKU with id or GTIN {line.sku_ref!r}"
            )
        if not sku.active:
            raise ApiError(
                422, "sku_inactive", f"lines.{index}.sku: SKU {sku.id!r} is no longer sold"
            )
        specs.append((sku.id, line.quantity, line.unit_price_cents))
    return specs
