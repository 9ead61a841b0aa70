"""Order placement: a channel's payload in, a stored and allocated (or failed) order out.

normalise (the channel's adapter) → idempotency on (channel, external id) + fingerprint →
resolve SKUs → member → delivery area → service decision (member rules) → store the order →
allocate and reserve → status ``allocated``, or ``failed`` with the reason when no node can
fulfil the basket. Everything happens in the caller's transaction (or savepoint), so a refused
order leaves nothing behind.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from sqlalchemy import Table, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from cloud.api_error import ApiError
from cloud.atp import BasketLine, outside_every_area
from cloud.catalog_models import Channel, Member
from cloud.channels import (
    ChannelPayloadError,
    NormalisedOrder,
    normalise_order,
    order_fingerprint,
)
from cloud.member_rules import ServiceContext, decide_service
from cloud.order_models import AllocationDecision, Order, OrderEvent, OrderLine, WebhookDelivery
from cloud.order_schemas import AllocationSummary, OrderPlaced, PlacedLine
from cloud.order_status import OrderStatus, check_transition
from cloud.pii import PiiCipher
from cloud.services import allocation_cache
from cloud.services.allocation import AllocationConfig, allocate_order, candidates_for
from cloud.services.allocation_cache import SkuInfo
from cloud.services.order_lifecycle import status_payload
from cloud.services.placement_batch import Prepared
from cloud.services.placement_queue import mark_writing
from cloud.services.service_rules import active_rule_set

_EVENTS: Final[Table] = OrderEvent.__table__  # type: ignore[assignment]
_WEBHOOKS: Final[Table] = WebhookDelivery.__table__  # type: ignore[assignment]


@dataclass(frozen=True, slots=True)
class ChannelInfo:
    id: str
    kind: str
    webhook_url: str | None


@dataclass(frozen=True, slots=True)
class PlacementRequest:
    """One ``POST /api/v1/orders`` as the placement queue receives it."""

    channel_id: str
    payload: Mapping[str, Any]
    actor: str
    cipher: PiiCipher
    config: AllocationConfig
    now: datetime

    async def run(self, session: AsyncSession) -> tuple[OrderPlaced, bool]:
        """Place it inside ``session``'s transaction (see :func:`place_order`)."""
        return await place_order(
            session=session,
            channel_id=self.channel_id,
            payload=self.payload,
            actor=self.actor,
            cipher=self.cipher,
            config=self.config,
            now=self.now,
        )


async def prepare_placement(
    *, session: AsyncSession, catalogue: allocation_cache.Snapshot, request: PlacementRequest
) -> Prepared:
    """The checks that need no transaction: channel, payload, fingerprint, SKUs (ApiError)."""
    channel = await channel_info(session, catalogue, request.channel_id)
    order_in = normalised(channel.kind, request.payload)
    skus = await _resolve_lines(session, catalogue, order_in)
    return Prepared(
        order_id=new_order_id(),
        channel_id=channel.id,
        channel_kind=channel.kind,
        webhook_url=channel.webhook_url,
        order=order_in,
        fingerprint=order_fingerprint(order_in),
        skus=tuple(skus),
        actor=request.actor,
        now=request.now,
    )


def new_order_id() -> str:
    return f"ord-{uuid.uuid4().hex[:20]}"


async def channel_info(
    session: AsyncSession, catalogue: allocation_cache.Snapshot, channel_id: str
) -> ChannelInfo:
    row = catalogue.channels.get(channel_id)
    if row is None:  # perhaps created since the snapshot was taken
        found = (
            await session.execute(
                select(Channel.kind, Channel.webhook_url, Channel.active).where(
                    Channel.id == channel_id
                )
            )
        ).one_or_none()
        row = None if found is None else (found.kind, found.webhook_url, bool(found.active))
    if row is None:
        raise ApiError(422, "unknown_channel", f"channel: no channel {channel_id!r}")
    kind, webhook_url, active = row
    if not active:
        raise ApiError(422, "channel_inactive", f"channel: {channel_id!r} is deactivated")
    return ChannelInfo(channel_id, kind, webhook_url)


def normalised(kind: str, payload: Mapping[str, Any]) -> NormalisedOrder:
    try:
        return normalise_order(kind, payload)
    except ChannelPayloadError as exc:
        raise ApiError(422, "invalid_order", f"{exc.field}: {exc.message}") from None


