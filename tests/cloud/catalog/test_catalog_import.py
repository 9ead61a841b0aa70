"""Catalogue import and CRUD through the API: every bad row named, nothing half-applied."""

from __future__ import annotations

from typing import Any

from tests.cloud.catalog.catalog_test_helpers import get_json, import_items
from tests.cloud.cloud_helpers import Cloud
from tests.cloud.domain_seed import NODES, SKUS, ZONES, gtin13

SKU_CSV_HEADER = (
    "id,gtin,name,category,temperature_class,weight_g,volume_cm3,pack_of,pack_quantity\n"
)


def sku(sku_id: str, item: int, **changes: Any) -> dict[str, Any]:
    return {
        "id": sku_id,
        "gtin": gtin13(item),
        "name": f"Item {item}",
        "category": "grocery",
        "temperature_class": "ambient",
        "weight_g": 100,
        "volume_cm3": 200,
        **changes,
    }


async def upload(cloud: Cloud, kind: str, name: str, text: str) -> Any:
    return await cloud.client.post(
        "/api/v1/catalogue/import",
        data={"kind": kind},
        files={"file": (name, text.encode(), "text/csv")},
        headers=cloud.auth(cloud.admin),
    )


async def test_imports_are_all_or_nothing_and_idempotent(cloud: Cloud) -> None:
    items = [sku("sku-1", 1), sku("sku-2", 2), sku("sku-1", 1, name="Other"), sku("sku-2", 2)]
    body = await import_items(cloud, "skus", items, status=422)
    assert body["error"]["code"] == "import_rejected"
    assert body["error"]["problems"] == [
        {"line": 3, "field": "id", "message": "'sku-1' is also on line 1 with other content"}
    ]
    assert (await get_json(cloud, "/api/v1/skus", cloud.admin))["total"] == 0
    good = [f"sku-{i},{gtin13(i)},Item {i},grocery,ambient,100,200,," for i in (1, 2, 3)]
    bad_digit = gtin13(5)[:-1] + str((int(gtin13(5)[-1]) + 1) % 10)
    rows = [
        good[0],
        f"sku-5,{bad_digit},Item 5,grocery,tepid,100,200,,",
        good[1],
        f"sku-6,{gtin13(6)},Item 6,grocery,ambient,-1,200,sku-404,6",
        good[2],
    ]
    response = await upload(cloud, "skus", "skus.csv", SKU_CSV_HEADER + "\n".join(rows) + "\n")
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert [(p["line"], p["field"]) for p in error["problems"]] == [
        (3, "gtin"),
        (3, "temperature_class"),
        (5, "weight_g"),
    ]
    assert error["message"].startswith("skus: nothing imported, fix 3 problem(s): line 3: gtin:")
    assert (await get_json(cloud, "/api/v1/skus", cloud.admin))["total"] == 0
    # A reference problem shows once the row itself is valid.
    rows[3] = f"sku-6,{gtin13(6)},Item 6,grocery,ambient,1,200,sku-404,6"
    rows[1] = good[0].replace("sku-1", "sku-5", 1)
    response = await upload(cloud, "skus", "skus.csv", SKU_CSV_HEADER + "\n".join(rows) + "\n")
    assert response.json()["error"]["problems"] == [
        {
            "line": 3,
            "field": "gtin",
            "message": f"GTIN 0{gtin13(1)} already belongs to SKU 'sku-1'",
        },
        {"line": 5, "field": "pack_of", "message": "no SKU 'sku-404'; create the unit first"},
    ]
    text = SKU_CSV_HEADER + "\n".join(good) + "\n"
    response = await upload(cloud, "skus", "skus.csv", text)
    assert response.json() == {
        "kind": "skus",
        "total": 3,
        "created": 3,
        "updated": 0,
        "unchanged": 0,
    }
    again = await upload(cloud, "skus", "skus.csv", text.replace("Item 3", "Item three"))
    assert again.json() == {"kind": "skus", "total": 3, "created": 0, "updated": 1, "unchanged": 2}
    assert (await get_json(cloud, "/api/v1/skus/sku-3", cloud.operator))["name"] == "Item three"


