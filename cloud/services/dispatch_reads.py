"""What operators read about dispatch: the plan in force, flags, tasks."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cloud.api_error import ApiError
from cloud.fleet_models import DispatchFlag, DispatchPlanRow
from cloud.fleet_schemas import FlagOut, PlanOut, PlanStop


async def current_plan(*, session: AsyncSession) -> PlanOut:
    """The newest applied plan, with the newest run's error when that run kept it."""
    row = await session.scalar(
        select(DispatchPlanRow)
        .where(DispatchPlanRow.applied.is_(True))
        .order_by(DispatchPlanRow.id.desc())
        .limit(1)
    )
    newest = await session.scalar(
        select(DispatchPlanRow).order_by(DispatchPlanRow.id.desc()).limit(1)
    )
    if row is None:
        detail = f" (last run: {newest.error})" if newest is not None and newest.error else ""
        raise ApiError(404, "no_plan", f"the dispatch loop has not applied a plan yet{detail}")
    stored = row.routes
    return PlanOut(
        id=row.id,
        created_at=row.created_at,
        applied=row.applied,
        error=row.error,
        solve_ms=row.solve_ms,
        cost_s=row.cost_s,
        routes={
            courier: [PlanStop.model_validate(stop) for stop in stops]
            for courier, stops in stored.get("routes", {}).items()
        },
        late=stored.get("late", []),
        overflow=stored.get("overflow", []),
        unassigned=stored.get("unassigned", []),
        rejected=stored.get("rejected", []),
        reassigned=stored.get("reassigned", []),
        last_error=newest.error if newest is not None and newest.id != row.id else None,
    )


async def list_flags(*, session: AsyncSession, include_resolved: bool, limit: int) -> list[FlagOut]:
    query = select(DispatchFlag)
    if not include_resolved:
        query = query.where(DispatchFlag.resolved_at.is_(None))
    rows = await session.scalars(query.order_by(DispatchFlag.id.desc()).limit(limit))
    return [
        FlagOut(
            id=f.id,
            kind=f.kind,
            courier_id=f.courier_id,
            task_id=f.task_id,
            order_id=f.order_id,
            message=f.message,
            evidence=f.evidence,
            raised_at=f.raised_at,
            resolved_at=f.resolved_at,
        )
        for f in rows
    ]
