"""One re-plan: build the instance from live state, solve it within a hard budget, keep churn low.

Passes (each bounded by what is left of the budget, the best solution found so far always kept):

1. every task's drop window ends at its target (or its limit, or nowhere, when the target cannot be
   met even on a direct trip); the order's own priority and closeness to the target raise a task's
   engine priority (who is served when not all can be);
2. what pass 1 left unassigned is relaxed: to its limit when a carrier takes overflow, else
   without a deadline (late beats never: lateness instead of infeasibility when the fleet is short);
3. food and chilled goods that would ride longer than their limit get a later earliest pickup.

Churn: tasks accepted or on board are pinned to their rider. When the previous plan put open tasks
on riders, a "sticky" solve keeps them there and a free solve may move them; the free plan wins only
if it serves more (priority, then tasks) or saves more than ``reassign_gain_s`` of travel per task
it moves (any saving when it moves none).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, replace

from cloud.dispatch.build import (
    BuildRequest,
    Instance,
    Tier,
    active_riders,
    build_instance,
    earliest_drops_s,
    initial_tier,
    instance_points,
    lower_bound_drop_s,
)
from cloud.dispatch.engine import (
    EngineInput,
    EngineSolution,
    RoutingEngine,
    SolverError,
    StepKind,
)
from cloud.dispatch.eta import TravelModel
from cloud.dispatch.improver import Improver
from cloud.dispatch.problem import (
    Plan,
    PlannedStop,
    Problem,
    Rider,
    StopKind,
    Task,
    TaskRejection,
    TaskState,
    reject_bad_tasks,
)

SAFETY = 0.6  # share of the remaining budget handed to the engine (it may overrun a little)
MIN_FREE_SHARE = 0.3  # budget share that must be left for a free solve after the sticky one


@dataclass(frozen=True)
class PlannerConfig:
    budget_s: float = 1.0
    reassign_gain_s: float = 120.0
    carrier_overflow: bool = False
    horizon_s: float = 8 * 3600.0


@dataclass(frozen=True)
class PlanOutcome:
    plan: Plan
    applied: bool
    error: str | None
    rejected: tuple[TaskRejection, ...]
    reassigned: tuple[str, ...]
    elapsed_s: float
    solves: int
    engine_input: EngineInput | None = None  # of the plan's last solve (for benchmarks)
    background_adopted: bool = False  # the plan grew from a background solve's routes


@dataclass
class _Attempt:
    request: BuildRequest
    instance: Instance
    solution: EngineSolution

    def assigned(self) -> int:
        return len(self.instance.tasks) - len(self.solution.unassigned)

    def served(self) -> tuple[int, int]:
        """What the engine maximises before cost: the priority served, then the tasks."""
        jobs = self.instance.engine_input
        unassigned = self.solution.unassigned
        priority = sum(s.priority for s in jobs.shipments if s.id not in unassigned) + sum(
            d.priority for d in jobs.drops if d.id not in unassigned
        )
        return priority, self.assigned()


class _Clock:
    def __init__(self, budget_s: float) -> None:
        self.started = time.perf_counter()
        self.deadline = self.started + budget_s
        self.solves = 0

    def left(self) -> float:
        return self.deadline - time.perf_counter()

    def elapsed(self) -> float:
        return time.perf_counter() - self.started


class Planner:
    def __init__(
        self,
        engine: RoutingEngine,
        travel: TravelModel,
        config: PlannerConfig,
        improver: Improver | None = None,
    ) -> None:
        """With an ``improver``, every re-plan hands its snapshot to a from-scratch solve off the
        critical path and seeds its own free solve with the newest result instead of repairing
        the previous routes; re-plans without a new result solve only once (sticky)."""
        self.engine = engine
        self.travel = travel
        self.config = config
        self.improver = improver

    def replan(self, problem: Problem, previous: Plan | None) -> PlanOutcome:
        """A new plan, or the previous one kept (with ``error`` set) when solving fails."""
        clock = _Clock(self.config.budget_s)
        tasks, rejected = reject_bad_tasks(problem)
        kept = previous if previous is not None else Plan(problem.now_s, {})
        direct: tuple[str, ...] = ()
        if self.config.carrier_overflow:
            tasks, direct = self._beyond_reach(problem, tasks)
        try:
            attempt, reassigned, adopted = self._best_attempt(problem, tasks, previous, clock)
            plan = self._to_plan(attempt)
            _check_plan(plan, tasks)
            if direct:
                plan = replace(plan, overflow=(*plan.overflow, *direct))
        except SolverError as error:
            return PlanOutcome(kept, False, str(error), rejected, (), clock.elapsed(), clock.solves)
        return PlanOutcome(
            plan,
            True,
            None,
            rejected,
            reassigned,
            clock.elapsed(),
            clock.solves,
            attempt.instance.engine_input,
            adopted,
        )

    def _beyond_reach(
        self, problem: Problem, tasks: tuple[Task, ...]
    ) -> tuple[tuple[Task, ...], tuple[str, ...]]:
        """Open tasks no own rider can drop by their limit even on a direct trip: the carrier's."""
        kept: list[Task] = []
        beyond: list[str] = []
        for task in tasks:
            earliest = lower_bound_drop_s(task, self.travel, problem.now_s, None)
            if task.state is TaskState.OPEN and earliest > task.deadline_s:
                beyond.append(task.id)
            else:
                kept.append(task)
        return tuple(kept), tuple(beyond)

    def _best_attempt(
        self, problem: Problem, tasks: tuple[Task, ...], previous: Plan | None, clock: _Clock
    ) -> tuple[_Attempt, tuple[str, ...], bool]:
        """The plan's attempt, the open tasks it moved off their rider, and whether it grew from
        a background result."""
        riders = tuple(active_riders(problem.riders, tasks, problem.now_s))
        rider_ids = {r.id for r in riders}
        durations = self.travel.duration_matrix_s(instance_points(riders, tasks), problem.now_s)
        earliest = earliest_drops_s(riders, tasks, durations, problem.now_s)
        tiers = {t.id: initial_tier(t, earliest[t.id]) for t in tasks}
        if previous is not None:
            # A task already planned late (or left out) stays relaxed: one pass, not two, each
            # time; a priority task competes for its promise again while it can still make it.
            prioritised = {t.id for t in tasks if t.priority > 0}
            for task_id in (*previous.late, *previous.unassigned):
                if task_id in tiers and task_id not in prioritised:
                    tiers[task_id] = max(tiers[task_id], self._relaxed_tier())
        locked = {t.id: t.rider_id for t in tasks if t.state is not TaskState.OPEN and t.rider_id}
        seeds: dict[str, list[tuple[str, StopKind]]] = {}
        previous_rider: dict[str, str] = {}
        if previous is not None:
            for rider_id, stops in previous.routes.items():
                if rider_id in rider_ids:
                    seeds[rider_id] = [(s.task_id, s.kind) for s in stops]
                    for s in stops:
                        previous_rider.setdefault(s.task_id, rider_id)
        base = BuildRequest(
            now_s=problem.now_s,
            riders=riders,
            tasks=tasks,
            tiers=tiers,
            pins={k: v for k, v in locked.items() if v is not None},
            seeds=seeds,
            pickup_not_before_s={},
            horizon_s=self.config.horizon_s,
            durations=durations,
        )
        open_kept = {
            t.id: previous_rider[t.id]
            for t in tasks
            if t.state is TaskState.OPEN and t.id in previous_rider
        }
        fresh = self.improver.take() if self.improver is not None else None
        free_request = base if fresh is None else replace(base, seeds=fresh.seeds)
        want_free = self.improver is None or fresh is not None
        best: _Attempt | None = None
        moved: tuple[str, ...] = ()
        if open_kept:
            share = 0.35 if want_free else 0.6
            best = self._solve(replace(base, pins={**base.pins, **open_kept}), clock, share)
        free: _Attempt | None = None
        if best is None or (want_free and clock.left() > MIN_FREE_SHARE * self.config.budget_s):
            try:
                free = self._solve(free_request, clock, share=0.6)
            except SolverError:
                if best is None:
                    raise
        if self.improver is not None:
            self.improver.submit(replace(base, seeds={}))
        adopted = False
        if free is not None:
            moved = _moved(free, open_kept)
            if best is None or self._free_wins(best, free, len(moved)):
                best, adopted = free, fresh is not None
            else:
                moved = ()
        assert best is not None
        planned = self._keep_goods_on_board(self._relax(best, clock), clock)
        return self._repair_rides(planned, clock), moved, adopted

    def _free_wins(self, sticky: _Attempt, free: _Attempt, moved: int) -> bool:
        if free.served() != sticky.served():
            return free.served() > sticky.served()
        gain = sticky.solution.cost - free.solution.cost
        return gain >= 0 if moved == 0 else gain > self.config.reassign_gain_s * moved

    def _relaxed_tier(self) -> Tier:
        return Tier.DEADLINE if self.config.carrier_overflow else Tier.RELAXED

    def _solve(self, request: BuildRequest, clock: _Clock, share: float) -> _Attempt:
        left = clock.left()
        if left <= 0:
            raise SolverError(f"re-plan budget of {self.config.budget_s:g} s used up")
        instance = build_instance(request)
        clock.solves += 1
        solution = self.engine.solve(instance.engine_input, max(0.01, left * share * SAFETY))
        return _Attempt(request, instance, solution)

    def _relax(self, attempt: _Attempt, clock: _Clock) -> _Attempt:
        """Pass 2: what the plan left out gets its limit (or no deadline) as the drop window."""
        request = attempt.request
        if not attempt.solution.unassigned or clock.left() <= 0:
            return attempt
        relaxed_tier = self._relaxed_tier()
        tiers = dict(request.tiers)
        for jid in attempt.solution.unassigned:
            task = attempt.instance.task_for_job(jid)
            tiers[task.id] = max(relaxed_tier, tiers[task.id])
            if task.state is TaskState.CARRIED:
                tiers[task.id] = Tier.RELAXED
        if tiers == dict(request.tiers):
            return attempt
        relaxed = replace(request, tiers=tiers, seeds=_seeds_with_goods_first(attempt))
        try:
            second = self._solve(relaxed, clock, 1.0)
        except SolverError:
            return attempt
        return second if second.served() >= attempt.served() else attempt

    def _keep_goods_on_board(self, attempt: _Attempt, clock: _Clock) -> _Attempt:
        """Goods on board that the plan still leaves out: the engine counts only planned drops
        as load and tends to keep the pickups planned in their room, so their rider takes no
        new work this time (the next re-plan starts from a route with every drop on it)."""
        left_out = _carried_left_out(attempt)
        if not left_out or clock.left() <= 0:
            return attempt
        request = replace(
            attempt.request,
            tiers={**attempt.request.tiers, **{t.id: Tier.RELAXED for t in left_out}},
            seeds=_seeds_with_goods_first(attempt),
            holding_only=attempt.request.holding_only
            | {t.rider_id for t in left_out if t.rider_id is not None},
        )
        try:
            kept = self._solve(request, clock, 1.0)
        except SolverError:
            return attempt
        return kept if kept.served() >= attempt.served() else attempt

    def _repair_rides(self, attempt: _Attempt, clock: _Clock) -> _Attempt:
        later: dict[str, float] = {}
        plan = self._to_plan(attempt)
        for task in attempt.instance.tasks:
            if task.id in plan.ride_violations and task.state is not TaskState.CARRIED:
                drop = plan.dropoff_eta_s(task.id)
                assert drop is not None and task.max_ride_s is not None
                later[task.id] = drop - task.max_ride_s + task.pickup_service_s
        if not later or clock.left() <= 0:
            return attempt
        request = replace(attempt.request, pickup_not_before_s=later, seeds=_seeds_of(attempt))
        try:
            repaired = self._solve(request, clock, 1.0)
        except SolverError:
            return attempt
        fixed = self._to_plan(repaired)
        better = repaired.served() >= attempt.served() and len(fixed.ride_violations) < len(
            plan.ride_violations
        )
        return repaired if better else attempt

    def _to_plan(self, attempt: _Attempt) -> Plan:
        instance, solution = attempt.instance, attempt.solution
        now = instance.now_s
        routes: dict[str, tuple[PlannedStop, ...]] = {}
        for vehicle_id, steps in solution.routes.items():
            rider = instance.rider_for_vehicle(vehicle_id)
            routes[rider.id] = tuple(
                PlannedStop(
                    instance.task_for_job(step.job_id).id,
                    StopKind.PICKUP if step.kind is StepKind.PICKUP else StopKind.DROPOFF,
                    now + step.arrival,
                    now + step.service_start,
                )
                for step in steps
            )
        unassigned = [instance.task_for_job(j) for j in sorted(solution.unassigned)]
        overflow: tuple[str, ...] = ()
        if self.config.carrier_overflow:
            overflow = tuple(t.id for t in unassigned if t.state is TaskState.OPEN)
        left_open = tuple(t.id for t in unassigned if t.id not in overflow)
        late: list[str] = []
        violations: list[str] = []
        by_id = {t.id: t for t in instance.tasks}
        for stops in routes.values():
            picked_at: dict[str, float] = {}
            for stop in stops:
                task = by_id[stop.task_id]
                if stop.kind is StopKind.PICKUP:
                    picked_at[task.id] = stop.service_start_s + task.pickup_service_s
                    continue
                if stop.service_start_s + task.dropoff_service_s > task.target_s + 0.5:
                    late.append(task.id)
                start = picked_at.get(task.id, task.picked_up_s)
                ride = None if start is None else stop.service_start_s - start
                if (
                    task.max_ride_s is not None
                    and ride is not None
                    and ride > task.max_ride_s + 0.5
                ):
                    violations.append(task.id)
        return Plan(
            created_s=now,
            routes=routes,
            cost_s=float(solution.cost),
            late=tuple(sorted(late)),
            overflow=overflow,
            unassigned=left_open,
            ride_violations=tuple(sorted(violations)),
        )


