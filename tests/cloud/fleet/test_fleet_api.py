"""The courier registry: validation naming the field, replace by id, rider keys."""

from __future__ import annotations

from typing import Any

from tests.cloud.cloud_helpers import Cloud, batch, position, wire
from tests.cloud.domain_seed import seed_network
from tests.cloud.fleet.fleet_helpers import SHIFT, courier_body, reefer_body


async def _post(cloud: Cloud, body: dict[str, Any], token: str | None = None) -> Any:
    return await cloud.client.post(
        "/api/v1/couriers", json=body, headers=cloud.auth(token or cloud.operator)
    )


async def test_couriers_are_validated_registered_and_replaced(cloud: Cloud) -> None:
    await seed_network(cloud.client, cloud.admin)
    overlapping = [SHIFT, {**SHIFT, "start": SHIFT["start"]}]
    bad: list[tuple[dict[str, Any], int, str, str]] = [
        (courier_body("r-1", home_node_id="nowhere"), 422, "unknown_node", "home_node_id"),
        (courier_body("r-1", shifts=overlapping), 422, "invalid_shifts", "shifts[1]"),
        (courier_body("r-1", kind="reefer_van"), 422, "invalid_compartments", "reefer_van"),
        (
            {**reefer_body("v-1", "s-1"), "skills": []},
            422,
            "invalid_compartments",
            "chilled compartment needs that skill",
        ),
        (courier_body("r-1", kind="bicycle"), 422, "validation_failed", "kind"),
        (courier_body("r-1", capacity=0), 422, "validation_failed", "capacity"),
    ]
    for body, status, code, words in bad:
        response = await _post(cloud, body)
        assert response.status_code == status, (body, response.text)
        assert response.json()["error"]["code"] == code, response.text
        assert words in response.json()["error"]["message"], response.text
    response = await _post(cloud, courier_body("r-1"), cloud.warehouse)
    assert response.status_code == 403
    response = await cloud.client.get("/api/v1/couriers", headers=cloud.auth(cloud.operator))
    assert response.json() == []

    response = await _post(cloud, reefer_body("van-7", "van-7-chiller"))
    assert response.status_code == 201, response.text
    van = response.json()
    assert (van["kind"], van["capacity"], van["gps_device_id"]) == ("reefer_van", 40, "van-7-gps")
    assert van["effective_skills"] == []  # no reading from its chiller yet
    assert van["compartments"][0]["why"] == "no temperature reading yet"
    assert van["position"]["source"] == "home"
    taken = await _post(cloud, {**courier_body("r-2"), "gps_device_id": "van-7-gps"})
    assert taken.status_code == 409 and taken.json()["error"]["code"] == "gps_device_taken"
    again = await _post(cloud, {**reefer_body("van-7", "van-7-chiller"), "capacity": 30})
    assert again.status_code == 200 and again.json()["capacity"] == 30
    fix = wire(position("van-7-gps", 0, lat=31.2001, lon=121.4502), 1)
    response = await cloud.client.post(
        "/api/v1/ingest", json=batch("gw-a", 1, 1, [fix]), headers=cloud.auth(cloud.gateway_a)
    )
    assert response.status_code == 200, response.text
    listed = await cloud.client.get("/api/v1/couriers", headers=cloud.auth(cloud.admin))
    [van] = listed.json()
    assert van["id"] == "van-7"
    assert (van["position"]["source"], van["position"]["lat"], van["position"]["lon"]) == (
        "gps",
        31.2001,
        121.4502,
    )

    response = await cloud.client.post(
        "/api/v1/users", json={"name": "ghost", "role": "rider"}, headers=cloud.auth(cloud.admin)
    )
    assert response.status_code == 422 and response.json()["error"]["code"] == "unknown_courier"
    response = await cloud.client.post(
        "/api/v1/users", json={"name": "van-7", "role": "rider"}, headers=cloud.auth(cloud.admin)
    )
    assert response.status_code == 201 and response.json()["role"] == "rider"
    key = response.json()["api_key"]
    tasks = await cloud.client.get("/api/v1/rider/tasks", headers=cloud.auth(key))
    assert tasks.status_code == 200 and tasks.json() == []
