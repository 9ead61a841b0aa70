"""The API process runs the webhook sender for its lifetime (unless switched off)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from cloud import Settings, create_app
from cloud.migrate import upgrade_database


def _sender_tasks() -> list[asyncio.Task[object]]:
    return [
        task
        for task in asyncio.all_tasks()
        if task.get_name() == "webhook-sender" and not task.done()
    ]


@pytest.mark.parametrize("enabled", [True, False])
async def test_lifespan_starts_and_stops_the_sender(tmp_path: Path, enabled: bool) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'cloud.db'}"
    await upgrade_database(url)
    app = create_app(Settings(database_url=url, data_dir=tmp_path, webhook_sender=enabled))
    async with app.router.lifespan_context(app):
        await asyncio.sleep(0.05)
        assert len(_sender_tasks()) == (1 if enabled else 0)
    assert _sender_tasks() == []
