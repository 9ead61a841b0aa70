"""The stock projector as a background task of the cloud app (started in its lifespan)."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from cloud.db import Database
from cloud.services.projector import project_pending

log = logging.getLogger(__name__)

IDLE_INTERVAL_S = 1.0
ERROR_BACKOFF_S = 5.0


class StockProjector:
    """Runs :func:`cloud.services.projector.project_pending` until stopped: again at once while
    there is work, every ``interval_s`` when idle, after ``ERROR_BACKOFF_S`` on a failure."""

    def __init__(self, database: Database, *, interval_s: float = IDLE_INTERVAL_S) -> None:
        self.database = database
        self.interval_s = interval_s
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="stock-projector")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _run(self) -> None:
        while True:
            try:
                report = await project_pending(self.database)
            except Exception:
                log.exception("stock projector failed; retrying in %.0f s", ERROR_BACKOFF_S)
                await asyncio.sleep(ERROR_BACKOFF_S)
                continue
            if report.records:
                log.info(
                    "stock projector: %d applied, %d ignored, %d exceptions, %d replayed",
                    report.applied,
                    report.ignored,
                    report.exceptions,
                    report.replayed,
                )
            else:
                await asyncio.sleep(self.interval_s)