def _seeds_of(attempt: _Attempt) -> Mapping[str, list[tuple[str, StopKind]]]:
    seeds: dict[str, list[tuple[str, StopKind]]] = {}
    for vehicle_id, steps in attempt.solution.routes.items():
        rider: Rider = attempt.instance.rider_for_vehicle(vehicle_id)
        seeds[rider.id] = [
            (
                attempt.instance.task_for_job(s.job_id).id,
                StopKind.PICKUP if s.kind is StepKind.PICKUP else StopKind.DROPOFF,
            )
            for s in steps
        ]
    return seeds


def _carried_left_out(attempt: _Attempt) -> list[Task]:
    tasks = (attempt.instance.task_for_job(jid) for jid in sorted(attempt.solution.unassigned))
    return [task for task in tasks if task.state is TaskState.CARRIED]


def _seeds_with_goods_first(attempt: _Attempt) -> dict[str, list[tuple[str, StopKind]]]:
    """The attempt's routes, each rider starting with the drops of goods on board that it
    left out (the engine fits them back more readily; the seed is cut where it breaks a rule)."""
    seeds = dict(_seeds_of(attempt))
    for task in _carried_left_out(attempt):
        assert task.rider_id is not None
        seeds[task.rider_id] = [(task.id, StopKind.DROPOFF), *seeds.get(task.rider_id, [])]
    return seeds


