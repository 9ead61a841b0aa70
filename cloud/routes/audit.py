"""The personal-data audit trail."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from cloud.catalog_schemas import Page, PiiAccessPublic
from cloud.deps import AdminOnly, RoleDocumentedRoute, SessionDep
from cloud.services.pii_audit import list_pii_reads
from firmware_bridge.wire import format_time

router = APIRouter(prefix="/api/v1/audit", route_class=RoleDocumentedRoute, tags=["audit"])


@router.get("/pii", response_model=Page[PiiAccessPublic])
async def pii_reads(
    _: AdminOnly,
    session: SessionDep,
    record_type: Annotated[str | None, Query(description="member, order, ...")] = None,
    record_id: Annotated[str | None, Query()] = None,
    actor: Annotated[str | None, Query(description="User name")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> Page[PiiAccessPublic]:
    """Every read of personal data in clear (who, role, when, which record, fields, why),
    newest first."""
    rows, total = await list_pii_reads(
        session=session,
        record_type=record_type,
        record_id=record_id,
        actor=actor,
        limit=limit,
        offset=offset,
    )
    end = offset + len(rows)
    return Page[PiiAccessPublic](
        items=[
            PiiAccessPublic(
                id=row.id,
                actor=row.actor,
                role=row.role,
                record_type=row.record_type,
                record_id=row.record_id,
                fields=row.fields,
                reason=row.reason,
                at=format_time(row.at),
            )
            for row in rows
        ],
        total=total,
        next_offset=end if end < total else None,
    )
