"""The figures of a live fleet run (pure): service figures from what the riders did and the ETAs
the cloud gave, what became of the failed reefer's chilled orders, and checks that the run's
record agrees with the cloud's own records."""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from retailedge.fleet.live_book import ReeferFailure, RunBook
from retailedge.fleet.live_route import parse_time
from retailedge.fleet.metrics import p90

COLD_FLAG = "cold_chain_out_of_band"


def _minutes(later: datetime, earlier: datetime) -> float:
    return (later - earlier).total_seconds() / 60


def _round(value: float | None, digits: int = 2) -> float | None:
    return None if value is None else round(value, digits)


def order_deliveries(book: RunBook) -> dict[str, datetime]:
    """Order id → when its last task was delivered, for orders whose every task was."""
    tasks_of: dict[str, list[datetime | None]] = defaultdict(list)
    for task in book.tasks.values():
        tasks_of[task.order_id].append(task.delivered_at)
    return {
        order_id: max(t for t in times if t is not None)
        for order_id, times in tasks_of.items()
        if times and all(t is not None for t in times)
    }


def _eta_errors(book: RunBook, at_pickup: bool) -> list[float]:
    errors = []
    for task in book.tasks.values():
        eta = task.eta_at_pickup if at_pickup else task.first_eta
        if task.delivered_at is not None and eta is not None:
            errors.append(_minutes(task.delivered_at, eta))
    return errors


def service_figures(book: RunBook) -> dict[str, Any]:
    """On-time rate over the allocated orders (delivered by the promise), orders per courier
    hour (busy: riding, at stops, waiting for goods) and per shift hour (the whole run), the
    share of deliveries that rode with another order, km ridden per delivered order, and the
    ETA error: actual drop minus the first planned drop the cloud showed (and the one it showed
    at pickup), in minutes."""
    allocated = [o for o in book.orders.values() if o.status == "allocated" and o.order_id]
    delivered = order_deliveries(book)
    click_to_door = []
    on_time = 0
    for order in allocated:
        done = delivered.get(order.order_id or "")
        if done is None:
            continue
        click_to_door.append(_minutes(done, order.placed_at))
        on_time += order.promise_by is not None and done <= order.promise_by
    done_tasks = [t for t in book.tasks.values() if t.delivered_at is not None]
    n = len([o for o in allocated if o.order_id in delivered])
    busy_h = sum(c.busy_s for c in book.couriers.values()) / 3600
    end = book.ended_at or book.started_at
    shift_h = len(book.couriers) * (end - book.started_at).total_seconds() / 3600
    km = sum(c.metres for c in book.couriers.values()) / 1000
    first = _eta_errors(book, at_pickup=False)
    pickup = _eta_errors(book, at_pickup=True)
    return {
        "orders_placed": len(book.orders),
        "orders_allocated": len(allocated),
        "orders_not_allocated": len(book.orders) - len(allocated),
        "delivered": n,
        "on_time_rate": round(on_time / len(allocated), 4) if allocated else 0.0,
        "mean_click_to_door_min": _round(statistics.fmean(click_to_door)) if n else None,
        "p90_click_to_door_min": _round(p90(click_to_door)) if n else None,
        "orders_per_courier_hour": round(n / busy_h, 2) if busy_h else 0.0,
        "orders_per_shift_hour": round(n / shift_h, 2) if shift_h else 0.0,
        "batch_rate": round(sum(t.batched for t in done_tasks) / len(done_tasks), 4)
        if done_tasks
        else 0.0,
        "km_per_order": round(km / n, 3) if n else None,
        "km_total": round(km, 3),
        "eta_mae_min": _round(statistics.fmean(abs(e) for e in first)) if first else None,
        "eta_p90_abs_error_min": _round(p90([abs(e) for e in first])) if first else None,
        "eta_bias_min": _round(statistics.fmean(first)) if first else None,
        "eta_at_pickup_mae_min": _round(statistics.fmean(abs(e) for e in pickup))
        if pickup
        else None,
        "max_load": max((c.max_load for c in book.couriers.values()), default=0),
        "gps_fixes": sum(c.fixes for c in book.couriers.values()),
    }


