"""``retailedge bench dispatch``: re-plan latency and quality of the dispatch loop, its service
figures against the nearest-idle baseline on the same order stream, and Solomon VRPTW gaps.

Re-plan latency: a live loop never plans 500 tasks from nothing; it starts empty and re-plans as
work arrives. So the bench builds up to ``tasks`` open tasks for ``riders`` riders in rounds (each
adding a slice of tasks), then keeps the load steady for ``rounds`` rounds in which a minute
passes, every rider finishes what the plan had it finish by then (pickups become carried goods,
drops leave), and new tasks top the load up. Every re-plan after the first (from scratch, reported
alone as ``cold_plan_ms``) counts in p50/p99. Quality: the last re-plan's instance (with only
the true locks, not the churn pins) solved again by the same engine from scratch with
``reference_s`` seconds at the highest exploration level.

Background solve (on by default, as the live loop would run it): each re-plan hands its snapshot to
a from-scratch solve in another process, and a later re-plan seeds its free solve with the result.
The live loop re-plans every ``interval_s`` (20 s by default); rounds here run back to back, so
between rounds the bench waits for a running background solve for at most what is left of that
interval. That wait is idle time of the loop, not re-plan latency: latency is the wall time of
``Planner.replan``, the critical path that produces the plan in force.
"""

from __future__ import annotations

import math
import os
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from cloud.dispatch.build import RIDER_SKILL_BASE
from cloud.dispatch.eta import Point, SpeedModel, TravelModel
from cloud.dispatch.improver import BackgroundImprover
from cloud.dispatch.planner import Planner, PlannerConfig, PlanOutcome
from cloud.dispatch.problem import Plan, Problem, Rider, StopKind, Task, TaskState
from cloud.dispatch.vroom_engine import VroomEngine
from cloud.progress import text_bar
from retailedge.bench.solomon import SOLOMON_DIR, solomon_summary
from retailedge.bench.stats import median, percentile
from retailedge.fleet.generate import SHANGHAI, generate_scenario
from retailedge.fleet.replay import ReplayConfig, replay
from retailedge.fleet.scenario import load_scenario

SAMPLE_DAY = Path(__file__).resolve().parents[1] / "fleet" / "sample_day"
SPEED_MPS = 250 / 60
ROUND_S = 60.0
BUILDUP_ROUNDS = 10


@dataclass(frozen=True)
class DispatchBenchConfig:
    tasks: int = 500
    riders: int = 50
    rounds: int = 30
    budget_s: float = 1.0
    reference_s: float = 30.0
    scenario: Path = SAMPLE_DAY
    solomon_dir: Path = SOLOMON_DIR
    solomon_limit: int = 0
    solomon_budget_s: float = 5.0
    background: bool = True
    interval_s: float = 20.0
    background_level: int = 5


