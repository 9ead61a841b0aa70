"""From live state to an engine instance: locations, travel times, windows, pins and seeds.

Ids: rider ``i`` is vehicle ``i + 1``; task ``j`` is shipment ``2j + 1`` (delivery ``2j + 2``), or,
when already on board, drop ``2j + 1``. A task pinned to a rider (accepted, carried, or kept where
the last plan put it) needs that rider's own skill, which no other vehicle has.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import IntEnum

import numpy as np
import numpy.typing as npt

from cloud.dispatch.engine import (
    EngineDrop,
    EngineInput,
    EngineShipment,
    EngineStep,
    EngineVehicle,
    StepKind,
    Window,
)
from cloud.dispatch.eta import Point, TravelModel
from cloud.dispatch.problem import MAX_TASK_PRIORITY, Rider, StopKind, Task, TaskState

RIDER_SKILL_BASE = 1_000_000
OPEN_WORK_SKILL = RIDER_SKILL_BASE - 1  # only in solves where some riders take no open task
# Engine priorities (0..100; the engine first serves the most priority it can, then the most
# jobs, then the shortest routes): work with a rider outranks any open task, and an open task's
# priority is its order's (member-rule) priority scaled to 0..60 plus up to 25 for urgency, so
# an order with priority 50 (30) outranks a normal one however close to its promise (25).
CARRIED_PRIORITY = 100
ACCEPTED_PRIORITY = 90
OPEN_MEMBER_SHARE = 60
OPEN_URGENCY_SHARE = 25
URGENT_SLACK_S = 1800.0


class Tier(IntEnum):
    """How hard the drop deadline is in a solve pass: the promise, the limit, or none (late)."""

    TARGET = 0
    DEADLINE = 1
    RELAXED = 2


@dataclass(frozen=True)
class Instance:
    now_s: float
    riders: tuple[Rider, ...]
    tasks: tuple[Task, ...]
    engine_input: EngineInput

    def task_for_job(self, job_id: int) -> Task:
        return self.tasks[(job_id - 1) // 2]

    def rider_for_vehicle(self, vehicle_id: int) -> Rider:
        return self.riders[vehicle_id - 1]


def job_id(task_index: int) -> int:
    return 2 * task_index + 1


def active_riders(riders: Sequence[Rider], tasks: Sequence[Task], now_s: float) -> list[Rider]:
    """Riders on shift, plus riders past their shift that still hold accepted or carried work."""
    busy = {task.rider_id for task in tasks if task.state is not TaskState.OPEN}
    return [r for r in riders if r.shift_end_s > max(now_s, r.available_s) or r.id in busy]


def skill_ids(riders: Sequence[Rider], tasks: Sequence[Task]) -> dict[str, int]:
    names = set().union(*(r.skills for r in riders), *(t.skills for t in tasks))
    return {name: number for number, name in enumerate(sorted(names), start=1)}


def lower_bound_drop_s(task: Task, travel: TravelModel, now_s: float, rider: Rider | None) -> float:
    """Earliest the drop could end, ignoring every other task (a rider's own approach included
    only for work already on board)."""
    if task.state is TaskState.CARRIED and rider is not None:
        leave = max(now_s, rider.available_s)
        return leave + travel.seconds(rider.position, task.dropoff, leave) + task.dropoff_service_s
    leave = max(now_s, task.ready_s) + task.pickup_service_s
    return leave + travel.seconds(task.pickup, task.dropoff, leave) + task.dropoff_service_s


def earliest_drops_s(
    riders: Sequence[Rider], tasks: Sequence[Task], durations: npt.NDArray[np.int64], now_s: float
) -> dict[str, float]:
    """:func:`lower_bound_drop_s` for every task, read off the instance's travel-time matrix."""
    rider_index = {rider.id: i for i, rider in enumerate(riders)}
    base = len(riders)
    out: dict[str, float] = {}
    for j, task in enumerate(tasks):
        drop = base + 2 * j + 1
        i = rider_index.get(task.rider_id or "")
        if task.state is TaskState.CARRIED and i is not None:
            leave = max(now_s, riders[i].available_s)
            out[task.id] = leave + float(durations[i, drop]) + task.dropoff_service_s
        else:
            leave = max(now_s, task.ready_s) + task.pickup_service_s
            out[task.id] = leave + float(durations[drop - 1, drop]) + task.dropoff_service_s
    return out


def initial_tier(task: Task, earliest_drop_s: float) -> Tier:
    if earliest_drop_s <= task.target_s:
        return Tier.TARGET
    if earliest_drop_s <= task.deadline_s:
        return Tier.DEADLINE
    return Tier.RELAXED


