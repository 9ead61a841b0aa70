"""The gateway's catalogue snapshot (ETag, 304) and node-scoped roles."""

from __future__ import annotations

from cloud.security import Principal, Role
from cloud.services.scope import visible_node_ids
from tests.cloud.catalog.catalog_test_helpers import get_json
from tests.cloud.cloud_helpers import Cloud
from tests.cloud.domain_seed import (
    FW_XUHUI,
    MEMBERS,
    NODES,
    SKUS,
    STORE_LUJIAZUI,
    WATER,
    WATER_CASE,
    seed_network,
)


async def test_snapshot_etag_and_304(cloud: Cloud) -> None:
    seed = await seed_network(cloud.client, cloud.admin)
    headers = cloud.auth(cloud.gateway_a)
    response = await cloud.client.get("/api/v1/catalogue/snapshot", headers=headers)
    assert response.status_code == 200, response.text
    etag = response.headers["etag"]
    assert etag.startswith('"') and len(etag) == 66  # strong: quoted SHA-256 hex
    body = response.json()
    assert body["node"]["id"] == FW_XUHUI and body["node"]["gateways"] == ["gw-a"]
    assert [loc["code"] for loc in body["locations"]] == sorted(seed.locations[FW_XUHUI])
    assert {"code": "C-01-01", "zone_id": f"{FW_XUHUI}-chilled"} in body["locations"]
    assert len(body["skus"]) == len(SKUS)
    case = next(s for s in body["skus"] if s["id"] == WATER_CASE)
    assert case == {
        "id": WATER_CASE,
        "gtin": seed.skus[WATER_CASE]["gtin"],
        "name": "Mineral water 550 ml, case of 24",
        "temperature_class": "ambient",
        "pack_of": "sku-water-550",
        "pack_quantity": 24,
    }
    same = await cloud.client.get(
        "/api/v1/catalogue/snapshot", headers={**headers, "If-None-Match": etag}
    )
    assert same.status_code == 304 and same.content == b"" and same.headers["etag"] == etag
    # Deactivating a SKU changes the content, so the old ETag no longer matches.
    await cloud.client.delete(f"/api/v1/skus/{WATER_CASE}", headers=cloud.auth(cloud.admin))
    changed = await cloud.client.get(
        "/api/v1/catalogue/snapshot", headers={**headers, "If-None-Match": etag}
    )
    assert changed.status_code == 200 and changed.headers["etag"] != etag
    assert WATER_CASE not in {s["id"] for s in changed.json()["skus"]}
    other = await cloud.client.get(
        "/api/v1/catalogue/snapshot", headers=cloud.auth(cloud.gateway_b)
    )
    assert other.json()["node"]["id"] == STORE_LUJIAZUI


