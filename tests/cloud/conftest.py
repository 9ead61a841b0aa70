"""Cloud fixtures: every API test runs on SQLite (file in tmp_path) and on PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from cloud import Settings, create_app
from cloud.db import Database
from cloud.services.gateways import create_gateway
from cloud.services.users import create_user
from tests.cloud.cloud_helpers import MAX_BATCH_BYTES, Cloud


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest) -> str:
    """A database at the newest schema, copied from one migrated per run (migrating per test
    dominated the suite's time); the migration test still upgrades from empty through it."""
    fixture = "migrated_sqlite_url" if request.param == "sqlite" else "migrated_postgres_url"
    url: str = request.getfixturevalue(fixture)
    return url


async def seed_credentials(database: Database) -> dict[str, str]:
    now = datetime.now(UTC)
    async with database.sessions.begin() as session:
        tokens = {
            role: (await create_user(session=session, name=role, role=role, now=now)).api_key
            for role in ("admin", "operator", "warehouse")
        }
        for gateway in ("gw-a", "gw-b"):
            created = await create_gateway(session=session, gateway_id=gateway, now=now)
            tokens[gateway] = created.token
    return tokens


@pytest.fixture
async def cloud(database_url: str, tmp_path: Path) -> AsyncIterator[Cloud]:
    settings = Settings(
        database_url=database_url, data_dir=tmp_path, max_batch_bytes=MAX_BATCH_BYTES
    )
    app = create_app(settings)
    database: Database = app.state.database
    tokens = await seed_credentials(database)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://cloud") as client:
        yield Cloud(
            client=client,
            database=database,
            admin=tokens["admin"],
            operator=tokens["operator"],
            warehouse=tokens["warehouse"],
            gateway_a=tokens["gw-a"],
            gateway_b=tokens["gw-b"],
        )
    await database.dispose()
