"""The dispatch problem as plain values: riders, tasks, and the plan that assigns one to the other.

Times are seconds on the caller's clock (epoch seconds live, simulated seconds in a replay). A rider
that is on its way to a stop (in progress) is handed over as if that stop were done: ``position`` is
the stop and ``available_s`` is when its service ends; a pickup in progress makes the task CARRIED.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from cloud.dispatch.eta import Point

MAX_TASK_PRIORITY = 100


class TaskState(StrEnum):
    OPEN = "open"  # not yet with a rider; any suitable rider may get it
    ACCEPTED = "accepted"  # a rider accepted it: locked to that rider, not yet picked up
    CARRIED = "carried"  # picked up: stays with its rider until dropped


class StopKind(StrEnum):
    PICKUP = "pickup"
    DROPOFF = "dropoff"


@dataclass(frozen=True)
class Rider:
    id: str
    position: Point
    available_s: float
    shift_end_s: float
    capacity: int
    skills: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Task:
    """A pickup-and-drop: ``target_s`` is the promised time (on time if dropped by then),
    ``deadline_s`` the latest acceptable drop for an own rider (beyond it: late, or a carrier).
    ``priority`` (0..100, from the member rules) decides who is served first when the fleet is
    short."""

    id: str
    pickup: Point
    dropoff: Point
    ready_s: float
    target_s: float
    deadline_s: float
    pickup_service_s: float = 0.0
    dropoff_service_s: float = 0.0
    size: int = 1
    skills: frozenset[str] = frozenset()
    max_ride_s: float | None = None
    state: TaskState = TaskState.OPEN
    rider_id: str | None = None
    picked_up_s: float | None = None
    priority: int = 0


@dataclass(frozen=True)
class Problem:
    now_s: float
    riders: tuple[Rider, ...]
    tasks: tuple[Task, ...]


@dataclass(frozen=True)
class PlannedStop:
    task_id: str
    kind: StopKind
    arrival_s: float
    service_start_s: float


@dataclass(frozen=True)
class Plan:
    """Routes per rider plus what no own rider takes. ``late`` holds tasks planned after their
    target; ``overflow`` tasks go to a third-party carrier; ``unassigned`` stay open."""

    created_s: float
    routes: Mapping[str, tuple[PlannedStop, ...]]
    cost_s: float = 0.0
    late: tuple[str, ...] = ()
    overflow: tuple[str, ...] = ()
    unassigned: tuple[str, ...] = ()
    ride_violations: tuple[str, ...] = ()
    _rider_of: dict[str, str] = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        for rider_id, stops in self.routes.items():
            for stop in stops:
                self._rider_of.setdefault(stop.task_id, rider_id)

    def rider_of(self, task_id: str) -> str | None:
        return self._rider_of.get(task_id)

    def assigned_tasks(self) -> frozenset[str]:
        return frozenset(self._rider_of)

    def dropoff_eta_s(self, task_id: str) -> float | None:
        rider_id = self._rider_of.get(task_id)
        if rider_id is None:
            return None
        for stop in self.routes[rider_id]:
            if stop.task_id == task_id and stop.kind is StopKind.DROPOFF:
                return stop.service_start_s
        return None


@dataclass(frozen=True)
class TaskRejection:
    task_id: str
    field: str
    message: str

    def __str__(self) -> str:
        return f"task {self.task_id}: {self.field}: {self.message}"


def _finite(value: float | None) -> bool:
    return value is not None and math.isfinite(value)


def reject_bad_tasks(problem: Problem) -> tuple[tuple[Task, ...], tuple[TaskRejection, ...]]:
    """Split tasks into plannable ones and rejections with a reason naming the field."""
    riders = {rider.id for rider in problem.riders}
    seen: set[str] = set()
    kept: list[Task] = []
    rejected: list[TaskRejection] = []
    for task in problem.tasks:
        reason = _task_fault(task, riders, seen)
        seen.add(task.id)
        if reason is None:
            kept.append(task)
        else:
            rejected.append(TaskRejection(task.id, *reason))
    return tuple(kept), tuple(rejected)


def _task_fault(task: Task, riders: set[str], seen: set[str]) -> tuple[str, str] | None:
    if task.id in seen:
        return ("id", "appears twice in the problem")
    for name in ("ready_s", "target_s", "deadline_s", "pickup_service_s", "dropoff_service_s"):
        if not _finite(getattr(task, name)):
            return (name, "must be a finite number")
    for name in ("lat", "lon"):
        for where in ("pickup", "dropoff"):
            value = getattr(getattr(task, where), name)
            limit = 90.0 if name == "lat" else 180.0
            if not (_finite(value) and -limit <= value <= limit):
                return (f"{where}.{name}", f"{value} is not a valid coordinate")
    if task.deadline_s < task.ready_s:
        return ("deadline_s", f"{task.deadline_s} is before ready_s {task.ready_s}: impossible")
    if task.target_s > task.deadline_s:
        return ("target_s", f"{task.target_s} is after deadline_s {task.deadline_s}")
    if task.pickup_service_s < 0 or task.dropoff_service_s < 0:
        return ("service", "service times must not be negative")
    if not 0 <= task.priority <= MAX_TASK_PRIORITY:
        return ("priority", f"must be 0..{MAX_TASK_PRIORITY}, got {task.priority}")
    if task.size < 1:
        return ("size", f"must be at least 1, got {task.size}")
    if task.max_ride_s is not None and not (_finite(task.max_ride_s) and task.max_ride_s > 0):
        return ("max_ride_s", f"must be a positive number, got {task.max_ride_s}")
    if task.state is not TaskState.OPEN:
        if task.rider_id is None:
            return ("rider_id", f"a {task.state.value} task needs its rider")
        if task.rider_id not in riders:
            return ("rider_id", f"rider {task.rider_id} is not in the problem")
    if task.state is TaskState.CARRIED and not _finite(task.picked_up_s):
        return ("picked_up_s", "a carried task needs its pickup time")
    return None