async def place_order(
    *,
    session: AsyncSession,
    channel_id: str,
    payload: Mapping[str, Any],
    actor: str,
    cipher: PiiCipher,
    config: AllocationConfig,
    now: datetime,
) -> tuple[OrderPlaced, bool]:
    """Place the order in ``payload``; (the order, created?) — False for a replay.

    ApiError: 422 for a payload, SKU, member or address that cannot be served (naming the
    field or line), 409 ``duplicate_order_conflict`` for a known external id with other content.
    """
    catalogue = await allocation_cache.snapshot(session=session)
    channel = await channel_info(session, catalogue, channel_id)
    order_in = normalised(channel.kind, payload)
    fingerprint = order_fingerprint(order_in)
    existing = await session.scalar(
        select(Order).where(Order.channel == channel.id, Order.external_id == order_in.external_id)
    )
    if existing is not None:
        if existing.fingerprint != fingerprint:
            raise ApiError(
                409,
                "duplicate_order_conflict",
                f"external_id: order {order_in.external_id!r} of channel {channel.id!r} was "
                f"already placed as {existing.id} with other content; use a new external id",
            )
        return await stored_order(session=session, order=existing, replayed=True), False
    skus = await _resolve_lines(session, catalogue, order_in)
    tier, tags = await _member(session, order_in.member_id)
    basket = [
        BasketLine(skus[i].id, line.quantity, skus[i].temperature_class)
        for i, line in enumerate(order_in.lines)
    ]
    candidates = await candidates_for(
        session=session,
        lat=order_in.lat,
        lon=order_in.lon,
        basket=basket,
        config=config,
        now=now,
        nodes=catalogue.nodes,
    )
    if outside_every_area(candidates):
        raise ApiError(
            422,
            "outside_delivery_area",
            f"address: ({order_in.lat:.5f}, {order_in.lon:.5f}) is outside the delivery area "
            "of every node",
        )
    rule_version, rules = await active_rule_set(session=session)
    decision = decide_service(rules, service_context(channel, order_in, skus, tier, tags))
    promise = order_in.requested_promise or decision.promise_class
    order = Order(
        id=new_order_id(),
        channel=channel.id,
        external_id=order_in.external_id,
        fingerprint=fingerprint,
        member_id=order_in.member_id,
        status=OrderStatus.RECEIVED.value,
        status_reason=None,
        promise_class=promise,
        promise_by=None,
        priority=decision.priority,
        service=decision.as_dict(),
        rule_version=rule_version,
        delivery_lat=order_in.lat,
        delivery_lon=order_in.lon,
        address_enc=cipher.encrypt(order_in.address_text),
        recipient_name_enc=cipher.encrypt(order_in.recipient_name),
        recipient_phone_enc=cipher.encrypt(order_in.recipient_phone),
        placed_at=order_in.placed_at or now,
        updated_at=now,
        version=1,
    )
    received = status_payload(order, now)
    mark_writing(session)
    # The row goes in before its reservations (they refer to it), already saying "allocated":
    # nothing outside this transaction sees it before the allocation below settles it, and
    # the common case then needs no UPDATE (a rejection updates it to "failed").
    order.status, order.version = OrderStatus.ALLOCATED.value, 2
    session.add(order)
    await session.flush()
    lines = [
        OrderLine(
            order_id=order.id,
            line_no=i + 1,
            sku_id=skus[i].id,
            quantity=line.quantity,
            unit_price_cents=line.unit_price_cents,
            node_id=None,
        )
        for i, line in enumerate(order_in.lines)
    ]
    with session.no_autoflush:
        allocation = await allocate_order(
            session=session,
            order=order,
            lines=lines,
            now=now,
            actor=actor,
            config=config,
            generation=1,
            candidates=candidates,
        )
    target = OrderStatus.FAILED if allocation.outcome == "rejected" else OrderStatus.ALLOCATED
    reason = allocation.summary if target is OrderStatus.FAILED else None
    check_transition(OrderStatus.RECEIVED, target, reason)
    if target is not OrderStatus.ALLOCATED:
        order.status = target.value
        order.status_reason = reason
    session.add_all(lines)
    await session.flush()
    # History and webhooks as one multi-row INSERT each (the ORM would insert row by row).
    await session.execute(
        insert(_EVENTS),
        [
            _event(order.id, None, OrderStatus.RECEIVED.value, None, actor, now),
            _event(order.id, OrderStatus.RECEIVED.value, target.value, reason, actor, now),
        ],
    )
    if channel.webhook_url:
        await session.execute(
            insert(_WEBHOOKS),
            [
                _webhook(order, channel.webhook_url, body, now)
                for body in (received, status_payload(order, now))
            ],
        )
    return _placed(order, lines, allocation, replayed=False), True


