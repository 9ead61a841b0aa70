from __future__ import annotations

import asyncio
from collections.abc import Sequence

import aiosqlite

from edge.buffer import Buffer
from edge.pipeline import Pipeline
from firmware_bridge.records import Record
from tests.edge.edge_factories import measurement, position


class CountingBuffer(Buffer):
    """A real buffer that remembers the size of every append (one append = one transaction)."""

    def __init__(self, db: aiosqlite.Connection) -> None:
        super().__init__(db)
        self.transactions: list[int] = []

    async def append(self, records: Sequence[Record]) -> list[int]:
        self.transactions.append(len(records))
        return await super().append(records)


async def test_records_are_group_committed_and_counted_per_kind() -> None:
    async with CountingBuffer.open(":memory:") as buf:
        assert isinstance(buf, CountingBuffer)
        pipeline = Pipeline(buf, max_records=500, max_delay_s=0.05)
        task = asyncio.create_task(pipeline.run())
        for i in range(1100):
            pipeline.submit([position(i)])
        pipeline.submit([measurement(0), measurement(1)])
        await asyncio.sleep(0.2)
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
        pipeline.submit([position(0)])
        await asyncio.sleep(0.02)
        pipeline.submit([position(1)])
        await asyncio.sleep(0.03)
        assert buf.transactions == []
        await asyncio.sleep(0.15)
        assert buf.transactions == [2]
        pipeline.stop()
        await asyncio.wait_for(task, 1)
        assert buf.transactions == [2]
