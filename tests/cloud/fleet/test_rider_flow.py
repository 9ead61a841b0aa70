"""A rider takes an order from plan to door through the rider app; the order, the stock and
the customer's tracking link follow."""

from __future__ import annotations

from datetime import datetime, timedelta

from tests.cloud.allocation.helpers import OPEN_HOURS, assert_ledger_balances, levels
from tests.cloud.cloud_helpers import Cloud
from tests.cloud.domain_seed import FW_XUHUI, WATER
from tests.cloud.fleet.fleet_helpers import (
    add_courier,
    advance,
    courier_body,
    dispatch,
    rider_step,
    run_dispatch,
    task_row,
)
from tests.cloud.orders_lifecycle.lifecycle_helpers import place_app_order, seeded_with_stock


async def _status(cloud: Cloud, order_id: str) -> str:
    response = await cloud.client.get(f"/api/v1/orders/{order_id}", headers=cloud.auth(cloud.admin))
    assert response.status_code == 200, response.text
    status: str = response.json()["status"]
    return status


async def test_a_rider_delivers_an_order_from_plan_to_door(cloud: Cloud) -> None:
    network = await seeded_with_stock(cloud)
    key = await add_courier(cloud, courier_body("rider-1"))
    other = await add_courier(cloud, courier_body("rider-2", shifts=[]))  # off shift today
    placed = await place_app_order(cloud, network, "ext-ride-1", [(WATER, 2)])
    task_id = f"{placed.order_id}@{FW_XUHUI}"

    run = await run_dispatch(cloud)
    assert (run["created_tasks"], run["tasks"], run["applied"], run["assigned"]) == (1, 1, True, 1)
    assert run["couriers"] == 1  # rider-2 is off shift
    mine = await cloud.client.get("/api/v1/rider/tasks", headers=cloud.auth(key))
    assert mine.status_code == 200, mine.text
    [task] = mine.json()
    assert (task["id"], task["status"], task["courier_id"]) == (task_id, "assigned", "rider-1")
    assert task["pickup"]["node_id"] == FW_XUHUI and task["size"] == 2
    assert task["temperature_class"] == "ambient"
    planned_drop = datetime.fromisoformat(task["planned_drop_at"])
    ready = datetime.fromisoformat(task["ready_at"])
    assert ready == OPEN_HOURS + timedelta(minutes=15)  # placed + handling
    assert ready <= datetime.fromisoformat(task["planned_pickup_at"]) < planned_drop
    assert "recipient" not in mine.text and "王芳" not in mine.text

    # Someone else's task: 404 and nothing changes.
    before = await task_row(cloud, task_id)
    for step in ("accept", "picked-up", "failed"):
        response = await rider_step(cloud, other, task_id, step, {"reason": "not mine"})
        assert response.status_code == 404, response.text
        assert response.json()["error"]["code"] == "task_not_found"
    after = await task_row(cloud, task_id)
    assert (after.status, after.courier_id, after.version) == (
        "assigned",
        "rider-1",
        before.version,
    )
    assert (await cloud.client.get("/api/v1/rider/tasks", headers=cloud.auth(other))).json() == []

    # Roles: a rider key is not an operator's, and the other way round.
    response = await cloud.client.get("/api/v1/couriers", headers=cloud.auth(key))
    assert response.status_code == 403
    response = await cloud.client.get("/api/v1/rider/tasks", headers=cloud.auth(cloud.operator))
    assert response.status_code == 403

    response = await rider_step(cloud, key, task_id, "delivered", {"proof": {"code": "4321"}})
    assert response.status_code == 409 and response.json()["error"]["code"] == "invalid_task_step"
    for _ in range(2):  # the second accept is a replay
        response = await rider_step(cloud, key, task_id, "accept")
        assert response.status_code == 200, response.text
        assert response.json()["status"] == "accepted"
    assert (await task_row(cloud, task_id)).version == before.version + 1
    assert (await run_dispatch(cloud))["applied"]  # an accepted task stays with its rider
    assert (await task_row(cloud, task_id)).courier_id == "rider-1"

    link = await cloud.client.post(
        f"/api/v1/orders/{placed.order_id}/tracking-link",
        headers=cloud.auth(placed.token("app")),
    )
    assert link.status_code == 201, link.text
    token = link.json()["token"]
    assert len(token) >= 40 and link.json()["api_path"] == f"/api/v1/track/{token}"
    foreign = await cloud.client.post(
        f"/api/v1/orders/{placed.order_id}/tracking-link",
        headers=cloud.auth(placed.token("meituan")),
    )
    assert foreign.status_code == 404
    tracked = await cloud.client.get(f"/api/v1/track/{token}")
    assert tracked.status_code == 200, tracked.text
    assert tracked.json()["status"] == "allocated"
    assert tracked.json()["courier_position"] is None  # not on its way yet

    here = {"lat": 31.188412, "lon": 121.437389, "time": OPEN_HOURS.isoformat()}
    response = await cloud.client.post("/api/v1/rider/position", json=here, headers=cloud.auth(key))
    assert response.status_code == 200, response.text
    paris = {"lat": 48.8566, "lon": 2.3522, "time": (OPEN_HOURS + timedelta(seconds=5)).isoformat()}
    response = await cloud.client.post(
        "/api/v1/rider/position", json=paris, headers=cloud.auth(key)
    )
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "implausible_position"
    assert "km from the courier's home node" in response.json()["error"]["message"]
    jump = {
        "lat": 31.2880,
        "lon": 121.4374,
        "time": (OPEN_HOURS + timedelta(seconds=30)).isoformat(),
    }
    response = await cloud.client.post("/api/v1/rider/position", json=jump, headers=cloud.auth(key))
    assert response.status_code == 422 and "jump" in response.json()["error"]["message"]
    couriers = await cloud.client.get("/api/v1/couriers", headers=cloud.auth(cloud.operator))
    rider_1 = next(c for c in couriers.json() if c["id"] == "rider-1")
    assert (rider_1["position"]["lat"], rider_1["position"]["source"]) == (31.188412, "app")
    assert rider_1["open_tasks"] == 1
    # Speeds are learned from the fixes the loop sees: 250 m in 50 s is one 5 m/s sample.
    await run_dispatch(cloud)
    moved = {
        "lat": 31.190660,
        "lon": 121.437389,
        "time": (OPEN_HOURS + timedelta(seconds=50)).isoformat(),
    }
    response = await cloud.client.post(
        "/api/v1/rider/position", json=moved, headers=cloud.auth(key)
    )
    assert response.status_code == 200, response.text
    await run_dispatch(cloud)
    assert dispatch(cloud).speeds.samples == 1
    assert (await task_row(cloud, task_id)).courier_id == "rider-1"

    advance(cloud, OPEN_HOURS + timedelta(minutes=16))
    response = await rider_step(cloud, key, task_id, "arrived")
    assert response.status_code == 200 and response.json()["arrived_at"] is not None
    water_before = (await levels(cloud.database))[(FW_XUHUI, WATER)]
    response = await rider_step(cloud, key, task_id, "picked-up")
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "picked_up"
    assert await _status(cloud, placed.order_id) == "dispatched"
    events = await cloud.client.get(
        f"/api/v1/orders/{placed.order_id}/events", headers=cloud.auth(cloud.admin)
    )
    assert [e["to_status"] for e in events.json()][-3:] == ["picking", "packed", "dispatched"]
    on_hand, reserved, _ = water_before
    assert (await levels(cloud.database))[(FW_XUHUI, WATER)][:2] == (on_hand - 2, reserved - 2)
    await assert_ledger_balances(cloud.database)

    tracked = await cloud.client.get(f"/api/v1/track/{token}")
    assert tracked.json()["status"] == "dispatched"
    assert tracked.json()["courier_position"] == {"lat": 31.191, "lon": 121.437}
    assert tracked.json()["eta"] is not None
    assert "rider-1" not in tracked.text and "王芳" not in tracked.text

    for bad in ({}, {"proof": {}}, {"proof": {"code": "4321", "photo_sha256": "a" * 64}}):
        response = await rider_step(cloud, key, task_id, "delivered", bad)
        assert response.status_code == 422, bad
    assert (await task_row(cloud, task_id)).status == "picked_up"
    advance(cloud, OPEN_HOURS + timedelta(minutes=30))
    response = await rider_step(cloud, key, task_id, "delivered", {"proof": {"code": "4321"}})
    assert response.status_code == 200, response.text
    assert response.json()["proof"] == {"code": "4321"}
    assert response.json()["temperature_record"] is None  # ambient goods
    assert await _status(cloud, placed.order_id) == "delivered"
    response = await rider_step(cloud, key, task_id, "delivered", {"proof": {"code": "9999"}})
    assert response.status_code == 409
    # The customer sees "delivered" (no courier) for a day, then the link ends.
    tracked = await cloud.client.get(f"/api/v1/track/{token}")
    assert (tracked.json()["status"], tracked.json()["courier_position"]) == ("delivered", None)
    advance(cloud, OPEN_HOURS + timedelta(minutes=30, hours=24))
    assert (await cloud.client.get(f"/api/v1/track/{token}")).status_code == 404
    assert (await cloud.client.get("/api/v1/track/" + "x" * 43)).status_code == 404
    await assert_ledger_balances(cloud.database)


