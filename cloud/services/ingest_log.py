"""Gaps and rejects recorded by ingest, one keyset-paginated page at a time."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cloud.api_error import ApiError
from cloud.models import Gateway, IngestGap, IngestReject
from cloud.schemas import GapPage, GapPublic, RejectPage, RejectPublic
from firmware_bridge.wire import format_time


async def _require_gateway(session: AsyncSession, gateway_id: str) -> None:
    if await session.get(Gateway, gateway_id) is None:
        raise ApiError(404, "gateway_not_found", f"gateway {gateway_id!r} is not registered")


async def list_gaps(*, session: AsyncSession, gateway_id: str, after: int, limit: int) -> GapPage:
    """Gaps of ``gateway_id`` with id > ``after``, oldest first, at most ``limit``."""
    await _require_gateway(session, gateway_id)
    rows = (
        await session.scalars(
            select(IngestGap)
            .where(IngestGap.gateway_id == gateway_id, IngestGap.id > after)
            .order_by(IngestGap.id)
            .limit(limit + 1)
        )
    ).all()
    items = [
        GapPublic(
            id=row.id,
            from_seq=row.from_seq,
            to_seq=row.to_seq,
            reason=row.reason,
            recorded_at=format_time(row.recorded_at),
        )
        for row in rows[:limit]
    ]
    more = len(rows) > limit
    return GapPage(gateway_id=gateway_id, items=items, next_after=items[-1].id if more else None)


async def list_rejects(
    *, session: AsyncSession, gateway_id: str, after: int, limit: int
) -> RejectPage:
    """Rejected records of ``gateway_id`` with id > ``after``, oldest first, at most ``limit``."""
    await _require_gateway(session, gateway_id)
    rows = (
        await session.scalars(
            select(IngestReject)
            .where(IngestReject.gateway_id == gateway_id, IngestReject.id > after)
            .order_by(IngestReject.id)
            .limit(limit + 1)
        )
    ).all()
    items = [
        RejectPublic(
            id=row.id,
            seq=row.seq,
            kind=row.kind,
            reason=row.reason,
            raw=row.raw,
            received_at=format_time(row.received_at),
        )
        for row in rows[:limit]
    ]
    more = len(rows) > limit
    return RejectPage(gateway_id=gateway_id, items=items, next_after=items[-1].id if more else None)
