"""The gateways table and the orders board with real inputs: a health document built by the
edge's own code (connector snapshots, the downlink section after polling this cloud), and an
order history longer than the board."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from cloud.console.boards import orders_board
from cloud.security import Principal, Role
from edge.downlink import Downlink
from firmware_bridge.records import Measurement, Quantity, Unit
from tests.cloud.allocation.helpers import OPEN_HOURS, set_clock
from tests.cloud.cloud_helpers import Cloud, batch, wire
from tests.cloud.domain_seed import WATER
from tests.cloud.orders_lifecycle.lifecycle_helpers import place_app_order, seeded_with_stock
from tests.console.edge_health import gps_snapshots, health

CHILLER = {"zone": "chiller-1", "devices": ["probe-1"], "min_c": 0.0, "max_c": 4.0}


async def test_gateways_show_connector_status_and_both_config_versions(
    cloud: Cloud, tmp_path: Path
) -> None:
    put = "/api/v1/gateways/gw-a/config"
    first = await cloud.client.put(
        put, json={"coldchain": [CHILLER]}, headers=cloud.auth(cloud.admin)
    )
    assert first.status_code == 200, first.text
    downlink = Downlink(
        cloud.client,
        cloud_url=str(cloud.client.base_url),
        token=cloud.gateway_a,
        data_dir=tmp_path,
        poll_s=30,
    )
    await downlink.poll_once()
    assert downlink.config_version == 1
    changed = {"coldchain": [{**CHILLER, "max_c": 5.0}]}
    second = await cloud.client.put(put, json=changed, headers=cloud.auth(cloud.admin))
    assert second.json()["version"] == 2  # the gateway has not polled since

    doc = health("gw-a", connectors=await gps_snapshots(tmp_path), downlink=downlink.snapshot())
    reading = Measurement("probe-1", OPEN_HOURS, Quantity.TEMPERATURE, 3.0, Unit.CELSIUS)
    sent = await cloud.client.post(
        "/api/v1/ingest",
        json=batch("gw-a", 1, 1, [wire(reading, 1)], health=doc),
        headers=cloud.auth(cloud.gateway_a),
    )
    assert sent.status_code == 200, sent.text

    response = await cloud.client.get("/console/api/gateways", headers=cloud.auth(cloud.operator))
    assert response.status_code == 200, response.text
    gateways = {g["id"]: g for g in response.json()}
    shown = gateways["gw-a"]
    assert shown["connectors"] == {"gps": "connected", "gps-spare": "starting"}
    assert (shown["config_version"], shown["reported_config_version"]) == ("2", 1)
    assert (shown["config_source"], shown["config_status"]) == ("cloud", "applied")
    assert shown["uplink_state"] == "connected"
    quiet = gateways["gw-b"]
    assert quiet["connectors"] == {} and quiet["config_version"] is None
    assert (quiet["reported_config_version"], quiet["config_source"]) == (None, None)


async def _cancel(cloud: Cloud, order_id: str, token: str) -> None:
    response = await cloud.client.post(
        f"/api/v1/orders/{order_id}/cancel",
        json={"reason": "customer changed their mind"},
        headers=cloud.auth(token),
    )
    assert response.status_code == 200, response.text


async def test_open_orders_fill_the_board_before_closed_history(cloud: Cloud) -> None:
    network = await seeded_with_stock(cloud)
    placed = []
    for i in range(7):
        set_clock(cloud, OPEN_HOURS + timedelta(minutes=i))  # each promised a minute later
        placed.append((await place_app_order(cloud, network, f"ext-{i}", [(WATER, 1)])).order_id)
    app = network.channel_tokens["app"]
    # The four earliest promises are history: cancelled, the most recent cancel last.
    for i, order_id in enumerate(placed[:4]):
        set_clock(cloud, OPEN_HOURS + timedelta(minutes=10 + i))
        await _cancel(cloud, order_id, app)
    open_ids = placed[4:]
    operator = Principal(Role.OPERATOR, "operator")

    async with cloud.database.sessions() as session:
        now = OPEN_HOURS + timedelta(minutes=20)
        tight = await orders_board(session=session, principal=operator, now=now, limit=3)
        roomy = await orders_board(session=session, principal=operator, now=now, limit=5)
        everything = await orders_board(session=session, principal=operator, now=now)
    assert [c.id for c in tight.orders] == open_ids
    assert tight.counts == {"allocated": 3, "cancelled": 4}
    assert [c.id for c in roomy.orders] == [*open_ids, placed[3], placed[2]]
    assert [c.status for c in roomy.orders] == ["allocated"] * 3 + ["cancelled"] * 2
    assert [c.id for c in everything.orders] == [*open_ids, *reversed(placed[:4])]

    board = await cloud.client.get("/console/api/orders", headers=cloud.auth(cloud.operator))
    assert [c["id"] for c in board.json()["orders"]][:3] == open_ids


async def test_a_gateway_whose_health_is_not_an_object_shows_nothing_of_it(cloud: Cloud) -> None:
    odd = health("gw-a")
    odd["connectors"] = {"gps": "connected", "can": {"no_status": 1}}
    odd["downlink"] = {"config_version": True, "config": "applied"}
    reading = Measurement("probe-1", OPEN_HOURS, Quantity.TEMPERATURE, 3.0, Unit.CELSIUS)
    sent = await cloud.client.post(
        "/api/v1/ingest",
        json=batch("gw-a", 1, 1, [wire(reading, 1)], health=odd),
        headers=cloud.auth(cloud.gateway_a),
    )
    assert sent.status_code == 200, sent.text
    response = await cloud.client.get("/console/api/gateways", headers=cloud.auth(cloud.operator))
    [shown] = [g for g in response.json() if g["id"] == "gw-a"]
    assert shown["connectors"] == {"can": "?", "gps": "connected"}
    assert (shown["reported_config_version"], shown["config_status"]) == (None, None)
