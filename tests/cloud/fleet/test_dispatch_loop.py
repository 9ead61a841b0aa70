"""The live dispatch loop: a failing solver keeps the plan in force, a reefer out of band
loses its cold skill (flags, re-planning, temperature record), overflow goes to the carrier."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from datetime import timedelta

from cloud.carriers import SimulatedCarrier
from cloud.dispatch.engine import EngineInput, EngineSolution, SolverError
from cloud.dispatch.vroom_engine import VroomEngine
from cloud.fleet_models import DeliveryTask
from cloud.services.dispatch_loop import DispatchLoop
from tests.cloud.allocation.helpers import OPEN_HOURS, assert_ledger_balances, receive
from tests.cloud.cloud_helpers import Cloud
from tests.cloud.domain_seed import DC, DUMPLINGS, FW_XUHUI, MILK, MOTHER_BABY, WATER
from tests.cloud.fleet.fleet_helpers import (
    add_courier,
    advance,
    courier_body,
    dispatch,
    reefer_body,
    rider_step,
    run_dispatch,
    send_temperature,
    task_row,
)
from tests.cloud.orders_lifecycle.lifecycle_helpers import place_app_order, seeded_with_stock


class BrokenEngine:
    def __init__(self, error: Exception) -> None:
        self.error = error

    def solve(self, problem: EngineInput, budget_s: float) -> EngineSolution:
        raise self.error


class HungEngine:
    def __init__(self, seconds: float) -> None:
        self.seconds = seconds

    def solve(self, problem: EngineInput, budget_s: float) -> EngineSolution:
        time.sleep(self.seconds)
        raise SolverError("woke up too late")


async def _plan(cloud: Cloud) -> dict[str, object]:
    response = await cloud.client.get("/api/v1/dispatch/plan", headers=cloud.auth(cloud.operator))
    assert response.status_code == 200, response.text
    body: dict[str, object] = response.json()
    return body


async def test_a_failing_solver_keeps_the_previous_plan(cloud: Cloud) -> None:
    network = await seeded_with_stock(cloud)
    response = await cloud.client.get("/api/v1/dispatch/plan", headers=cloud.auth(cloud.operator))
    assert response.status_code == 404 and response.json()["error"]["code"] == "no_plan"
    await add_courier(cloud, courier_body("rider-1"))
    first = await place_app_order(cloud, network, "ext-loop-1", [(WATER, 1)])
    first_task = f"{first.order_id}@{FW_XUHUI}"
    assert (await run_dispatch(cloud))["applied"]
    plan = await _plan(cloud)
    assert plan["routes"] == {
        "rider-1": [
            {**stop, "task_id": first_task}  # type: ignore[dict-item]
            for stop in plan["routes"]["rider-1"]  # type: ignore[index]
        ]
    }
    assert [s["kind"] for s in plan["routes"]["rider-1"]] == ["pickup", "dropoff"]  # type: ignore[index]

    loop = dispatch(cloud)
    engine = loop.planner.engine
    second = await place_app_order(cloud, network, "ext-loop-2", [(WATER, 1)])
    second_task = f"{second.order_id}@{FW_XUHUI}"
    for error, words in (
        (SolverError("VROOM failed: out of memory"), "VROOM failed: out of memory"),
        (RuntimeError("segfault averted"), "RuntimeError: segfault averted"),
    ):
        loop.planner.engine = BrokenEngine(error)
        run = await run_dispatch(cloud)
        assert run["applied"] is False and words in run["error"]
        assert run["tasks"] == 2
        kept = await _plan(cloud)
        assert kept["id"] == plan["id"] and kept["routes"] == plan["routes"]
        assert words in str(kept["last_error"])
        assert (await task_row(cloud, first_task)).courier_id == "rider-1"
        assert (await task_row(cloud, second_task)).status == "open"
    # A hung engine is abandoned, and no second solve starts beside it while it runs.
    loop.planner.engine = HungEngine(seconds=1.5)
    loop.hang_after_s = 0.3
    run = await run_dispatch(cloud)
    assert run["applied"] is False and "no answer within 0.3 s" in run["error"]
    loop.planner.engine = engine
    run = await run_dispatch(cloud)
    assert run["applied"] is False and "previous solve is still running" in run["error"]
    await asyncio.sleep(1.5)
    assert (await task_row(cloud, second_task)).status == "open"
    run = await run_dispatch(cloud)
    assert run["applied"] and run["assigned"] == 2
    fresh = await _plan(cloud)
    assert fresh["id"] != plan["id"] and fresh["last_error"] is None
    assert (await task_row(cloud, second_task)).courier_id == "rider-1"


async def test_a_reefer_out_of_band_loses_its_cold_work_until_it_recovers(cloud: Cloud) -> None:
    network = await seeded_with_stock(cloud)
    sensor = "van-7-chiller"
    t0 = OPEN_HOURS
    await send_temperature(cloud, sensor, 2.5, t0 - timedelta(minutes=1), 1)
    key = await add_courier(cloud, reefer_body("van-7", sensor))
    orders = [await place_app_order(cloud, network, f"ext-cold-{i}", [(MILK, 1)]) for i in (1, 2)]
    carried, accepted = (f"{o.order_id}@{FW_XUHUI}" for o in orders)
    run = await run_dispatch(cloud)
    assert (run["assigned"], run["flags_raised"]) == (2, 0)
    for task_id in (carried, accepted):
        row = await task_row(cloud, task_id)
        assert (row.temperature_class, row.courier_id) == ("chilled", "van-7")
        assert (await rider_step(cloud, key, task_id, "accept")).status_code == 200
    advance(cloud, t0 + timedelta(minutes=16))
    assert (await rider_step(cloud, key, carried, "picked-up")).status_code == 200

    await send_temperature(cloud, sensor, 3.0, t0 + timedelta(minutes=18), 2)
    await send_temperature(cloud, sensor, 7.5, t0 + timedelta(minutes=20), 3)
    advance(cloud, t0 + timedelta(minutes=21))
    run = await run_dispatch(cloud)
    assert run["flags_raised"] == 2 and run["assigned"] == 1  # only the goods on board
    couriers = await cloud.client.get("/api/v1/couriers", headers=cloud.auth(cloud.operator))
    [van] = couriers.json()
    assert van["effective_skills"] == [] and van["skills"] == ["chilled"]
    [chiller] = van["compartments"]
    assert (chiller["in_band"], chiller["latest_c"]) == (False, 7.5)
    released = await task_row(cloud, accepted)
    assert (released.status, released.courier_id) == ("open", None)
    assert (await task_row(cloud, carried)).status == "picked_up"
    flags = await cloud.client.get("/api/v1/dispatch/flags", headers=cloud.auth(cloud.operator))
    assert sorted(f["task_id"] for f in flags.json()) == sorted([carried, accepted])
    flag = next(f for f in flags.json() if f["task_id"] == carried)
    assert flag["kind"] == "cold_chain_out_of_band" and flag["evidence"]["latest_c"] == 7.5
    assert "on board" in flag["message"] and "7.5 °C outside 0..4 °C" in flag["message"]
    assert (await run_dispatch(cloud))["flags_raised"] == 0  # raised once per fault

    await send_temperature(cloud, sensor, 3.5, t0 + timedelta(minutes=22), 4)
    advance(cloud, t0 + timedelta(minutes=23))
    run = await run_dispatch(cloud)
    assert run["assigned"] == 2
    flags = await cloud.client.get("/api/v1/dispatch/flags", headers=cloud.auth(cloud.operator))
    assert flags.json() == []
    history = await cloud.client.get(
        "/api/v1/dispatch/flags?include_resolved=true", headers=cloud.auth(cloud.operator)
    )
    assert len(history.json()) == 2 and all(f["resolved_at"] for f in history.json())
    assert (await task_row(cloud, accepted)).status == "assigned"

    advance(cloud, t0 + timedelta(minutes=25))
    response = await rider_step(
        cloud, key, carried, "delivered", {"proof": {"photo_sha256": "ab" * 32}}
    )
    assert response.status_code == 200, response.text
    record = response.json()["temperature_record"]
    assert record["compartment"] == "chiller" and record["device_id"] == sensor
    assert [value for _, value in record["readings"]] == [3.0, 7.5, 3.5]
    assert (record["min_c"], record["max_c"], record["in_band"]) == (3.0, 7.5, False)
    await assert_ledger_balances(cloud.database)


async def test_overflow_goes_to_the_simulated_carrier(cloud: Cloud) -> None:
    app = cloud.client._transport.app  # type: ignore[attr-defined]
    app.state.dispatch = DispatchLoop(
        cloud.database, app.state.settings, carrier=SimulatedCarrier(), clock=lambda: OPEN_HOURS
    )
    network = await seeded_with_stock(cloud)
    await receive(cloud, FW_XUHUI, DUMPLINGS, 3)
    kept = await place_app_order(cloud, network, "ext-carrier-1", [(WATER, 1)])
    dropped = await place_app_order(cloud, network, "ext-carrier-2", [(WATER, 1)])
    frozen = await place_app_order(cloud, network, "ext-carrier-3", [(DUMPLINGS, 1)])
    frozen_task = f"{frozen.order_id}@{FW_XUHUI}"
    run = await run_dispatch(cloud)  # no own courier at all
    assert (run["applied"], run["overflow"], run["assigned"]) == (True, 2, 0)
    refused = await task_row(cloud, frozen_task)  # the simulated carrier has no freezer bags
    assert refused.status == "open"
    assert refused.failure_reason == (
        "carrier refused: simulated: temperature_class: the simulated carrier has no freezer bags"
    )
    assert (await run_dispatch(cloud))["overflow"] == 0  # not offered again
    await add_courier(cloud, courier_body("rider-f", skills=["frozen"]))
    assert (await run_dispatch(cloud))["assigned"] == 1
    assert (await task_row(cloud, frozen_task)).courier_id == "rider-f"
    tasks = await cloud.client.get(
        "/api/v1/dispatch/tasks?status=carrier", headers=cloud.auth(cloud.operator)
    )
    assert sorted(t["order_id"] for t in tasks.json()) == sorted([kept.order_id, dropped.order_id])
    drop_eta = max(t["planned_drop_at"] for t in tasks.json())

    response = await cloud.client.post(
        "/api/v1/carriers/simulated/callback",
        json={"external_id": "sim-0", "status": "delivered"},
        headers=cloud.auth(cloud.operator),
    )
    assert response.status_code == 422 and "at" in response.json()["error"]["message"]
    response = await cloud.client.post(
        "/api/v1/carriers/dada/callback", json={}, headers=cloud.auth(cloud.operator)
    )
    assert response.status_code == 404

    response = await cloud.client.post(
        f"/api/v1/orders/{dropped.order_id}/cancel",
        json={"reason": "customer changed their mind"},
        headers=cloud.auth(dropped.token("app")),
    )
    assert response.status_code == 200, response.text
    advance(cloud, OPEN_HOURS + timedelta(hours=2))
    app.state.dispatch.clock = lambda: OPEN_HOURS + timedelta(hours=2)
    assert drop_eta < (OPEN_HOURS + timedelta(hours=2)).isoformat()
    await run_dispatch(cloud)
    done = await task_row(cloud, f"{kept.order_id}@{FW_XUHUI}")
    assert (done.status, done.picked_up_at is not None) == ("delivered", True)
    gone = await task_row(cloud, f"{dropped.order_id}@{FW_XUHUI}")
    assert (gone.status, gone.failure_reason) == ("failed", "order closed")
    response = await cloud.client.get(
        f"/api/v1/orders/{kept.order_id}/events", headers=cloud.auth(cloud.admin)
    )
    steps = [(e["to_status"], e["actor"]) for e in response.json()]
    assert steps[-2:] == [("dispatched", "carrier:simulated"), ("delivered", "carrier:simulated")]
    await assert_ledger_balances(cloud.database)


async def test_the_background_loop_plans_a_new_order_without_waiting_for_its_cadence(
    cloud: Cloud,
) -> None:
    app = cloud.client._transport.app  # type: ignore[attr-defined]
    settings = app.state.settings.model_copy(
        update={"dispatch_interval_s": 3600.0, "dispatch_background": False}
    )
    network = await seeded_with_stock(cloud)
    await add_courier(cloud, courier_body("rider-1"))
    loop = DispatchLoop(cloud.database, settings, clock=lambda: OPEN_HOURS)
    await loop.start()
    try:
        await asyncio.sleep(0.5)  # the first (due) run finds nothing to plan
        placed = await place_app_order(cloud, network, "ext-bg-1", [(WATER, 1)])
        task_id = f"{placed.order_id}@{FW_XUHUI}"
        for _ in range(100):  # noticed within the 2 s event poll, not the hour
            await asyncio.sleep(0.1)
            async with cloud.database.sessions() as session:
                row = await session.get(DeliveryTask, task_id)
            if row is not None and row.status == "assigned":
                break
        assert row is not None and (row.status, row.courier_id) == ("assigned", "rider-1")
    finally:
        await loop.stop()
    assert loop._task is None
    off = settings.model_copy(update={"dispatch_interval_s": 0, "dispatch_background": True})
    idle = DispatchLoop(cloud.database, off)
    await idle.start()
    assert idle._task is None and idle.improver is None  # 0 disables the loop and its solver


async def test_tasks_follow_a_modified_order(cloud: Cloud) -> None:
    network = await seeded_with_stock(cloud)
    long_shift = {
        "start": (OPEN_HOURS - timedelta(hours=2)).isoformat(),
        "end": (OPEN_HOURS + timedelta(hours=12)).isoformat(),
    }
    await add_courier(cloud, courier_body("van-1", kind="van", capacity=30, shifts=[long_shift]))
    placed = await place_app_order(cloud, network, "ext-mod-1", [(WATER, 2)])
    token = placed.token("app")
    assert (await run_dispatch(cloud))["assigned"] == 1
    changed = await cloud.client.patch(
        f"/api/v1/orders/{placed.order_id}",
        json={"lines": [{"sku": WATER, "quantity": 12}, {"sku": MILK, "quantity": 1}]},
        headers=cloud.auth(token),
    )
    assert changed.status_code == 200, changed.text
    assert {line["node_id"] for line in changed.json()["lines"]} == {DC}  # Xuhui has 10
    promise = changed.json()["promise_by"]
    assert promise == (OPEN_HOURS + timedelta(hours=12)).isoformat().replace("+00:00", "Z")
    run = await run_dispatch(cloud)
    assert (run["created_tasks"], run["tasks"]) == (0, 0)  # same day: beyond the 8 h horizon
    old = await task_row(cloud, f"{placed.order_id}@{FW_XUHUI}")
    assert (old.status, old.failure_reason) == ("failed", "order re-allocated")
    advance(cloud, OPEN_HOURS + timedelta(hours=5))
    run = await run_dispatch(cloud)
    assert (run["created_tasks"], run["tasks"], run["assigned"]) == (1, 1, 1)
    new = await task_row(cloud, f"{placed.order_id}@{DC}")
    assert (new.status, new.courier_id, new.size, new.temperature_class) == (
        "assigned",
        "van-1",
        13,
        "chilled",
    )
    moved = await cloud.client.patch(
        f"/api/v1/orders/{placed.order_id}",
        json={"delivery": {"address": "上海市徐汇区漕溪北路90号", "lat": 31.1905, "lon": 121.4385}},
        headers=cloud.auth(token),
    )
    assert moved.status_code == 200, moved.text
    await run_dispatch(cloud)
    new = await task_row(cloud, f"{placed.order_id}@{DC}")
    assert (new.drop_lat, new.drop_lon, new.status) == (31.1905, 121.4385, "assigned")


@dataclass
class _RecordingEngine:
    """VROOM, keeping every instance it was given."""

    inputs: list[EngineInput] = field(default_factory=list)

    def solve(self, problem: EngineInput, budget_s: float) -> EngineSolution:
        self.inputs.append(problem)
        return VroomEngine().solve(problem, budget_s)


def _planned_once(routes: dict[str, list[dict[str, str]]]) -> dict[str, str]:
    """Task id -> courier, asserting every task is picked up and dropped once, by one courier."""
    stops = [(courier, s["task_id"], s["kind"]) for courier, route in routes.items() for s in route]
    assert len(stops) == len(set(stops)) and len({(t, k) for _, t, k in stops}) == len(stops)
    return {task_id: courier for courier, task_id, _ in stops}


async def test_the_live_loop_adopts_background_solves_and_reports_its_latency(
    cloud: Cloud,
) -> None:
    app = cloud.client._transport.app  # type: ignore[attr-defined]
    settings = app.state.settings.model_copy(update={"dispatch_background": True})
    engine = _RecordingEngine()
    loop = DispatchLoop(cloud.database, settings, engine=engine, clock=lambda: OPEN_HOURS)
    app.state.dispatch = loop
    network = await seeded_with_stock(cloud)
    for courier_id in ("rider-1", "rider-2"):
        await add_courier(cloud, courier_body(courier_id))
    placed = [
        await place_app_order(
            cloud,
            network,
            f"ext-bg-solve-{i}",
            [(WATER, 1)],
            at=(31.1900 + 0.004 * (i % 3), 121.4380 - 0.005 * (i // 3)),
            member_id=MOTHER_BABY if i == 0 else None,
        )
        for i in range(6)
    ]
    loop.start_background_solve()
    improver = loop.improver
    assert improver is not None
    try:
        first = await run_dispatch(cloud)
        assert (first["applied"], first["assigned"]) == (True, 6)
        rows = [await task_row(cloud, f"{p.order_id}@{FW_XUHUI}") for p in placed]
        assert [row.priority for row in rows] == [50, 0, 0, 0, 0, 0]  # the member rules'
        # ... and it reaches the engine: that order outranks any urgency.
        priorities = sorted(s.priority for s in engine.inputs[0].shipments)
        assert priorities[-1] >= 30 > priorities[-2]
        before = await _plan(cloud)
        assert await asyncio.to_thread(improver.wait, 60.0), "no background result in 60 s"
        assert improver.last_error is None
        second = await run_dispatch(cloud)
        assert (second["applied"], second["assigned"]) == (True, 6)
        after = await _plan(cloud)
        # Same snapshot (the clock stands still): the plan in force never gets worse.
        assert float(after["cost_s"]) <= float(before["cost_s"])  # type: ignore[arg-type]
        planned = _planned_once(after["routes"])  # type: ignore[arg-type]
        for row in rows:
            row = await task_row(cloud, row.id)
            assert (row.status, row.courier_id) == ("assigned", planned[row.id])
        response = await cloud.client.get(
            "/api/v1/dispatch/stats", headers=cloud.auth(cloud.operator)
        )
        assert response.status_code == 200, response.text
        stats = response.json()
        assert (stats["replans"], stats["applied"], stats["kept_previous"]) == (2, 2, 0)
        assert stats["running"] is False and stats["recent"] == 2
        assert 0 < stats["solve"]["p50_ms"] <= stats["solve"]["p99_ms"] == stats["solve"]["max_ms"]
        assert stats["round"]["p99_ms"] >= stats["solve"]["p99_ms"]
        background = stats["background"]
        assert background["enabled"] and background["solves"] == 1
        assert background["adopted"] in (0, 1) and background["last_error"] is None
        assert background["busy"] == improver.busy  # the second snapshot was handed over
    finally:
        await loop.stop()
    assert loop.improver is None and improver.closed
    assert loop.stats_out().background.enabled is False