def priority(task: Task, earliest_drop_s: float) -> int:
    if task.state is TaskState.CARRIED:
        return CARRIED_PRIORITY
    if task.state is TaskState.ACCEPTED:
        return ACCEPTED_PRIORITY
    slack = task.target_s - earliest_drop_s
    urgency = 1.0 - min(1.0, max(0.0, slack / URGENT_SLACK_S))
    member = task.priority / MAX_TASK_PRIORITY
    return round(OPEN_MEMBER_SHARE * member + OPEN_URGENCY_SHARE * urgency)


@dataclass(frozen=True)
class BuildRequest:
    now_s: float
    riders: tuple[Rider, ...]
    tasks: tuple[Task, ...]
    tiers: Mapping[str, Tier]
    pins: Mapping[str, str]  # task id -> rider id
    seeds: Mapping[str, Sequence[tuple[str, StopKind]]]  # rider id -> previous stops
    pickup_not_before_s: Mapping[str, float]
    horizon_s: float
    durations: npt.NDArray[np.int64]  # over instance_points(riders, tasks)
    # Riders that take no open task in this solve (only what they hold already).
    holding_only: frozenset[str] = frozenset()


def instance_points(riders: Sequence[Rider], tasks: Sequence[Task]) -> list[Point]:
    """Location order of an instance: rider starts, then each task's pickup and drop."""
    points: list[Point] = [rider.position for rider in riders]
    for task in tasks:
        points.extend((task.pickup, task.dropoff))
    return points


def build_instance(request: BuildRequest) -> Instance:
    now = request.now_s
    riders, tasks = request.riders, request.tasks
    rider_index = {rider.id: i for i, rider in enumerate(riders)}
    skills = skill_ids(riders, tasks)
    durations = request.durations
    horizon = int(request.horizon_s)

    def rel(t_s: float) -> int:
        return min(horizon, max(0, math.floor(t_s - now)))

    shipments: list[EngineShipment] = []
    drops: list[EngineDrop] = []
    earliest_drop = earliest_drops_s(riders, tasks, durations, now)
    for j, task in enumerate(tasks):
        needed = frozenset(skills[s] for s in task.skills)
        pinned = request.pins.get(task.id)
        if pinned is not None:
            needed |= {RIDER_SKILL_BASE + rider_index[pinned]}
        if request.holding_only and task.state is TaskState.OPEN:
            needed |= {OPEN_WORK_SKILL}
        pickup_loc, drop_loc = len(riders) + 2 * j, len(riders) + 2 * j + 1
        earliest = earliest_drop[task.id]
        tier = request.tiers.get(task.id, Tier.RELAXED)
        end_s = {Tier.TARGET: task.target_s, Tier.DEADLINE: task.deadline_s}.get(tier)
        drop_end = horizon if end_s is None else rel(end_s - task.dropoff_service_s)
        if task.state is TaskState.CARRIED:
            if task.max_ride_s is not None and task.picked_up_s is not None and tier < Tier.RELAXED:
                drop_end = min(drop_end, rel(task.picked_up_s + task.max_ride_s))
            drops.append(
                EngineDrop(
                    id=job_id(j),
                    location=drop_loc,
                    window=Window(0, drop_end),
                    service=round(task.dropoff_service_s),
                    amount=task.size,
                    skills=needed,
                    priority=priority(task, earliest),
                )
            )
            continue
        not_before = max(task.ready_s, request.pickup_not_before_s.get(task.id, task.ready_s))
        shipments.append(
            EngineShipment(
                id=job_id(j),
                pickup=pickup_loc,
                delivery=drop_loc,
                pickup_window=Window(rel(not_before), horizon),
                delivery_window=Window(0, drop_end),
                pickup_service=round(task.pickup_service_s),
                delivery_service=round(task.dropoff_service_s),
                amount=task.size,
                skills=needed,
                priority=priority(task, earliest),
            )
        )
    engine_input = EngineInput(durations, (), tuple(shipments), tuple(drops))
    holding = {t.rider_id for t in tasks if t.state is not TaskState.OPEN}
    open_work = frozenset({OPEN_WORK_SKILL}) if request.holding_only else frozenset()
    vehicles = tuple(
        EngineVehicle(
            id=i + 1,
            start=i,
            window=Window(
                rel(rider.available_s),
                horizon if rider.id in holding else rel(rider.shift_end_s),
            ),
            capacity=rider.capacity,
            skills=frozenset(skills[s] for s in rider.skills)
            | {RIDER_SKILL_BASE + i}
            | (frozenset() if rider.id in request.holding_only else open_work),
        )
        for i, rider in enumerate(riders)
    )
    instance = Instance(now, riders, tasks, EngineInput(durations, vehicles, *_rest(engine_input)))
    seeder = _Seeder(instance)
    seeded = tuple(
        EngineVehicle(
            v.id,
            v.start,
            v.window,
            v.capacity,
            v.skills,
            seeder.seed(v, request.seeds.get(riders[v.id - 1].id, ())),
        )
        for v in vehicles
    )
    return Instance(now, riders, tasks, EngineInput(durations, seeded, *_rest(engine_input)))


