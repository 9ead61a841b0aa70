"""The rule set in force: first use under concurrency, the per-process cache and its TTL."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import event, select, update

from cloud.db import Database
from cloud.member_rules import DEFAULT_RULES, parse_rule_set
from cloud.order_models import ServiceRuleSet
from cloud.services import service_rules
from tests.cloud.cloud_helpers import Cloud

NOW = datetime(2026, 11, 25, 22, 0, tzinfo=UTC)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    fake = FakeClock()
    monkeypatch.setattr(service_rules, "_clock", fake)
    return fake


class StatementCounter:
    def __init__(self, database: Database) -> None:
        self.count = 0
        event.listen(database.engine.sync_engine, "before_cursor_execute", self._seen)

    def _seen(self, *_args: Any) -> None:
        self.count += 1

    def taken(self) -> int:
        count, self.count = self.count, 0
        return count


async def active_version(database: Database) -> int:
    async with database.sessions.begin() as session:
        version, _rules = await service_rules.active_rule_set(session=session)
    return version


async def publish(database: Database, comment: str) -> int:
    async with database.sessions.begin() as session:
        return await service_rules.publish_rule_set(
            session=session, document=DEFAULT_RULES, comment=comment, actor="test", now=NOW
        )


async def test_concurrent_first_use_stores_the_defaults_once(cloud: Cloud) -> None:
    async def first_use() -> tuple[int, object]:
        async with cloud.database.sessions.begin() as session:
            return await service_rules.active_rule_set(session=session)

    results = await asyncio.gather(*(first_use() for _ in range(8)))
    assert {version for version, _rules in results} == {1}
    assert all(rules == parse_rule_set(DEFAULT_RULES) for _version, rules in results)
    async with cloud.database.sessions() as session:
        rows = (await session.scalars(select(ServiceRuleSet))).all()
    assert [(row.version, row.rules, row.created_by) for row in rows] == [
        (1, DEFAULT_RULES, "system")
    ]


async def test_cache_ttl_and_publishing_across_processes(cloud: Cloud, clock: FakeClock) -> None:
    statements = StatementCounter(cloud.database)
    assert await active_version(cloud.database) == 1
    statements.taken()
    clock.now += service_rules.CACHE_TTL_S - 0.1
    assert await active_version(cloud.database) == 1
    assert statements.taken() == 0
    clock.now += 0.2
    assert await active_version(cloud.database) == 1
    assert statements.taken() == 1  # SELECT max(version); the parsed set is reused

    # Another API process (its own engine) sees a version published here within the TTL.
    here, replica = cloud.database, Database(cloud.database.url)
    try:
        assert await active_version(here) == 1
        assert await active_version(replica) == 1
        assert await publish(here, "here") == 2
        assert await active_version(here) == 2
        assert await active_version(replica) == 1
        clock.now += service_rules.CACHE_TTL_S
        assert await active_version(replica) == 2
        assert await active_version(here) == 2  # re-checked: cached again from now on
        assert await publish(replica, "there") == 3
        assert await active_version(replica) == 3
        assert await active_version(here) == 2
        clock.now += service_rules.CACHE_TTL_S
        assert await active_version(here) == 3
    finally:
        await replica.dispose()


async def a_stored_set_that_no_longer_validates_is_refused_loudly(
    cloud: Cloud, version: int
) -> None:
    broken = {**DEFAULT_RULES, "tiers": []}
    async with cloud.database.sessions.begin() as session:
        await session.execute(
            update(ServiceRuleSet).where(ServiceRuleSet.version == version).values(rules=broken)
        )
    response = await cloud.client.post(
        "/api/v1/service-rules/evaluate",
        json={
            "context": {
                "tier": None,
                "channel": "app",
                "channel_kind": "app",
                "basket_value_cents": 100,
                "item_count": 1,
            }
        },
        headers=cloud.auth(cloud.operator),
    )
    assert response.status_code == 500
    assert response.json() == {
        "error": {
            "code": "stored_rule_set_invalid",
            "message": f"stored rule set version {version} is invalid "
            "(tiers: expected a non-empty list "
            "of strings, got an empty list); publish a corrected version",
        }
    }


async def test_concurrent_publishes_get_distinct_versions_or_a_conflict(cloud: Cloud) -> None:
    async def attempt(index: int) -> tuple[int, dict[str, Any]]:
        response = await cloud.client.put(
            "/api/v1/service-rules",
            json={"document": DEFAULT_RULES, "comment": f"editor {index}"},
            headers=cloud.auth(cloud.admin),
        )
        return response.status_code, response.json()

    await active_version(cloud.database)
    results = await asyncio.gather(*(attempt(index) for index in range(6)))
    published = sorted(answer["version"] for status, answer in results if status == 200)
    refused = [answer["error"]["code"] for status, answer in results if status != 200]
    assert published == list(range(2, 2 + len(published)))
    assert refused == ["version_conflict"] * (6 - len(published))
    async with cloud.database.sessions() as session:
        stored = (await session.scalars(select(ServiceRuleSet.version))).all()
    assert sorted(stored) == [1, *published]
    await a_stored_set_that_no_longer_validates_is_refused_loudly(cloud, max(published))
