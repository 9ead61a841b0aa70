"""A 2xx from a write means it is stored: the transaction commits before the answer is sent."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy.orm import SessionTransaction

from tests.cloud.cloud_helpers import Cloud


async def test_a_failed_commit_is_answered_500_not_201(
    cloud: Cloud, monkeypatch: pytest.MonkeyPatch
) -> None:
    def failing_commit(self: SessionTransaction, *args: Any, **kwargs: Any) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(SessionTransaction, "commit", failing_commit)
    answer = await cloud.client.post(
        "/api/v1/users", json={"name": "late", "role": "operator"}, headers=cloud.auth(cloud.admin)
    )
    assert answer.status_code == 500
    assert answer.json()["error"]["code"] == "internal_error"


async def test_a_created_key_works_on_the_very_next_request(cloud: Cloud) -> None:
    created = await cloud.client.post(
        "/api/v1/users", json={"name": "fresh", "role": "operator"}, headers=cloud.auth(cloud.admin)
    )
    assert created.status_code == 201
    listed = await cloud.client.get(
        "/api/v1/vehicles", headers=cloud.auth(created.json()["api_key"])
    )
    assert listed.status_code == 200