def _rest(engine_input: EngineInput) -> tuple[tuple[EngineShipment, ...], tuple[EngineDrop, ...]]:
    return engine_input.shipments, engine_input.drops


class _Seeder:
    def __init__(self, instance: Instance) -> None:
        self.instance = instance
        self.index = {task.id: j for j, task in enumerate(instance.tasks)}
        self.shipments = {s.id: s for s in instance.engine_input.shipments}
        self.drops = {d.id: d for d in instance.engine_input.drops}

    def seed(
        self, vehicle: EngineVehicle, stops: Sequence[tuple[str, StopKind]]
    ) -> tuple[EngineStep, ...]:
        """The previous route of a vehicle as engine steps, minus every task that no longer fits
        (gone, moved, wrong skills, missed window, over capacity): the engine refuses a bad seed."""
        candidate: list[EngineStep] = []
        for task_id, kind in stops:
            j = self.index.get(task_id)
            if j is None:
                continue
            jid = job_id(j)
            if jid in self.drops and kind is StopKind.DROPOFF:
                candidate.append(EngineStep(StepKind.SINGLE, jid))
            elif jid in self.shipments:
                pickup = kind is StopKind.PICKUP
                candidate.append(EngineStep(StepKind.PICKUP if pickup else StepKind.DELIVERY, jid))
        if not candidate:
            return ()
        route = _SeedRoute(self.instance.engine_input, vehicle, self.shipments, self.drops)
        dropped = route.infeasible_jobs(candidate)
        return tuple(
            s if s.kind is not StepKind.DELIVERY else EngineStep(StepKind.DELIVERY, s.job_id + 1)
            for s in candidate
            if s.job_id not in dropped
        )


@dataclass(frozen=True)
class _Visit:
    location: int
    window: Window
    service: int
    skills: frozenset[int]
    load_change: int


@dataclass(frozen=True)
class _SeedRoute:
    engine_input: EngineInput
    vehicle: EngineVehicle
    shipments: Mapping[int, EngineShipment]
    drops: Mapping[int, EngineDrop]

    def visit(self, step: EngineStep) -> _Visit:
        if step.kind is StepKind.SINGLE:
            d = self.drops[step.job_id]
            return _Visit(d.location, d.window, d.service, d.skills, -d.amount)
        s = self.shipments[step.job_id]
        if step.kind is StepKind.PICKUP:
            return _Visit(s.pickup, s.pickup_window, s.pickup_service, s.skills, s.amount)
        return _Visit(s.delivery, s.delivery_window, s.delivery_service, s.skills, -s.amount)

    def infeasible_jobs(self, steps: Sequence[EngineStep]) -> set[int]:
        """Jobs to leave out so that the rest of the route is feasible, in one pass: a stop that
        breaks a rule is skipped (with its other half); only a delivery whose pickup was kept
        restarts the walk, since leaving it out changes what came before."""
        dropped: set[int] = set()
        while True:
            bad = self._skip_pass([s for s in steps if s.job_id not in dropped])
            if not bad:
                return dropped
            dropped |= bad

    def _skip_pass(self, steps: Sequence[EngineStep]) -> set[int]:
        kinds: dict[int, list[StepKind]] = {}
        for s in steps:
            kinds.setdefault(s.job_id, []).append(s.kind)
        bad = {
            jid
            for jid, seen in kinds.items()
            if seen not in ([StepKind.SINGLE], [StepKind.PICKUP, StepKind.DELIVERY])
        }
        if bad:
            return bad  # repeated, half a shipment, or dropped before picked up
        durations: npt.NDArray[np.int64] = self.engine_input.durations
        load = sum(self.drops[s.job_id].amount for s in steps if s.kind is StepKind.SINGLE)
        if load > self.vehicle.capacity:
            return {next(s.job_id for s in reversed(steps) if s.kind is StepKind.SINGLE)}
        skipped: set[int] = set()
        t, here, last = self.vehicle.window.start, self.vehicle.start, None
        for s in steps:
            if s.job_id in skipped:
                continue
            visit = self.visit(s)
            arrive = max(t + int(durations[here, visit.location]), visit.window.start)
            if (
                not visit.skills <= self.vehicle.skills
                or load + visit.load_change > self.vehicle.capacity
                or arrive > visit.window.end
            ):
                if s.kind is StepKind.DELIVERY:
                    return {s.job_id}  # its pickup is already on the walk: walk again without it
                skipped.add(s.job_id)
                continue
            load += visit.load_change
            t, here, last = arrive + visit.service, visit.location, s.job_id
        if skipped:
            return skipped
        if last is not None and t > self.vehicle.window.end:
            return {last}
        return set()
