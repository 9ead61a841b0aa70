"""What ingest could not store: gaps in a gateway's seqs and rejected records."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from cloud.deps import AdminOrOperator, RoleDocumentedRoute, SessionDep
from cloud.schemas import GapPage, RejectPage
from cloud.services import ingest_log

router = APIRouter(prefix="/api/v1/gateways", route_class=RoleDocumentedRoute, tags=["gateways"])

After = Annotated[int, Query(ge=0, description="Return entries with id above this (paging).")]
Limit = Annotated[int, Query(ge=1, le=1000)]


@router.get("/{gateway_id}/gaps", response_model=GapPage)
async def gateway_gaps(
    gateway_id: str, _: AdminOrOperator, session: SessionDep, after: After = 0, limit: Limit = 100
) -> GapPage:
    """Seq ranges the gateway never delivered (evicted or not sent), oldest first."""
    return await ingest_log.list_gaps(
        session=session, gateway_id=gateway_id, after=after, limit=limit
    )


@router.get("/{gateway_id}/rejects", response_model=RejectPage)
async def gateway_rejects(
    gateway_id: str, _: AdminOrOperator, session: SessionDep, after: After = 0, limit: Limit = 100
) -> RejectPage:
    """Records the cloud refused, with the reason and the record as received, oldest first."""
    return await ingest_log.list_rejects(
        session=session, gateway_id=gateway_id, after=after, limit=limit
    )