async def test_zone_and_location_references(cloud: Cloud) -> None:
    await import_items(cloud, "nodes", [NODES[2]])  # Zhangjiang: ambient and chilled
    node = NODES[2]["id"]
    zones = [
        {"id": "z-frozen", "node_id": node, "name": "F", "temperature_class": "frozen"},
        {
            "id": "z-c1",
            "node_id": node,
            "name": "C1",
            "temperature_class": "chilled",
            "alarm_subjects": ["probe-1"],
        },
        {
            "id": "z-c2",
            "node_id": node,
            "name": "C2",
            "temperature_class": "chilled",
            "alarm_subjects": ["probe-1"],
        },
        {"id": "z-x", "node_id": "nowhere", "name": "X", "temperature_class": "ambient"},
    ]
    body = await import_items(cloud, "zones", zones, status=422)
    assert body["error"]["problems"] == [
        {
            "line": 1,
            "field": "temperature_class",
            "message": f"node {node!r} has no frozen capability (it has ambient, chilled)",
        },
        {
            "line": 3,
            "field": "alarm_subjects",
            "message": "'probe-1' already stands for zone 'z-c1' at this node",
        },
        {"line": 4, "field": "node_id", "message": "no node 'nowhere'; create it first"},
    ]
    assert (await get_json(cloud, "/api/v1/zones", cloud.admin))["total"] == 0
    await import_items(cloud, "nodes", NODES[:2])
    await import_items(
        cloud, "zones", [z for z in ZONES if z["node_id"] in (NODES[0]["id"], NODES[1]["id"])]
    )
    other_zone = f"{NODES[0]['id']}-frozen"
    body = await import_items(
        cloud,
        "locations",
        [
            {"node_id": NODES[1]["id"], "code": "F-9", "zone_id": other_zone},
            {"node_id": NODES[1]["id"], "code": "F-8", "zone_id": "no-zone"},
        ],
        status=422,
    )
    assert body["error"]["problems"] == [
        {
            "line": 1,
            "field": "zone_id",
            "message": f"zone {other_zone!r} is at node {NODES[0]['id']!r}, not {NODES[1]['id']!r}",
        },
        {"line": 2, "field": "zone_id", "message": "no zone 'no-zone'; create it first"},
    ]
    response = await cloud.client.post(
        "/api/v1/locations",
        json={"node_id": "nowhere", "code": "A-01-01"},
        headers=cloud.auth(cloud.admin),
    )
    assert response.status_code == 422, response.text
    assert response.json()["error"] == {
        "code": "validation_failed",
        "message": "node_id: no node 'nowhere'; create it first",
    }


async def test_create_put_deactivate(cloud: Cloud) -> None:
    admin = cloud.auth(cloud.admin)
    node = NODES[0]
    created = await cloud.client.post("/api/v1/nodes", json=node, headers=admin)
    assert created.status_code == 201, created.text
    replay = await cloud.client.post("/api/v1/nodes", json=node, headers=admin)
    assert replay.status_code == 200 and replay.json() == created.json()
    conflict = await cloud.client.post(
        "/api/v1/nodes", json={**node, "delivery_radius_km": 5}, headers=admin
    )
    assert conflict.status_code == 409
    assert conflict.json()["error"]["code"] == "already_exists"
    mismatch = await cloud.client.put("/api/v1/nodes/other", json=node, headers=admin)
    assert mismatch.status_code == 422
    assert mismatch.json()["error"]["message"].startswith("id: 'dc-sh-jiading' in the body")
    put = await cloud.client.put(
        f"/api/v1/nodes/{node['id']}", json={**node, "delivery_radius_km": 5}, headers=admin
    )
    assert put.status_code == 200 and put.json()["delivery_radius_km"] == 5
    forbidden = await cloud.client.put(
        f"/api/v1/nodes/{node['id']}", json=node, headers=cloud.auth(cloud.operator)
    )
    assert forbidden.status_code == 403
    gone = await cloud.client.delete(f"/api/v1/nodes/{node['id']}", headers=admin)
    assert gone.status_code == 200 and gone.json()["active"] is False
    inactive = await get_json(cloud, "/api/v1/nodes", cloud.operator, active=False)
    assert [n["id"] for n in inactive["items"]] == [node["id"]]
    missing = await cloud.client.delete("/api/v1/nodes/none", headers=admin)
    assert missing.status_code == 404
    bad = {**sku("sku-1", 1), "gtin": gtin13(1)[:-1] + str((int(gtin13(1)[-1]) + 1) % 10)}
    response = await cloud.client.post("/api/v1/skus", json=bad, headers=cloud.auth(cloud.admin))
    assert response.status_code == 422, response.text
    expected = gtin13(1)[-1]
    assert response.json()["error"]["message"] == (
        f"fix the request: body.gtin: Value error, check digit is {bad['gtin'][-1]}, "
        f"expected {expected}"
    )


async def test_paging_short_gtins_and_case_packs(cloud: Cloud) -> None:
    await import_items(cloud, "skus", SKUS)
    first = await get_json(cloud, "/api/v1/skus", cloud.operator, limit=5)
    assert first["total"] == 12 and first["next_offset"] == 5
    rest = await get_json(cloud, "/api/v1/skus", cloud.operator, limit=10, offset=5)
    assert rest["next_offset"] is None
    ids = [s["id"] for s in first["items"] + rest["items"]]
    assert ids == sorted(s["id"] for s in SKUS)

    case_of_case = sku("sku-pallet", 50, pack_of="sku-water-550-x24", pack_quantity=40)
    response = await cloud.client.post(
        "/api/v1/skus", json=case_of_case, headers=cloud.auth(cloud.admin)
    )
    assert response.status_code == 422
    assert response.json()["error"]["message"] == (
        "pack_of: 'sku-water-550-x24' is itself a pack; name the unit SKU"
    )
    lone = await cloud.client.post(
        "/api/v1/skus", json=sku("sku-x", 51, pack_quantity=6), headers=cloud.auth(cloud.admin)
    )
    assert lone.status_code == 422
    assert "pack_quantity: must be 1 unless pack_of names the unit SKU" in lone.text
    gtin8 = "96385074"  # a valid GTIN-8
    response = await cloud.client.post(
        "/api/v1/skus", json=sku("sku-8", 1, gtin=gtin8), headers=cloud.auth(cloud.admin)
    )
    assert response.status_code == 201, response.text
    assert response.json()["gtin"] == "00000096385074"
    found = await get_json(cloud, "/api/v1/skus", cloud.warehouse, gtin=gtin8)
    assert [item["id"] for item in found["items"]] == ["sku-8"]
