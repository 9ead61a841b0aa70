"""Service figures of a replayed day."""

from __future__ import annotations

import statistics
from dataclasses import asdict, dataclass
from typing import Any

from retailedge.fleet.scenario import Params
from retailedge.fleet.world import CourierState, OrderState


@dataclass(frozen=True)
class FleetMetrics:
    """``orders_per_courier_hour`` counts hours couriers spend on assigned work (travelling, at
    stops, waiting for an order to be ready), not idle time on shift; ``orders_per_shift_hour``
    divides by whole shifts. ETA error: the model's drop ETA, made at pickup, against the real
    drop."""

    policy: str
    orders: int
    delivered: int
    on_time_rate: float
    mean_click_to_door_min: float
    p90_click_to_door_min: float
    orders_per_courier_hour: float
    orders_per_shift_hour: float
    km_per_order: float
    batch_rate: float
    eta_mae_min: float
    eta_p90_abs_error_min: float
    max_load: int
    replans: int
    replan_p50_ms: float
    replan_max_ms: float
    replan_errors: int

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def p90(values: list[float]) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[max(0, -(-9 * len(ordered) // 10) - 1)]


def summarize(
    policy: str,
    orders: list[OrderState],
    couriers: list[CourierState],
    params: Params,
    replan_ms: list[float],
    replan_errors: int,
) -> FleetMetrics:
    done = [o for o in orders if o.delivered_s is not None]
    c2d = [(o.delivered_s or 0.0) / 60 - o.order.placed_min for o in done]
    on_time = sum(1 for minutes in c2d if minutes <= params.target_click_to_door_min + 1e-9)
    busy_h = sum(c.busy_s for c in couriers) / 3600
    shift_h = sum(c.courier.off_min - c.courier.on_min for c in couriers) / 60
    errors = [
        abs((o.delivered_s or 0.0) - o.predicted_drop_s) / 60
        for o in done
        if o.predicted_drop_s is not None
    ]
    n = len(done)
    return FleetMetrics(
        policy=policy,
        orders=len(orders),
        delivered=n,
        on_time_rate=round(on_time / len(orders), 4) if orders else 0.0,
        mean_click_to_door_min=round(statistics.fmean(c2d), 2) if c2d else 0.0,
        p90_click_to_door_min=round(p90(c2d), 2),
        orders_per_courier_hour=round(n / busy_h, 3) if busy_h else 0.0,
        orders_per_shift_hour=round(n / shift_h, 3) if shift_h else 0.0,
        km_per_order=round(sum(c.metres for c in couriers) / 1000 / n, 3) if n else 0.0,
        batch_rate=round(sum(1 for o in done if o.batched) / n, 4) if n else 0.0,
        eta_mae_min=round(statistics.fmean(errors), 2) if errors else 0.0,
        eta_p90_abs_error_min=round(p90(errors), 2),
        max_load=max((c.max_load for c in couriers), default=0),
        replans=len(replan_ms),
        replan_p50_ms=round(statistics.median(replan_ms), 1) if replan_ms else 0.0,
        replan_max_ms=round(max(replan_ms), 1) if replan_ms else 0.0,
        replan_errors=replan_errors,
    )
