"""Row counts for the stats endpoint."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from cloud.models import (
    AlarmRow,
    Base,
    Gateway,
    IngestGap,
    IngestReject,
    MeasurementRow,
    PositionRow,
    ScanRow,
    TagEventRow,
    TagReadRow,
)
from cloud.schemas import StatsPublic, StoredCounts
from cloud.telemetry.base import TelemetryStore


async def _count(session: AsyncSession, model: type[Base]) -> int:
    return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def collect_stats(*, session: AsyncSession, telemetry: TelemetryStore) -> StatsPublic:
    return StatsPublic(
        stored=StoredCounts(
            position=await _count(session, PositionRow),
            measurement=await _count(session, MeasurementRow),
            tag_read=await _count(session, TagReadRow),
            scan=await _count(session, ScanRow),
            alarm=await _count(session, AlarmRow),
            tag_event=await _count(session, TagEventRow),
        ),
        rejected=await _count(session, IngestReject),
        gaps=await _count(session, IngestGap),
        gateways=await _count(session, Gateway),
        telemetry=await telemetry.status(session),
    )
