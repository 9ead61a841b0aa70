"""Telemetry history in the cloud database's own tables (the embedded default)."""

from __future__ import annotations

from datetime import datetime
from typing import Final

from sqlalchemy import Table
from sqlalchemy.ext.asyncio import AsyncSession

from cloud.ingest.rows import COLUMNS, Row
from cloud.models import MeasurementRow
from cloud.schemas import TelemetryStatus
from cloud.services.bulk import insert_rows
from firmware_bridge.records import RecordKind

_MEASUREMENTS: Final[Table] = MeasurementRow.__table__  # type: ignore[assignment]


class SqlTelemetryStore:
    """Measurements go to the ``measurements`` table; positions already live in ``positions``
    (ingest writes them for fleet queries whatever the store), so nothing more is needed."""

    name = "sql"

    def check_accepting(self) -> None:
        return None

    async def stage(
        self,
        session: AsyncSession,
        *,
        gateway_id: str,
        rows: dict[RecordKind, list[Row]],
        now: datetime,
    ) -> None:
        measurements = rows.get(RecordKind.MEASUREMENT)
        if measurements:
            await insert_rows(session, _MEASUREMENTS, COLUMNS[RecordKind.MEASUREMENT], measurements)

    def committed(self) -> None:
        return None

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    async def status(self, session: AsyncSession) -> TelemetryStatus:
        return TelemetryStatus(store=self.name)
