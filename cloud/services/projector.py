"""The stock projector: applies stored gateway records (scans, tag events, alarms) to the stock
ledger, per gateway in ``seq`` order, after ``projection_cursors.last_seq``, in batches.

Each batch is one transaction: every record runs in a savepoint, a record that cannot be
applied becomes a stock exception (its savepoint rolled back), and the cursor advances with a
conditional UPDATE — if another projector advanced it first, the whole batch rolls back. The
ingest path is untouched: the projector only reads the record tables.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from cloud.db import Database
from cloud.models import AlarmRow, Gateway, ScanRow, TagEventRow
from cloud.services import stock_lookup
from cloud.services.sql import upsert_insert
from cloud.services.stock_exceptions import record_exception
from cloud.services.stock_ledger import IdempotencyConflict, InsufficientStock, table_of
from cloud.services.stock_projection import (
    Outcome,
    Rejected,
    Row,
    apply_alarm,
    apply_scan,
    apply_tag_event,
    row_content,
)
from cloud.stock_models import ProjectionCursor

log = logging.getLogger(__name__)

BATCH_SIZE = 200
CURSORS = table_of(ProjectionCursor)

Applier = Callable[[AsyncSession, Any, str | None, datetime], Awaitable[Outcome]]


@dataclass(frozen=True, slots=True)
class Projection:
    name: str
    model: type[ScanRow] | type[TagEventRow] | type[AlarmRow]
    apply: Applier


PROJECTIONS = (
    Projection("scans", ScanRow, apply_scan),
    Projection("tag_events", TagEventRow, apply_tag_event),
    Projection("alarms", AlarmRow, apply_alarm),
)


@dataclass
class ProjectionReport:
    """What one projector pass did, per outcome (``exceptions``: records it could not apply)."""

    applied: int = 0
    replayed: int = 0
    ignored: int = 0
    exceptions: int = 0
    batches: int = 0
    by_projection: dict[str, dict[str, int]] = field(default_factory=dict)

    @property
    def records(self) -> int:
        return self.applied + self.replayed + self.ignored + self.exceptions

    def merge(self, other: ProjectionReport) -> None:
        for name in ("applied", "replayed", "ignored", "exceptions", "batches"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        for projection, counts in other.by_projection.items():
            mine = self.by_projection.setdefault(projection, {})
            for outcome, number in counts.items():
                mine[outcome] = mine.get(outcome, 0) + number

    def count(self, projection: str, outcome: str) -> None:
        setattr(self, outcome, getattr(self, outcome) + 1)
        counts = self.by_projection.setdefault(projection, {})
        counts[outcome] = counts.get(outcome, 0) + 1


class _CursorMoved(Exception):
    """Another projector applied this batch first."""


async def _cursor(session: AsyncSession, projection: str, gateway_id: str) -> int:
    await session.execute(
        upsert_insert(session, CURSORS)
        .values(projection=projection, gateway_id=gateway_id, last_seq=0)
        .on_conflict_do_nothing(index_elements=["projection", "gateway_id"])
    )
    last = await session.scalar(
        select(CURSORS.c.last_seq).where(
            CURSORS.c.projection == projection, CURSORS.c.gateway_id == gateway_id
        )
    )
    return int(last or 0)


_REJECTIONS = (Rejected, InsufficientStock, IdempotencyConflict)


def _rejection(exc: Exception) -> tuple[str, str]:
    """The stock exception kind and reason of a record that could not be applied."""
    if isinstance(exc, Rejected):
        return exc.code, exc.reason
    if isinstance(exc, InsufficientStock):
        return "insufficient_stock", str(exc)
    return "idempotency_conflict", str(exc)


class _Rejected(Exception):
    """A record of a fast (savepoint-free) batch failed: redo the batch record by record."""


async def _apply_one(
    session: AsyncSession,
    projection: Projection,
    row: Row,
    node_id: str | None,
    now: datetime,
    report: ProjectionReport,
    *,
    careful: bool,
) -> None:
    """Apply one record. Careful: in a savepoint, a failure becomes a stock exception; fast:
    no savepoint, a failure raises :class:`_Rejected` (the caller redoes the batch carefully)."""
    try:
        if careful:
            async with session.begin_nested():
                outcome = await projection.apply(session, row, node_id, now)
        else:
            outcome = await projection.apply(session, row, node_id, now)
    except _REJECTIONS as exc:
        if not careful:
            raise _Rejected from exc
        code, reason = _rejection(exc)
    else:
        report.count(projection.name, outcome.value)
        return
    prefix = {"scans": "scan", "tag_events": "tag", "alarms": "alarm"}[projection.name]
    await record_exception(
        session,
        source_ref=f"{prefix}:{row.gateway_id}:{row.seq}",
        kind=code,
        reason=reason,
        raw={"record": projection.name, **row_content(row)},
        now=now,
    )
    report.count(projection.name, "exceptions")


async def _project_batch(
    database: Database,
    projection: Projection,
    gateway_id: str,
    batch_size: int,
    report: ProjectionReport,
    now: datetime,
) -> int:
    """Apply up to ``batch_size`` records after the cursor; returns how many were read.

    The batch first runs without savepoints (two statements per record instead of four);
    only if one of its records cannot be applied is it rolled back and redone record by
    record, each in a savepoint."""
    for careful in (False, True):
        batch = ProjectionReport()
        try:
            read = await _try_batch(
                database, projection, gateway_id, batch_size, batch, now, careful=careful
            )
        except _Rejected:
            continue
        report.merge(batch)
        return read
    raise AssertionError("a careful batch does not raise _Rejected")


async def _try_batch(
    database: Database,
    projection: Projection,
    gateway_id: str,
    batch_size: int,
    report: ProjectionReport,
    now: datetime,
    *,
    careful: bool,
) -> int:
    model = projection.model
    try:
        async with database.sessions.begin() as session:
            last = await _cursor(session, projection.name, gateway_id)
            query = (
                select(model)
                .where(model.gateway_id == gateway_id, model.seq > last)
                .order_by(model.seq)
                .limit(batch_size)
            )
            rows = cast(Sequence[Row], (await session.scalars(query)).all())
            if not rows:
                return 0
            node_id = await stock_lookup.gateway_node(session, gateway_id)
            for row in rows:
                await _apply_one(session, projection, row, node_id, now, report, careful=careful)
            moved = await session.execute(
                update(CURSORS)
                .where(
                    CURSORS.c.projection == projection.name,
                    CURSORS.c.gateway_id == gateway_id,
                    CURSORS.c.last_seq == last,
                )
                .values(last_seq=rows[-1].seq)
            )
            if moved.rowcount != 1:  # type: ignore[attr-defined]
                raise _CursorMoved
    except _CursorMoved:
        log.info("projector: %s of %s was applied by another worker", projection.name, gateway_id)
        return 0
    report.batches += 1
    return len(rows)


async def _pending(database: Database) -> list[tuple[Projection, str]]:
    """(projection, gateway) pairs with records after the cursor: read-only look-ups (the
    newest seq per gateway is an index probe), so an idle projector writes nothing."""
    pending: list[tuple[Projection, str]] = []
    async with database.sessions() as session:
        gateways = (await session.scalars(select(Gateway.id).order_by(Gateway.id))).all()
        cursors = {
            (row.projection, row.gateway_id): row.last_seq
            for row in (await session.execute(select(CURSORS))).all()
        }
        for projection in PROJECTIONS:
            model = projection.model
            for gateway_id in gateways:
                newest = await session.scalar(
                    select(func.max(model.seq)).where(model.gateway_id == gateway_id)
                )
                if newest is not None and newest > cursors.get((projection.name, gateway_id), 0):
                    pending.append((projection, gateway_id))
    return pending


async def project_pending(
    database: Database,
    *,
    batch_size: int = BATCH_SIZE,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> ProjectionReport:
    """Apply every record stored so far that the projector has not applied yet."""
    report = ProjectionReport()
    for projection, gateway_id in await _pending(database):
        while (
            await _project_batch(database, projection, gateway_id, batch_size, report, now())
            == batch_size
        ):
            pass
    return report
