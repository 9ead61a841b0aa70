"""The eager commit path: answered producers' next records join the next commit, and a due seq
reservation no longer sends commits the slow way."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import aiosqlite
import pytest

import edge.buffer
from edge.buffer import Buffer, EncodedGroup, GroupResult, encode_group
from edge.pipeline import Pipeline
from tests.edge.edge_factories import position


class EagerCountingBuffer(Buffer):
    """A real buffer that remembers the rows of every eager append (one = one transaction)."""

    def __init__(self, db: aiosqlite.Connection, **options: Any) -> None:
        super().__init__(db, **options)
        self.eager: list[int] = []

    def append_now(
        self, groups: Sequence[EncodedGroup]
    ) -> asyncio.Future[list[GroupResult]] | None:
        outcome = super().append_now(groups)
        if outcome is not None:
            self.eager.append(sum(len(g.rows) for g in groups))
        return outcome


async def test_answered_producers_join_the_next_commit(tmp_path: Path) -> None:
    async with EagerCountingBuffer.open(tmp_path / "outbox.db") as buf:
        assert isinstance(buf, EagerCountingBuffer)
        pipeline = Pipeline(buf)
        runner = asyncio.create_task(pipeline.run())
        seqs: list[list[int]] = []

        async def producer(first: int) -> None:
            for round_ in range(5):
                start = first + round_ * 50
                seqs.append(await pipeline.put([position(i) for i in range(start, start + 50)]))

        await asyncio.gather(*(producer(p * 1000) for p in range(8)))
        pipeline.stop()
        await asyncio.wait_for(runner, 5)
        # The first put commits alone; the seven others queue behind it; from then on every
        # commit holds the next put of all eight producers (and the tail of the first one's).
        assert buf.eager == [50, 400, 400, 400, 400, 350]
        assert pipeline.commits == 6
        assert sorted(s for chunk in seqs for s in chunk) == list(range(1, 2001))
        assert (await buf.stats()).records == 2000


async def test_a_lone_producer_is_not_held_back() -> None:
    async with EagerCountingBuffer.open(":memory:") as buf:
        assert isinstance(buf, EagerCountingBuffer)
        pipeline = Pipeline(buf)
        runner = asyncio.create_task(pipeline.run())
        for i in range(3):
            assert await asyncio.wait_for(pipeline.put([position(i)]), 1) == [i + 1]
        pipeline.stop()
        await asyncio.wait_for(runner, 1)
        assert buf.eager == [1, 1, 1]


async def test_a_due_seq_reservation_is_written_by_the_eager_commit(tmp_path: Path) -> None:
    path = tmp_path / "outbox.db"
    async with Buffer.open(path) as buf:
        outcome = buf.append_now([encode_group([position(0), position(1)])])
        assert outcome is not None
        assert await outcome == [[1, 2]]
        assert json.loads((tmp_path / "outbox.db.seq.json").read_text()) == {"reserved": 10_002}
        # Within the reservation: no rewrite.
        (tmp_path / "outbox.db.seq.json").write_text('{"reserved": 10002}\n')
        outcome = buf.append_now([encode_group([position(2)])])
        assert outcome is not None
        assert await outcome == [[3]]
        assert (tmp_path / "outbox.db.seq.json").read_text() == '{"reserved": 10002}\n'


async def test_a_failed_reservation_stores_nothing_and_reuses_the_seqs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(path: Path, reserved: int) -> None:
        raise OSError(28, "No space left on device")

    async with Buffer.open(tmp_path / "outbox.db") as buf:
        monkeypatch.setattr(edge.buffer, "write_reserved", refuse)
        outcome = buf.append_now([encode_group([position(0)])])
        assert outcome is not None
        with pytest.raises(OSError, match="No space left"):
            await outcome
        stats = await buf.stats()
        assert (stats.records, stats.next_seq) == (0, 1)
        assert not (tmp_path / "outbox.db.seq.json").exists()
        monkeypatch.undo()
        assert await buf.append([position(1)]) == [1]
        assert json.loads((tmp_path / "outbox.db.seq.json").read_text()) == {"reserved": 10_001}
