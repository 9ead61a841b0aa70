"""The rider app's side: positions, the courier's own tasks, and each step of a delivery.

A rider key's name is its courier id; a task of another courier answers 404 and changes
nothing. Repeating a step already taken is a replay and changes nothing.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import case, select
from sqlalchemy.ext.asyncio import AsyncSession

from cloud.api_error import ApiError
from cloud.catalog_models import Node
from cloud.dispatch.eta import Point
from cloud.fleet_models import Courier, CourierState, DeliveryTask
from cloud.fleet_rules import Fix, PositionRejected, check_position
from cloud.fleet_schemas import PositionAccepted, RiderPositionIn, TaskOut
from cloud.services.delivery_tasks import change_task, tasks_out
from cloud.services.fleet_cold_chain import temperature_record
from cloud.services.order_delivery import order_delivered, order_failed, order_picked_up

MINE = ("assigned", "accepted", "picked_up")


class Step(StrEnum):
    ACCEPT = "accept"
    ARRIVED = "arrived"
    PICKED_UP = "picked-up"
    DELIVERED = "delivered"
    FAILED = "failed"


async def _courier(session: AsyncSession, courier_id: str) -> Courier:
    courier = await session.get(Courier, courier_id)
    if courier is None or not courier.active:
        raise ApiError(403, "courier_inactive", f"courier {courier_id!r} is not an active courier")
    return courier


async def record_position(
    *, session: AsyncSession, courier_id: str, body: RiderPositionIn, now: datetime
) -> PositionAccepted:
    """Store the app's fix unless it is implausible (422, nothing stored)."""
    courier = await _courier(session, courier_id)
    home = await session.get(Node, courier.home_node_id)
    assert home is not None
    state = await session.get(CourierState, courier_id, with_for_update=True)
    previous = None if state is None else Fix(state.lat, state.lon, state.time)
    fix = Fix(body.lat, body.lon, body.time)
    try:
        check_position(fix, home=Point(home.lat, home.lon), previous=previous, now=now)
    except PositionRejected as exc:
        raise ApiError(422, "implausible_position", str(exc)) from None
    if state is None:
        session.add(
            CourierState(
                courier_id=courier_id,
                lat=fix.lat,
                lon=fix.lon,
                time=fix.time,
                source="app",
                updated_at=now,
            )
        )
    else:
        state.lat, state.lon, state.time, state.updated_at = fix.lat, fix.lon, fix.time, now
    await session.flush()
    return PositionAccepted(courier_id=courier_id, lat=fix.lat, lon=fix.lon, time=fix.time)


async def my_tasks(*, session: AsyncSession, courier_id: str) -> list[TaskOut]:
    """The courier's tasks in the order of the plan: what is on board, then what to fetch."""
    await _courier(session, courier_id)
    on_board_first = case((DeliveryTask.status == "picked_up", 0), else_=1)
    tasks = (
        await session.scalars(
            select(DeliveryTask)
            .where(DeliveryTask.courier_id == courier_id, DeliveryTask.status.in_(MINE))
            .order_by(
                on_board_first,
                DeliveryTask.planned_pickup_at,
                DeliveryTask.planned_drop_at,
                DeliveryTask.id,
            )
        )
    ).all()
    return await tasks_out(session=session, tasks=tasks)


async def _my_task(session: AsyncSession, courier_id: str, task_id: str) -> DeliveryTask:
    task = await session.scalar(
        select(DeliveryTask)
        .where(DeliveryTask.id == task_id, DeliveryTask.courier_id == courier_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if task is None:
        raise ApiError(404, "task_not_found", f"courier {courier_id} has no task {task_id!r}")
    return task


def _refuse(task: DeliveryTask, step: Step, needs: str) -> ApiError:
    return ApiError(
        409,
        "invalid_task_step",
        f"task {task.id} is {task.status}; {step.value} needs a task that is {needs}",
    )


async def take_step(
    *,
    session: AsyncSession,
    courier_id: str,
    task_id: str,
    step: Step,
    now: datetime,
    proof: dict[str, Any] | None = None,
    reason: str | None = None,
) -> TaskOut:
    courier = await _courier(session, courier_id)
    task = await _my_task(session, courier_id, task_id)
    actor = f"rider:{courier_id}"
    if step is Step.ACCEPT:
        if task.status != "accepted":
            if task.status != "assigned":
                raise _refuse(task, step, "assigned to you")
            await _change(session, task, {"status": "accepted", "accepted_at": now}, now)
    elif step is Step.ARRIVED:
        if task.status != "accepted":
            raise _refuse(task, step, "accepted")
        if task.arrived_at is None:
            await _change(session, task, {"arrived_at": now}, now)
    elif step is Step.PICKED_UP:
        if task.status != "picked_up":
            if task.status != "accepted":
                raise _refuse(task, step, "accepted")
            await order_picked_up(session=session, order_id=task.order_id, actor=actor, now=now)
            await _change(session, task, {"status": "picked_up", "picked_up_at": now}, now)
    elif step is Step.DELIVERED:
        await _deliver(session, courier, task, proof, actor, now)
    else:
        await _fail(session, task, reason or "", actor, now)
    return (await tasks_out(session=session, tasks=[task]))[0]


async def _change(
    session: AsyncSession, task: DeliveryTask, values: dict[str, Any], now: datetime
) -> None:
    if not await change_task(
        session=session, task=task, expect=(task.status,), values=values, now=now
    ):
        raise ApiError(409, "task_changed", f"task {task.id} changed meanwhile; read it again")


async def _deliver(
    session: AsyncSession,
    courier: Courier,
    task: DeliveryTask,
    proof: dict[str, Any] | None,
    actor: str,
    now: datetime,
) -> None:
    if proof is None:
        raise ApiError(422, "proof_required", "proof: give a code or a photo_sha256")
    if task.status == "delivered":
        if task.proof != proof:
            raise ApiError(
                409, "already_delivered", f"proof: task {task.id} was delivered with other proof"
            )
        return
    if task.status != "picked_up":
        raise _refuse(task, Step.DELIVERED, "picked up")
    assert task.picked_up_at is not None
    record = await temperature_record(
        session=session,
        courier=courier,
        temperature_class=task.temperature_class,
        since=task.picked_up_at,
        until=now,
    )
    values = {
        "status": "delivered",
        "finished_at": now,
        "proof": proof,
        "temperature_record": record,
    }
    await _change(session, task, values, now)
    await order_delivered(session=session, order_id=task.order_id, actor=actor, now=now)


async def _fail(
    session: AsyncSession, task: DeliveryTask, reason: str, actor: str, now: datetime
) -> None:
    """Before pickup the task goes back to be planned for someone else; after pickup the
    delivery (and its order) failed."""
    if task.status in ("assigned", "accepted"):
        await _change(
            session,
            task,
            {
                "status": "open",
                "courier_id": None,
                "accepted_at": None,
                "arrived_at": None,
                "planned_pickup_at": None,
                "planned_drop_at": None,
                "failure_reason": f"{actor} gave it back: {reason}",
                "declined_by": sorted({*task.declined_by, task.courier_id or ""} - {""}),
            },
            now,
        )
        return
    if task.status != "picked_up":
        raise _refuse(task, Step.FAILED, "assigned, accepted or picked up")
    await _change(
        session, task, {"status": "failed", "finished_at": now, "failure_reason": reason}, now
    )
    await order_failed(session=session, order_id=task.order_id, reason=reason, actor=actor, now=now)
