"""Stock exceptions: gateway records the projector could not apply, and count shortfalls."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from cloud.services.sql import upsert_insert
from cloud.services.stock_ledger import MovementSpec, table_of
from cloud.stock_models import StockException

SHORTFALL_REASON = "reservations exceed counted stock"


async def record_exception(
    session: AsyncSession,
    *,
    source_ref: str,
    kind: str,
    reason: str,
    raw: dict[str, Any],
    now: datetime,
) -> None:
    """Store one exception; a second one for the same ``source_ref`` is ignored."""
    await session.execute(
        upsert_insert(session, table_of(StockException))
        .values(source_ref=source_ref, kind=kind, reason=reason, raw=raw, created_at=now)
        .on_conflict_do_nothing(index_elements=["source_ref"])
    )


async def record_shortfall(
    session: AsyncSession,
    *,
    spec: MovementSpec,
    missing: int,
    raw: dict[str, Any],
    now: datetime,
) -> None:
    """A count left reserved + on_hold above on_hand: the reservations stay, and are reported."""
    await record_exception(
        session,
        source_ref=f"shortfall:{spec.key}",
        kind="shortfall",
        reason=(
            f"{SHORTFALL_REASON}: {spec.sku_id} at {spec.node_id} is {missing} unit(s) short "
            "of its reservations and holds"
        ),
        raw={**raw, "node_id": spec.node_id, "sku_id": spec.sku_id, "missing": missing},
        now=now,
    )