def _moved(attempt: _Attempt, kept: Mapping[str, str]) -> tuple[str, ...]:
    now_on: dict[str, str] = {}
    for vehicle_id, steps in attempt.solution.routes.items():
        rider_id = attempt.instance.rider_for_vehicle(vehicle_id).id
        for step in steps:
            now_on[attempt.instance.task_for_job(step.job_id).id] = rider_id
    return tuple(sorted(t for t, r in kept.items() if now_on.get(t, r) != r))


def _check_plan(plan: Plan, tasks: tuple[Task, ...]) -> None:
    """Refuse a plan that assigns a task twice, moves locked work, or breaks pickup-before-drop."""
    by_id = {t.id: t for t in tasks}
    owner: dict[str, str] = {}
    for rider_id, stops in plan.routes.items():
        seen: set[tuple[str, StopKind]] = set()
        for stop in stops:
            task = by_id.get(stop.task_id)
            if task is None:
                raise SolverError(f"plan routes unknown task {stop.task_id}")
            if (stop.task_id, stop.kind) in seen or owner.get(stop.task_id, rider_id) != rider_id:
                raise SolverError(f"plan assigns task {stop.task_id} twice")
            if task.state is not TaskState.OPEN and task.rider_id != rider_id:
                raise SolverError(f"plan moves locked task {task.id} off rider {task.rider_id}")
            needs_pickup = stop.kind is StopKind.DROPOFF and task.state is not TaskState.CARRIED
            if needs_pickup and (stop.task_id, StopKind.PICKUP) not in seen:
                raise SolverError(f"plan drops task {task.id} before picking it up")
            seen.add((stop.task_id, stop.kind))
            owner[stop.task_id] = rider_id
    for task_id in (*plan.overflow, *plan.unassigned):
        if task_id in owner:
            raise SolverError(f"plan both routes and leaves out task {task_id}")