async def test_giving_a_task_back_before_pickup_replans_it(cloud: Cloud) -> None:
    network = await seeded_with_stock(cloud)
    key = await add_courier(cloud, courier_body("rider-1"))
    placed = await place_app_order(cloud, network, "ext-ride-2", [(WATER, 1)])
    task_id = f"{placed.order_id}@{FW_XUHUI}"
    await run_dispatch(cloud)
    assert (await rider_step(cloud, key, task_id, "accept")).status_code == 200
    response = await rider_step(cloud, key, task_id, "failed", {"reason": "flat tyre"})
    assert response.status_code == 200, response.text
    assert (response.json()["status"], response.json()["courier_id"]) == ("open", None)
    assert "flat tyre" in response.json()["failure_reason"]
    assert await _status(cloud, placed.order_id) == "allocated"
    run = await run_dispatch(cloud)  # rider-1 said no: it is not planned for them again
    assert (run["tasks"], run["assigned"]) == (1, 0)
    assert (await task_row(cloud, task_id)).declined_by == ["rider-1"]
    second = await add_courier(cloud, courier_body("rider-2"))
    await run_dispatch(cloud)
    row = await task_row(cloud, task_id)
    assert (row.status, row.courier_id) == ("assigned", "rider-2")
    assert (await rider_step(cloud, key, task_id, "accept")).status_code == 404
    assert (await rider_step(cloud, second, task_id, "accept")).status_code == 200
    assert (await rider_step(cloud, second, task_id, "picked-up")).status_code == 200
    response = await rider_step(cloud, second, task_id, "failed", {"reason": "nobody home"})
    assert response.status_code == 200 and response.json()["status"] == "failed"
    assert await _status(cloud, placed.order_id) == "failed"
    await assert_ledger_balances(cloud.database)
