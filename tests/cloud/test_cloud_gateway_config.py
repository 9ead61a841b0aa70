"""Gateway configuration documents: admins set them, a gateway downloads its own by ETag
(SQLite and PostgreSQL through the ``cloud`` fixture)."""

from __future__ import annotations

from typing import Any

import pytest

from cloud.gateway_config_schemas import ConfigDocError, etag_matches, parse_config_doc
from tests.cloud.cloud_helpers import Cloud

CHILLER = {"zone": "chiller-1", "devices": ["probe-a", "probe-b"], "min_c": 0.0, "max_c": 4.0}
CHILLER_STORED = {
    **CHILLER,
    "tolerance_s": 600.0,
    "silence_periods": 3,
    "sample_period_s": 30.0,
}
FREEZER = {
    "zone": "freezer",
    "devices": ["probe-f"],
    "max_c": -18.0,
    "tolerance_s": 300,
    "silence_periods": 2,
    "sample_period_s": 10,
}
FREEZER_STORED = {**FREEZER, "min_c": None, "tolerance_s": 300.0, "sample_period_s": 10.0}


async def put(cloud: Cloud, body: Any, gateway: str = "gw-a", token: str | None = None) -> Any:
    return await cloud.client.put(
        f"/api/v1/gateways/{gateway}/config", json=body, headers=cloud.auth(token or cloud.admin)
    )


async def test_versions_grow_only_with_changes_and_roles_are_enforced(cloud: Cloud) -> None:
    first = await put(cloud, {"coldchain": [CHILLER]})
    assert first.status_code == 200, first.text
    assert first.headers["etag"] == '"1"'
    body = first.json()
    assert body.pop("updated_at").endswith("Z")
    assert body == {
        "gateway_id": "gw-a",
        "version": 1,
        "document": {"coldchain": [CHILLER_STORED]},
        "updated_by": "admin",
    }
    # The same rules again (defaults spelled out this time) are no change.
    again = await put(cloud, {"coldchain": [CHILLER_STORED]})
    assert (again.status_code, again.json()["version"]) == (200, 1)
    second = await put(cloud, {"coldchain": [CHILLER, FREEZER]})
    assert (second.status_code, second.headers["etag"]) == (200, '"2"')

    for token in (cloud.admin, cloud.operator):
        read = await cloud.client.get("/api/v1/gateways/gw-a/config", headers=cloud.auth(token))
        assert read.status_code == 200
        assert read.headers["etag"] == '"2"'
        assert read.json()["document"] == {"coldchain": [CHILLER_STORED, FREEZER_STORED]}
    for token in (cloud.warehouse, cloud.gateway_a):
        denied = await cloud.client.get("/api/v1/gateways/gw-a/config", headers=cloud.auth(token))
        assert (denied.status_code, denied.json()["error"]["code"]) == (403, "forbidden_role")
    for token in (cloud.operator, cloud.gateway_a):
        refused = await put(cloud, {"coldchain": []}, token=token)
        assert refused.status_code == 403
    unknown = await put(cloud, {"coldchain": []}, gateway="gw-nope")
    assert unknown.status_code == 404
    assert unknown.json()["error"]["code"] == "gateway_not_found"


async def test_gateway_downloads_its_own_config_by_etag(cloud: Cloud) -> None:
    own = "/api/v1/gateway/config"
    none_yet = await cloud.client.get(own, headers=cloud.auth(cloud.gateway_a))
    assert (none_yet.status_code, none_yet.json()["error"]["code"]) == (404, "no_config")
    await put(cloud, {"coldchain": [CHILLER]})
    await put(cloud, {"coldchain": [FREEZER]})

    got = await cloud.client.get(own, headers=cloud.auth(cloud.gateway_a))
    assert (got.status_code, got.headers["etag"]) == (200, '"2"')
    assert got.json()["document"] == {"coldchain": [FREEZER_STORED]}
    same = {**cloud.auth(cloud.gateway_a), "If-None-Match": '"2"'}
    unchanged = await cloud.client.get(own, headers=same)
    assert (unchanged.status_code, unchanged.headers["etag"], unchanged.content) == (
        304,
        '"2"',
        b"",
    )
    older = {**cloud.auth(cloud.gateway_a), "If-None-Match": '"1"'}
    assert (await cloud.client.get(own, headers=older)).status_code == 200
    # Another gateway sees only its own (none), and users may not call the gateway route.
    other = await cloud.client.get(own, headers=cloud.auth(cloud.gateway_b))
    assert other.status_code == 404
    user = await cloud.client.get(own, headers=cloud.auth(cloud.admin))
    assert user.status_code == 403


INVALID: list[tuple[Any, str]] = [
    ({"coldchain": [{**CHILLER, "min_c": 5.0}]}, "coldchain[0]: min_c must be <= max_c"),
    ({"coldchain": [{**CHILLER, "max": 4.0}]}, "coldchain[0].max: unknown key"),
    (
        {"coldchain": [{"zone": "z", "devices": [], "max_c": 4.0}]},
        "coldchain[0].devices: List should have at least 1 item after validation, not 0",
    ),
    (
        {"coldchain": [CHILLER, FREEZER, {**CHILLER, "devices": ["x"]}]},
        "coldchain: zone used twice: chiller-1",
    ),
    (
        {"coldchain": [{"zone": "z", "devices": ["p"]}]},
        "coldchain[0]: set min_c, max_c or both",
    ),
    (
        {"coldchain": [{**CHILLER, "tolerance_s": -1}]},
        "coldchain[0].tolerance_s: Input should be greater than or equal to 0",
    ),
    ({"rules": []}, "rules: unknown key"),
    ([CHILLER], 'body: must be a JSON object {"coldchain": [...]}'),
]


async def test_invalid_documents_are_refused_naming_the_field(cloud: Cloud) -> None:
    await put(cloud, {"coldchain": [CHILLER]})
    for body, message in INVALID:
        response = await put(cloud, body)
        assert response.status_code == 422, body
        assert response.json() == {"error": {"code": "invalid_config", "message": message}}
    # Nothing was applied: the stored version is unchanged.
    read = await cloud.client.get("/api/v1/gateways/gw-a/config", headers=cloud.auth(cloud.admin))
    assert read.json()["version"] == 1


def test_parse_config_doc_reports_every_bad_field() -> None:
    with pytest.raises(ConfigDocError) as caught:
        parse_config_doc({"coldchain": [{"zone": "", "devices": ["a", "a"], "max_c": "hot"}]})
    assert str(caught.value) == (
        "coldchain[0].zone: String should have at least 1 character; "
        "coldchain[0].max_c: Input should be a valid number, unable to parse string as a number"
    )
    with pytest.raises(ConfigDocError, match=r"coldchain\[0\]: devices: a device is listed twice"):
        parse_config_doc({"coldchain": [{"zone": "z", "devices": ["a", "a"], "max_c": 1}]})
    with pytest.raises(ConfigDocError, match=r"coldchain\[0\].min_c: Input should be a finite"):
        parse_config_doc({"coldchain": [{"zone": "z", "devices": ["a"], "min_c": float("nan")}]})


@pytest.mark.parametrize(
    ("header", "matches"),
    [
        (None, False),
        ("", False),
        ('"3"', True),
        ('W/"3"', True),
        ('"2", "3"', True),
        ("*", True),
        ('"2"', False),
        ("3", False),
    ],
)
def test_if_none_match(header: str | None, matches: bool) -> None:
    assert etag_matches(header, '"3"') is matches
