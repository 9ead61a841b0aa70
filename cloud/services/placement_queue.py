"""Where order placements run: group commit on SQLite, one transaction each on PostgreSQL.

SQLite has one writer at a time and a ``synchronous=FULL`` commit costs an fsync (~2 ms on
the development machine), which alone would cap placement at ~500 orders/s. So on SQLite,
placements queue up for one writer task that runs every placement waiting (up to
:data:`MAX_BATCH`) in one transaction, and answers each request only after the shared
commit is durable. A refused order leaves nothing behind while the others go on: placements
check everything before their first write, and one that fails after it began writing makes
the writer roll the batch back and run it again with a SAVEPOINT per placement (see
:meth:`PlacementQueue._run_batch`; savepoints cost two statements per order, so the common
case runs without them). The transaction starts with ``BEGIN IMMEDIATE``: it holds
the write lock from its first statement, so other writers wait (busy timeout) instead of
failing with SQLITE_BUSY when a read would be upgraded to a write.

On PostgreSQL placements are batched the same way (one transaction per batch through
``AsyncConnection.run_sync``, a round trip per statement instead of ~12 per order), but
without a write lock: another process may place orders at the same time, so the stock read
at the start of a batch can be stale. The conditional reservation UPDATEs are the guard: the
server's row lock makes a waiting UPDATE re-check its condition against committed stock, and
one that no longer fits rolls the batch back, whose orders then run one transaction each. In
that fallback (and for other work) a deadlock or a unique-key race (the same order submitted
twice at once) retries the placement, which then sees the other's result.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Final, Generic, TypeVar

from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from cloud.api_error import ApiError
from cloud.db import Database, is_sqlite
from cloud.order_models import Order
from cloud.services import allocation_cache
from cloud.services.placement_batch import (
    Prepared,
    Replay,
    place_batch,
    place_in_transaction,
    sync_engine_for,
)
from cloud.services.service_rules import active_rule_set

if TYPE_CHECKING:
    from cloud.order_schemas import OrderPlaced
    from cloud.services.order_placement import PlacementRequest

log = logging.getLogger(__name__)

T = TypeVar("T")
Work = Callable[[AsyncSession], Awaitable[T]]

MAX_BATCH: Final = 64
WRITING: Final = "placement_writing"
RETRIES: Final = 3


class _Poisoned(Exception):
    """A job failed after it began writing: the batch's transaction must not commit."""


@dataclass
class _Job(Generic[T]):
    work: Work[T]
    # Set for order placements, which on SQLite take the one-hop batch path.
    placement: PlacementRequest | None = None
    future: asyncio.Future[T] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


