"""What the console shows, from data made through the API: vehicles with their planned stops,
a reefer's compartment chart with its excursion, alarms acknowledged and resolved with a
comment, the orders board with the allocation "why", and stock scoped by role."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from firmware_bridge.records import Alarm, FixQuality, Position, Severity
from tests.cloud.allocation.helpers import OPEN_HOURS
from tests.cloud.cloud_helpers import Cloud, batch, wire
from tests.cloud.domain_seed import FW_XUHUI, MILK, WATER
from tests.cloud.fleet.fleet_helpers import (
    XUHUI_NODE,
    add_courier,
    reefer_body,
    run_dispatch,
    send_temperature,
)
from tests.cloud.orders_lifecycle.lifecycle_helpers import place_app_order, seeded_with_stock
from tests.console.console_helpers import csrf_header, give_password, log_in

SENSOR = "van-7-chiller"
READINGS = [2.5, 3.0, 7.5, 8.0, 3.5]


async def _ingest(cloud: Cloud, records: list[Any], first_seq: int) -> None:
    wired = [wire(record, first_seq + i) for i, record in enumerate(records)]
    response = await cloud.client.post(
        "/api/v1/ingest",
        json=batch("gw-a", first_seq, first_seq + len(records) - 1, wired, sent_at=OPEN_HOURS),
        headers=cloud.auth(cloud.gateway_a),
    )
    assert response.status_code == 200, response.text


async def test_the_operator_sees_fleet_chart_alarms_orders_and_stock(cloud: Cloud) -> None:
    network = await seeded_with_stock(cloud)
    t0 = OPEN_HOURS
    for seq, value in enumerate(READINGS, start=1):
        await send_temperature(cloud, SENSOR, value, t0 - timedelta(minutes=10 - seq), seq)
    excursion = Alarm(
        rule="coldchain.excursion",
        subject=f"chiller/{SENSOR}",
        severity=Severity.CRITICAL,
        started_at=t0 - timedelta(minutes=7),
        ended_at=t0 - timedelta(minutes=5),
        evidence={"device": SENSOR, "band": "0..4 °C", "peak": {"value": 8.0}},
    )
    fix = Position("van-7-gps", t0, 31.2010, 121.4450, 6.5, 90.0, FixQuality.GPS, 9, 0.9, 12.0)
    await _ingest(cloud, [excursion, fix], 10)
    await add_courier(cloud, reefer_body("van-7", SENSOR))
    orders = [await place_app_order(cloud, network, f"ext-{i}", [(MILK, 1)]) for i in (1, 2)]
    assert (await run_dispatch(cloud))["assigned"] == 2
    await give_password(cloud.database, "operator")
    client = cloud.client
    await log_in(client, "operator")

    fleet_response = await client.get("/console/api/fleet")
    assert fleet_response.status_code == 200, fleet_response.text
    fleet = fleet_response.json()
    [van] = fleet["vehicles"]
    assert (van["id"], van["kind"], van["courier_id"]) == ("van-7-gps", "reefer_van", "van-7")
    assert (van["lat"], van["lon"], van["speed_mps"]) == (31.2010, 121.4450, 6.5)
    assert sorted(n["id"] for n in fleet["nodes"]) == sorted(
        [network.dc, *network.front_warehouses, *network.stores]
    )
    stops = fleet["routes"]["van-7"]
    assert {s["task_id"] for s in stops} == {f"{o.order_id}@{FW_XUHUI}" for o in orders}
    pickups = [s for s in stops if s["kind"] == "pickup"]
    assert pickups and all(
        (round(s["lat"], 3), round(s["lon"], 3))
        == (round(XUHUI_NODE[0], 3), round(XUHUI_NODE[1], 3))
        for s in pickups
    )
    assert len([s for s in stops if s["kind"] == "dropoff"]) == 2
    assert fleet["tile_url"] is None

    detail = (await client.get("/console/api/vehicles/van-7-gps")).json()
    assert detail["courier_id"] == "van-7" and detail["speed_mps"] == 6.5
    assert sorted(t["order_id"] for t in detail["tasks"]) == sorted(o.order_id for o in orders)
    [chart] = detail["compartments"]
    assert (chart["name"], chart["min_c"], chart["max_c"]) == ("chiller", 0.0, 4.0)
    assert [p["c"] for p in chart["points"]] == READINGS
    assert [p["out"] for p in chart["points"]] == [False, False, True, True, False]
    [marked] = chart["excursions"]
    assert marked["key"] == "alarm:gw-a:10" and marked["state"] == "open"
    assert (await client.get("/console/api/vehicles/nowhere")).status_code == 404

    alarms = (await client.get("/console/api/alarms")).json()
    listed = {a["key"]: a for a in alarms}
    assert listed["alarm:gw-a:10"]["kind"] == "coldchain.excursion"
    assert listed["alarm:gw-a:10"]["severity"] == "critical"
    url = "/console/api/alarms/alarm:gw-a:10/ack"
    empty = await client.post(
        url, json={"action": "acknowledge", "comment": ""}, headers=csrf_header(client)
    )
    assert empty.status_code == 422
    ack = await client.post(
        url,
        json={"action": "acknowledge", "comment": "door left open at Xuhui"},
        headers=csrf_header(client),
    )
    assert ack.status_code == 204, ack.text
    acked = {a["key"]: a for a in (await client.get("/console/api/alarms")).json()}
    assert acked["alarm:gw-a:10"]["state"] == "acknowledged"
    assert acked["alarm:gw-a:10"]["comment"] == "door left open at Xuhui"
    assert acked["alarm:gw-a:10"]["by"] == "operator"
    resolve = await client.post(
        url, json={"action": "resolve", "comment": "goods checked"}, headers=csrf_header(client)
    )
    assert resolve.status_code == 204
    open_keys = {a["key"] for a in (await client.get("/console/api/alarms")).json()}
    assert "alarm:gw-a:10" not in open_keys
    history = (await client.get("/console/api/alarms?include_resolved=true")).json()
    assert {a["key"]: a["state"] for a in history}["alarm:gw-a:10"] == "resolved"
    chart_after = (await client.get("/console/api/vehicles/van-7-gps")).json()
    assert chart_after["compartments"][0]["excursions"][0]["state"] == "resolved"

    board = (await client.get("/console/api/orders")).json()
    assert board["counts"] == {"allocated": 2}
    cards = {c["id"]: c for c in board["orders"]}
    assert set(cards) == {o.order_id for o in orders}
    for card in cards.values():
        assert card["nodes"] == [FW_XUHUI] and card["courier_id"] == "van-7"
        assert card["why"]["outcome"] == "single" and FW_XUHUI in card["why"]["summary"]

    stock = (await client.get("/console/api/stock", params={"node_id": FW_XUHUI})).json()
    levels = {(lv["node_id"], lv["sku_id"]): lv for lv in stock["levels"]}
    assert levels[(FW_XUHUI, MILK)]["reserved"] == 2
    assert levels[(FW_XUHUI, MILK)]["available"] == 8
    assert levels[(FW_XUHUI, WATER)]["on_hand"] == 10
    kinds = [(m["kind"], m["sku_id"]) for m in stock["movements"]]
    assert kinds.count(("reserve", MILK)) == 2 and ("receive", WATER) in kinds
    assert {m["node_id"] for m in stock["movements"]} == {FW_XUHUI}

    status = (await client.get("/console/api/status")).json()
    assert status["orders_by_status"] == {"allocated": 2}
    assert [v["id"] for v in status["vehicles"]] == ["van-7-gps"]

    # The chiller warms up: the dispatch loop flags the van's cold tasks, the console lists them.
    await send_temperature(cloud, SENSOR, 7.5, t0 - timedelta(minutes=1), 20)
    run = await run_dispatch(cloud)
    assert run["flags_raised"] >= 1
    flags = [
        a for a in (await client.get("/console/api/alarms")).json() if a["key"].startswith("flag:")
    ]
    assert len(flags) == run["flags_raised"]
    assert {f["kind"] for f in flags} == {"cold_chain_out_of_band"}
    assert all(f["subject"].startswith("van-7 / ") and "7.5 °C" in f["message"] for f in flags)


async def test_a_warehouse_user_sees_only_its_nodes(cloud: Cloud) -> None:
    network = await seeded_with_stock(cloud)
    await give_password(cloud.database, "warehouse")
    await log_in(cloud.client, "warehouse")
    stock = (await cloud.client.get("/console/api/stock")).json()
    assert {lv["node_id"] for lv in stock["levels"]} == {FW_XUHUI}
    assert {m["node_id"] for m in stock["movements"]} == {FW_XUHUI}
    other = await cloud.client.get("/console/api/stock", params={"node_id": network.dc})
    assert other.status_code == 403 and "node_id" in other.json()["error"]["message"]