class _Workload:
    """Tasks around ten Shanghai stores, riders spread among them, a steady stream of new work."""

    def __init__(self, riders: int, seed: int = 11) -> None:
        self.rng = random.Random(seed)
        self.stores = [self._near(SHANGHAI, 3500) for _ in range(10)]
        self.riders = {
            f"rider-{i:03d}": Rider(
                f"rider-{i:03d}", self._near(self.rng.choice(self.stores), 800), 0.0, 8 * 3600, 4
            )
            for i in range(riders)
        }
        self.tasks: dict[str, Task] = {}
        self.made = 0

    def _near(self, origin: Point, spread_m: float) -> Point:
        north, east = self.rng.gauss(0, spread_m), self.rng.gauss(0, spread_m)
        return Point(
            origin.lat + north / 111_320,
            origin.lon + east / (111_320 * math.cos(math.radians(origin.lat))),
        )

    def add(self, count: int, now_s: float) -> None:
        for _ in range(count):
            self.made += 1
            store = self.rng.choice(self.stores)
            ready = now_s + self.rng.uniform(0, 900)
            self.tasks[f"task-{self.made:05d}"] = Task(
                id=f"task-{self.made:05d}",
                pickup=store,
                dropoff=self._near(store, 1500),
                ready_s=ready,
                target_s=now_s + 3 * 3600,
                deadline_s=now_s + 4 * 3600,
                pickup_service_s=120,
                dropoff_service_s=180,
            )

    def problem(self, now_s: float) -> Problem:
        return Problem(now_s, tuple(self.riders.values()), tuple(self.tasks.values()))

    def advance(self, plan: Plan, until_s: float) -> None:
        """Riders do what the plan had them finish by ``until_s``; locks follow."""
        for rider_id, stops in plan.routes.items():
            for stop in stops:
                task = self.tasks[stop.task_id]
                done = stop.service_start_s + (
                    task.pickup_service_s
                    if stop.kind is StopKind.PICKUP
                    else task.dropoff_service_s
                )
                if done > until_s:
                    break
                rider = self.riders[rider_id]
                where = task.pickup if stop.kind is StopKind.PICKUP else task.dropoff
                self.riders[rider_id] = replace(rider, position=where, available_s=done)
                if stop.kind is StopKind.PICKUP:
                    self.tasks[task.id] = replace(
                        task, state=TaskState.CARRIED, rider_id=rider_id, picked_up_s=done
                    )
                else:
                    del self.tasks[task.id]
        for rider_id, rider in self.riders.items():
            if rider.available_s < until_s:
                self.riders[rider_id] = replace(rider, available_s=until_s)


def _replan_rounds(
    config: DispatchBenchConfig, progress: Callable[[str], None]
) -> tuple[dict[str, Any], PlanOutcome]:
    improver = BackgroundImprover(config.background_level) if config.background else None
    try:
        return _replan_with(config, improver, progress)
    finally:
        if improver is not None:
            improver.close()


def _replan_with(
    config: DispatchBenchConfig,
    improver: BackgroundImprover | None,
    progress: Callable[[str], None],
) -> tuple[dict[str, Any], PlanOutcome]:
    workload = _Workload(config.riders)
    planner = Planner(
        VroomEngine(),
        TravelModel(SpeedModel(SPEED_MPS)),
        PlannerConfig(budget_s=config.budget_s),
        improver,
    )
    now = 0.0
    step = max(1, math.ceil(config.tasks / BUILDUP_ROUNDS))
    workload.add(step, now)
    started = time.perf_counter()
    outcome = planner.replan(workload.problem(now), None)
    cold_ms = (time.perf_counter() - started) * 1000
    latencies: list[float] = []
    cpu: list[float] = []
    errors = moved = 0
    waited = 0.0
    total_rounds = BUILDUP_ROUNDS - 1 + config.rounds
    for n in range(total_rounds):
        if improver is not None:  # the loop's idle time until its next re-plan
            wait_started = time.perf_counter()
            improver.wait(max(0.0, config.interval_s - (latencies or [cold_ms])[-1] / 1000))
            waited += time.perf_counter() - wait_started
        now += ROUND_S
        workload.advance(outcome.plan, now)
        open_now = len(workload.tasks)
        workload.add(max(0, min(step, config.tasks - open_now)), now)
        started, cpu_started = time.perf_counter(), time.process_time()
        outcome = planner.replan(workload.problem(now), outcome.plan)
        latencies.append((time.perf_counter() - started) * 1000)
        cpu.append((time.process_time() - cpu_started) * 1000)
        errors += 0 if outcome.applied else 1
        moved += len(outcome.reassigned)
        if (n + 1) % 10 == 0:
            progress(
                f"re-plan {text_bar(n + 1, total_rounds)} {n + 1}/{total_rounds}: "
                f"{latencies[-1]:.0f} ms"
            )
    return {
        "tasks": len(workload.tasks),
        "riders": config.riders,
        "replans": len(latencies),
        "cold_plan_ms": round(cold_ms, 1),
        "replan_p50_ms": round(median(latencies), 1),
        "replan_p99_ms": round(percentile(latencies, 0.99), 1),
        "replan_max_ms": round(max(latencies), 1),
        "replan_cpu_p50_ms": round(median(cpu), 1),
        "replan_cpu_p99_ms": round(percentile(cpu, 0.99), 1),
        "load_average_1m": round(os.getloadavg()[0], 2),
        "replan_errors": errors,
        "budget_ms": round(config.budget_s * 1000),
        "reassigned_tasks": moved,
        "background_solves": improver.solved if improver is not None else 0,
        "background_wait_s": round(waited, 1),
        "background_error": improver.last_error if improver is not None else None,
    }, outcome


