"""Watch derived alarm conditions in the background, so that a backlog, a clock skew, a silent
gateway or a late-risk order that clears and comes back while no operator has the console open
is still two incidents, each with its own start and end."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import datetime

from cloud.console.alarms import observe_conditions
from cloud.db import Database

log = logging.getLogger(__name__)


class AlarmWatch:
    """Every ``interval_s`` (0: never), record which derived conditions began or ended."""

    def __init__(
        self, database: Database, interval_s: float, clock: Callable[[], datetime]
    ) -> None:
        self.database = database
        self.interval_s = interval_s
        self.clock = clock
        self.rounds = 0
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        if self.interval_s > 0 and self._task is None:
            self._task = asyncio.create_task(self._run(), name="alarm-watch")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def observe_once(self) -> None:
        async with self.database.sessions.begin() as session:
            await observe_conditions(session=session, now=self.clock())
        self.rounds += 1

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval_s)
            try:
                await self.observe_once()
            except Exception:  # one failed look must not end the watch; the next one tries again
                log.exception("alarm watch failed")
