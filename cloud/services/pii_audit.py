"""The audit trail of personal data read in clear."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from cloud.api_error import ApiError
from cloud.catalog_models import PiiAccess
from cloud.security import Principal

MAX_REASON = 500


def checked_reason(reason: str | None) -> str:
    """The reason for a clear read, stripped; ApiError 422 naming ``reason`` if missing."""
    text = (reason or "").strip()
    if not text:
        raise ApiError(
            422,
            "reason_required",
            "reason: say why you need the personal data in clear (e.g. ?reason=ticket-123)",
        )
    if len(text) > MAX_REASON:
        raise ApiError(422, "validation_failed", f"reason: at most {MAX_REASON} characters")
    return text


async def record_pii_read(
    *,
    session: AsyncSession,
    principal: Principal,
    record_type: str,
    record_id: str,
    fields: Sequence[str],
    reason: str,
    now: datetime,
) -> None:
    """Add one audit row in the caller's transaction (so no clear read goes unrecorded)."""
    session.add(
        PiiAccess(
            actor=principal.name,
            role=principal.role.value,
            record_type=record_type,
            record_id=record_id,
            fields=list(fields),
            reason=checked_reason(reason),
            at=now,
        )
    )
    await session.flush()


async def list_pii_reads(
    *,
    session: AsyncSession,
    record_type: str | None,
    record_id: str | None,
    actor: str | None,
    limit: int,
    offset: int,
) -> tuple[list[PiiAccess], int]:
    """Audit rows, newest first, with the total matching count."""
    query = select(PiiAccess)
    if record_type is not None:
        query = query.where(PiiAccess.record_type == record_type)
    if record_id is not None:
        query = query.where(PiiAccess.record_id == record_id)
    if actor is not None:
        query = query.where(PiiAccess.actor == actor)
    total = await session.scalar(select(func.count()).select_from(query.subquery()))
    rows = await session.scalars(query.order_by(PiiAccess.id.desc()).limit(limit).offset(offset))
    return list(rows), int(total or 0)
