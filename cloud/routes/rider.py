"""The rider app API: a rider key (name = courier id) reports positions and takes the steps
of its own deliveries."""

from __future__ import annotations

from fastapi import APIRouter, Request

from cloud.deps import RiderOnly, RoleDocumentedRoute, SessionDep
from cloud.fleet_schemas import DeliveredIn, FailedIn, PositionAccepted, RiderPositionIn, TaskOut
from cloud.routes.orders import request_time
from cloud.services import rider
from cloud.services.rider import Step

router = APIRouter(prefix="/api/v1/rider", route_class=RoleDocumentedRoute, tags=["rider app"])


def _notify(request: Request) -> None:
    dispatch = getattr(request.app.state, "dispatch", None)
    if dispatch is not None:
        dispatch.notify()


@router.post("/position", response_model=PositionAccepted)
async def post_position(
    body: RiderPositionIn, request: Request, principal: RiderOnly, session: SessionDep
) -> PositionAccepted:
    """The app's GPS fix. A fix far from the courier's home node (another continent) or an
    impossible jump from the last fix answers 422 and is ignored."""
    return await rider.record_position(
        session=session, courier_id=principal.name, body=body, now=request_time(request)
    )


@router.get("/tasks", response_model=list[TaskOut])
async def get_tasks(principal: RiderOnly, session: SessionDep) -> list[TaskOut]:
    """This courier's tasks (assigned, accepted, on board), in the planned order."""
    return await rider.my_tasks(session=session, courier_id=principal.name)


@router.post("/tasks/{task_id}/accept", response_model=TaskOut)
async def accept(
    task_id: str, request: Request, principal: RiderOnly, session: SessionDep
) -> TaskOut:
    """Accept an assigned task: from now on the planner keeps it with this courier."""
    return await rider.take_step(
        session=session,
        courier_id=principal.name,
        task_id=task_id,
        step=Step.ACCEPT,
        now=request_time(request),
    )


@router.post("/tasks/{task_id}/arrived", response_model=TaskOut)
async def arrived(
    task_id: str, request: Request, principal: RiderOnly, session: SessionDep
) -> TaskOut:
    """Arrived at the pickup node."""
    return await rider.take_step(
        session=session,
        courier_id=principal.name,
        task_id=task_id,
        step=Step.ARRIVED,
        now=request_time(request),
    )


@router.post("/tasks/{task_id}/picked-up", response_model=TaskOut)
async def picked_up(
    task_id: str, request: Request, principal: RiderOnly, session: SessionDep
) -> TaskOut:
    """The goods are on board: the order becomes dispatched and its reserved units leave the
    node (the picking/packed steps are recorded first when the node skipped them)."""
    return await rider.take_step(
        session=session,
        courier_id=principal.name,
        task_id=task_id,
        step=Step.PICKED_UP,
        now=request_time(request),
    )


@router.post("/tasks/{task_id}/delivered", response_model=TaskOut)
async def delivered(
    task_id: str, body: DeliveredIn, request: Request, principal: RiderOnly, session: SessionDep
) -> TaskOut:
    """Delivered with proof (the customer's code or a photo's SHA-256); a cold task keeps
    its compartment's readings from pickup to drop. The order is delivered when all its
    tasks are."""
    return await rider.take_step(
        session=session,
        courier_id=principal.name,
        task_id=task_id,
        step=Step.DELIVERED,
        now=request_time(request),
        proof=body.proof.model_dump(exclude_none=True),
    )


@router.post("/tasks/{task_id}/failed", response_model=TaskOut)
async def failed(
    task_id: str, body: FailedIn, request: Request, principal: RiderOnly, session: SessionDep
) -> TaskOut:
    """Before pickup: give the task back (planned again, never for this courier). After
    pickup: the delivery failed, and so does the order, with this reason."""
    result = await rider.take_step(
        session=session,
        courier_id=principal.name,
        task_id=task_id,
        step=Step.FAILED,
        now=request_time(request),
        reason=body.reason,
    )
    _notify(request)
    return result
