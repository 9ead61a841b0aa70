"""Producers hand records to the pipeline; it group-commits them into the buffer.

Collecting for a few milliseconds turns many tiny fsyncs into one transaction per batch, which is
what lets a gateway keep up with bursty devices on an SD card. Two ways in:

- :meth:`Pipeline.put` (awaited): returns the seqs once the transaction holding the records is
  durable; raises :class:`~edge.buffer.BufferFullError` when they cannot fit (nothing stored).
  For producers that must be answered only after acceptance (HTTP scanners, MQTT QoS 1).
  With ``dedupe_key`` the key is stored in the same transaction; a later put with a key already
  stored stores nothing and returns the seqs of the first (a :class:`~edge.buffer.Replayed`).
- :meth:`Pipeline.submit` (fire and forget, never blocks): for connectors reading a stream. If its
  records are refused for lack of room they are counted in ``refused`` and logged; a failed write
  is retried. ``state`` rows (see :class:`~edge.buffer.KeyedGroup`) are written in the
  transaction of its records, or alone, in submission order.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from edge.buffer import (
    Buffer,
    BufferFullError,
    EncodedGroup,
    GroupResult,
    Replayed,
    StateWrite,
    encode_group,
    keyed_group,
)
from firmware_bridge.records import Record

log = logging.getLogger(__name__)


class Put(Protocol):
    """:meth:`Pipeline.put`, or something wrapping it (e.g. the cold-chain tap)."""

    async def __call__(
        self, records: Sequence[Record], *, dedupe_key: str | None = None
    ) -> list[int]: ...


class PipelineStoppedError(RuntimeError):
    """The pipeline is shutting down and accepts nothing more."""


class BufferWriteError(RuntimeError):
    """Writing to the buffer failed (not for lack of room); nothing of the request is stored."""


@dataclass(slots=True)
class _Unit:
    group: EncodedGroup
    future: asyncio.Future[list[int]] | None
    waiting: bool = False
    """Its producer is awaiting the outcome in :meth:`Pipeline.put`."""
    answered: bool = False
    """The outcome was set while its producer was waiting: that producer is about to resume."""


class Pipeline:
    def __init__(
        self,
        buffer: Buffer,
        *,
        max_records: int = 1000,
        max_delay_s: float = 0.0,
        retry_delay_s: float = 1.0,
    ) -> None:
        self._buffer = buffer
        self._max_records = max_records
        self._max_delay_s = max_delay_s
        self._retry_delay_s = retry_delay_s
        self._units: list[_Unit] = []
        self._pending = 0
        self._arrived = asyncio.Event()
        self._full = asyncio.Event()
        self._commit_lock = asyncio.Lock()
        self._stopping = False
        self._eager: list[_Unit] | None = None
        """Units of the commit started by :meth:`_start_eager`, while it is on disk."""
        self._eager_done = asyncio.Event()
        self._eager_done.set()
        self._eager_failed = False
        self._resuming = 0
        """Producers answered by a commit that have not run again yet."""
        self.produced: Counter[str] = Counter()
        """Records committed to the buffer since start, per kind."""
        self.refused: Counter[str] = Counter()
        """Submitted (fire-and-forget) records refused for lack of room, per kind."""
        self.commit_failures = 0
        self.commits = 0
        self.replayed = 0
        """Puts answered from a stored dedupe key (nothing stored)."""

    @property
    def pending(self) -> int:
        return self._pending

    def submit(self, records: Iterable[Record], *, state: Sequence[StateWrite] = ()) -> None:
        """Queue records (and state rows to write in their transaction) for the next commit.
        Never blocks, so a reader callback can call it."""
        batch = list(records)
        if batch or state:
            self._enqueue(_Unit(keyed_group(encode_group(batch), state=state), None))

    async def put(self, records: Sequence[Record], *, dedupe_key: str | None = None) -> list[int]:
        """Commit ``records`` (all or nothing) with the next group; their seqs once durable.
        With ``dedupe_key``: a :class:`~edge.buffer.Replayed` of the first put's seqs when that
        key was stored before (nothing is stored then)."""
        if self._stopping:
            raise PipelineStoppedError("the gateway is shutting down")
        if not records:
            return []
        # Encoding here, in the producer's turn, overlaps it with the commit on disk.
        group = keyed_group(encode_group(records), dedupe_key=dedupe_key)
        future: asyncio.Future[list[int]] = asyncio.get_running_loop().create_future()
        # Mark the outcome retrieved even if the caller gave up, so asyncio does not warn.
        future.add_done_callback(lambda f: f.cancelled() or f.exception())
        unit = _Unit(group, future, waiting=True)
        self._enqueue(unit)
        try:
            # shield: a caller giving up must not cancel the outcome others' commit will set.
            return await asyncio.shield(future)
        finally:
            self._resumed(unit)

    def _resumed(self, unit: _Unit) -> None:
        unit.waiting = False
        if not unit.answered:
            return
        self._resuming -= 1
        if self._resuming == 0:
            # After the rest of this task's turn, in which its producer may put again.
            asyncio.get_running_loop().call_soon(self._resume_commits)

    def _resume_commits(self) -> None:
        self._start_eager()
        if self._units and self._eager is None:
            self._arrived.set()

    def _awaiting_producers(self) -> bool:
        """Producers just answered are about to run again; their next records should join the
        next eager commit rather than each start a small one (a few loop turns, no timer)."""
        return (
            self._resuming > 0
            and self._pending < self._max_records
            and not self._stopping
            and not self._eager_failed
            and self._max_delay_s <= 0
        )

    def _enqueue(self, unit: _Unit) -> None:
        self._units.append(unit)
        self._pending += len(unit.group.rows)
        self._arrived.set()
        if self._pending >= self._max_records:
            self._full.set()
        self._start_eager()

    def _start_eager(self) -> None:
        """With no batching delay, hand what is queued to the disk now when it is idle, so
        records arriving meanwhile are encoded while this commit runs and form the next one."""
        if (
            self._eager is not None
            or self._awaiting_producers()
            or self._eager_failed
            or self._max_delay_s > 0
            or self._commit_lock.locked()
            or not self._units
        ):
            return
        batch = self._take_batch()
        outcome = self._buffer.append_now([u.group for u in batch])
        if outcome is None:
            self._arrived.set()  # run() commits them the general way
            return
        del self._units[: len(batch)]
        self._eager = batch
        self._eager_done.clear()
        outcome.add_done_callback(self._eager_finished)

    def _eager_finished(self, outcome: asyncio.Future[list[GroupResult]]) -> None:
        batch = self._eager
        assert batch is not None
        self._eager = None
        self._eager_done.set()
        if outcome.cancelled() or outcome.exception() is not None:
            # Nothing was stored: put the units back in front, in order, for run() to retry
            # the way it handles every failed write (eviction on a full disk, then backoff).
            self._units[:0] = batch
            self._eager_failed = True
            self._arrived.set()
            return
        self._pending -= sum(len(u.group.rows) for u in batch)
        self.commits += 1
        for unit, result in zip(batch, outcome.result(), strict=True):
            self._settle(unit, result)
        self._start_eager()

    def stop(self) -> None:
        """Ask :meth:`run` to commit what is pending and return. Never cancel ``run``: a
        cancellation during COMMIT leaves unknown whether the batch was stored."""
        self._stopping = True
        self._arrived.set()
        self._full.set()

    async def run(self) -> None:
        """Commit batches until :meth:`stop`; returns once everything queued is committed (or
        refused). Records arriving while a transaction commits form the next group, so under
        load groups grow by themselves and a commit follows the previous one at once; the first
        record of a group may in addition wait up to ``max_delay_s`` for company (0 = never)."""
        while True:
            await self._arrived.wait()
            if self._eager is not None:
                # The eager commit's completion starts the next one, or signals what it cannot.
                if not self._stopping:
                    self._arrived.clear()
                await self._eager_done.wait()
                continue
            if self._awaiting_producers():
                # The last of them to run again starts the commit (see _resumed).
                self._arrived.clear()
                continue
            self._start_eager()
            if self._eager is not None:
                continue
            if self._stopping and not self._units:
                return
            if self._max_delay_s > 0 and self._pending < self._max_records and not self._stopping:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._full.wait(), self._max_delay_s)
            try:
                await self._commit_pending()
                self._eager_failed = False
            except (sqlite3.Error, OSError) as exc:
                self.commit_failures += 1
                log.error(
                    "cannot write %d records to the buffer (%s); retrying in %.0f s - check disk "
                    "space and permissions of the data directory",
                    self._pending,
                    exc,
                    self._retry_delay_s,
                )
                await asyncio.sleep(self._retry_delay_s)

    async def flush(self) -> None:
        """Commit everything queued so far."""
        await self._commit_pending()

    async def _commit_pending(self) -> None:
        while True:
            await self._eager_done.wait()
            async with self._commit_lock:
                if not self._units:
                    break
                await self._commit_batch()
                self._eager_failed = False
            # The general way was needed for one batch (eviction, a busy buffer, a retry);
            # the next may go the eager way again, which keeps the disk busy without a gap.
            self._start_eager()
        if not self._stopping:
            self._arrived.clear()
            self._full.clear()

    async def _commit_batch(self) -> None:
        batch = self._take_batch()
        try:
            results = await self._buffer.append_encoded([u.group for u in batch])
        except asyncio.CancelledError:
            for unit in batch:
                if unit.future is not None:
                    unit.future.cancel()
            raise
        except Exception as exc:
            self._fail_waiters(batch, exc)
            raise
        del self._units[: len(batch)]
        self._pending -= sum(len(u.group.rows) for u in batch)
        self.commits += 1
        for unit, result in zip(batch, results, strict=True):
            self._settle(unit, result)

    def _take_batch(self) -> list[_Unit]:
        # Units arriving while we await are appended behind; whole units only (all or nothing).
        batch: list[_Unit] = []
        total = 0
        for unit in self._units:
            if batch and total + len(unit.group.rows) > self._max_records:
                break
            batch.append(unit)
            total += len(unit.group.rows)
        return batch

    def _settle(self, unit: _Unit, result: list[int] | BufferFullError) -> None:
        if unit.waiting and not unit.answered:
            unit.answered = True
            self._resuming += 1
        if isinstance(result, list):
            if type(result) is Replayed:
                self.replayed += 1
            else:
                self.produced.update(unit.group.kinds)
            if unit.future is not None and not unit.future.done():
                unit.future.set_result(result)
            return
        if unit.future is not None:
            if not unit.future.done():
                unit.future.set_exception(result)
            return
        self.refused.update(unit.group.kinds)
        log.error("dropped %d submitted records: %s", len(unit.group.rows), result)

    def _fail_waiters(self, batch: list[_Unit], exc: Exception) -> None:
        """A failed transaction stored nothing: awaiting producers learn it now (they may retry);
        fire-and-forget units stay queued for the retry."""
        waiting = [u for u in batch if u.future is not None]
        for unit in waiting:
            assert unit.future is not None
            if not unit.future.done():
                unit.future.set_exception(BufferWriteError(f"buffer write failed: {exc}"))
            self._units.remove(unit)
            self._pending -= len(unit.group.rows)
