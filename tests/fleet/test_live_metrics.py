"""The figures of a live fleet run from its record (pure), the failed reefer's outcome, and the
checks against the cloud's own records."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from retailedge.fleet.live_book import (
    CourierLog,
    FixLog,
    OrderLog,
    ReeferFailure,
    RunBook,
    TaskLog,
)
from retailedge.fleet.live_metrics import consistency, reefer_outcome, service_figures

T0 = datetime(2026, 3, 1, 2, 0, tzinfo=UTC)


def minutes(m: float) -> datetime:
    return T0 + timedelta(minutes=m)


def book() -> RunBook:
    """Three allocated orders (one split over two nodes) and one refused: o1 delivered at 20 min
    after an ETA of 22, riding with o2; o2's two tasks delivered at 50 and 70 min, past its
    promise; o3 never delivered."""
    run = RunBook(started_at=T0, ended_at=minutes(120))
    for external, order_id, promise in (("e1", "o1", 60), ("e2", "o2", 60), ("e3", "o3", 60)):
        run.orders[external] = OrderLog(
            external, "app", 0.0, T0, 201, order_id, "allocated", None, minutes(promise)
        )
    run.orders["e4"] = OrderLog("e4", "tmall", 5.0, T0, 201, "o4", "failed", "no stock", None)
    run.tasks["t1"] = TaskLog(
        "t1", "o1", first_eta=minutes(22), eta_at_pickup=minutes(21), delivered_at=minutes(20),
        delivered_by=["c1"], picked_up_by=["c1"], proof_code="111111", batched=True,
    )  # fmt: skip
    run.tasks["t2a"] = TaskLog(
        "t2a", "o2", first_eta=minutes(40), eta_at_pickup=minutes(50), delivered_at=minutes(50),
        delivered_by=["c1"], picked_up_by=["c1"], proof_code="222222", batched=True,
    )  # fmt: skip
    run.tasks["t2b"] = TaskLog(
        "t2b", "o2", first_eta=minutes(66), delivered_at=minutes(70), delivered_by=["c2"],
        picked_up_by=["c2"], proof_code="333333",
    )  # fmt: skip
    run.tasks["t3"] = TaskLog("t3", "o3", first_eta=minutes(30))
    run.couriers["c1"] = CourierLog("c1", "rider", metres=4000, busy_s=3600, fixes=100)
    run.couriers["c2"] = CourierLog("c2", "van", metres=2000, busy_s=1800, fixes=50, max_load=2)
    return run


def test_service_figures() -> None:
    figures = service_figures(book())
    assert figures == {
        "orders_placed": 4,
        "orders_allocated": 3,
        "orders_not_allocated": 1,
        "delivered": 2,
        "on_time_rate": round(1 / 3, 4),  # o2 is delivered (at its last task) after its promise
        "mean_click_to_door_min": 45.0,
        "p90_click_to_door_min": 70.0,
        "orders_per_courier_hour": round(2 / 1.5, 2),
        "orders_per_shift_hour": round(2 / 4, 2),  # two couriers on a two-hour run
        "batch_rate": round(2 / 3, 4),
        "km_per_order": 3.0,
        "km_total": 6.0,
        # Actual minus first ETA: -2, +10, +4 minutes.
        "eta_mae_min": round(16 / 3, 2),
        "eta_p90_abs_error_min": 10.0,
        "eta_bias_min": round(12 / 3, 2),
        "eta_at_pickup_mae_min": 0.5,  # -1 and 0
        "max_load": 2,
        "gps_fixes": 150,
    }


def test_nothing_delivered_gives_no_averages() -> None:
    empty = RunBook(started_at=T0, ended_at=T0)
    figures = service_figures(empty)
    assert (figures["delivered"], figures["on_time_rate"], figures["km_per_order"]) == (
        0,
        0.0,
        None,
    )
    assert figures["eta_mae_min"] is None and figures["orders_per_shift_hour"] == 0.0


def test_reefer_outcome_follows_its_chilled_tasks() -> None:
    failure = ReeferFailure(
        "r1",
        minutes(10),
        held={"t5": "accepted", "t6": "assigned", "t7": "picked_up"},
        out_of_band_at=minutes(10.1),
        skill_lost_at=minutes(10.25),
    )
    final: dict[str, dict[str, Any]] = {
        "t5": {"status": "delivered", "courier_id": "r2"},
        "t6": {"status": "open", "courier_id": None},
        "t7": {"status": "delivered", "courier_id": "r1"},
    }
    flags = [
        {"courier_id": "r1", "kind": "cold_chain_out_of_band", "task_id": task_id}
        for task_id in ("t7", "t5", "t6", "t5")
    ] + [{"courier_id": "r2", "kind": "cold_chain_out_of_band", "task_id": "t9"}]
    outcome = reefer_outcome(failure, final, flags)
    assert outcome["flagged"] == ["t5", "t6", "t7"]
    assert outcome["skill_lost_after_s"] == 15.0
    assert (
        outcome["replanned"],
        outcome["replanned_delivered_by_others"],
        outcome["on_board_when_failed"],
    ) == (2, 1, 1)
    assert outcome["chilled_tasks_held"][0] == {
        "task_id": "t5",
        "when_failed": "accepted",
        "now": "delivered",
        "courier_id": "r2",
    }


def cloud_view(run: RunBook) -> tuple[dict[str, Any], dict[str, str], dict[str, Any]]:
    tasks = {
        t.task_id: {
            "status": "delivered",
            "courier_id": t.delivered_by[0],
            "proof": {"code": t.proof_code},
        }
        for t in run.tasks.values()
        if t.delivered_at is not None
    }
    statuses = {"o1": "delivered", "o2": "delivered", "o3": "dispatched", "o4": "failed"}
    positions = {
        c.courier_id: {"source": "gps", "lat": 31.2, "lon": 121.4, "time": "2026-03-01T03:00:00Z"}
        for c in run.couriers.values()
    }
    for courier in run.couriers.values():
        courier.last_fix = FixLog(minutes(60), 31.2, 121.4)
    return tasks, statuses, positions


def test_consistency_with_the_cloud() -> None:
    run = book()
    tasks, statuses, positions = cloud_view(run)
    assert consistency(run, tasks, statuses, positions) == {
        "delivered_orders_here": 2,
        "delivered_orders_in_cloud": 2,
        "delivered_orders_match": True,
        "tasks_taken_by_two_couriers": [],
        "deliveries_not_as_recorded": [],
        "positions_not_from_last_fix": [],
    }


@pytest.mark.parametrize(
    ("spoil", "key", "expected"),
    [
        (lambda r, t, s, p: s.update(o3="delivered"), "delivered_orders_match", False),
        (
            lambda r, t, s, p: r.tasks["t1"].picked_up_by.append("c2"),
            "tasks_taken_by_two_couriers",
            ["t1"],
        ),
        (
            lambda r, t, s, p: t["t2b"].update(courier_id="c1"),
            "deliveries_not_as_recorded",
            ["t2b"],
        ),
        (
            lambda r, t, s, p: t["t1"].update(proof={"code": "999999"}),
            "deliveries_not_as_recorded",
            ["t1"],
        ),
        (lambda r, t, s, p: p["c2"].update(source="app"), "positions_not_from_last_fix", ["c2"]),
        (lambda r, t, s, p: p["c1"].update(lat=31.2000002), "positions_not_from_last_fix", ["c1"]),
        (
            lambda r, t, s, p: p["c1"].update(time="2026-03-01T02:59:59Z"),
            "positions_not_from_last_fix",
            ["c1"],
        ),
    ],
)
def test_consistency_names_what_disagrees(spoil: Any, key: str, expected: Any) -> None:
    run = book()
    tasks, statuses, positions = cloud_view(run)
    spoil(run, tasks, statuses, positions)
    assert consistency(run, tasks, statuses, positions)[key] == expected
