"""The SQLite group-commit writer: jobs share a transaction, a refused job leaves nothing behind,
and a job failing half-way makes the batch run again with a savepoint per job."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cloud.api_error import ApiError
from cloud.catalog_models import Channel
from cloud.db import Database
from cloud.services.placement_queue import PlacementQueue, mark_writing
from cloud.tables import metadata

NOW = datetime(2026, 11, 25, tzinfo=UTC)


@pytest.fixture
async def database(tmp_path: Path) -> Database:
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'queue.db'}")
    async with database.engine.begin() as connection:
        await connection.run_sync(metadata.create_all)
    return database


def add_channel(
    channel_id: str, *, fail_after_write: bool = False, refuse: bool = False
) -> Callable[[AsyncSession], Awaitable[str]]:
    async def work(session: AsyncSession) -> str:
        if refuse:
            raise ApiError(422, "refused", f"{channel_id} refused before writing")
        mark_writing(session)
        session.add(Channel(id=channel_id, kind="app", created_at=NOW))
        await session.flush()
        if fail_after_write:
            raise RuntimeError(f"{channel_id} failed half-way")
        return channel_id

    return work


async def stored(database: Database) -> list[str]:
    async with database.sessions() as session:
        return sorted((await session.scalars(select(Channel.id))).all())


async def test_jobs_share_one_commit_and_refusals_leave_nothing(database: Database) -> None:
    queue = PlacementQueue(database)
    assert queue.grouped
    results = await asyncio.gather(
        queue.run(add_channel("a")),
        queue.run(add_channel("b", refuse=True)),
        queue.run(add_channel("c")),
        return_exceptions=True,
    )
    assert results[0] == "a" and results[2] == "c"
    assert isinstance(results[1], ApiError) and results[1].code == "refused"
    assert await stored(database) == ["a", "c"]
    assert queue.jobs == 3 and queue.batches == 1
    await queue.close()
    await database.dispose()


async def test_a_job_failing_half_way_is_rolled_back_alone(database: Database) -> None:
    queue = PlacementQueue(database)
    results = await asyncio.gather(
        queue.run(add_channel("a")),
        queue.run(add_channel("x", fail_after_write=True)),
        queue.run(add_channel("b", refuse=True)),
        queue.run(add_channel("c")),
        return_exceptions=True,
    )
    assert results[0] == "a" and results[3] == "c"
    assert isinstance(results[1], RuntimeError)
    assert isinstance(results[2], ApiError)
    # x's row was written and then rolled back with its savepoint; a and c stored once each
    assert await stored(database) == ["a", "c"]
    await queue.close()
    await database.dispose()
