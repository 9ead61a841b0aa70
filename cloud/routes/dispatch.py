"""Dispatch for operators: the plan in force, cold-chain flags, tasks, a re-plan on demand,
and third-party carriers' status callbacks."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Query, Request

from cloud.api_error import ApiError
from cloud.deps import AdminOrOperator, RoleDocumentedRoute, SessionDep
from cloud.fleet_schemas import DispatchRunOut, DispatchStatsOut, FlagOut, PlanOut, TaskOut
from cloud.routes.orders import request_time
from cloud.services import delivery_tasks, dispatch_reads
from cloud.services.carrier_shipments import apply_callback
from cloud.services.dispatch_loop import DispatchLoop

router = APIRouter(prefix="/api/v1", route_class=RoleDocumentedRoute, tags=["dispatch"])

TaskStatus = Literal["open", "assigned", "accepted", "picked_up", "delivered", "failed", "carrier"]


def dispatch_loop(request: Request) -> DispatchLoop:
    loop: DispatchLoop = request.app.state.dispatch
    return loop


@router.get("/dispatch/plan", response_model=PlanOut)
async def get_plan(_: AdminOrOperator, session: SessionDep) -> PlanOut:
    """The plan in force: each courier's stops with ETAs, late, overflow (carrier),
    unassigned and rejected tasks (with the field at fault), and the solve time."""
    return await dispatch_reads.current_plan(session=session)


@router.post("/dispatch/run", response_model=DispatchRunOut)
async def run_dispatch(request: Request, _: AdminOrOperator) -> DispatchRunOut:
    """Re-plan now (the loop also runs on its cadence and when orders arrive)."""
    return await dispatch_loop(request).run_once(request_time(request))


@router.get("/dispatch/stats", response_model=DispatchStatsOut)
async def get_stats(request: Request, _: AdminOrOperator) -> DispatchStatsOut:
    """This process's dispatch loop: re-plan latency p50/p99/max over its newest re-plans,
    counts since it started, and the background solve's state."""
    return dispatch_loop(request).stats_out()


@router.get("/dispatch/flags", response_model=list[FlagOut])
async def get_flags(
    _: AdminOrOperator,
    session: SessionDep,
    include_resolved: Annotated[bool, Query()] = False,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[FlagOut]:
    """Cold chain: undelivered chilled or frozen tasks held by a courier whose compartment
    left its band (open flags unless ``include_resolved``), newest first."""
    return await dispatch_reads.list_flags(
        session=session, include_resolved=include_resolved, limit=limit
    )


@router.get("/dispatch/tasks", response_model=list[TaskOut])
async def get_tasks(
    _: AdminOrOperator,
    session: SessionDep,
    status: Annotated[TaskStatus | None, Query()] = None,
    courier_id: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=5000)] = 500,
) -> list[TaskOut]:
    """Delivery tasks by promised time, optionally by status or courier."""
    return await delivery_tasks.list_tasks(
        session=session, status=status, courier_id=courier_id, limit=limit
    )


@router.post("/carriers/{carrier}/callback")
async def carrier_callback(
    carrier: str,
    request: Request,
    _: AdminOrOperator,
    session: SessionDep,
    payload: Annotated[dict[str, Any], Body(description="The carrier's own status body")],
) -> dict[str, str]:
    """A carrier's status callback (picked_up, delivered, failed, cancelled), relayed by its
    integration with an operator key; repeated callbacks change nothing."""
    configured = dispatch_loop(request).carrier
    if configured is None or configured.name != carrier:
        raise ApiError(404, "unknown_carrier", f"carrier: {carrier!r} is not configured here")
    shipment = await apply_callback(
        session=session, carrier=configured, payload=payload, now=request_time(request)
    )
    return {"external_id": shipment.external_id, "status": shipment.status}