def _cost_ratio(outcome: PlanOutcome, reference_s: float) -> dict[str, Any]:
    assert outcome.engine_input is not None
    # Every task of the workload is open or on board: drops keep their rider, shipments lose the
    # pins that only keep churn down, so the reference is free to assign as it likes.
    fresh = replace(
        outcome.engine_input,
        vehicles=tuple(replace(v, initial=()) for v in outcome.engine_input.vehicles),
        shipments=tuple(
            replace(s, skills=frozenset(k for k in s.skills if k < RIDER_SKILL_BASE))
            for s in outcome.engine_input.shipments
        ),
    )
    reference = VroomEngine(exploration_level=5).solve(fresh, reference_s)
    assigned = len(fresh.shipments) + len(fresh.drops)
    return {
        "replan_cost_s": outcome.plan.cost_s,
        "reference_cost_s": float(reference.cost),
        "cost_ratio_vs_30s": round(outcome.plan.cost_s / reference.cost, 4)
        if reference.cost
        else 1.0,
        "reference_s": reference_s,
        "reference_unassigned": len(reference.unassigned),
        "replan_unassigned": assigned - len(outcome.plan.assigned_tasks()),
    }


def _service(config: DispatchBenchConfig, quick: bool) -> dict[str, Any]:
    scenario = generate_scenario(orders=60, couriers=6) if quick else load_scenario(config.scenario)
    engine = replay(scenario, ReplayConfig(policy="engine", budget_s=config.budget_s)).metrics
    baseline = replay(scenario, ReplayConfig(policy="baseline")).metrics
    return {
        "scenario": "generated (quick)" if quick else str(config.scenario),
        "orders": engine.orders,
        "orders_per_rider_hour": engine.orders_per_courier_hour,
        "baseline_orders_per_rider_hour": baseline.orders_per_courier_hour,
        "on_time_rate": engine.on_time_rate,
        "baseline_on_time_rate": baseline.on_time_rate,
        "delivered": engine.delivered,
        "baseline_delivered": baseline.delivered,
        "mean_click_to_door_min": engine.mean_click_to_door_min,
        "baseline_mean_click_to_door_min": baseline.mean_click_to_door_min,
        "km_per_order": engine.km_per_order,
        "baseline_km_per_order": baseline.km_per_order,
        "batch_rate": engine.batch_rate,
        "eta_mae_min": engine.eta_mae_min,
    }


def run_dispatch_bench(
    config: DispatchBenchConfig, quick: bool, progress: Callable[[str], None]
) -> dict[str, Any]:
    progress(f"re-planning {config.tasks} open tasks for {config.riders} riders")
    result, last = _replan_rounds(config, progress)
    progress(f"solving the last instance again with {config.reference_s:g} s")
    result.update(_cost_ratio(last, config.reference_s))
    progress("replaying the day with the engine and with the baseline")
    result.update(_service(config, quick))
    if config.solomon_limit >= 0:
        progress(f"Solomon VRPTW from {config.solomon_dir}")
        result.update(
            solomon_summary(config.solomon_dir, config.solomon_budget_s, config.solomon_limit)
        )
    else:
        result["solomon_skipped"] = "--solomon-limit -1"
    return result