def reefer_outcome(
    failure: ReeferFailure,
    final_tasks: Mapping[str, Mapping[str, Any]],
    flags: Sequence[Mapping[str, Any]],
) -> dict[str, Any]:
    """When the compartment left its band and the cloud took the chilled skill away, which of
    its chilled tasks the cloud flagged, and where each ended up."""
    flagged = sorted(
        {
            str(f["task_id"])
            for f in flags
            if f["courier_id"] == failure.courier_id and f["kind"] == COLD_FLAG
        }
    )
    held = []
    for task_id, status in sorted(failure.held.items()):
        now = final_tasks.get(task_id, {})
        held.append(
            {
                "task_id": task_id,
                "when_failed": status,
                "now": now.get("status"),
                "courier_id": now.get("courier_id"),
            }
        )
    moved = [
        h for h in held if h["when_failed"] != "picked_up" and h["courier_id"] != failure.courier_id
    ]
    lost = failure.skill_lost_at
    return {
        "courier_id": failure.courier_id,
        "failed_at": failure.failed_at.isoformat(),
        "out_of_band_at": failure.out_of_band_at.isoformat() if failure.out_of_band_at else None,
        "skill_lost_at": lost.isoformat() if lost else None,
        "skill_lost_after_s": round((lost - failure.failed_at).total_seconds(), 1)
        if lost
        else None,
        "chilled_tasks_held": held,
        "flagged": flagged,
        "replanned": len(moved),
        "replanned_delivered_by_others": sum(
            1 for h in moved if h["now"] == "delivered" and h["courier_id"] is not None
        ),
        "on_board_when_failed": sum(1 for h in held if h["when_failed"] == "picked_up"),
    }


def consistency(
    book: RunBook,
    final_tasks: Mapping[str, Mapping[str, Any]],
    order_statuses: Mapping[str, str],
    positions: Mapping[str, Mapping[str, Any]],
) -> dict[str, Any]:
    """The run's record against the cloud's: delivered orders, who delivered each task and with
    which proof, no task picked up or delivered twice (a task the cloud took back from a failed
    reefer is accepted by a second courier, never picked up by two), and each courier's position
    in the cloud being the last fix its tracker published over MQTT."""
    delivered_here = set(order_deliveries(book))
    delivered_cloud = {oid for oid, status in order_statuses.items() if status == "delivered"}
    twice = sorted(
        t.task_id for t in book.tasks.values() if len(t.picked_up_by) > 1 or len(t.delivered_by) > 1
    )
    wrong_record = []
    for task in book.tasks.values():
        if task.delivered_at is None:
            continue
        cloud = final_tasks.get(task.task_id, {})
        if (
            cloud.get("status") != "delivered"
            or cloud.get("courier_id") != task.delivered_by[0]
            or cloud.get("proof") != {"code": task.proof_code}
        ):
            wrong_record.append(task.task_id)
    positions_off = []
    for courier in book.couriers.values():
        fix = courier.last_fix
        shown = positions.get(courier.courier_id, {})
        if (
            fix is None
            or shown.get("source") != "gps"
            or parse_time(shown.get("time")) != fix.time
            or abs(float(shown.get("lat", 0.0)) - fix.lat) > 1e-7
            or abs(float(shown.get("lon", 0.0)) - fix.lon) > 1e-7
        ):
            positions_off.append(courier.courier_id)
    return {
        "delivered_orders_here": len(delivered_here),
        "delivered_orders_in_cloud": len(delivered_cloud),
        "delivered_orders_match": delivered_here == delivered_cloud,
        "tasks_taken_by_two_couriers": twice,
        "deliveries_not_as_recorded": sorted(wrong_record),
        "positions_not_from_last_fix": sorted(positions_off),
    }
