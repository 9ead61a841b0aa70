"""What one gateway record does to stock: a scan, a dock-door tag event or a cold-chain alarm.

Each function applies one stored record at the node its gateway is installed at, or raises
:class:`Rejected` with a reason code and message (the projector records it as a stock
exception and moves on). Movement keys are ``scan:<gateway>:<seq>`` / ``tag:<gateway>:<seq>``
(with ``:<sku>`` appended when a pallet manifest yields several SKUs), so replays are no-ops.
A dock-door ``out`` goes through :mod:`cloud.services.outbound_match`, so units an order's
dispatch already took off on-hand are not taken again.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cloud.catalog_models import StorageZone
from cloud.models import AlarmRow, ScanRow, TagEventRow
from cloud.services import stock_lookup
from cloud.services.outbound_match import book_door_out
from cloud.services.sql import upsert_insert
from cloud.services.stock_exceptions import record_shortfall
from cloud.services.stock_holds import open_hold
from cloud.services.stock_ledger import (
    Applied,
    MovementSpec,
    apply_computed_movement,
    apply_movement,
    shortfall,
    table_of,
)
from cloud.stock_models import EpcState
from cloud.stock_rules import (
    SCAN_KINDS,
    TAG_KINDS,
    CodeError,
    CodeKind,
    Delta,
    Line,
    MovementKind,
    Source,
    StockCode,
    alarm_subject_names,
    code_from_epc,
    delta_for,
    fingerprint,
    opens_hold,
    parse_stock_code,
    units,
)

Row = ScanRow | TagEventRow | AlarmRow


class Outcome(StrEnum):
    APPLIED = "applied"
    REPLAYED = "replayed"
    IGNORED = "ignored"


class Rejected(Exception):
    """A record that cannot be applied; ``code`` is the exception kind."""

    def __init__(self, code: str, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


def row_content(row: Row) -> dict[str, Any]:
    """The record's stored columns as JSON values (times in ISO 8601)."""
    content: dict[str, Any] = {}
    for column in row.__table__.columns:
        value = getattr(row, column.key)
        content[column.key] = value.isoformat() if isinstance(value, datetime) else value
    return content


def _require_node(row: Row, node_id: str | None) -> str:
    if node_id is None:
        raise Rejected(
            "gateway_not_at_node",
            f"gateway {row.gateway_id} is not installed at any node (node_gateways)",
        )
    return node_id


async def code_lines(session: AsyncSession, code: StockCode, quantity: int) -> list[Line]:
    """The units a code stands for: ``quantity`` × a GTIN's SKU (a case GTIN counts
    ``pack_quantity`` units of its ``pack_of``), or the lines of an SSCC's pallet manifest."""
    if code.kind is CodeKind.SSCC:
        manifest = await stock_lookup.manifest_lines(session, code.value)
        if manifest is None:
            raise Rejected("unknown_sscc", f"no pallet manifest for SSCC {code.value}")
        if quantity != 1:
            raise Rejected("bad_quantity", f"an SSCC is one pallet; quantity {quantity} is not 1")
        skus = await stock_lookup.skus_by_id(session, [line.sku_id for line in manifest])
        missing = sorted({line.sku_id for line in manifest} - set(skus))
        if missing:
            raise Rejected(
                "unknown_sku", f"SSCC {code.value} manifest names unknown SKU(s) {missing}"
            )
        return units(manifest, packs=stock_lookup.packs(list(skus.values())))
    sku = (await stock_lookup.skus_by_gtin(session, [code.value])).get(code.value)
    if sku is None:
        raise Rejected("unknown_sku", f"no SKU with GTIN {code.value}")
    if quantity < 1:
        raise Rejected("bad_quantity", f"quantity {quantity} is not a positive count")
    return units([Line(sku.id, quantity)], packs=stock_lookup.packs([sku]))


def _key(base: str, lines: list[Line], line: Line) -> str:
    return base if len(lines) == 1 else f"{base}:{line.sku_id}"


