import statistics
from pathlib import Path

import pytest

from cloud.dispatch.eta import Point
from retailedge.fleet.replay import ReplayConfig, replay
from retailedge.fleet.scenario import Courier, Order, Params, Pickup, Scenario, load_scenario

SAMPLE = Path(__file__).resolve().parents[2] / "retailedge" / "fleet" / "sample_day"


def _p(north_m: float, east_m: float) -> Point:
    return Point(31.2304 + north_m / 111_195, 121.4737 + east_m / 95_050)


def tiny_day() -> Scenario:
    pickups = (Pickup("s1", _p(0, 0)), Pickup("s2", _p(1500, 1500)))
    couriers = (
        Courier("c1", _p(0, 100), 600, 720),
        Courier("c2", _p(1500, 1400), 600, 720),
        Courier("c3", _p(700, 700), 630, 700),
    )
    orders = tuple(
        Order(
            f"o{i:02d}",
            600 + 4 * i,
            600 + 4 * i + (9 if i % 3 else 2),
            "s1" if i % 2 else "s2",
            _p(((i * 37) % 11) * 250 - 1000, ((i * 53) % 13) * 220 - 1200),
        )
        for i in range(14)
    )
    params = Params(
        speed_m_per_min=250,
        pickup_service_min=2,
        dropoff_service_min=3,
        target_click_to_door_min=40,
        max_click_to_door_min=70,
        courier_capacity=3,
    )
    return Scenario(pickups, couriers, orders, params)


@pytest.mark.parametrize("policy", ["engine", "baseline"])
def test_replay_invariants(policy: str) -> None:
    day = tiny_day()
    result = replay(day, ReplayConfig(policy=policy, budget_s=0.5))
    states = result.orders
    assert set(states) == {o.id for o in day.orders}
    for state in states.values():
        assert state.drops == 1  # delivered exactly once
        assert state.picked_s is not None and state.delivered_s is not None
        assert state.picked_s >= state.order.ready_min * 60  # never before ready
        assert state.picked_s < state.delivered_s  # pickup before drop
    assert all(c.max_load <= day.params.courier_capacity for c in result.couriers.values())
    m = result.metrics
    c2d = [s.delivered_s / 60 - s.order.placed_min for s in states.values()]
    assert m.orders == m.delivered == 14
    assert m.mean_click_to_door_min == pytest.approx(statistics.fmean(c2d), abs=0.01)
    on_time = sum(1 for v in c2d if v <= 40) / 14
    assert m.on_time_rate == pytest.approx(on_time, abs=1e-4)
    assert m.p90_click_to_door_min == pytest.approx(sorted(c2d)[12], abs=0.01)
    busy_h = sum(c.busy_s for c in result.couriers.values()) / 3600
    assert m.orders_per_courier_hour == pytest.approx(14 / busy_h, abs=0.001)
    assert m.eta_mae_min >= 0
    if policy == "baseline":
        assert m.batch_rate == 0 and m.max_load == 1 and m.replans == 0
    else:
        assert m.replans > 0 and m.replan_errors == 0


def test_engine_beats_the_baseline_on_the_sample_day() -> None:
    day = load_scenario(SAMPLE)
    engine = replay(day, ReplayConfig(policy="engine", budget_s=0.5)).metrics
    baseline = replay(day, ReplayConfig(policy="baseline")).metrics
    assert engine.delivered == engine.orders == len(day.orders)
    assert engine.orders_per_courier_hour > baseline.orders_per_courier_hour
    assert engine.on_time_rate >= baseline.on_time_rate
    assert engine.batch_rate > 0.3 and baseline.batch_rate == 0
    assert engine.km_per_order < baseline.km_per_order


def test_unknown_policy_is_refused() -> None:
    with pytest.raises(ValueError, match="policy"):
        replay(tiny_day(), ReplayConfig(policy="random"))