class PlacementQueue:
    """Runs placement work against ``database``; see the module docstring."""

    def __init__(self, database: Database, *, max_batch: int = MAX_BATCH) -> None:
        self.database = database
        self.max_batch = max_batch
        self.sqlite = is_sqlite(database.url)
        # Placements are grouped on both; other work only on SQLite (see the module docstring).
        self.grouped = self.sqlite
        self._queue: asyncio.Queue[_Job[object]] | None = None
        self._worker: asyncio.Task[None] | None = None
        self.batches = 0
        self.jobs = 0
        self._sync_engine: Engine | None = None

    async def run(self, work: Work[T]) -> T:
        """The result of ``work(session)`` once its transaction committed."""
        if not self.grouped:
            return await self._run_alone(work)
        return await self._enqueue(_Job(work))

    async def place(self, request: PlacementRequest) -> tuple[OrderPlaced, bool]:
        """Place an order: (the order, created?) once its transaction committed."""
        return await self._enqueue(_Job(request.run, request))

    async def _enqueue(self, job: _Job[T]) -> T:
        if self._worker is None or self._worker.done():
            self._queue = asyncio.Queue()
            self._worker = asyncio.create_task(self._drain(), name="placement-writer")
        assert self._queue is not None
        self._queue.put_nowait(job)  # type: ignore[arg-type]
        return await job.future

    async def close(self) -> None:
        if self._worker is not None:
            self._worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._worker
            self._worker = None
        if self._sync_engine is not None:
            self._sync_engine.dispose()
            self._sync_engine = None

    async def _run_alone(self, work: Work[T]) -> T:
        for attempt in range(1, RETRIES + 1):
            try:
                async with self.database.sessions.begin() as session:
                    return await work(session)
            except IntegrityError:
                if attempt == RETRIES:
                    raise
            except DBAPIError as exc:
                if attempt == RETRIES or not _retryable(exc):
                    raise
                log.info("placement retried after %s", type(exc.orig).__name__)
        raise AssertionError("unreachable")

    async def _drain(self) -> None:
        assert self._queue is not None
        queue = self._queue
        while True:
            jobs = [await queue.get()]
            while len(jobs) < self.max_batch and not queue.empty():
                jobs.append(queue.get_nowait())
            placements = [job for job in jobs if job.placement is not None]
            others = [job for job in jobs if job.placement is None]
            try:
                if placements:
                    await self._run_placements(placements)
                if others:
                    await self._run_batch(others)
            except Exception as exc:  # the commit (or BEGIN) failed: nothing of the batch stands
                log.exception("placement batch of %d failed", len(jobs))
                for job in jobs:
                    if not job.future.done():
                        job.future.set_exception(exc)

    async def _run_batch(self, jobs: list[_Job[object]]) -> None:
        """Fast path: every job in one transaction without savepoints. A job that fails before
        it started writing (see :func:`mark_writing`) left nothing behind; one that fails
        after poisons the batch, which is rolled back and run again job by job, each in its
        own SAVEPOINT."""
        results: list[tuple[_Job[object], object]] = []
        failures: list[tuple[_Job[object], BaseException]] = []
        try:
            async with self.database.sessions.begin() as session:
                await session.execute(text("BEGIN IMMEDIATE"))
                for job in jobs:
                    if job.future.cancelled():
                        continue
                    session.info[WRITING] = False
                    try:
                        result = await job.work(session)
                        await session.flush()
                    except Exception as exc:
                        if session.info[WRITING]:
                            raise _Poisoned from exc  # rolls the whole batch back
                        failures.append((job, exc))
                    else:
                        results.append((job, result))
        except _Poisoned:
            log.warning("a placement failed half-way; re-running its batch one savepoint each")
            await self._run_one_by_one(jobs)
            return
        self._settle(jobs, results, failures)

    async def _run_placements(self, jobs: list[_Job[object]]) -> None:
        """Placements in one worker-thread hop (:mod:`cloud.services.placement_batch`); if
        that transaction fails, they run again one savepoint each on the async session."""
        from cloud.services.order_placement import prepare_placement, stored_order

        ready: list[tuple[_Job[object], Prepared]] = []
        async with self.database.sessions.begin() as session:
            catalogue = await allocation_cache.snapshot(session=session)
            rules = await active_rule_set(session=session)
            for job in jobs:
                assert job.placement is not None
                try:
                    prepared = await prepare_placement(
                        session=session, catalogue=catalogue, request=job.placement
                    )
                except ApiError as refused:
                    _answer(job, error=refused)
                else:
                    ready.append((job, prepared))
        if not ready:
            return
        first = ready[0][0].placement
        assert first is not None
        batch = [prepared for _, prepared in ready]
        try:
            if self.sqlite:
                if self._sync_engine is None:
                    self._sync_engine = sync_engine_for(self.database.url)
                outcomes = await asyncio.to_thread(
                    place_batch,
                    self._sync_engine,
                    batch,
                    catalogue=catalogue,
                    rules=rules,
                    cipher=first.cipher,
                    config=first.config,
                )
            else:
                async with self.database.engine.connect() as connection:
                    outcomes = await connection.run_sync(
                        partial(
                            place_in_transaction,
                            jobs=batch,
                            catalogue=catalogue,
                            rules=rules,
                            cipher=first.cipher,
                            config=first.config,
                        )
                    )
        except Exception:
            log.exception("placement batch of %d failed; placing one by one", len(ready))
            await self._run_one_by_one([job for job, _ in ready])
            return
        self.batches += 1
        self.jobs += len(ready)
        replays: list[tuple[_Job[object], str]] = []
        for (job, _), outcome in zip(ready, outcomes, strict=True):
            if isinstance(outcome, ApiError):
                _answer(job, error=outcome)
            elif isinstance(outcome, Replay):
                replays.append((job, outcome.order_id))
            else:
                _answer(job, result=(outcome, True))
        if replays:
            async with self.database.sessions() as session:
                for job, order_id in replays:
                    order = await session.get(Order, order_id)
                    assert order is not None
                    stored = await stored_order(session=session, order=order, replayed=True)
                    _answer(job, result=(stored, False))

    async def _run_one_by_one(self, jobs: list[_Job[object]]) -> None:
        results: list[tuple[_Job[object], object]] = []
        failures: list[tuple[_Job[object], BaseException]] = []
        if not self.sqlite:
            for job in jobs:
                if job.future.cancelled():
                    continue
                try:
                    results.append((job, await self._run_alone(job.work)))
                except Exception as exc:
                    failures.append((job, exc))
            self._settle(jobs, results, failures)
            return
        async with self.database.sessions.begin() as session:
            await session.execute(text("BEGIN IMMEDIATE"))
            for job in jobs:
                if job.future.cancelled():
                    continue
                try:
                    async with session.begin_nested():
                        result = await job.work(session)
                except Exception as exc:  # that order's savepoint is rolled back; go on
                    failures.append((job, exc))
                else:
                    results.append((job, result))
        self._settle(jobs, results, failures)

    def _settle(
        self,
        jobs: list[_Job[object]],
        results: list[tuple[_Job[object], object]],
        failures: list[tuple[_Job[object], BaseException]],
    ) -> None:
        """Answer each job, after its transaction committed."""
        self.batches += 1
        self.jobs += len(jobs)
        for job, result in results:
            if not job.future.done():
                job.future.set_result(result)
        for job, error in failures:
            if not job.future.done():
                job.future.set_exception(error)


def _answer(
    job: _Job[object], *, result: object = None, error: BaseException | None = None
) -> None:
    """Settle a job's future unless its request went away (a cancelled future)."""
    if job.future.done():
        return
    if error is not None:
        job.future.set_exception(error)
    else:
        job.future.set_result(result)


def mark_writing(session: AsyncSession) -> None:
    """Called by placement work right before its first write: from here on, a failure of the
    work cannot be left behind by skipping it, so a grouped batch falls back to savepoints."""
    session.info[WRITING] = True


def _retryable(exc: DBAPIError) -> bool:
    name = type(exc.orig).__name__ if exc.orig is not None else ""
    text_ = str(exc.orig or exc)
    return (
        "Deadlock" in name
        or "SerializationFailure" in name
        or "deadlock detected" in text_
        or "could not serialize" in text_
    )
