"""The console's Dispatch tab: each courier's stops from the newest plan, what a carrier took,
what nobody has, and a version that moves only when what the tab shows moves."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from cloud.carriers import SimulatedCarrier
from cloud.console import plan_view
from cloud.services.dispatch_loop import DispatchLoop
from tests.cloud.allocation.helpers import OPEN_HOURS, receive
from tests.cloud.cloud_helpers import Cloud
from tests.cloud.domain_seed import DUMPLINGS, FW_XUHUI, MILK, WATER
from tests.cloud.fleet.fleet_helpers import (
    XUHUI_NODE,
    add_courier,
    courier_body,
    reefer_body,
    rider_step,
    run_dispatch,
    send_temperature,
)
from tests.cloud.orders_lifecycle.lifecycle_helpers import place_app_order, seeded_with_stock

SENSOR = "van-7-chiller"


async def _get(cloud: Cloud, path: str, key: str | None = None) -> Any:
    response = await cloud.client.get(path, headers=cloud.auth(key or cloud.operator))
    assert response.status_code == 200, response.text
    return response.json()


async def test_the_dispatch_tab_shows_each_couriers_plan_the_carrier_and_the_waiting(
    cloud: Cloud,
) -> None:
    app = cloud.client._transport.app  # type: ignore[attr-defined]
    app.state.dispatch = DispatchLoop(
        cloud.database, app.state.settings, carrier=SimulatedCarrier(), clock=lambda: OPEN_HOURS
    )
    network = await seeded_with_stock(cloud)
    await receive(cloud, FW_XUHUI, DUMPLINGS, 3)
    carried = [await place_app_order(cloud, network, f"ext-w{i}", [(WATER, 1)]) for i in (1, 2)]
    frozen = await place_app_order(cloud, network, "ext-frozen", [(DUMPLINGS, 1)])
    assert (await run_dispatch(cloud))["overflow"] == 2  # no own courier yet

    await send_temperature(cloud, SENSOR, 2.5, OPEN_HOURS - timedelta(minutes=1), 1)
    van_key = await add_courier(cloud, reefer_body("van-7", SENSOR))
    tomorrow = {
        "start": (OPEN_HOURS + timedelta(days=1)).isoformat(),
        "end": (OPEN_HOURS + timedelta(days=1, hours=8)).isoformat(),
    }
    await add_courier(cloud, courier_body("rider-late", shifts=[tomorrow]))
    chilled = [await place_app_order(cloud, network, f"ext-m{i}", [(MILK, 1)]) for i in (1, 2)]
    assert (await run_dispatch(cloud))["assigned"] == 2

    view = await _get(cloud, "/console/api/dispatch")
    plan = await _get(cloud, "/api/v1/dispatch/plan")
    assert view["plan_id"] == plan["id"] and view["error"] is None
    couriers = {c["id"]: c for c in view["couriers"]}
    assert set(couriers) == {"van-7", "rider-late"}
    van = couriers["van-7"]
    assert (van["kind"], van["vehicle_id"], van["skills"]) == (
        "reefer_van",
        "van-7-gps",
        ["chilled"],
    )
    assert (van["state"], van["capacity"], van["load"], van["on_board"]) == ("to_pickup", 40, 2, 0)
    assert [(s["task_id"], s["kind"], s["arrival"]) for s in van["stops"]] == [
        (s["task_id"], s["kind"], s["arrival"]) for s in plan["routes"]["van-7"]
    ]
    tasks = {f"{o.order_id}@{FW_XUHUI}": o.order_id for o in chilled}
    assert sorted((s["task_id"], s["kind"]) for s in van["stops"]) == sorted(
        (task, kind) for task in tasks for kind in ("pickup", "dropoff")
    )
    for stop in van["stops"]:
        assert stop["order_id"] == tasks[stop["task_id"]]
        assert stop["task_status"] == "assigned" and stop["late"] is False
        assert stop["arrival"] <= stop["promise_by"] <= stop["deadline"]
        if stop["kind"] == "pickup":
            assert stop["node_id"] == FW_XUHUI and stop["place"].startswith(f"{FW_XUHUI} (")
            assert (round(stop["lat"], 3), round(stop["lon"], 3)) == (
                round(XUHUI_NODE[0], 3),
                round(XUHUI_NODE[1], 3),
            )
        else:
            assert stop["node_id"] is None
            assert stop["place"] == f"{stop['lat']:.3f}, {stop['lon']:.3f}"
    assert van["unplanned"] == []
    idle = couriers["rider-late"]
    assert (idle["state"], idle["stops"], idle["load"]) == ("off_shift", [], 0)
    assert idle["shift_end"].startswith(
        (OPEN_HOURS + timedelta(days=1, hours=8)).date().isoformat()
    )

    assert sorted(t["order_id"] for t in view["carrier"]) == sorted(o.order_id for o in carried)
    for task in view["carrier"]:
        assert (task["carrier"], task["status"], task["pickup_node_id"]) == (
            "simulated",
            "created",
            FW_XUHUI,
        )
        assert task["external_id"].startswith("sim-") and task["drop_eta"] is not None
        assert task["late"] == (task["drop_eta"] > task["promise_by"])
    [waiting] = view["waiting"]
    assert waiting["order_id"] == frozen.order_id
    assert waiting["why"].startswith("carrier refused: simulated: temperature_class")

    # A re-plan that moves nothing keeps the version; the van picking up a task changes it.
    assert (await run_dispatch(cloud))["applied"]
    again = await _get(cloud, "/console/api/dispatch")
    assert again["plan_id"] > view["plan_id"] and again["version"] == view["version"]
    first_pickup = van["stops"][0]["task_id"]
    for step in ("accept", "arrived", "picked-up"):
        assert (await rider_step(cloud, van_key, first_pickup, step)).status_code == 200
    moved = await _get(cloud, "/console/api/dispatch")
    assert moved["version"] != view["version"]
    van_now = {c["id"]: c for c in moved["couriers"]}["van-7"]
    assert (van_now["on_board"], van_now["load"]) == (1, 2)
    assert (first_pickup, "pickup") not in {(s["task_id"], s["kind"]) for s in van_now["stops"]}
    async with cloud.database.sessions() as session:
        streamed = await plan_view.plan_version(session=session, now=OPEN_HOURS)
    assert streamed == moved["version"]

    refused = await cloud.client.get("/console/api/dispatch", headers=cloud.auth(cloud.warehouse))
    assert refused.status_code == 403