async def test_seed_network_reads_back_and_node_scope_per_role(cloud: Cloud) -> None:
    seed = await seed_network(cloud.client, cloud.admin)
    assert seed.node_ids == tuple(node["id"] for node in NODES)
    assert len(seed.skus) == len(SKUS) == 12
    assert seed.skus[WATER]["gtin"] == "0" + SKUS[0]["gtin"]
    assert seed.skus[WATER_CASE]["pack_of"] == WATER
    assert seed.skus[WATER_CASE]["pack_quantity"] == 24
    assert seed.gateway_nodes == {"gw-a": FW_XUHUI, "gw-b": "st-sh-lujiazui"}
    nodes = await get_json(cloud, "/api/v1/nodes", cloud.operator)
    assert nodes["total"] == 5 and nodes["next_offset"] is None
    xuhui = await get_json(cloud, f"/api/v1/nodes/{FW_XUHUI}", cloud.warehouse)
    assert xuhui["capabilities"] == ["ambient", "chilled", "frozen"]
    assert xuhui["opening_hours"]["sun"] == [["07:00", "23:00"]]
    assert xuhui["gateways"] == ["gw-a"]
    members = await get_json(cloud, "/api/v1/members", cloud.operator)
    assert [m["id"] for m in members["items"]] == sorted(m["id"] for m in MEMBERS)
    assert all(m["masked"] for m in members["items"])
    zones = await get_json(cloud, "/api/v1/zones", cloud.operator, node_id=FW_XUHUI)
    assert {z["temperature_class"] for z in zones["items"]} == {"ambient", "chilled", "frozen"}
    nodes_of_user = await get_json(cloud, "/api/v1/users/warehouse/nodes", cloud.admin)
    assert nodes_of_user == {"node_ids": [FW_XUHUI]}
    async with cloud.database.sessions() as session:
        scopes = {
            role: await visible_node_ids(session=session, principal=Principal(role, name))
            for role, name in (
                (Role.ADMIN, "admin"),
                (Role.OPERATOR, "operator"),
                (Role.WAREHOUSE, "warehouse"),
                (Role.CHANNEL, "app"),
                (Role.GATEWAY, "gw-a"),
            )
        }
    assert scopes == {
        Role.ADMIN: None,
        Role.OPERATOR: None,
        Role.WAREHOUSE: frozenset({FW_XUHUI}),
        Role.CHANNEL: frozenset(),
        Role.GATEWAY: frozenset(),
    }
    admin = cloud.auth(cloud.admin)
    both = await cloud.client.put(
        "/api/v1/users/warehouse/nodes",
        json={"node_ids": [STORE_LUJIAZUI, FW_XUHUI, FW_XUHUI]},
        headers=admin,
    )
    assert both.json() == {"node_ids": [FW_XUHUI, STORE_LUJIAZUI]}
    unknown = await cloud.client.put(
        "/api/v1/users/warehouse/nodes", json={"node_ids": ["nowhere"]}, headers=admin
    )
    assert unknown.status_code == 422
    assert unknown.json()["error"]["message"] == "node_ids: no node 'nowhere'"
    assert (await get_json(cloud, "/api/v1/users/warehouse/nodes", cloud.operator))["node_ids"] == [
        FW_XUHUI,
        STORE_LUJIAZUI,
    ]
    not_warehouse = await cloud.client.put(
        "/api/v1/users/operator/nodes", json={"node_ids": [FW_XUHUI]}, headers=admin
    )
    assert not_warehouse.status_code == 422
    assert not_warehouse.json()["error"]["message"].startswith("name: user 'operator' has role")
    nobody = await cloud.client.put(
        "/api/v1/users/ghost/nodes", json={"node_ids": []}, headers=admin
    )
    assert nobody.status_code == 404
    assert seed.warehouse_nodes == {"warehouse": (FW_XUHUI,)}


async def test_channel_user_needs_its_channel_and_uninstalled_gateways(cloud: Cloud) -> None:
    missing = await cloud.client.get(
        "/api/v1/catalogue/snapshot", headers=cloud.auth(cloud.gateway_a)
    )
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "gateway_not_installed"
    assert "'gw-a' is not installed at any node" in missing.json()["error"]["message"]
    user = await cloud.client.get("/api/v1/catalogue/snapshot", headers=cloud.auth(cloud.admin))
    assert user.status_code == 403
    admin = cloud.auth(cloud.admin)
    refused = await cloud.client.post(
        "/api/v1/users", json={"name": "jd", "role": "channel"}, headers=admin
    )
    assert refused.status_code == 422
    assert refused.json()["error"]["code"] == "unknown_channel"
    created = await cloud.client.post(
        "/api/v1/channels", json={"id": "jd", "kind": "marketplace"}, headers=admin
    )
    assert created.status_code == 201
    assert created.json() == {
        "id": "jd",
        "kind": "marketplace",
        "webhook_url": None,
        "has_webhook_secret": False,
        "active": True,
    }
    user = await cloud.client.post(
        "/api/v1/users", json={"name": "jd", "role": "channel"}, headers=admin
    )
    assert user.status_code == 201, user.text
    no_secret = await cloud.client.put(
        "/api/v1/channels/jd",
        json={"id": "jd", "kind": "marketplace", "webhook_url": "https://jd.example/h"},
        headers=admin,
    )
    assert no_secret.status_code == 422
    assert "webhook_secret: required with webhook_url" in no_secret.json()["error"]["message"]
