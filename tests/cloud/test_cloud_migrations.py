"""The Alembic migrations build exactly the schema cloud.models declares (SQLite, PostgreSQL)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from click.testing import CliRunner
from sqlalchemy import Connection, inspect

from cloud.cli import cloud_group
from cloud.db import create_engine
from cloud.migrate import alembic_config, upgrade_database
from cloud.tables import metadata


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database: these tests migrate from nothing (the API tests get migrated copies)."""
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'cloud.db'}"
    url: str = request.getfixturevalue("postgres_url")
    return url


def _differences(connection: Connection) -> list[Any]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, metadata))


Indexes = list[tuple[str | None, list[str | None]]]


def _tag_event_schema(connection: Connection) -> tuple[set[str], Indexes]:
    inspector = inspect(connection)
    tables = set(inspector.get_table_names())
    if "tag_events" not in tables:
        return tables, []
    indexes = inspector.get_indexes("tag_events")
    return tables, sorted(
        ((ix["name"], list(ix["column_names"])) for ix in indexes), key=lambda ix: str(ix[0])
    )


def _downgrade(connection: Connection, url: str, revision: str) -> None:
    command.downgrade(alembic_config(url, connection), revision)


async def test_head_matches_models_and_0003_downgrades(database_url: str) -> None:
    await upgrade_database(database_url)
    engine = create_engine(database_url)
    try:
        async with engine.begin() as connection:
            assert await connection.run_sync(_differences) == []
            tables, indexes = await connection.run_sync(_tag_event_schema)
            assert "tag_events" in tables
            assert indexes == [
                ("ix_tag_events_epc_hex_time", ["epc_hex", "time"]),
                ("ix_tag_events_zone_time", ["zone", "time"]),
            ]
            await connection.run_sync(_downgrade, database_url, "0002")
            tables, _ = await connection.run_sync(_tag_event_schema)
            assert "tag_events" not in tables and {"positions", "telemetry_outbox"} <= tables
    finally:
        await engine.dispose()
    await upgrade_database(database_url)
    await upgrade_database(database_url)  # at head already: a no-op, as at every start
    engine = create_engine(database_url)
    try:
        async with engine.connect() as connection:
            assert await connection.run_sync(_differences) == []
    finally:
        await engine.dispose()


def test_migrate_command_brings_a_new_data_dir_to_the_newest_schema(tmp_path: Path) -> None:
    data_dir = tmp_path / "cloud"
    result = CliRunner().invoke(cloud_group, ["migrate", "--data-dir", str(data_dir)])
    url = f"sqlite+aiosqlite:///{(data_dir / 'cloud.db').resolve()}"
    assert (result.exit_code, result.stdout) == (0, f"database {url} is at the newest schema\n")

    async def differences() -> list[Any]:
        engine = create_engine(url)
        try:
            async with engine.connect() as connection:
                return await connection.run_sync(_differences)
        finally:
            await engine.dispose()

    assert asyncio.run(differences()) == []
