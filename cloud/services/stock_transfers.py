"""Transfers between nodes: ``transfer_out`` at the sender when created (conditional on its
available stock), ``transfer_in`` at the receiver once, when it is received."""

from __future__ import annotations

import hashlib
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from cloud.api_error import ApiError
from cloud.catalog_models import Node
from cloud.security import Principal
from cloud.services import stock_lookup
from cloud.services.scope import visible_node_ids
from cloud.services.sql import upsert_insert
from cloud.services.stock import ledger_error
from cloud.services.stock_ledger import (
    IdempotencyConflict,
    InsufficientStock,
    MovementSpec,
    apply_movement,
    table_of,
)
from cloud.stock_models import StockTransfer
from cloud.stock_rules import Line, MovementKind, Source, delta_for, fingerprint, units
from cloud.stock_schemas import TransferCreate, TransferPublic

IN_TRANSIT = "in_transit"
RECEIVED = "received"
TRANSFERS = table_of(StockTransfer)


def transfer_public(row: StockTransfer) -> TransferPublic:
    return TransferPublic.model_validate(row, from_attributes=True)


def _transfer_id(key: str) -> str:
    return "tr-" + hashlib.sha256(key.encode()).hexdigest()[:20]


async def _lines_in_units(session: AsyncSession, body: TransferCreate) -> list[Line]:
    skus = await stock_lookup.skus_by_id(session, [line.sku_id for line in body.lines])
    for index, line in enumerate(body.lines):
        if line.sku_id not in skus:
            raise ApiError(422, "unknown_sku", f"lines[{index}].sku_id: no SKU {line.sku_id!r}")
    lines = [Line(line.sku_id, line.quantity) for line in body.lines]
    return units(lines, packs=stock_lookup.packs(skus.values()))


async def _movements(
    session: AsyncSession,
    *,
    transfer: StockTransfer,
    kind: MovementKind,
    node_id: str,
    actor: str,
    now: datetime,
) -> None:
    direction = "out" if kind is MovementKind.TRANSFER_OUT else "in"
    for index, line in enumerate(transfer.lines):
        spec = MovementSpec(
            key=f"transfer:{transfer.id}:{direction}:{line['sku_id']}",
            fingerprint=transfer.fingerprint,
            node_id=node_id,
            sku_id=line["sku_id"],
            kind=kind,
            source=Source.TRANSFER,
            source_ref=transfer.id,
            actor=actor,
        )
        try:
            await apply_movement(
                session, spec=spec, delta=delta_for(kind, int(line["quantity"])), now=now
            )
        except (IdempotencyConflict, InsufficientStock) as exc:
            raise ledger_error(exc, f"lines[{index}].quantity") from None


async def create_transfer(
    *,
    session: AsyncSession,
    principal: Principal,
    body: TransferCreate,
    key: str,
    now: datetime,
) -> tuple[TransferPublic, bool]:
    """Send units from ``from_node_id`` (taken off now) to ``to_node_id`` (booked when received);
    returns the transfer and whether ``key`` was a replay."""
    await stock_lookup.require_node(
        session, principal=principal, node_id=body.from_node_id, field="from_node_id"
    )
    if await session.get(Node, body.to_node_id) is None:
        raise ApiError(422, "unknown_node", f"to_node_id: no node {body.to_node_id!r}")
    lines = await _lines_in_units(session, body)
    content_fp = fingerprint(body.model_dump(mode="json", exclude={"idempotency_key"}))
    transfer_id = _transfer_id(key)
    inserted = (
        await session.execute(
            upsert_insert(session, TRANSFERS)
            .values(
                id=transfer_id,
                idempotency_key=key,
                fingerprint=content_fp,
                from_node_id=body.from_node_id,
                to_node_id=body.to_node_id,
                lines=[{"sku_id": line.sku_id, "quantity": line.quantity} for line in lines],
                status=IN_TRANSIT,
                created_by=principal.name,
                created_at=now,
            )
            .on_conflict_do_nothing(index_elements=["idempotency_key"])
            .returning(TRANSFERS.c.id)
        )
    ).scalar_one_or_none()
    transfer = await session.get(StockTransfer, transfer_id)
    if transfer is None:
        raise ApiError(409, "idempotency_conflict", f"idempotency_key: {key!r} is in use")
    if inserted is None:
        if transfer.fingerprint != content_fp:
            raise ApiError(
                409,
                "idempotency_conflict",
                f"idempotency_key: {key!r} was already used for a different transfer",
            )
        return transfer_public(transfer), True
    await _movements(
        session,
        transfer=transfer,
        kind=MovementKind.TRANSFER_OUT,
        node_id=transfer.from_node_id,
        actor=principal.name,
        now=now,
    )
    return transfer_public(transfer), False


async def _transfer(session: AsyncSession, transfer_id: str) -> StockTransfer:
    transfer = (
        await session.scalars(select(StockTransfer).where(StockTransfer.id == transfer_id))
    ).one_or_none()
    if transfer is None:
        raise ApiError(404, "transfer_not_found", f"no transfer {transfer_id!r}")
    return transfer


async def get_transfer(
    *, session: AsyncSession, principal: Principal, transfer_id: str
) -> TransferPublic:
    transfer = await _transfer(session, transfer_id)
    visible = await visible_node_ids(session=session, principal=principal)
    if visible is not None and not {transfer.from_node_id, transfer.to_node_id} & visible:
        raise ApiError(404, "transfer_not_found", f"no transfer {transfer_id!r}")
    return transfer_public(transfer)


async def receive_transfer(
    *, session: AsyncSession, principal: Principal, transfer_id: str, now: datetime
) -> TransferPublic:
    """Book the transfer's units in at the receiving node, exactly once (409 the second time)."""
    transfer = await _transfer(session, transfer_id)
    await stock_lookup.require_node(
        session, principal=principal, node_id=transfer.to_node_id, field="to_node_id"
    )
    result = await session.execute(
        update(StockTransfer)
        .where(StockTransfer.id == transfer_id, StockTransfer.status == IN_TRANSIT)
        .values(status=RECEIVED, received_by=principal.name, received_at=now)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise ApiError(
            409, "transfer_already_received", f"transfer {transfer_id} was already received"
        )
    await _movements(
        session,
        transfer=transfer,
        kind=MovementKind.TRANSFER_IN,
        node_id=transfer.to_node_id,
        actor=principal.name,
        now=now,
    )
    await session.refresh(transfer)
    return transfer_public(transfer)
