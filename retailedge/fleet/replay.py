"""Replay a recorded day: the real dispatch loop (or the baseline) in simulated time.

Each simulated minute: couriers move, finished stops are recorded, new orders appear, GPS fixes
feed the speed model, and the policy dispatches. The engine re-plans when orders arrived, a courier
came free or ``replan_every_min`` passed; the plan is applied to every courier's remaining route
while the stop each courier is on stays locked.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from cloud.dispatch.baseline import assign_nearest_idle
from cloud.dispatch.eta import GpsFix, Point, SpeedModel, TravelModel, detour_sums
from cloud.dispatch.planner import Planner, PlannerConfig
from cloud.dispatch.problem import Plan, Problem, Rider, StopKind, Task, TaskState
from cloud.dispatch.vroom_engine import VroomEngine
from retailedge.fleet.metrics import FleetMetrics, summarize
from retailedge.fleet.scenario import Scenario
from retailedge.fleet.world import CourierState, OrderState, Stop, Visit, World

TICK_S = 60.0
DETOUR_REFIT_S = 3600.0
TAIL_S = 6 * 3600.0


@dataclass(frozen=True)
class ReplayConfig:
    policy: str = "engine"  # or "baseline"
    budget_s: float = 1.0
    replan_every_min: float = 5.0
    reassign_gain_s: float = 120.0


@dataclass
class SimClock:
    """Simulated time in seconds since midnight of the recorded day."""

    now_s: float

    def tick(self) -> float:
        self.now_s += TICK_S
        return self.now_s


@dataclass
class _Dispatcher:
    travel: TravelModel
    planner: Planner
    plan: Plan | None = None
    last_replan_s: float = -1e18
    replan_ms: list[float] = field(default_factory=list)
    errors: int = 0


def _rider(world: World, c: CourierState, now_s: float) -> Rider:
    if c.current is not None:
        position, available = c.current.target, c.current.done_s
    else:
        position, available = c.position, now_s
    return Rider(
        id=c.courier.id,
        position=position,
        available_s=available,
        shift_end_s=c.off_s,
        capacity=world.params.courier_capacity,
    )


def _task(world: World, state: OrderState, c: CourierState | None) -> Task:
    p = world.params
    order = state.order
    placed = order.placed_min * 60
    carried_by = None
    picked = state.picked_s
    if c is not None:
        carried_by = c.courier.id
        if picked is None and c.current is not None:
            picked = c.current.service_start_s
    return Task(
        id=order.id,
        pickup=state.pickup_point,
        dropoff=order.point,
        ready_s=order.ready_min * 60,
        target_s=placed + p.target_click_to_door_min * 60,
        deadline_s=placed + p.max_click_to_door_min * 60,
        pickup_service_s=p.pickup_service_min * 60,
        dropoff_service_s=p.dropoff_service_min * 60,
        max_ride_s=None if p.max_ride_min is None else p.max_ride_min * 60,
        state=TaskState.OPEN if c is None else TaskState.CARRIED,
        rider_id=carried_by,
        picked_up_s=picked,
    )


def build_problem(world: World, visible: list[OrderState], now_s: float) -> Problem:
    """Live state as the dispatcher sees it; a stop in progress counts as done."""
    riders = []
    carried: dict[str, CourierState] = {}
    busy: set[str] = set()
    for c in world.couriers.values():
        holds = bool(c.onboard) or c.current is not None
        if not (c.on_shift(now_s) or holds):
            continue
        riders.append(_rider(world, c, now_s))
        for order_id in c.onboard:
            carried[order_id] = c
        if c.current is not None:
            if c.current.stop.kind is StopKind.PICKUP:
                carried[c.current.stop.order_id] = c
            else:
                busy.add(c.current.stop.order_id)
    tasks = []
    for state in visible:
        if state.delivered_s is not None or state.order.id in busy:
            continue
        tasks.append(_task(world, state, carried.get(state.order.id)))
    return Problem(now_s, tuple(riders), tuple(tasks))


def apply_plan(world: World, plan: Plan) -> None:
    """Every courier's remaining route becomes its route in the plan (the current stop stays)."""
    for c in world.couriers.values():
        stops = plan.routes.get(c.courier.id, ())
        c.route = [Stop(s.task_id, s.kind) for s in stops]


def predict_drop_s(
    world: World, travel: TravelModel, here: Point, t_s: float, route: list[Stop], order_id: str
) -> float | None:
    """Model ETA (end of the drop) of ``order_id`` along a courier's remaining route."""
    t = t_s
    for stop in route:
        there = world.stop_point(stop)
        t += travel.seconds(here, there, t)
        if stop.kind is StopKind.PICKUP:
            t = max(t, world.orders[stop.order_id].order.ready_min * 60)
            t += world.params.pickup_service_min * 60
        else:
            t += world.params.dropoff_service_min * 60
            if stop.order_id == order_id:
                return t
        here = there
    return None


