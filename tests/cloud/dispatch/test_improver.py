"""The from-scratch solve off the critical path: its result by task and rider id, the worker
process, and how a re-plan adopts it through the churn rule."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from cloud.dispatch.build import BuildRequest, Tier, instance_points
from cloud.dispatch.engine import EngineInput, EngineSolution, StepKind
from cloud.dispatch.improver import BackgroundImprover, Improvement, solve_from_scratch
from cloud.dispatch.planner import Planner, PlannerConfig
from cloud.dispatch.problem import Plan, PlannedStop, Problem, StopKind
from cloud.dispatch.vroom_engine import VroomEngine
from tests.cloud.dispatch.helpers import east, rider, task, travel


def _request(riders, tasks, now: float = 0.0) -> BuildRequest:
    return BuildRequest(
        now_s=now,
        riders=tuple(riders),
        tasks=tuple(tasks),
        tiers={t.id: Tier.TARGET for t in tasks},
        pins={},
        seeds={"a": [("t0", StopKind.PICKUP)]},
        pickup_not_before_s={},
        horizon_s=8 * 3600,
        durations=travel().duration_matrix_s(instance_points(riders, tasks), now),
    )


def _two_clusters() -> BuildRequest:
    riders = [rider("a", east(0)), rider("b", east(8000))]
    # Promised within 20 minutes: neither rider can reach the other cluster in time.
    due = {"target_s": 1200.0, "deadline_s": 1200.0}
    tasks = [task(f"w{i}", east(100 * i), east(100 * i, 400), **due) for i in range(3)]
    tasks += [
        task(f"e{i}", east(8000 + 100 * i), east(8000 + 100 * i, 400), **due) for i in range(3)
    ]
    return _request(riders, tasks)


def test_solve_from_scratch_returns_routes_by_rider_and_task() -> None:
    result = solve_from_scratch(_two_clusters(), exploration_level=2, threads=1, budget_s=2.0)
    assert result.unassigned == 0 and result.cost > 0 and result.snapshot_s == 0.0
    assert set(result.seeds) == {"a", "b"}
    for rider_id, prefix in (("a", "w"), ("b", "e")):
        stops = result.seeds[rider_id]
        assert sorted(stops) == sorted(
            (f"{prefix}{i}", kind) for i in range(3) for kind in StopKind
        )
        for i in range(3):
            pickup = stops.index((f"{prefix}{i}", StopKind.PICKUP))
            assert pickup < stops.index((f"{prefix}{i}", StopKind.DROPOFF))


def test_worker_process_solves_snapshots_and_reports_failures() -> None:
    bad = replace(_two_clusters(), durations=_two_clusters().durations[:2, :2])
    with BackgroundImprover(exploration_level=2, threads=1, budget_s=2.0) as improver:
        assert improver.take() is None
        assert improver.submit(bad)
        assert improver.wait(60.0)
        assert improver.take() is None  # the bad snapshot failed: reported, never raised
        assert improver.last_error is not None
        assert improver.last_error.startswith("background solve failed")
        assert improver.submit(_two_clusters())
        assert improver.wait(60.0)
        result = improver.take()
        assert result is not None and result.unassigned == 0
        assert {t for stops in result.seeds.values() for t, _ in stops} == {
            "w0",
            "w1",
            "w2",
            "e0",
            "e1",
            "e2",
        }
        assert improver.take() is None  # handed over once
        assert improver.solved == 1
    # Closed (a re-plan still running may call it): no new snapshot, nothing handed out.
    assert improver.closed and not improver.submit(_two_clusters())
    assert improver.take() is None and not improver.busy


@dataclass
class _FakeImprover:
    """Hands out a fixed result once and records the snapshots it was given."""

    result: Improvement | None
    submitted: list[BuildRequest] = field(default_factory=list)

    def take(self) -> Improvement | None:
        result, self.result = self.result, None
        return result

    def submit(self, request: BuildRequest) -> bool:
        self.submitted.append(request)
        return True


@dataclass
class _Recording:
    inputs: list[EngineInput] = field(default_factory=list)

    def solve(self, problem: EngineInput, budget_s: float) -> EngineSolution:
        self.inputs.append(problem)
        return VroomEngine().solve(problem, budget_s)


def _stops(task_id: str) -> tuple[PlannedStop, PlannedStop]:
    return (
        PlannedStop(task_id, StopKind.PICKUP, 0, 0),
        PlannedStop(task_id, StopKind.DROPOFF, 0, 0),
    )


def _swapped() -> tuple[Problem, Plan, Improvement]:
    """The plan in force has each rider serve the far cluster; the background found the swap."""
    a, b = rider("a", east(0)), rider("b", east(8000))
    west, far_east = task("w", east(100), east(100, 400)), task("e", east(8100), east(8100, 400))
    previous = Plan(0, {"a": _stops("e"), "b": _stops("w")})
    fresh = Improvement(
        {
            "a": (("w", StopKind.PICKUP), ("w", StopKind.DROPOFF)),
            "b": (("e", StopKind.PICKUP), ("e", StopKind.DROPOFF)),
        },
        cost=200,
        unassigned=0,
        snapshot_s=0.0,
        solve_s=1.0,
    )
    return Problem(0, (a, b), (west, far_east)), previous, fresh


def test_a_background_result_seeds_the_free_solve_and_wins_through_the_churn_rule() -> None:
    problem, previous, fresh = _swapped()
    engine, improver = _Recording(), _FakeImprover(fresh)
    planner = Planner(engine, travel(), PlannerConfig(reassign_gain_s=60.0), improver)
    outcome = planner.replan(problem, previous)
    assert outcome.applied and outcome.background_adopted
    assert outcome.plan.rider_of("w") == "a" and outcome.plan.rider_of("e") == "b"
    assert outcome.reassigned == ("e", "w")
    # First the sticky solve seeded with the plan in force, then the free one with the result.
    sticky, free = engine.inputs[:2]
    kinds = {v.id: [(s.kind, s.job_id) for s in v.initial] for v in free.vehicles}
    assert kinds == {
        1: [(StepKind.PICKUP, 1), (StepKind.DELIVERY, 2)],
        2: [(StepKind.PICKUP, 3), (StepKind.DELIVERY, 4)],
    }
    assert {v.id: [s.job_id for s in v.initial] for v in sticky.vehicles} == {1: [3, 4], 2: [1, 2]}
    # The snapshot goes to the background solver without seeds or churn pins.
    assert len(improver.submitted) == 1
    assert improver.submitted[0].seeds == {} and improver.submitted[0].pins == {}


def test_without_a_new_result_a_replan_solves_once_and_keeps_its_riders() -> None:
    problem, previous, _ = _swapped()
    engine, improver = _Recording(), _FakeImprover(None)
    planner = Planner(engine, travel(), PlannerConfig(reassign_gain_s=60.0), improver)
    outcome = planner.replan(problem, previous)
    assert outcome.applied and outcome.solves == 1 and len(engine.inputs) == 1
    assert not outcome.background_adopted
    assert outcome.plan.rider_of("w") == "b" and outcome.plan.rider_of("e") == "a"
    assert outcome.reassigned == ()
    assert len(improver.submitted) == 1


def test_a_background_result_below_the_churn_threshold_is_not_adopted() -> None:
    problem, previous, fresh = _swapped()
    planner = Planner(
        VroomEngine(), travel(), PlannerConfig(reassign_gain_s=100_000.0), _FakeImprover(fresh)
    )
    outcome = planner.replan(problem, previous)
    assert outcome.applied and outcome.reassigned == () and not outcome.background_adopted
    assert outcome.plan.rider_of("w") == "b" and outcome.plan.rider_of("e") == "a"
