"""The live dispatch loop: read the fleet and the open work, re-plan under a hard budget,
apply the plan without churn, store it.

One run (:meth:`DispatchLoop.run_once`):

1. in one transaction: apply the simulated carrier's due callbacks, fail tasks of cancelled
   orders (cancelling their carrier bookings), create tasks for newly allocated orders, read
   each courier's position and compartments, enforce the cold chain (flags, releases), and
   read every live task;
2. outside any transaction: solve with H5's planner (:mod:`cloud.dispatch.planner`) in a
   worker thread; a failing or overrunning solver keeps the previous plan in force;
3. in a second transaction: store the run in ``dispatch_plans`` and, when a plan came back,
   apply it task by task with updates conditional on each task's status and version (a rider
   who accepted meanwhile wins; nothing is assigned twice), then hand overflow to the carrier.

The background task runs a re-plan every ``dispatch_interval_s`` and, within
:data:`EVENT_POLL_S`, when new orders are waiting for a task or :meth:`DispatchLoop.notify` is
called (a rider gave a task back, a courier was registered). While it runs (and
``dispatch_background`` is on), every re-plan also hands its snapshot to a from-scratch solve in
a worker process (:mod:`cloud.dispatch.improver`); a later re-plan adopts that result through
the planner's churn rule, so the plan in force never regresses and locked work never moves.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from cloud.carriers import Carrier, carrier_for
from cloud.carriers.simulated import SimulatedCarrier
from cloud.catalog_models import Node
from cloud.db import Database
from cloud.dispatch.engine import RoutingEngine
from cloud.dispatch.eta import GpsFix, Point, SpeedModel, TravelModel
from cloud.dispatch.improver import BackgroundImprover
from cloud.dispatch.planner import Planner, PlannerConfig, PlanOutcome
from cloud.dispatch.problem import Plan, Problem
from cloud.dispatch_live import (
    LIVE,
    LOCKED,
    PLANNED,
    LiveCourier,
    LiveTask,
    assignments,
    live_problem,
    plan_from_json,
    plan_json,
)
from cloud.dispatch_stats import LatencySummary, ReplanStats
from cloud.fleet_models import DeliveryTask, DispatchPlanRow
from cloud.fleet_rules import current_shift
from cloud.fleet_schemas import (
    BackgroundSolveOut,
    DispatchRunOut,
    DispatchStatsOut,
    LatencyOut,
)
from cloud.order_models import OrderLine
from cloud.services.carrier_shipments import (
    REFUSED,
    cancel_shipment,
    hand_over,
    simulated_updates,
)
from cloud.services.delivery_tasks import (
    TaskTiming,
    change_task,
    close_tasks_of_closed_orders,
    create_tasks,
    refresh_tasks,
    waiting_lines,
)
from cloud.services.fleet import CourierLive, live_couriers, shifts_of
from cloud.services.fleet_cold_chain import enforce_cold_chain
from cloud.settings import Settings

log = logging.getLogger(__name__)

EVENT_POLL_S: Final = 2.0
HORIZON: Final = timedelta(hours=8)
KEEP_PLANS: Final = timedelta(days=2)
# A planned time that moved less than this is not rewritten (fewer writes, same answer).
ETA_SLACK_S: Final = 30.0


@dataclass
class _Snapshot:
    couriers: list[CourierLive]
    tasks: list[DeliveryTask]
    points: dict[str, Point]  # node id -> location
    created: int
    flags: int


class DispatchLoop:
    def __init__(
        self,
        database: Database,
        settings: Settings,
        *,
        engine: RoutingEngine | None = None,
        carrier: Carrier | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.database = database
        self.interval_s = settings.dispatch_interval_s
        self.budget_s = settings.dispatch_budget_s
        # The planner keeps its budget itself; this only guards against a hung engine.
        self.hang_after_s = self.budget_s * 5 + 5.0
        self.carrier = carrier if carrier is not None else carrier_for(settings.dispatch_carrier)
        self.timing = TaskTiming(
            handling=timedelta(minutes=settings.handling_minutes),
            max_late=timedelta(minutes=settings.dispatch_max_late_min),
            horizon=HORIZON,
        )
        self.speeds = SpeedModel(default_mps=settings.delivery_speed_kmh / 3.6)
        self.background = settings.dispatch_background
        self.improver: BackgroundImprover | None = None
        self.stats = ReplanStats()
        self._engine = engine
        self._planner: Planner | None = None
        self.clock = clock or (lambda: datetime.now(UTC))
        self.previous: Plan | None = None
        self._loaded = False
        self._lock = asyncio.Lock()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._inflight: asyncio.Future[PlanOutcome] | None = None
        self._seen_fix: dict[str, datetime] = {}

    @property
    def planner(self) -> Planner:
        """Built on first use: pyvroom imports pandas (~1.5 s), which an API process that
        never dispatches should not pay for at start-up."""
        if self._planner is None:
            engine = self._engine
            if engine is None:
                from cloud.dispatch.vroom_engine import VroomEngine

                engine = VroomEngine()
            self._planner = Planner(
                engine,
                TravelModel(self.speeds),
                PlannerConfig(
                    budget_s=self.budget_s,
                    carrier_overflow=self.carrier is not None,
                    horizon_s=HORIZON.total_seconds(),
                ),
                self.improver,
            )
        return self._planner

    # -- background -------------------------------------------------------------------------

    def notify(self) -> None:
        """Re-plan soon (a task came free, a courier was added)."""
        self._wake.set()

    async def start(self) -> None:
        if self.interval_s > 0 and self._task is None:
            if self.background:
                self.start_background_solve()
            self._task = asyncio.create_task(self._run(), name="dispatch-loop")

    def start_background_solve(self) -> None:
        """Hand every re-plan's snapshot to a from-scratch solve in a worker process (started
        with the first snapshot); a re-plan without a new result then solves only once."""
        if self.improver is None:
            self.improver = BackgroundImprover()
            if self._planner is not None:
                self._planner.improver = self.improver

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        improver, self.improver = self.improver, None
        if improver is not None:
            if self._planner is not None:
                self._planner.improver = None
            await asyncio.to_thread(improver.close)  # waits a few seconds at most for the worker

    async def _run(self) -> None:
        last = 0.0
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), EVENT_POLL_S)
            woken = self._wake.is_set()
            self._wake.clear()
            try:
                due = time.monotonic() - last >= self.interval_s
                if due or woken or await self._orders_waiting(self.clock()):
                    last = time.monotonic()
                    await self.run_once(self.clock())
            except Exception:  # the loop must outlive one bad run; the next one tries again
                log.exception("dispatch run failed")

    async def _orders_waiting(self, now: datetime) -> bool:
        async with self.database.sessions() as session:
            found = await session.scalar(
                waiting_lines(now, self.timing).with_only_columns(OrderLine.order_id).limit(1)
            )
        return found is not None

    # -- one run ----------------------------------------------------------------------------

    async def run_once(self, now: datetime) -> DispatchRunOut:
        async with self._lock:
            round_started = time.perf_counter()
            async with self.database.sessions.begin() as session:
                snapshot = await self._read(session, now)
            couriers = [self._live_courier(c, now) for c in snapshot.couriers]
            tasks = [self._live_task(t, snapshot.points) for t in snapshot.tasks]
            self._observe(snapshot.couriers)
            problem = live_problem(now, couriers, tasks)
            # With no courier on shift and no carrier to hand over to there is nothing to
            # plan; solving anyway costs time that grows with the square of the open tasks.
            if not problem.tasks or (not problem.riders and self.carrier is None):
                return DispatchRunOut(
                    applied=False,
                    error=None,
                    tasks=len(problem.tasks),
                    couriers=len(problem.riders),
                    assigned=0,
                    overflow=0,
                    solve_ms=0.0,
                    created_tasks=snapshot.created,
                    flags_raised=snapshot.flags,
                )
            started = time.perf_counter()
            outcome, error = await self._solve(problem)
            solve_ms = (time.perf_counter() - started) * 1000
            async with self.database.sessions.begin() as session:
                await self._store(session, now, outcome, error, solve_ms)
                handed = 0
                if outcome is not None and error is None:
                    handed = await self._apply(session, outcome.plan, snapshot.tasks, now)
                    self.previous = outcome.plan
            plan = outcome.plan if outcome is not None and error is None else None
            self.stats.record(
                at=now,
                solve_ms=solve_ms,
                round_ms=(time.perf_counter() - round_started) * 1000,
                error=error,
                background_adopted=outcome is not None
                and plan is outcome.plan
                and outcome.background_adopted,
            )
            return DispatchRunOut(
                applied=plan is not None,
                error=error,
                tasks=len(problem.tasks),
                couriers=len(problem.riders),
                assigned=len(plan.assigned_tasks()) if plan else 0,
                overflow=handed,
                solve_ms=round(solve_ms, 1),
                created_tasks=snapshot.created,
                flags_raised=snapshot.flags,
            )

    def stats_out(self) -> DispatchStatsOut:
        """The loop's figures since this process started (``GET /api/v1/dispatch/stats``)."""
        stats, improver = self.stats, self.improver
        return DispatchStatsOut(
            running=self._task is not None,
            interval_s=self.interval_s,
            budget_s=self.budget_s,
            replans=stats.replans,
            applied=stats.applied,
            kept_previous=stats.kept_previous,
            recent=len(stats.solve_ms),
            solve=_latency_out(stats.solve_latency()),
            round=_latency_out(stats.round_latency()),
            last_replan_at=stats.last_replan_at,
            last_error=stats.last_error,
            background=BackgroundSolveOut(
                enabled=improver is not None,
                busy=improver is not None and improver.busy,
                solves=improver.solved if improver is not None else 0,
                adopted=stats.background_adopted,
                last_error=improver.last_error if improver is not None else None,
            ),
        )

    async def _read(self, session: AsyncSession, now: datetime) -> _Snapshot:
        for task, was in await close_tasks_of_closed_orders(session=session, now=now):
            if was == "carrier" and self.carrier is not None:
                await cancel_shipment(
                    session=session, carrier=self.carrier, task_id=task.id, now=now
                )
        if isinstance(self.carrier, SimulatedCarrier):
            await simulated_updates(session=session, carrier=self.carrier, now=now)
        await refresh_tasks(session=session, now=now, timing=self.timing)
        created = await create_tasks(session=session, now=now, timing=self.timing)
        couriers = await live_couriers(session=session, now=now)
        flags = await enforce_cold_chain(session=session, couriers=couriers, now=now)
        tasks = list(
            (
                await session.scalars(
                    select(DeliveryTask)
                    .where(DeliveryTask.status.in_(LIVE))
                    .order_by(DeliveryTask.id)
                    .execution_options(populate_existing=True)
                )
            ).all()
        )
        node_ids = {t.pickup_node_id for t in tasks}
        points = {
            n.id: Point(n.lat, n.lon)
            for n in await session.scalars(select(Node).where(Node.id.in_(node_ids)))
        }
        if not self._loaded:
            await self._load_previous(session)
        return _Snapshot(couriers, tasks, points, len(created), flags)

    async def _load_previous(self, session: AsyncSession) -> None:
        row = await session.scalar(
            select(DispatchPlanRow)
            .where(DispatchPlanRow.applied.is_(True))
            .order_by(DispatchPlanRow.id.desc())
            .limit(1)
        )
        if row is not None and self.previous is None:
            self.previous = plan_from_json(row.routes)
        self._loaded = True

    @staticmethod
    def _live_courier(live: CourierLive, now: datetime) -> LiveCourier:
        return LiveCourier(
            id=live.courier.id,
            capacity=live.courier.capacity,
            skills=live.skills,
            shift=current_shift(shifts_of(live.courier), now),
            position=live.point,
        )

    @staticmethod
    def _live_task(task: DeliveryTask, points: dict[str, Point]) -> LiveTask:
        return LiveTask(
            id=task.id,
            pickup=points[task.pickup_node_id],
            dropoff=Point(task.drop_lat, task.drop_lon),
            ready_at=task.ready_at,
            window_end=task.window_end,
            deadline=task.deadline,
            temperature_class=task.temperature_class,
            size=task.size,
            service=task.service,
            status=task.status,
            courier_id=task.courier_id,
            picked_up_at=task.picked_up_at,
            carrier_refused=(task.failure_reason or "").startswith(REFUSED),
            declined_by=frozenset(task.declined_by),
            priority=task.priority,
        )

    def _observe(self, couriers: Sequence[CourierLive]) -> None:
        """Fold each courier's newest fix into the learned speeds (once per fix)."""
        for live in couriers:
            position = live.position
            if position.source == "home" or self._seen_fix.get(live.courier.id) == position.time:
                continue
            self._seen_fix[live.courier.id] = position.time
            self.speeds.observe(
                GpsFix(live.courier.id, position.time.timestamp(), position.lat, position.lon)
            )

    async def _solve(self, problem: Problem) -> tuple[PlanOutcome | None, str | None]:
        """The planner's outcome, or the reason the previous plan stays in force.

        A solve that does not answer within ``hang_after_s`` is abandoned (a thread
        cannot be killed); until it ends, runs do not start another one beside it."""
        if self._inflight is not None and not self._inflight.done():
            return None, "the previous solve is still running; previous plan kept"
        self._inflight = asyncio.ensure_future(asyncio.to_thread(self._replan, problem))
        try:
            outcome = await asyncio.wait_for(
                asyncio.shield(self._inflight), timeout=self.hang_after_s
            )
        except TimeoutError:
            return None, (
                f"the solver gave no answer within {self.hang_after_s:g} s "
                f"(budget {self.budget_s:g} s); previous plan kept"
            )
        except Exception as exc:  # a crashing engine must not take the service down
            log.exception("dispatch solver crashed")
            return None, f"the solver failed ({type(exc).__name__}: {exc}); previous plan kept"
        if not outcome.applied:
            return outcome, f"{outcome.error}; previous plan kept"
        return outcome, None

    def _replan(self, problem: Problem) -> PlanOutcome:
        return self.planner.replan(problem, self.previous)

    async def _store(
        self,
        session: AsyncSession,
        now: datetime,
        outcome: PlanOutcome | None,
        error: str | None,
        solve_ms: float,
    ) -> None:
        applied = outcome is not None and error is None
        routes = plan_json(outcome) if outcome is not None and applied else {"routes": {}}
        session.add(
            DispatchPlanRow(
                created_at=now,
                applied=applied,
                error=error,
                solve_ms=round(solve_ms, 3),
                cost_s=outcome.plan.cost_s if outcome is not None and applied else 0.0,
                routes=routes,
            )
        )
        await session.execute(
            delete(DispatchPlanRow).where(DispatchPlanRow.created_at < now - KEEP_PLANS)
        )

    async def _apply(
        self, session: AsyncSession, plan: Plan, tasks: Sequence[DeliveryTask], now: datetime
    ) -> int:
        """Apply ``plan``; returns how many tasks went to the carrier."""
        planned = assignments(plan)
        overflow = set(plan.overflow)
        handed = 0
        for task in tasks:
            target = planned.get(task.id)
            refused_before = (task.failure_reason or "").startswith(REFUSED)
            if task.id in overflow and self.carrier is not None and not refused_before:
                refused = await hand_over(session=session, carrier=self.carrier, task=task, now=now)
                if refused is not None:
                    log.info("carrier refused task %s: %s", task.id, refused)
                else:
                    handed += 1
                continue
            if target is None:
                if task.status == "assigned":  # no longer in the plan: open for the next run
                    await change_task(
                        session=session,
                        task=task,
                        expect=("assigned",),
                        values={
                            "status": "open",
                            "courier_id": None,
                            "planned_pickup_at": None,
                            "planned_drop_at": None,
                        },
                        now=now,
                    )
                continue
            if task.status in LOCKED and task.courier_id != target.courier_id:
                continue  # the planner never moves locked work; a stale row must not either
            values: dict[str, object] = {}
            moved = task.status != "assigned" or task.courier_id != target.courier_id
            if task.status in PLANNED and moved:
                values.update(status="assigned", courier_id=target.courier_id)
            if target.pickup_at is not None and _moved(task.planned_pickup_at, target.pickup_at):
                values["planned_pickup_at"] = target.pickup_at
            if _moved(task.planned_drop_at, target.drop_at):
                values["planned_drop_at"] = target.drop_at
            if values:
                await change_task(
                    session=session, task=task, expect=(task.status,), values=values, now=now
                )
        return handed


def _latency_out(summary: LatencySummary) -> LatencyOut:
    return LatencyOut(
        p50_ms=_ms(summary.p50_ms), p99_ms=_ms(summary.p99_ms), max_ms=_ms(summary.max_ms)
    )


def _ms(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def _moved(old: datetime | None, new: datetime) -> bool:
    return old is None or abs((old - new).total_seconds()) > ETA_SLACK_S
