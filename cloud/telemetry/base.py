"""The telemetry store interface: where position and measurement history goes."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from cloud.ingest.rows import Row
from cloud.schemas import TelemetryStatus
from firmware_bridge.records import RecordKind


class TelemetryStore(Protocol):
    """Called by ingest inside its transaction; the ack covers only what ``stage`` wrote."""

    name: str

    def check_accepting(self) -> None:
        """Raise ApiError 503 when the store cannot take more (the gateway retries later)."""

    async def stage(
        self,
        session: AsyncSession,
        *,
        gateway_id: str,
        rows: dict[RecordKind, list[Row]],
        now: datetime,
    ) -> None:
        """Make the telemetry rows of one batch durable in ``session``'s transaction."""

    def committed(self) -> None:
        """The transaction that staged rows has committed."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def status(self, session: AsyncSession) -> TelemetryStatus: ...