def _event(
    order_id: str,
    from_status: str | None,
    to_status: str,
    reason: str | None,
    actor: str,
    now: datetime,
) -> dict[str, Any]:
    return {
        "order_id": order_id,
        "from_status": from_status,
        "to_status": to_status,
        "reason": reason,
        "actor": actor,
        "at": now,
    }


def _webhook(order: Order, url: str, body: dict[str, Any], now: datetime) -> dict[str, Any]:
    return {
        "order_id": order.id,
        "channel": order.channel,
        "url": url,
        "payload": body,
        "status": "pending",
        "attempts": 0,
        "next_attempt_at": now,
        "last_error": None,
        "created_at": now,
        "delivered_at": None,
    }


async def _resolve_lines(
    session: AsyncSession, catalogue: allocation_cache.Snapshot, order: NormalisedOrder
) -> list[SkuInfo]:
    references = [line.sku_ref for line in order.lines]
    found = await allocation_cache.resolve_skus(
        session=session, catalogue=catalogue, references=references
    )
    resolved: list[SkuInfo] = []
    for number, reference in enumerate(references, start=1):
        sku = found.get(reference)
        if sku is None:
            raise ApiError(
                422, "unknown_sku", f"line {number}: no SKU with id or GTIN {reference!r}"
            )
        if not sku.active:
            raise ApiError(422, "sku_inactive", f"line {number}: SKU {sku.id!r} is no longer sold")
        resolved.append(sku)
    return resolved


async def _member(
    session: AsyncSession, member_id: str | None
) -> tuple[str | None, frozenset[str]]:
    if member_id is None:
        return None, frozenset()
    row = (
        await session.execute(
            select(Member.tier, Member.tags, Member.active).where(Member.id == member_id)
        )
    ).one_or_none()
    if row is None or not row.active:
        raise ApiError(422, "unknown_member", f"member_id: no active member {member_id!r}")
    return row.tier, frozenset(row.tags or ())


def service_context(
    channel: ChannelInfo,
    order: NormalisedOrder,
    skus: Sequence[SkuInfo],
    tier: str | None,
    tags: frozenset[str],
) -> ServiceContext:
    return ServiceContext(
        tier=tier,
        tags=tags,
        channel=channel.id,
        channel_kind=channel.kind,
        basket_value_cents=sum(
            (line.unit_price_cents or 0) * line.quantity for line in order.lines
        ),
        item_count=sum(line.quantity for line in order.lines),
        temperature_classes=frozenset(sku.temperature_class for sku in skus),
        categories=frozenset(sku.category for sku in skus),
    )


def _placed(
    order: Order,
    lines: Sequence[OrderLine],
    allocation: AllocationDecision | None,
    *,
    replayed: bool,
) -> OrderPlaced:
    return OrderPlaced(
        order_id=order.id,
        channel=order.channel,
        external_id=order.external_id,
        status=order.status,
        status_reason=order.status_reason,
        promise_class=order.promise_class,
        promise_by=order.promise_by,
        nodes=sorted({line.node_id for line in lines if line.node_id}),
        service=dict(order.service),
        rule_version=order.rule_version,
        lines=[
            PlacedLine(
                line_no=line.line_no,
                sku_id=line.sku_id,
                quantity=line.quantity,
                unit_price_cents=line.unit_price_cents,
                node_id=line.node_id,
            )
            for line in sorted(lines, key=lambda line: line.line_no)
        ],
        allocation=None
        if allocation is None
        else AllocationSummary(
            outcome=allocation.outcome,
            node_ids=list(allocation.node_ids),
            summary=allocation.summary,
        ),
        replayed=replayed,
    )


async def stored_order(*, session: AsyncSession, order: Order, replayed: bool) -> OrderPlaced:
    """The placement answer for an order already stored (a replay)."""
    lines = (await session.scalars(select(OrderLine).where(OrderLine.order_id == order.id))).all()
    decision = await session.scalar(
        select(AllocationDecision)
        .where(AllocationDecision.order_id == order.id)
        .order_by(AllocationDecision.id.desc())
        .limit(1)
    )
    return _placed(order, lines, decision, replayed=replayed)
