"""Cold-chain holds: an excursion alarm for a storage zone puts that zone's chilled and frozen
stock on hold until an operator releases it or writes it off, each exactly once."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from cloud.api_error import ApiError
from cloud.catalog_models import Sku
from cloud.security import Principal
from cloud.services.sql import upsert_insert
from cloud.services.stock import ledger_error
from cloud.services.stock_ledger import (
    IdempotencyConflict,
    InsufficientStock,
    MovementSpec,
    apply_computed_movement,
    apply_movement,
    table_of,
)
from cloud.stock_models import ColdChainHold, StockLevel
from cloud.stock_rules import HELD_CLASSES, MovementKind, Source, delta_for, fingerprint
from cloud.stock_schemas import HoldPublic

HELD = "held"
CLOSED = {"release": "released", "write_off": "written_off"}
_CLOSE_KINDS = {"release": MovementKind.UNHOLD, "write_off": MovementKind.WRITE_OFF}
HOLDS = table_of(ColdChainHold)


def hold_public(row: ColdChainHold) -> HoldPublic:
    return HoldPublic.model_validate(row, from_attributes=True)


async def open_hold(
    session: AsyncSession,
    *,
    alarm_ref: str,
    node_id: str,
    zone_id: str,
    evidence: dict[str, Any],
    now: datetime,
) -> tuple[ColdChainHold, bool]:
    """Open the hold of alarm ``alarm_ref`` ("<gateway>:<seq>"): every chilled/frozen SKU kept
    in ``zone_id`` gets its available units put on hold. Returns (hold, opened now)."""
    hold_id = (
        await session.execute(
            upsert_insert(session, HOLDS)
            .values(
                alarm_ref=alarm_ref,
                node_id=node_id,
                zone_id=zone_id,
                status=HELD,
                lines=[],
                evidence=evidence,
                opened_at=now,
            )
            .on_conflict_do_nothing(index_elements=["alarm_ref"])
            .returning(HOLDS.c.id)
        )
    ).scalar_one_or_none()
    if hold_id is None:
        existing = (
            await session.scalars(select(ColdChainHold).where(ColdChainHold.alarm_ref == alarm_ref))
        ).one()
        return existing, False
    sku_ids = (
        await session.scalars(
            select(StockLevel.sku_id)
            .join(Sku, Sku.id == StockLevel.sku_id)
            .where(
                StockLevel.node_id == node_id,
                StockLevel.zone_id == zone_id,
                Sku.temperature_class.in_(HELD_CLASSES),
            )
            .order_by(StockLevel.sku_id)
        )
    ).all()
    lines: list[dict[str, Any]] = []
    for sku_id in sku_ids:
        spec = MovementSpec(
            key=f"alarm:{alarm_ref}:{sku_id}",
            fingerprint=fingerprint({"alarm_ref": alarm_ref, "zone_id": zone_id}),
            node_id=node_id,
            sku_id=sku_id,
            kind=MovementKind.HOLD,
            source=Source.COLDCHAIN,
            source_ref=f"hold:{hold_id}",
            actor="coldchain",
            note=f"alarm {alarm_ref} in zone {zone_id}",
        )
        applied = await apply_computed_movement(
            session, spec=spec, target="hold_available", now=now
        )
        if applied is not None and applied.delta.on_hold > 0:
            lines.append({"sku_id": sku_id, "quantity": applied.delta.on_hold})
    await session.execute(update(HOLDS).where(HOLDS.c.id == hold_id).values(lines=lines))
    hold = await session.get(ColdChainHold, hold_id, populate_existing=True)
    assert hold is not None
    return hold, True


async def list_holds(*, session: AsyncSession, status: str | None) -> list[HoldPublic]:
    query = select(ColdChainHold).order_by(ColdChainHold.id)
    if status is not None:
        query = query.where(ColdChainHold.status == status)
    return [hold_public(row) for row in (await session.scalars(query)).all()]


async def close_hold(
    *,
    session: AsyncSession,
    principal: Principal,
    hold_id: int,
    action: Literal["release", "write_off"],
    comment: str,
    now: datetime,
) -> HoldPublic:
    """Release (units become available again) or write off (units leave on-hand) every line
    of an open hold; a closed hold answers 409, so each happens exactly once."""
    hold = await session.get(ColdChainHold, hold_id)
    if hold is None:
        raise ApiError(404, "hold_not_found", f"no hold {hold_id}; list them at /api/v1/holds")
    result = await session.execute(
        update(HOLDS)
        .where(HOLDS.c.id == hold_id, HOLDS.c.status == HELD)
        .values(status=CLOSED[action], closed_at=now, closed_by=principal.name, comment=comment)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        await session.refresh(hold)
        raise ApiError(
            409, "hold_closed", f"hold {hold_id} is already {hold.status}; nothing was changed"
        )
    kind = _CLOSE_KINDS[action]
    for index, line in enumerate(hold.lines):
        spec = MovementSpec(
            key=f"{action}:hold:{hold_id}:{line['sku_id']}",
            fingerprint=fingerprint({"hold": hold_id, "action": action}),
            node_id=hold.node_id,
            sku_id=line["sku_id"],
            kind=kind,
            source=Source.COLDCHAIN,
            source_ref=f"hold:{hold_id}",
            actor=principal.name,
            note=comment,
        )
        try:
            await apply_movement(
                session, spec=spec, delta=delta_for(kind, int(line["quantity"])), now=now
            )
        except (IdempotencyConflict, InsufficientStock) as exc:
            raise ledger_error(exc, f"lines[{index}]") from None
    await session.refresh(hold)
    return hold_public(hold)