async def apply_scan(
    session: AsyncSession, row: ScanRow, node_id: str | None, now: datetime
) -> Outcome:
    base = f"scan:{row.gateway_id}:{row.seq}"
    node = _require_node(row, node_id)
    kind = SCAN_KINDS.get(row.operation)
    if kind is None:
        raise Rejected("unknown_operation", f"scan operation {row.operation!r} is not known")
    location = await stock_lookup.location(session, node_id=node, code=row.location)
    if location is None:
        raise Rejected("unknown_location", f"location {row.location!r} does not exist at {node}")
    try:
        code = parse_stock_code(row.code)
    except CodeError as exc:
        raise Rejected("bad_code", f"code {row.code!r}: {exc}") from None
    counting = kind is MovementKind.COUNT_ADJUST
    lines = await code_lines(session, code, row.quantity)
    content = row_content(row)
    outcome = Outcome.REPLAYED
    for line in lines:
        spec = MovementSpec(
            key=_key(base, lines, line),
            fingerprint=fingerprint(content),
            node_id=node,
            sku_id=line.sku_id,
            kind=kind,
            source=Source.SCAN,
            source_ref=base,
            actor=row.operator or row.scanner_id,
            note=f"{row.operation} at {row.location} ({row.scanner_id})",
        )
        applied: Applied | None
        if counting:
            applied = await apply_computed_movement(
                session, spec=spec, target="count", now=now, counted=line.quantity
            )
            assert applied is not None
            if not applied.replayed:
                missing = await shortfall(session, node_id=node, sku_id=line.sku_id)
                if missing:
                    await record_shortfall(
                        session, spec=spec, missing=missing, raw=content, now=now
                    )
        elif kind is MovementKind.PUT_AWAY:
            applied = await apply_movement(
                session, spec=spec, delta=Delta(), now=now, zone_id=location.zone_id
            )
        else:
            applied = await apply_movement(
                session, spec=spec, delta=delta_for(kind, line.quantity), now=now
            )
        if not applied.replayed:
            outcome = Outcome.APPLIED
    return outcome


async def _turn_epc(
    session: AsyncSession, *, epc: str, node_id: str, direction: str, ref: str, now: datetime
) -> bool:
    """Record that ``epc`` passed ``direction`` at ``node_id``; False if that was already its
    last state there (a second "in" without an "out" between), so the pass counts once."""
    table = table_of(EpcState)
    insert = upsert_insert(session, table).values(
        epc_hex=epc, node_id=node_id, direction=direction, source_ref=ref, updated_at=now
    )
    statement = insert.on_conflict_do_update(
        index_elements=["epc_hex"],
        set_={
            "node_id": insert.excluded.node_id,
            "direction": insert.excluded.direction,
            "source_ref": insert.excluded.source_ref,
            "updated_at": insert.excluded.updated_at,
        },
        where=~((table.c.node_id == node_id) & (table.c.direction == direction)),
    ).returning(table.c.epc_hex)
    return (await session.execute(statement)).scalar_one_or_none() is not None


async def apply_tag_event(
    session: AsyncSession, row: TagEventRow, node_id: str | None, now: datetime
) -> Outcome:
    base = f"tag:{row.gateway_id}:{row.seq}"
    direction = row.direction
    if direction is None or direction not in TAG_KINDS:
        return Outcome.IGNORED
    kind = TAG_KINDS[direction]
    node = _require_node(row, node_id)
    try:
        code = code_from_epc(row.epc_hex)
    except CodeError as exc:
        raise Rejected("bad_code", str(exc)) from None
    lines = await code_lines(session, code, 1)
    epc = code.epc or row.epc_hex
    if not await _turn_epc(session, epc=epc, node_id=node, direction=direction, ref=base, now=now):
        return Outcome.IGNORED
    content = row_content(row)
    outcome = Outcome.REPLAYED
    for line in lines:
        spec = MovementSpec(
            key=_key(base, lines, line),
            fingerprint=fingerprint(content),
            node_id=node,
            sku_id=line.sku_id,
            kind=kind,
            source=Source.RFID,
            source_ref=f"epc:{epc}",
            actor=row.reader_id,
            note=f"{row.zone} {direction}",
        )
        if kind is MovementKind.RFID_OUT:
            applied = await book_door_out(
                session, spec=spec, quantity=line.quantity, at=row.time, now=now
            )
        else:
            applied = await apply_movement(
                session, spec=spec, delta=delta_for(kind, line.quantity), now=now
            )
        if not applied.replayed:
            outcome = Outcome.APPLIED
    return outcome


async def _alarm_zone(session: AsyncSession, node_id: str, row: AlarmRow) -> str:
    zones = (await session.scalars(select(StorageZone).where(StorageZone.node_id == node_id))).all()
    for name in alarm_subject_names(row.subject, row.evidence):
        for zone in zones:
            if name in zone.alarm_subjects:
                return zone.id
    raise Rejected(
        "unknown_zone", f"alarm subject {row.subject!r} names no storage zone at {node_id}"
    )


async def apply_alarm(
    session: AsyncSession, row: AlarmRow, node_id: str | None, now: datetime
) -> Outcome:
    if not opens_hold(row.rule, row.ended_at is not None):
        return Outcome.IGNORED
    node = _require_node(row, node_id)
    zone_id = await _alarm_zone(session, node, row)
    evidence = {"alarm": {**row_content(row), "gateway_id": row.gateway_id, "seq": row.seq}}
    _, opened = await open_hold(
        session,
        alarm_ref=f"{row.gateway_id}:{row.seq}",
        node_id=node,
        zone_id=zone_id,
        evidence=evidence,
        now=now,
    )
    return Outcome.APPLIED if opened else Outcome.REPLAYED
