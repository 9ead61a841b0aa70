"""Telemetry history in InfluxDB, fed through a transactional outbox in the cloud database.

Why an outbox: the gateway deletes what the cloud acknowledged, so the ack must cover only
records stored somewhere the cloud owns. Writing to InfluxDB inside the request would either
ack points InfluxDB never got (write after commit, then crash) or store points of a batch
that rolled back (write before commit). Instead ingest adds one ``telemetry_outbox`` row
holding the batch's line-protocol points in its own transaction; a background task writes the
oldest outbox rows to InfluxDB and deletes each only after the write succeeded. A crash
between write and delete rewrites the same points, which overwrite themselves (see
:mod:`cloud.telemetry.lines`), so InfluxDB sees each record exactly once in effect.

The outbox is bounded: past ``influx_max_pending_records`` ingest answers 503 and gateways
keep the records in their own buffers. Failures show in ``GET /api/v1/stats`` → ``telemetry``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Final, Protocol

from sqlalchemy import Table, delete, func, insert, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cloud.api_error import ApiError
from cloud.ingest.rows import Row
from cloud.models import TelemetryOutbox
from cloud.schemas import TelemetryStatus
from cloud.telemetry.lines import to_lines
from cloud.telemetry.writer import InfluxWriteError
from firmware_bridge.records import RecordKind
from firmware_bridge.wire import format_time

log = logging.getLogger(__name__)

_OUTBOX: Final[Table] = TelemetryOutbox.__table__  # type: ignore[assignment]
OUTBOX_ROWS_PER_ROUND: Final = 8
IDLE_POLL_S: Final = 1.0
BACKOFF_FIRST_S: Final = 0.2
BACKOFF_CAP_S: Final = 15.0


class LineWriter(Protocol):
    def write(self, lines: str) -> None: ...

    def close(self) -> None: ...


def backoff_delay(failures: int, rand: Callable[[], float] = random.random) -> float:
    """Full-jitter exponential backoff: uniform in [0, min(cap, first * 2**(failures-1))]."""
    ceiling = min(BACKOFF_CAP_S, BACKOFF_FIRST_S * 2 ** max(failures - 1, 0))
    return float(ceiling * rand())


class InfluxTelemetryStore:
    name = "influx"

    def __init__(
        self,
        *,
        sessions: async_sessionmaker[AsyncSession],
        writer: LineWriter,
        max_pending_records: int,
        idle_poll_s: float = IDLE_POLL_S,
    ) -> None:
        self._sessions = sessions
        self._writer = writer
        self._max_pending = max_pending_records
        self._idle_poll_s = idle_poll_s
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._pending_estimate = 0
        self.written_records = 0
        self.write_failures = 0
        self.consecutive_failures = 0
        self.last_error: str | None = None
        self.last_write_at: datetime | None = None

    def check_accepting(self) -> None:
        if self._pending_estimate >= self._max_pending:
            raise ApiError(
                503,
                "telemetry_backlog",
                f"{self._pending_estimate} telemetry records wait for InfluxDB "
                f"(limit {self._max_pending}); keep them buffered and retry later",
            )

    async def stage(
        self,
        session: AsyncSession,
        *,
        gateway_id: str,
        rows: dict[RecordKind, list[Row]],
        now: datetime,
    ) -> None:
        lines = to_lines(rows)
        if not lines:
            return
        seqs = [row[1] for kind_rows in rows.values() for row in kind_rows]
        await session.execute(
            insert(_OUTBOX).values(
                gateway_id=gateway_id,
                first_seq=min(seqs),
                last_seq=max(seqs),
                records=len(lines),
                lines="\n".join(lines),
                created_at=now,
            )
        )
        self._pending_estimate += len(lines)

    def committed(self) -> None:
        self._wake.set()

    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="telemetry-outbox-drain")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        await asyncio.to_thread(self._writer.close)

    async def status(self, session: AsyncSession) -> TelemetryStatus:
        batches, records = (
            await session.execute(
                select(func.count(), func.coalesce(func.sum(_OUTBOX.c.records), 0))
            )
        ).one()
        return TelemetryStatus(
            store="influx",
            pending_records=int(records),
            pending_batches=int(batches),
            written_records=self.written_records,
            write_failures=self.write_failures,
            consecutive_failures=self.consecutive_failures,
            last_error=self.last_error,
            last_write_at=None if self.last_write_at is None else format_time(self.last_write_at),
        )

    async def drain_once(self) -> int:
        """Write and delete up to :data:`OUTBOX_ROWS_PER_ROUND` outbox rows; records written."""
        async with self._sessions() as session:
            pending = (
                await session.execute(
                    select(_OUTBOX.c.id, _OUTBOX.c.records, _OUTBOX.c.lines)
                    .order_by(_OUTBOX.c.id)
                    .limit(OUTBOX_ROWS_PER_ROUND)
                )
            ).all()
            backlog = await session.scalar(select(func.coalesce(func.sum(_OUTBOX.c.records), 0)))
        self._pending_estimate = int(backlog or 0)
        written = 0
        for outbox_id, records, lines in pending:
            await asyncio.to_thread(self._writer.write, lines)
            async with self._sessions.begin() as session:
                await session.execute(delete(_OUTBOX).where(_OUTBOX.c.id == outbox_id))
            written += records
            self._pending_estimate = max(0, self._pending_estimate - records)
            self.written_records += records
            self.consecutive_failures = 0
            self.last_error = None
            self.last_write_at = datetime.now(UTC)
        return written

    async def _run(self) -> None:
        while True:
            self._wake.clear()
            try:
                written = await self.drain_once()
            except (InfluxWriteError, SQLAlchemyError, OSError) as exc:
                self.write_failures += 1
                self.consecutive_failures += 1
                self.last_error = str(exc)
                delay = backoff_delay(self.consecutive_failures)
                log.warning("telemetry outbox: %s; retrying in %.1fs", exc, delay)
                await asyncio.sleep(delay)
                continue
            if written == 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self._idle_poll_s)
