"""Live state to a problem, plans to JSON and back, the simulated carrier (pure)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from cloud.carriers import CarrierError, ShipmentRequest, SimulatedCarrier, carrier_for
from cloud.carriers.simulated import Booked
from cloud.dispatch.eta import Point, SpeedModel, TravelModel
from cloud.dispatch.planner import Planner, PlannerConfig
from cloud.dispatch.problem import TaskState
from cloud.dispatch.vroom_engine import VroomEngine
from cloud.dispatch_live import (
    LiveCourier,
    LiveTask,
    assignments,
    live_problem,
    plan_from_json,
    plan_json,
)

NOW = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)
XUHUI = Point(31.1880, 121.4370)
HOME = Point(31.1900, 121.4380)
FAR = Point(31.2000, 121.4500)


def courier(
    courier_id: str, *, on_shift: bool = True, skills: frozenset[str] = frozenset()
) -> LiveCourier:
    shift = (NOW - timedelta(hours=1), NOW + timedelta(hours=3)) if on_shift else None
    return LiveCourier(courier_id, 4, skills, shift, XUHUI)


def task(task_id: str, status: str = "open", **changes: object) -> LiveTask:
    fields: dict[str, object] = {
        "id": task_id,
        "pickup": XUHUI,
        "dropoff": HOME,
        "ready_at": NOW,
        "window_end": NOW + timedelta(minutes=30),
        "deadline": NOW + timedelta(minutes=60),
        "temperature_class": "ambient",
        "size": 1,
        "service": {},
        "status": status,
        "courier_id": None,
        "picked_up_at": None,
    }
    fields.update(changes)
    return LiveTask(**fields)  # type: ignore[arg-type]


def test_statuses_map_to_planner_states_and_locks() -> None:
    tasks = [
        task("t-open"),
        task("t-assigned", "assigned", courier_id="r1"),
        task("t-accepted", "accepted", courier_id="r1"),
        task(
            "t-carried", "picked_up", courier_id="r2", picked_up_at=NOW, temperature_class="chilled"
        ),
        task("t-done", "delivered", courier_id="r1"),
        task(
            "t-cold",
            temperature_class="frozen",
            service={"unboxing_inspection": True},
            priority=50,
        ),
    ]
    problem = live_problem(
        NOW, [courier("r1"), courier("r2", on_shift=False), courier("r3", on_shift=False)], tasks
    )
    by_id = {t.id: t for t in problem.tasks}
    assert set(by_id) == {"t-open", "t-assigned", "t-accepted", "t-carried", "t-cold"}
    assert by_id["t-assigned"].state is TaskState.OPEN and by_id["t-assigned"].rider_id is None
    assert (by_id["t-accepted"].state, by_id["t-accepted"].rider_id) == (TaskState.ACCEPTED, "r1")
    carried = by_id["t-carried"]
    assert (carried.state, carried.rider_id, carried.picked_up_s) == (
        TaskState.CARRIED,
        "r2",
        NOW.timestamp(),
    )
    assert carried.skills == frozenset()  # goods on board stay whatever the compartment does
    assert carried.max_ride_s == 45 * 60
    cold = by_id["t-cold"]
    assert cold.skills == {"frozen"} and cold.dropoff_service_s == 480.0
    assert cold.priority == 50 and by_id["t-open"].priority == 0
    assert cold.target_s == (NOW + timedelta(minutes=30)).timestamp()
    # r2 is off shift but carries goods: it stays (shift over now); r3 is dropped.
    assert [(r.id, r.shift_end_s) for r in problem.riders] == [
        ("r1", (NOW + timedelta(hours=3)).timestamp()),
        ("r2", NOW.timestamp()),
    ]


def test_a_task_given_back_is_never_planned_for_who_declined_it() -> None:
    planner = Planner(
        VroomEngine(), TravelModel(SpeedModel(default_mps=5.0)), PlannerConfig(budget_s=1.0)
    )
    declined = task("t1", declined_by=frozenset({"r1"}))
    alone = planner.replan(live_problem(NOW, [courier("r1")], [declined]), None)
    assert alone.applied and alone.plan.assigned_tasks() == frozenset()
    assert alone.plan.unassigned == ("t1",)
    # r2 is far away, r1 next door: still r2.
    far = LiveCourier("r2", 4, frozenset(), (NOW, NOW + timedelta(hours=3)), FAR)
    both = planner.replan(live_problem(NOW, [courier("r1"), far], [declined, task("t2")]), None)
    assert both.plan.rider_of("t1") == "r2"


def test_a_plan_round_trips_through_json_and_lists_assignments() -> None:
    planner = Planner(
        VroomEngine(), TravelModel(SpeedModel(default_mps=5.0)), PlannerConfig(budget_s=1.0)
    )
    problem = live_problem(NOW, [courier("r1")], [task("t1"), task("t2", dropoff=FAR)])
    outcome = planner.replan(problem, None)
    assert outcome.applied and outcome.plan.assigned_tasks() == {"t1", "t2"}
    stored = plan_json(outcome)
    again = plan_from_json(stored)
    assert {r: [(s.task_id, s.kind) for s in stops] for r, stops in again.routes.items()} == {
        r: [(s.task_id, s.kind) for s in stops] for r, stops in outcome.plan.routes.items()
    }
    found = assignments(again)
    assert set(found) == {"t1", "t2"} and {a.courier_id for a in found.values()} == {"r1"}
    for assignment in found.values():
        assert assignment.pickup_at is not None and NOW <= assignment.pickup_at < assignment.drop_at


def _request(
    task_id: str = "o-1@fw", size: int = 2, temperature_class: str = "chilled"
) -> ShipmentRequest:
    return ShipmentRequest(
        task_id=task_id,
        order_id="o-1",
        pickup=XUHUI,
        dropoff=FAR,
        ready_at=NOW + timedelta(minutes=15),
        deliver_by=NOW + timedelta(minutes=60),
        temperature_class=temperature_class,
        size=size,
    )


def test_the_simulated_carrier_is_deterministic() -> None:
    carrier = carrier_for("simulated")
    assert isinstance(carrier, SimulatedCarrier) and carrier_for("none") is None
    first, second = carrier.create(_request(), NOW), SimulatedCarrier().create(_request(), NOW)
    assert first == second and first.external_id.startswith("sim-")
    assert first.pickup_eta == NOW + timedelta(minutes=15)  # ready later than the 10-min lead
    ride = (first.drop_eta - first.pickup_eta).total_seconds()
    assert 400 < ride < 600  # ~1.9 km × 1.3 at 5 m/s
    with pytest.raises(CarrierError, match="size: 21 units"):
        carrier.create(_request(size=21), NOW)
    with pytest.raises(CarrierError, match="temperature_class"):
        carrier.create(_request(temperature_class="frozen"), NOW)
    with pytest.raises(ValueError, match="unknown carrier"):
        carrier_for("shunfeng")


def test_simulated_callbacks_come_due_in_order() -> None:
    carrier = SimulatedCarrier()
    booking = carrier.create(_request(), NOW)
    booked = Booked(booking.external_id, "created", booking.pickup_eta, booking.drop_eta)
    assert carrier.due_updates([booked], NOW) == []
    at_pickup = carrier.due_updates([booked], booking.pickup_eta)
    assert [b["status"] for b in at_pickup] == ["picked_up"]
    later = carrier.due_updates([booked], booking.drop_eta)
    assert [b["status"] for b in later] == ["picked_up", "delivered"]
    picked = Booked(booking.external_id, "picked_up", booking.pickup_eta, booking.drop_eta)
    assert [b["status"] for b in carrier.due_updates([picked], booking.drop_eta)] == ["delivered"]
    update = carrier.parse_callback(later[1])
    assert (update.external_id, update.status, update.at) == (
        booking.external_id,
        "delivered",
        booking.drop_eta,
    )
    with pytest.raises(ValueError, match="status"):
        carrier.parse_callback({**later[1], "status": "teleported"})
