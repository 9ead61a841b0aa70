from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import aiosqlite
import pytest

from edge.buffer import Buffer, BufferFullError, EncodedGroup, GroupResult
from edge.pipeline import BufferWriteError, Pipeline, PipelineStoppedError
from tests.edge.edge_factories import measurement, position, scan


class CountingBuffer(Buffer):
    """A real buffer that remembers the size of every append (one append = one transaction)."""

    def __init__(self, db: aiosqlite.Connection, **options: Any) -> None:
        super().__init__(db, **options)
        self.transactions: list[int] = []
        self.committed_at: list[float] = []

    async def append_encoded(self, groups: Sequence[EncodedGroup]) -> list[GroupResult]:
        self.transactions.append(sum(len(g.rows) for g in groups))
        results = await super().append_encoded(groups)
        self.committed_at.append(time.monotonic())
        return results


async def _committed(buf: CountingBuffer, transactions: int, timeout_s: float = 10.0) -> None:
    """Wait until ``transactions`` appends have committed (however loaded the machine is)."""
    deadline = time.monotonic() + timeout_s
    while len(buf.committed_at) < transactions:
        assert time.monotonic() < deadline, f"only {buf.transactions} committed"
        await asyncio.sleep(0.01)


async def test_records_are_group_committed_and_counted_per_kind() -> None:
    async with CountingBuffer.open(":memory:") as buf:
        assert isinstance(buf, CountingBuffer)
        pipeline = Pipeline(buf, max_records=500, max_delay_s=0.05)
        task = asyncio.create_task(pipeline.run())
        for i in range(1100):
            pipeline.submit([position(i)])
        pipeline.submit([measurement(0), measurement(1)])
        await _committed(buf, 3)
        assert buf.transactions == [500, 500, 102]
        pipeline.submit([measurement(2)])
        pipeline.stop()
        await asyncio.wait_for(task, 1)
        assert buf.transactions == [500, 500, 102, 1]
        assert pipeline.produced == {"position": 1100, "measurement": 3}
        assert pipeline.pending == 0
        stats = await buf.stats()
        assert (stats.records, stats.next_seq) == (1103, 1104)


async def test_a_trickle_waits_for_the_window_then_commits_together() -> None:
    async with CountingBuffer.open(":memory:") as buf:
        assert isinstance(buf, CountingBuffer)
        pipeline = Pipeline(buf, max_delay_s=0.1)
        task = asyncio.create_task(pipeline.run())
        first_submit = time.monotonic()
        pipeline.submit([position(0)])
        await asyncio.sleep(0.02)
        pipeline.submit([position(1)])
        await _committed(buf, 1)
        # Load can only delay the commit, never bring it before the window closed.
        assert buf.committed_at[0] - first_submit >= 0.1
        await asyncio.sleep(0.15)
        assert buf.transactions == [2]
        pipeline.stop()
        await asyncio.wait_for(task, 1)
        assert buf.transactions == [2]


async def test_put_returns_seqs_only_once_the_records_are_durable(tmp_path: Path) -> None:
    path = tmp_path / "o.db"
    async with CountingBuffer.open(path) as buf:
        assert isinstance(buf, CountingBuffer)
        pipeline = Pipeline(buf, max_delay_s=0.05)
        task = asyncio.create_task(pipeline.run())
        pipeline.submit([position(0)])
        put = asyncio.create_task(pipeline.put([scan(1), scan(2)]))
        await asyncio.sleep(0.01)
        assert not put.done()  # still inside the commit window
        assert await put == [2, 3]
        # Another connection sees them: they were committed before put() returned.
        with sqlite3.connect(path) as conn:
            assert conn.execute("SELECT seq, kind FROM outbox ORDER BY seq").fetchall() == [
                (1, "position"),
                (2, "scan"),
                (3, "scan"),
            ]
        assert buf.transactions == [3]
        assert await pipeline.put([]) == []
        pipeline.stop()
        await asyncio.wait_for(task, 1)
        with pytest.raises(PipelineStoppedError):
            await pipeline.put([scan(3)])
        assert pipeline.produced == {"position": 1, "scan": 2}


async def test_back_pressure_refuses_one_put_and_accepts_the_others() -> None:
    async with Buffer.open(":memory:", max_records=3) as buf:
        pipeline = Pipeline(buf, max_delay_s=0.02)
        task = asyncio.create_task(pipeline.run())
        results = await asyncio.gather(
            pipeline.put([scan(0), scan(1)]),
            pipeline.put([scan(2), scan(3)]),
            pipeline.put([position(4)]),
            pipeline.put([scan(5)]),
            return_exceptions=True,
        )
        assert results[0] == [1, 2]
        assert isinstance(results[1], BufferFullError)
        assert list(results[2:]) == [[3], [4]]
        pipeline.submit([scan(6)])  # fire and forget: counted and logged when refused
        pipeline.submit([position(7)])
        pipeline.stop()
        await asyncio.wait_for(task, 1)
        assert pipeline.refused == {"scan": 1}
        assert pipeline.produced == {"scan": 3, "position": 2}
        assert [r.seq for r in await buf.peek(10, 10**6)] == [1, 2, 4]
        assert (await buf.stats()).evicted == {"position": 2}


async def test_under_load_a_commit_happens_at_least_every_max_delay() -> None:
    async with CountingBuffer.open(":memory:") as buf:
        assert isinstance(buf, CountingBuffer)
        pipeline = Pipeline(buf, max_records=100_000, max_delay_s=0.05)
        task = asyncio.create_task(pipeline.run())
        began = time.monotonic()
        i = 0
        while time.monotonic() - began < 0.6:
            pipeline.submit([position(i)])
            i += 1
            await asyncio.sleep(0.001)
        pipeline.stop()
        await asyncio.wait_for(task, 2)
        gaps = [b - a for a, b in zip([began, *buf.committed_at], buf.committed_at, strict=False)]
        assert len(buf.transactions) >= 8
        assert max(gaps) < 0.05 + 0.04  # window plus the commit itself
        assert sum(buf.transactions) == i
        assert (await buf.stats()).records == i


async def test_a_failed_write_fails_waiting_puts_and_retries_submitted_records() -> None:
    class FailingOnce(Buffer):
        failures = 1

        async def append_encoded(self, groups: Sequence[EncodedGroup]) -> list[GroupResult]:
            if self.failures:
                self.failures -= 1
                raise sqlite3.OperationalError("disk I/O error")
            return await super().append_encoded(groups)

    async with FailingOnce.open(":memory:") as buf:
        pipeline = Pipeline(buf, max_delay_s=0.01, retry_delay_s=0.01)
        task = asyncio.create_task(pipeline.run())
        pipeline.submit([position(0)])
        with pytest.raises(BufferWriteError, match="disk I/O error"):
            await pipeline.put([scan(1)])
        assert await pipeline.put([scan(2)]) == [2]
        pipeline.stop()
        await asyncio.wait_for(task, 1)
        assert [(r.seq, r.kind) for r in await buf.peek(10, 10**6)] == [
            (1, "position"),
            (2, "scan"),
        ]
        assert pipeline.commit_failures == 1
