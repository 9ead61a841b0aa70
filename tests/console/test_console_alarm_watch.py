"""The background alarm watch records conditions that clear and come back while nobody lists
alarms, so each return is its own incident; on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from cloud.console.alarm_watch import AlarmWatch
from tests.cloud.cloud_helpers import Cloud
from tests.console.edge_health import health
from tests.console.test_console_incidents import _alarms, _of_kind, _send


async def test_a_backlog_that_came_and_went_unwatched_is_seen_as_two_incidents(
    cloud: Cloud,
) -> None:
    watch = AlarmWatch(cloud.database, 60.0, clock=lambda: datetime.now(UTC))
    await _send(cloud, 1, health_doc=health("gw-a", records=12_000, oldest_age_s=30.0))
    await watch.observe_once()
    await _send(cloud, 2, health_doc=health("gw-a", records=3, oldest_age_s=1.0))
    await watch.observe_once()
    await _send(cloud, 3, health_doc=health("gw-a", records=15_000, oldest_age_s=400.0))
    await watch.observe_once()
    # The first listing after all that: the backlog now is the second occurrence, and the
    # first one ended when the watch saw it clear.
    assert _of_kind(await _alarms(cloud), "gateway_backlog") == {"gateway_backlog:gw-a@2": "open"}
    assert watch.rounds == 3


async def test_without_the_watch_the_unseen_clear_merges_the_two(cloud: Cloud) -> None:
    """What the watch is for: with only listings, a clear nobody saw is no end."""
    await _send(cloud, 1, health_doc=health("gw-a", records=12_000, oldest_age_s=30.0))
    assert _of_kind(await _alarms(cloud), "gateway_backlog") == {"gateway_backlog:gw-a@1": "open"}
    await _send(cloud, 2, health_doc=health("gw-a", records=3, oldest_age_s=1.0))
    await _send(cloud, 3, health_doc=health("gw-a", records=15_000, oldest_age_s=400.0))
    assert _of_kind(await _alarms(cloud), "gateway_backlog") == {"gateway_backlog:gw-a@1": "open"}


async def test_the_watch_runs_on_its_interval_until_stopped(cloud: Cloud) -> None:
    watch = AlarmWatch(cloud.database, 0.05, clock=lambda: datetime.now(UTC))
    await watch.start()
    try:
        for _ in range(100):
            if watch.rounds >= 3:
                break
            await asyncio.sleep(0.05)
        assert watch.rounds >= 3
    finally:
        await watch.stop()
    rounds = watch.rounds
    await asyncio.sleep(0.2)
    assert watch.rounds == rounds


async def test_an_interval_of_zero_never_starts(cloud: Cloud) -> None:
    watch = AlarmWatch(cloud.database, 0.0, clock=lambda: datetime.now(UTC))
    await watch.start()
    await asyncio.sleep(0.1)
    await watch.stop()
    assert watch.rounds == 0
