"""Cold-chain holds: list, release, write off."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query

from cloud.deps import AdminOrOperator, RoleDocumentedRoute, SessionDep
from cloud.services import stock_holds
from cloud.stock_schemas import HoldClose, HoldPublic

router = APIRouter(prefix="/api/v1/holds", route_class=RoleDocumentedRoute, tags=["stock"])


@router.get("", response_model=list[HoldPublic])
async def list_holds(
    _: AdminOrOperator,
    session: SessionDep,
    status: Annotated[Literal["held", "released", "written_off"] | None, Query()] = None,
) -> list[HoldPublic]:
    """Holds opened by cold-chain alarms, oldest first; the alarm is in ``evidence``."""
    return await stock_holds.list_holds(session=session, status=status)


@router.post("/{hold_id}/release", response_model=HoldPublic)
async def release_hold(
    hold_id: int, body: HoldClose, principal: AdminOrOperator, session: SessionDep
) -> HoldPublic:
    """The held units become available again; once only (409 afterwards)."""
    return await stock_holds.close_hold(
        session=session,
        principal=principal,
        hold_id=hold_id,
        action="release",
        comment=body.comment,
        now=datetime.now(UTC),
    )


@router.post("/{hold_id}/write-off", response_model=HoldPublic)
async def write_off_hold(
    hold_id: int, body: HoldClose, principal: AdminOrOperator, session: SessionDep
) -> HoldPublic:
    """The held units leave on-hand (spoiled); once only (409 afterwards)."""
    return await stock_holds.close_hold(
        session=session,
        principal=principal,
        hold_id=hold_id,
        action="write_off",
        comment=body.comment,
        now=datetime.now(UTC),
    )
