"""Connectors hand records to the pipeline; it group-commits them into the buffer.

Collecting for a few milliseconds turns many tiny fsyncs into one transaction per batch, which is
what lets a gateway keep up with bursty devices on an SD card.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from collections.abc import Iterable

import aiosqlite

from edge.buffer import Buffer
from firmware_bridge.records import Record

log = logging.getLogger(__name__)


class Pipeline:
    def __init__(
        self,
        buffer: Buffer,
        *,
        max_records: int = 500,
        max_delay_s: float = 0.02,
        retry_delay_s: float = 1.0,
    ) -> None:
        self._buffer = buffer
        self._max_records = max_records
        self._max_delay_s = max_delay_s
        self._retry_delay_s = retry_delay_s
        self._pending: list[Record] = []
        self._arrived = asyncio.Event()
        self._full = asyncio.Event()
        self._commit_lock = asyncio.Lock()
        self._stopping = False
        self.produced: Counter[str] = Counter()
        """Records committed to the buffer since start, per kind."""
        self.commit_failures = 0

    @property
    def pending(self) -> int:
        return len(self._pending)

    def submit(self, records: Iterable[Record]) -> None:
        """Queue records for the next commit. Never blocks, so a reader callback can call it."""
        self._pending.extend(records)
        if self._pending:
            self._arrived.set()
            if len(self._pending) >= self._max_records:
                self._full.set()

    def stop(self) -> None:
        """Ask :meth:`run` to commit what is pending and return. Never cancel ``run``: a
        cancellation during COMMIT leaves unknown whether the batch was stored."""
        self._stopping = True
        self._arrived.set()
        self._full.set()

    async def run(self) -> None:
        """Commit batches until :meth:`stop`; returns once everything submitted is committed."""
        while True:
            await self._arrived.wait()
            if self._stopping and not self._pending:
                return
            if len(self._pending) < self._max_records and not self._stopping:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._full.wait(), self._max_delay_s)
            try:
                await self._commit_pending()
            except (aiosqlite.Error, OSError) as exc:
                self.commit_failures += 1
                log.error(
                    "cannot write %d records to the buffer (%s); retrying in %.0f s - check disk "
                    "space and permissions of the data directory",
                    len(self._pending),
                    exc,
                    self._retry_delay_s,
                )
                await asyncio.sleep(self._retry_delay_s)

    async def flush(self) -> None:
        """Commit everything submitted so far."""
        await self._commit_pending()

    async def _commit_pending(self) -> None:
        async with self._commit_lock:
            while self._pending:
                batch = self._pending[: self._max_records]
                await self._buffer.append(batch)
                # Records submitted while we awaited were appended behind this batch: keep them.
                del self._pending[: len(batch)]
                self.produced.update(record.kind.value for record in batch)
            if not self._stopping:
                self._arrived.clear()
                self._full.clear()
