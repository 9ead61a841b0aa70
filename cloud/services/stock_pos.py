"""Store POS receipts: sales take units off the shelf, returns put them back; idempotent on
(store, receipt id)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from cloud.api_error import ApiError
from cloud.catalog_models import Sku
from cloud.security import Principal
from cloud.services import stock_lookup
from cloud.services.stock import ledger_error, movements_by_key
from cloud.services.stock_ledger import (
    IdempotencyConflict,
    InsufficientStock,
    MovementSpec,
    apply_movement,
)
from cloud.stock_rules import Line, MovementKind, Source, delta_for, fingerprint, units
from cloud.stock_schemas import PosLine, PosReceiptPublic, PosSaleCreate
from firmware_bridge.gs1 import is_valid_gtin

_KINDS = {"sale": MovementKind.POS_SALE, "return": MovementKind.POS_RETURN}


async def _line_skus(session: AsyncSession, lines: list[PosLine]) -> list[Sku]:
    """The SKU of every line, by id or GTIN; 422 naming the first line that has none."""
    for index, line in enumerate(lines):
        if line.gtin is not None and not is_valid_gtin(line.gtin):
            raise ApiError(
                422, "validation_failed", f"lines[{index}].gtin: {line.gtin!r} is not a valid GTIN"
            )
    by_id = await stock_lookup.skus_by_id(session, [ln.sku_id for ln in lines if ln.sku_id])
    by_gtin = await stock_lookup.skus_by_gtin(
        session, [ln.gtin.rjust(14, "0") for ln in lines if ln.gtin]
    )
    found: list[Sku] = []
    for index, line in enumerate(lines):
        if line.sku_id is not None:
            sku = by_id.get(line.sku_id)
            where = f"lines[{index}].sku_id: no SKU {line.sku_id!r}"
        else:
            assert line.gtin is not None
            sku = by_gtin.get(line.gtin.rjust(14, "0"))
            where = f"lines[{index}].gtin: no SKU with GTIN {line.gtin}"
        if sku is None:
            raise ApiError(422, "unknown_sku", where)
        found.append(sku)
    return found


async def record_receipt(
    *, session: AsyncSession, principal: Principal, body: PosSaleCreate, now: datetime
) -> tuple[PosReceiptPublic, bool]:
    """Book every line of a receipt (all or nothing); returns the receipt's movements and
    whether it was a replay. A case GTIN sells ``pack_quantity`` units of its ``pack_of``."""
    node = await stock_lookup.require_node(
        session, principal=principal, node_id=body.store_id, field="store_id"
    )
    if node.kind != "store":
        raise ApiError(
            422, "not_a_store", f"store_id: {body.store_id!r} is a {node.kind}, not a store"
        )
    skus = await _line_skus(session, body.lines)
    packs = stock_lookup.packs(skus)
    content = body.model_dump(mode="json")
    source_ref = f"{body.store_id}:{body.receipt_id}"
    keys: list[str] = []
    replayed = False
    for index, (line, sku) in enumerate(zip(body.lines, skus, strict=True)):
        (unit_line,) = units([Line(sku.id, line.quantity)], packs=packs)
        kind = _KINDS[line.kind]
        spec = MovementSpec(
            key=f"pos:{source_ref}:{index + 1}",
            fingerprint=fingerprint(content),
            node_id=body.store_id,
            sku_id=unit_line.sku_id,
            kind=kind,
            source=Source.POS,
            source_ref=source_ref,
            actor=principal.name,
        )
        try:
            applied = await apply_movement(
                session, spec=spec, delta=delta_for(kind, unit_line.quantity), now=now
            )
        except IdempotencyConflict:
            raise ApiError(
                409,
                "idempotency_conflict",
                f"receipt_id: receipt {body.receipt_id!r} of {body.store_id} was already "
                "recorded with different content",
            ) from None
        except InsufficientStock as exc:
            raise ledger_error(exc, f"lines[{index}].quantity") from None
        replayed = applied.replayed
        keys.append(spec.key)
        if replayed:
            # The receipt was booked whole before: answer with what it booked.
            keys = [f"pos:{source_ref}:{n + 1}" for n in range(len(body.lines))]
            break
    movements = await movements_by_key(session, keys)
    receipt = PosReceiptPublic(
        store_id=body.store_id, receipt_id=body.receipt_id, movements=movements
    )
    return receipt, replayed