@dataclass(frozen=True)
class ReplayResult:
    metrics: FleetMetrics
    orders: dict[str, OrderState]
    couriers: dict[str, CourierState]


def replay(
    scenario: Scenario, config: ReplayConfig, progress: Callable[[str], None] | None = None
) -> ReplayResult:
    if config.policy not in ("engine", "baseline"):
        raise ValueError(f"policy must be engine or baseline, got {config.policy!r}")
    pickups = {p.id: p.point for p in scenario.pickups}
    orders = {o.id: OrderState(o, pickups[o.pickup_id]) for o in scenario.orders}
    speeds = SpeedModel(default_mps=scenario.params.speed_m_per_min / 60)
    travel = TravelModel(speeds)

    def predict(c: CourierState, visit: Visit) -> None:
        state = orders[visit.stop.order_id]
        state.predicted_drop_s = predict_drop_s(
            world, travel, visit.target, visit.done_s, c.route, state.order.id
        )

    world = World(scenario.params, scenario.couriers, orders, on_pickup=predict)
    planner = Planner(
        VroomEngine(),
        travel,
        PlannerConfig(budget_s=config.budget_s, reassign_gain_s=config.reassign_gain_s),
    )
    dispatcher = _Dispatcher(travel, planner)
    fixes: list[GpsFix] = []
    pending = sorted(scenario.orders, key=lambda o: (o.placed_min, o.id))
    start = min([o.placed_min for o in scenario.orders] + [c.on_min for c in scenario.couriers])
    end = max([o.placed_min for o in scenario.orders] + [c.off_min for c in scenario.couriers])
    clock = SimClock(start * 60)
    visible: list[OrderState] = []
    next_refit = clock.now_s + DETOUR_REFIT_S
    path_total = straight_total = 0.0
    while clock.now_s <= end * 60 + TAIL_S:
        now = clock.now_s
        freed = False
        for c in world.couriers.values():
            was_busy = c.current is not None or bool(c.route)
            world.advance(c, now)
            freed |= was_busy and c.current is None and not c.route
            if c.on_shift(now) or c.current is not None:
                fix = world.fix(c, now)
                fixes.append(fix)
                speeds.observe(fix)
        arrived = False
        while pending and pending[0].placed_min * 60 <= now:
            visible.append(orders[pending.pop(0).id])
            arrived = True
        if now >= next_refit:
            path, straight = detour_sums(fixes)
            path_total, straight_total = path_total + path, straight_total + straight
            if straight_total > 0:
                travel.detour = max(1.0, path_total / straight_total)
            fixes = [f for f in fixes if f.t_s >= now - TICK_S]  # keep a seam for the next batch
            next_refit += DETOUR_REFIT_S
        if config.policy == "baseline":
            _dispatch_baseline(world, visible, now)
        else:
            due = now - dispatcher.last_replan_s >= config.replan_every_min * 60
            if arrived or freed or due:
                _dispatch_engine(world, dispatcher, visible, now)
        visible = [s for s in visible if s.delivered_s is None]
        if (
            not pending
            and not visible
            and all(c.current is None and not c.route for c in world.couriers.values())
        ):
            break
        clock.tick()
    if progress is not None:
        progress(f"{config.policy}: simulated until minute {clock.now_s / 60:.0f}")
    metrics = summarize(
        config.policy,
        list(orders.values()),
        list(world.couriers.values()),
        scenario.params,
        dispatcher.replan_ms,
        dispatcher.errors,
    )
    return ReplayResult(metrics, orders, world.couriers)


def _dispatch_engine(
    world: World, dispatcher: _Dispatcher, visible: list[OrderState], now_s: float
) -> None:
    problem = build_problem(world, visible, now_s)
    if not problem.tasks:
        dispatcher.last_replan_s = now_s
        return
    started = time.perf_counter()
    outcome = dispatcher.planner.replan(problem, dispatcher.plan)
    dispatcher.replan_ms.append((time.perf_counter() - started) * 1000)
    dispatcher.last_replan_s = now_s
    if not outcome.applied:
        dispatcher.errors += 1
        return
    dispatcher.plan = outcome.plan
    apply_plan(world, outcome.plan)


def _dispatch_baseline(world: World, visible: list[OrderState], now_s: float) -> None:
    idle = [
        c
        for c in world.couriers.values()
        if c.on_shift(now_s) and c.current is None and not c.route
    ]
    waiting = [s for s in visible if s.courier_id is None and not _queued(world, s.order.id)]
    if not idle or not waiting:
        return
    problem = build_problem(world, waiting, now_s)
    riders = [r for r in problem.riders if r.id in {c.courier.id for c in idle}]
    for task_id, rider_id in assign_nearest_idle(riders, problem.tasks):
        world.couriers[rider_id].route = [
            Stop(task_id, StopKind.PICKUP),
            Stop(task_id, StopKind.DROPOFF),
        ]


def _queued(world: World, order_id: str) -> bool:
    return any(s.order_id == order_id for c in world.couriers.values() for s in c.route)
