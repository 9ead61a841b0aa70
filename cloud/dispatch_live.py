"""Live state to a dispatch problem and plans to and from JSON (pure).

The dispatch loop reads couriers and delivery tasks from the database into the plain values
below; :func:`live_problem` turns them into the :class:`~cloud.dispatch.problem.Problem` the
planner solves (times: epoch seconds), and :func:`plan_json` / :func:`plan_from_json` store a plan.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from cloud.dispatch.eta import Point
from cloud.dispatch.planner import PlanOutcome
from cloud.dispatch.problem import Plan, PlannedStop, Problem, Rider, StopKind, Task, TaskState
from cloud.fleet_rules import (
    COLD_MAX_RIDE_S,
    PICKUP_SERVICE_S,
    dropoff_service_s,
    task_skills,
)

REFUSED_LATE_OK = timedelta(hours=8)
PLANNED = ("open", "assigned")  # the planner may move these
LOCKED = ("accepted", "picked_up")  # pinned to their courier
LIVE = (*PLANNED, *LOCKED)


@dataclass(frozen=True)
class LiveCourier:
    id: str
    capacity: int
    skills: frozenset[str]  # effective: cold skills of out-of-band compartments removed
    shift: tuple[datetime, datetime] | None  # current or next shift
    position: Point


@dataclass(frozen=True)
class LiveTask:
    id: str
    pickup: Point
    dropoff: Point
    ready_at: datetime
    window_end: datetime
    deadline: datetime
    temperature_class: str
    size: int
    service: Mapping[str, Any]
    status: str
    courier_id: str | None
    picked_up_at: datetime | None
    # The carrier refused it: own couriers take it however late, never the carrier again.
    carrier_refused: bool = False
    # Couriers that gave it back before pickup; it is not planned for them again.
    declined_by: frozenset[str] = frozenset()
    priority: int = 0  # the order's, from the member rules (0..100)


def _state(task: LiveTask) -> TaskState:
    if task.status == "picked_up":
        return TaskState.CARRIED
    if task.status == "accepted":
        return TaskState.ACCEPTED
    return TaskState.OPEN


def to_task(task: LiveTask) -> Task:
    state = _state(task)
    cold = task.temperature_class in ("chilled", "frozen")
    return Task(
        id=task.id,
        pickup=task.pickup,
        dropoff=task.dropoff,
        ready_s=task.ready_at.timestamp(),
        target_s=task.window_end.timestamp(),
        deadline_s=(
            max(task.deadline, task.window_end + REFUSED_LATE_OK)
            if task.carrier_refused
            else task.deadline
        ).timestamp(),
        pickup_service_s=PICKUP_SERVICE_S,
        dropoff_service_s=dropoff_service_s(task.service),
        size=task.size,
        # Goods on board stay with their courier whatever happens to its skills.
        skills=frozenset() if state is TaskState.CARRIED else task_skills(task.temperature_class),
        max_ride_s=COLD_MAX_RIDE_S if cold else None,
        state=state,
        rider_id=None if state is TaskState.OPEN else task.courier_id,
        picked_up_s=task.picked_up_at.timestamp() if task.picked_up_at else None,
        priority=task.priority,
    )


def to_rider(courier: LiveCourier, now: datetime) -> Rider:
    if courier.shift is None:  # off shift, kept only while it holds accepted or carried work
        available, end = now.timestamp(), now.timestamp()
    else:
        available = max(now, courier.shift[0]).timestamp()
        end = courier.shift[1].timestamp()
    return Rider(
        id=courier.id,
        position=courier.position,
        available_s=available,
        shift_end_s=end,
        capacity=courier.capacity,
        skills=courier.skills,
    )


def declined_skill(task_id: str) -> str:
    return f"not-declined:{task_id}"


def live_problem(
    now: datetime, couriers: Sequence[LiveCourier], tasks: Sequence[LiveTask]
) -> Problem:
    """The planner's problem. A task someone gave back needs a skill that every courier
    except those who declined it has, so it is never planned for them again."""
    live = [t for t in tasks if t.status in LIVE]
    holding = {t.courier_id for t in live if t.status in LOCKED}
    declined = [t for t in live if t.declined_by and t.status in PLANNED]
    riders = []
    for courier in couriers:
        if courier.shift is None and courier.id not in holding:
            continue
        rider = to_rider(courier, now)
        extra = {declined_skill(t.id) for t in declined if courier.id not in t.declined_by}
        riders.append(replace(rider, skills=rider.skills | extra) if extra else rider)
    planned = []
    for task in live:
        converted = to_task(task)
        if task.declined_by and task.status in PLANNED:
            converted = replace(converted, skills=converted.skills | {declined_skill(task.id)})
        planned.append(converted)
    return Problem(now.timestamp(), tuple(riders), tuple(planned))


def at(t_s: float) -> datetime:
    return datetime.fromtimestamp(t_s, UTC)


def plan_json(outcome: PlanOutcome) -> dict[str, Any]:
    plan = outcome.plan
    return {
        "routes": {
            rider: [
                {
                    "task_id": s.task_id,
                    "kind": s.kind.value,
                    "arrival": at(s.arrival_s).isoformat(),
                    "service_start": at(s.service_start_s).isoformat(),
                }
                for s in stops
            ]
            for rider, stops in sorted(plan.routes.items())
        },
        "late": list(plan.late),
        "overflow": list(plan.overflow),
        "unassigned": list(plan.unassigned),
        "ride_violations": list(plan.ride_violations),
        "rejected": [
            {"task_id": r.task_id, "field": r.field, "message": r.message} for r in outcome.rejected
        ],
        "reassigned": list(outcome.reassigned),
        "created_at": at(plan.created_s).isoformat(),
    }


def plan_from_json(stored: Mapping[str, Any]) -> Plan:
    """The plan :func:`plan_json` stored (to seed the next re-plan after a restart)."""
    routes = {
        rider: tuple(
            PlannedStop(
                s["task_id"],
                StopKind(s["kind"]),
                datetime.fromisoformat(s["arrival"]).timestamp(),
                datetime.fromisoformat(s["service_start"]).timestamp(),
            )
            for s in stops
        )
        for rider, stops in stored["routes"].items()
    }
    return Plan(
        created_s=datetime.fromisoformat(stored["created_at"]).timestamp(),
        routes=routes,
        late=tuple(stored.get("late", ())),
        overflow=tuple(stored.get("overflow", ())),
        unassigned=tuple(stored.get("unassigned", ())),
    )


@dataclass(frozen=True)
class Assignment:
    courier_id: str
    pickup_at: datetime | None  # None: already on board
    drop_at: datetime


def assignments(plan: Plan) -> dict[str, Assignment]:
    """Task id -> who takes it and when, from a plan's routes."""
    found: dict[str, Assignment] = {}
    for rider, stops in plan.routes.items():
        pickups = {s.task_id: at(s.service_start_s) for s in stops if s.kind is StopKind.PICKUP}
        for stop in stops:
            if stop.kind is StopKind.DROPOFF:
                found[stop.task_id] = Assignment(
                    rider, pickups.get(stop.task_id), at(stop.service_start_s)
                )
    return found
