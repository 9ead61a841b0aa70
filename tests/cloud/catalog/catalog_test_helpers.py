"""Small request helpers for the catalogue tests."""

from __future__ import annotations

from typing import Any

from tests.cloud.cloud_helpers import Cloud


async def get_json(cloud: Cloud, path: str, token: str, **params: Any) -> Any:
    response = await cloud.client.get(path, params=params, headers=cloud.auth(token))
    assert response.status_code == 200, response.text
    return response.json()


async def import_items(
    cloud: Cloud, kind: str, items: list[dict[str, Any]], status: int = 200
) -> Any:
    response = await cloud.client.post(
        "/api/v1/catalogue/import",
        json={"kind": kind, "items": items},
        headers=cloud.auth(cloud.admin),
    )
    assert response.status_code == status, response.text
    return response.json()
