"""Apply one gateway batch in one transaction, at most once per (gateway_id, seq)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final

from sqlalchemy import Table, update
from sqlalchemy.ext.asyncio import AsyncSession

from cloud.api_error import ApiError
from cloud.ingest.envelope import Batch
from cloud.ingest.plan import Plan, plan_batch
from cloud.ingest.rows import COLUMNS
from cloud.ingest.times import canonical_utc
from cloud.models import (
    AlarmRow,
    Gateway,
    IngestGap,
    IngestReject,
    PositionRow,
    ScanRow,
    TagEventRow,
    TagReadRow,
    Vehicle,
)
from cloud.schemas import IngestResult, RejectedRecord
from cloud.services.bulk import insert_rows, upsert_newer_rows
from cloud.telemetry.base import TelemetryStore
from firmware_bridge.records import RecordKind
from firmware_bridge.wire import format_time

TABLES: Final[dict[RecordKind, Table]] = {
    RecordKind.POSITION: PositionRow.__table__,  # type: ignore[dict-item]
    RecordKind.TAG_READ: TagReadRow.__table__,  # type: ignore[dict-item]
    RecordKind.SCAN: ScanRow.__table__,  # type: ignore[dict-item]
    RecordKind.ALARM: AlarmRow.__table__,  # type: ignore[dict-item]
    RecordKind.TAG_EVENT: TagEventRow.__table__,  # type: ignore[dict-item]
}
"""Kinds ingest always keeps in the database: fleet state and business records.
Measurements go wherever the telemetry store puts them."""
_VEHICLES: Final[Table] = Vehicle.__table__  # type: ignore[assignment]
_VEHICLE_COLUMNS: Final = (
    "gateway_id",
    "seq",
    "time",
    "lat",
    "lon",
    "speed_mps",
    "course_deg",
    "fix_quality",
    "satellites",
    "hdop",
    "altitude_m",
    "last_seen",
)


async def ingest_batch(
    *, session: AsyncSession, batch: Batch, now: datetime, telemetry: TelemetryStore
) -> IngestResult:
    """Store ``batch`` inside the caller's transaction and say what happened.

    The first statement writes the gateway row: on PostgreSQL that takes its row lock, on
    SQLite the database write lock, so a concurrent copy of the same batch waits and then
    reads the advanced ``ack_seq`` and applies nothing.
    """
    ack_seq = await _lock_gateway(session, batch.gateway_id, now)
    plan = plan_batch(batch, ack_seq=ack_seq)
    await _store(session, plan, now)
    await telemetry.stage(session, gateway_id=batch.gateway_id, rows=plan.rows, now=now)
    await session.execute(
        update(Gateway)
        .where(Gateway.id == batch.gateway_id)
        .values(
            ack_seq=plan.ack_seq,
            clock_skew_s=(now - batch.sent_at).total_seconds(),
            **({} if batch.health is None else {"last_health": batch.health}),
        )
    )
    return IngestResult(
        ack_seq=plan.ack_seq,
        stored=plan.stored,
        duplicates=plan.duplicates,
        rejected=[RejectedRecord(seq=r.seq, error=r.reason) for r in plan.rejects],
        gaps=[(gap.from_seq, gap.to_seq) for gap in plan.gaps],
        server_time=format_time(now),
    )


async def _lock_gateway(session: AsyncSession, gateway_id: str, now: datetime) -> int:
    statement = (
        update(Gateway)
        .where(Gateway.id == gateway_id)
        .values(last_seen=now)
        .returning(Gateway.ack_seq)
    )
    ack_seq = (await session.execute(statement)).scalar_one_or_none()
    if ack_seq is None:
        raise ApiError(
            404, "gateway_not_found", f"gateway {gateway_id!r} is not registered; create it first"
        )
    return int(ack_seq)


async def _store(session: AsyncSession, plan: Plan, now: datetime) -> None:
    for kind, rows in plan.rows.items():
        table = TABLES.get(kind)
        if table is not None:
            await insert_rows(session, table, COLUMNS[kind], rows)
    gateway_id = plan.gateway_id
    if plan.rejects:
        await session.execute(
            IngestReject.__table__.insert(),  # type: ignore[attr-defined]
            [
                {
                    "gateway_id": gateway_id,
                    "seq": r.seq,
                    "kind": r.kind,
                    "reason": r.reason,
                    "raw": r.raw,
                    "received_at": now,
                }
                for r in plan.rejects
            ],
        )
    if plan.gaps:
        await session.execute(
            IngestGap.__table__.insert(),  # type: ignore[attr-defined]
            [
                {
                    "gateway_id": gateway_id,
                    "from_seq": g.from_seq,
                    "to_seq": g.to_seq,
                    "reason": g.reason,
                    "recorded_at": now,
                }
                for g in plan.gaps
            ],
        )
    if plan.newest_positions:
        await _upsert_vehicles(session, plan.newest_positions, now)


async def _upsert_vehicles(
    session: AsyncSession, newest: dict[str, dict[str, Any]], now: datetime
) -> None:
    # A late batch must not move a vehicle back to an older fix (the WHERE on time).
    last_seen = canonical_utc(now)
    rows = [
        (device_id, *(row[name] for name in _VEHICLE_COLUMNS[:-1]), last_seen)
        for device_id, row in newest.items()
    ]
    await upsert_newer_rows(session, _VEHICLES, ("id", *_VEHICLE_COLUMNS), rows, "time")
