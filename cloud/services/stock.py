"""Stock queries (balances, movements, exceptions) and manual receipts, adjustments and counts."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cloud.api_error import ApiError
from cloud.security import Principal
from cloud.services import stock_lookup
from cloud.services.stock_exceptions import record_shortfall
from cloud.services.stock_ledger import (
    Applied,
    IdempotencyConflict,
    InsufficientStock,
    MovementSpec,
    apply_computed_movement,
    apply_movement,
    shortfall,
)
from cloud.stock_models import StockException, StockLevel, StockMovement
from cloud.stock_rules import Delta, Line, MovementKind, Source, fingerprint, units
from cloud.stock_schemas import (
    ManualMovementCreate,
    MovementPage,
    MovementPublic,
    StockExceptionPage,
    StockExceptionPublic,
    StockLevelPublic,
)


def level_public(row: StockLevel) -> StockLevelPublic:
    return StockLevelPublic(
        node_id=row.node_id,
        sku_id=row.sku_id,
        zone_id=row.zone_id,
        on_hand=row.on_hand,
        reserved=row.reserved,
        on_hold=row.on_hold,
        available=row.on_hand - row.reserved - row.on_hold,
        updated_at=row.updated_at,
    )


def movement_public(row: StockMovement) -> MovementPublic:
    return MovementPublic.model_validate(row, from_attributes=True)


async def movements_by_key(session: AsyncSession, keys: Sequence[str]) -> list[MovementPublic]:
    """The stored movements of ``keys``, in the order of ``keys``."""
    rows = (
        await session.scalars(select(StockMovement).where(StockMovement.idempotency_key.in_(keys)))
    ).all()
    by_key = {row.idempotency_key: row for row in rows}
    return [movement_public(by_key[key]) for key in keys if key in by_key]


async def list_levels(
    *, session: AsyncSession, principal: Principal, node_id: str | None, sku_id: str | None
) -> list[StockLevelPublic]:
    """Balances per node × SKU, by node then SKU; warehouse users see their nodes only."""
    nodes = await stock_lookup.scoped_nodes(session, principal=principal, node_id=node_id)
    query = select(StockLevel).order_by(StockLevel.node_id, StockLevel.sku_id)
    if nodes is not None:
        query = query.where(StockLevel.node_id.in_(nodes))
    if sku_id is not None:
        query = query.where(StockLevel.sku_id == sku_id)
    return [level_public(row) for row in (await session.scalars(query)).all()]


async def list_movements(
    *,
    session: AsyncSession,
    principal: Principal,
    node_id: str | None,
    sku_id: str | None,
    after: int,
    limit: int,
) -> MovementPage:
    """Ledger rows with id > ``after``, oldest first."""
    nodes = await stock_lookup.scoped_nodes(session, principal=principal, node_id=node_id)
    query = select(StockMovement).where(StockMovement.id > after)
    if nodes is not None:
        query = query.where(StockMovement.node_id.in_(nodes))
    if sku_id is not None:
        query = query.where(StockMovement.sku_id == sku_id)
    rows = (await session.scalars(query.order_by(StockMovement.id).limit(limit + 1))).all()
    items = [movement_public(row) for row in rows[:limit]]
    return MovementPage(items=items, next_after=items[-1].id if len(rows) > limit else None)


async def list_exceptions(*, session: AsyncSession, after: int, limit: int) -> StockExceptionPage:
    query = select(StockException).where(StockException.id > after).order_by(StockException.id)
    rows = (await session.scalars(query.limit(limit + 1))).all()
    items = [StockExceptionPublic.model_validate(row, from_attributes=True) for row in rows[:limit]]
    return StockExceptionPage(items=items, next_after=items[-1].id if len(rows) > limit else None)


def ledger_error(exc: IdempotencyConflict | InsufficientStock, field: str) -> ApiError:
    """The API error for a failed ledger write; ``field`` names the request part it concerns."""
    if isinstance(exc, IdempotencyConflict):
        return ApiError(
            409,
            "idempotency_conflict",
            f"idempotency_key: {exc.key!r} was already used for a different request; "
            "use a new key for new content",
        )
    return ApiError(409, "insufficient_stock", f"{field}: {exc}")


_MANUAL_KINDS = {
    "receive": MovementKind.RECEIVE,
    "adjust": MovementKind.COUNT_ADJUST,
    "count": MovementKind.COUNT_ADJUST,
}


async def record_manual(
    *,
    session: AsyncSession,
    principal: Principal,
    body: ManualMovementCreate,
    key: str,
    now: datetime,
) -> tuple[MovementPublic, bool]:
    """Apply a manual receipt, adjustment or count; returns the movement and whether this was
    a replay of ``key``. A case SKU is booked as units of its ``pack_of``."""
    await stock_lookup.require_node(
        session, principal=principal, node_id=body.node_id, field="node_id"
    )
    sku = (await stock_lookup.skus_by_id(session, [body.sku_id])).get(body.sku_id)
    if sku is None:
        raise ApiError(422, "unknown_sku", f"sku_id: no SKU {body.sku_id!r}")
    content = body.model_dump(mode="json", exclude={"idempotency_key"})
    (line,) = units([Line(sku.id, body.quantity)], packs=stock_lookup.packs([sku]))
    if body.kind == "count" and line.sku_id != sku.id:
        raise ApiError(422, "count_in_units", f"sku_id: count {line.sku_id} units, not cases")
    spec = MovementSpec(
        key=f"manual:{key}",
        fingerprint=fingerprint(content),
        node_id=body.node_id,
        sku_id=line.sku_id,
        kind=_MANUAL_KINDS[body.kind],
        source=Source.MANUAL,
        source_ref=key,
        actor=principal.name,
        note=body.note,
    )
    try:
        applied: Applied | None
        if body.kind == "count":
            applied = await apply_computed_movement(
                session, spec=spec, target="count", now=now, counted=line.quantity
            )
        else:
            applied = await apply_movement(
                session, spec=spec, delta=Delta(on_hand=line.quantity), now=now
            )
    except (IdempotencyConflict, InsufficientStock) as exc:
        raise ledger_error(exc, "quantity") from None
    assert applied is not None
    if body.kind == "count" and not applied.replayed:
        missing = await shortfall(session, node_id=body.node_id, sku_id=line.sku_id)
        if missing:
            await record_shortfall(session, spec=spec, missing=missing, raw=content, now=now)
    (movement,) = await movements_by_key(session, [spec.key])
    return movement, applied.replayed
