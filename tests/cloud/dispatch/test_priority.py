"""The order's priority (member rules) with the real engine: when the fleet is short, the priority
order is the one served, on time, and kept from the carrier; without it the other one is."""

from __future__ import annotations

from cloud.dispatch.build import ACCEPTED_PRIORITY, priority
from cloud.dispatch.planner import PlanOutcome
from cloud.dispatch.problem import Plan, PlannedStop, Problem, StopKind, Task
from tests.cloud.dispatch.helpers import east, planner, rider, task

MEMBER_PRIORITY = 50  # the shipped mother-and-baby rules


def _pair(vip_priority: int, **timing: float) -> tuple[Task, Task]:
    """A normal order a little closer (cheaper) than the other, in the opposite direction."""
    normal = task("normal", east(0), east(1500), **timing)
    vip = task("vip", east(0), east(-1600), priority=vip_priority, **timing)
    return normal, vip


def _short_shift(vip_priority: int) -> PlanOutcome:
    """One rider whose shift ends before it could drop both orders."""
    lone = rider("lone", east(0), shift_end_s=900.0)
    return planner().replan(Problem(0, (lone,), _pair(vip_priority)), None)


def test_when_not_all_can_be_served_the_priority_order_is() -> None:
    normal_first = _short_shift(vip_priority=0)
    assert normal_first.plan.assigned_tasks() == {"normal"}
    assert normal_first.plan.unassigned == ("vip",)
    served = _short_shift(vip_priority=MEMBER_PRIORITY)
    assert served.plan.assigned_tasks() == {"vip"}
    assert served.plan.unassigned == ("normal",)


def _one_on_time(vip_priority: int, carrier: bool = False) -> PlanOutcome:
    """Both orders promised so soon that one rider can drop only one of them in time (and,
    with the carrier, the other one only after its latest acceptable time)."""
    lone = rider("lone", east(0))
    tasks = _pair(vip_priority, target_s=560.0, deadline_s=800.0)
    return planner(carrier_overflow=carrier).replan(Problem(0, (lone,), tasks), None)


def test_the_priority_order_is_not_the_one_planned_late() -> None:
    plain = _one_on_time(vip_priority=0)
    assert plain.plan.late == ("vip",) and plain.plan.assigned_tasks() == {"normal", "vip"}
    ranked = _one_on_time(vip_priority=MEMBER_PRIORITY)
    assert ranked.plan.late == ("normal",) and ranked.plan.assigned_tasks() == {"normal", "vip"}
    drop = ranked.plan.dropoff_eta_s("vip")
    assert drop is not None and drop + 60 <= 560.0


def test_the_priority_order_is_not_the_one_given_to_the_carrier() -> None:
    assert _one_on_time(vip_priority=0, carrier=True).plan.overflow == ("vip",)
    ranked = _one_on_time(vip_priority=MEMBER_PRIORITY, carrier=True)
    assert ranked.plan.overflow == ("normal",) and ranked.plan.rider_of("vip") == "lone"


def test_a_late_priority_order_competes_for_its_promise_again() -> None:
    """A task planned late stays relaxed in later re-plans, except a priority one."""
    lone = rider("lone", east(0))
    normal, vip = _pair(MEMBER_PRIORITY, target_s=560.0, deadline_s=3600.0)
    stops = (
        PlannedStop("normal", StopKind.PICKUP, 0, 0),
        PlannedStop("vip", StopKind.PICKUP, 60, 60),
        PlannedStop("normal", StopKind.DROPOFF, 420, 420),
        PlannedStop("vip", StopKind.DROPOFF, 1080, 1080),
    )
    previous = Plan(0, {"lone": stops}, late=("vip",))
    outcome = planner().replan(Problem(0, (lone,), (normal, vip)), previous)
    assert outcome.plan.late == ("normal",)


def test_engine_priority_ranks_member_priority_above_urgency_and_below_accepted_work() -> None:
    relaxed = task("t", east(0), east(100), target_s=7200.0, deadline_s=7200.0)
    urgent = task("u", east(0), east(100), target_s=100.0, deadline_s=7200.0)
    assert priority(relaxed, earliest_drop_s=200.0) == 0
    assert priority(urgent, earliest_drop_s=200.0) == 25
    ranked = task("v", east(0), east(100), target_s=7200.0, deadline_s=7200.0, priority=50)
    assert priority(ranked, earliest_drop_s=200.0) == 30
    top = task("w", east(0), east(100), target_s=100.0, deadline_s=7200.0, priority=100)
    assert priority(top, earliest_drop_s=200.0) == 85 < ACCEPTED_PRIORITY
