from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edge.buffer import MIGRATIONS, Buffer, BufferedRecord, BufferStats, serialize_payload
from firmware_bridge.wire import record_from_wire
from tests.edge.edge_factories import measurement, position, scan


@pytest.fixture(params=["file", "memory"])
async def buf(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Buffer]:
    path = tmp_path / "outbox.db" if request.param == "file" else ":memory:"
    async with Buffer.open(path) as opened:
        yield opened


async def test_append_assigns_increasing_seqs_and_peek_returns_oldest_first(buf: Buffer) -> None:
    assert await buf.append([position(0), measurement(1)]) == [1, 2]
    assert await buf.append([scan(2)]) == [3]
    peeked = await buf.peek(10, 1_000_000)
    assert [(r.seq, r.kind, r.device_id) for r in peeked] == [
        (1, "position", "van-7"),
        (2, "measurement", "fridge-1"),
        (3, "scan", "hh-1"),
    ]
    assert [record_from_wire(json.loads(r.payload)) for r in peeked] == [
        position(0),
        measurement(1),
        scan(2),
    ]
    assert "seq" not in json.loads(peeked[0].payload)


async def test_append_of_nothing_is_a_no_op(buf: Buffer) -> None:
    assert await buf.append([]) == []
    assert (await buf.stats()).next_seq == 1


async def test_peek_respects_record_and_byte_limits(buf: Buffer) -> None:
    await buf.append([position(i) for i in range(5)])
    three = sum(len(serialize_payload(position(i))) for i in range(3))
    assert [r.seq for r in await buf.peek(2, 1_000_000)] == [1, 2]
    assert [r.seq for r in await buf.peek(10, three)] == [1, 2, 3]
    assert [r.seq for r in await buf.peek(10, three - 1)] == [1, 2]
    # An oversized first record is still returned alone, or the outbox would block for ever.
    assert [r.seq for r in await buf.peek(10, 1)] == [1]


async def test_peek_on_empty_buffer(buf: Buffer) -> None:
    assert await buf.peek(10, 1000) == []
    with pytest.raises(ValueError, match="max_records"):
        await buf.peek(0, 1000)


async def test_ack_deletes_up_to_seq_and_ignores_older_acks(buf: Buffer) -> None:
    await buf.append([position(0), scan(1), position(2), measurement(3)])
    assert await buf.ack_by_kind(2) == {"position": 1, "scan": 1}
    assert [r.seq for r in await buf.peek(10, 10**6)] == [3, 4]
    assert await buf.ack(1) == 0  # below the stored ack: nothing happens
    assert await buf.ack(2) == 0
    assert (await buf.stats()).last_acked_seq == 2
    assert await buf.ack(4) == 2
    assert await buf.peek(10, 10**6) == []
    with pytest.raises(ValueError, match="beyond the last seq"):
        await buf.ack(5)


async def test_peek_after_seq_returns_only_later_records_within_the_limits(buf: Buffer) -> None:
    await buf.append([position(i) for i in range(6)])
    two = sum(len(serialize_payload(position(i))) for i in range(3, 5))
    assert [r.seq for r in await buf.peek(10, 10**6, after_seq=3)] == [4, 5, 6]
    assert [r.seq for r in await buf.peek(2, 10**6, after_seq=1)] == [2, 3]
    assert [r.seq for r in await buf.peek(10, two, after_seq=3)] == [4, 5]
    assert [r.seq for r in await buf.peek(10, 1, after_seq=3)] == [4]  # oversized: still one
    assert await buf.peek(10, 10**6, after_seq=6) == []
    assert await buf.peek(10, 10**6, after_seq=0) == await buf.peek(10, 10**6)
    peeked = await buf.peek(1, 10**6, after_seq=4)
    assert peeked == [
        BufferedRecord(5, "position", "van-7", peeked[0].created_at, serialize_payload(position(4)))
    ]


async def test_peek_after_seq_skips_acked_and_quarantined_gaps(buf: Buffer) -> None:
    await buf.append([position(i) for i in range(6)])
    await buf.ack(2)
    await buf.quarantine(4, "test")
    assert [r.seq for r in await buf.peek(10, 10**6, after_seq=1)] == [3, 5, 6]
    assert [r.seq for r in await buf.peek(2, 10**6, after_seq=3)] == [5, 6]
    with pytest.raises(ValueError, match="max_records"):
        await buf.peek(0, 1000, after_seq=1)


async def test_ack_keeps_record_byte_and_business_usage_right(tmp_path: Path) -> None:
    scans = [scan(i) for i in range(3)]
    async with Buffer.open(tmp_path / "outbox.db", max_records=3) as buf:
        assert await buf.append([scans[0], position(0), scans[1]]) == [1, 2, 3]
        assert await buf.ack(2) == 2
        stats = await buf.stats()
        assert (stats.records, stats.bytes, stats.last_acked_seq) == (
            1,
            len(serialize_payload(scans[1])),
            2,
        )
        # Only one business record is still counted, so two more fit the cap of three.
        assert await buf.append([scans[2], scan(3)]) == [4, 5]
        assert await buf.ack(5) == 3
        assert await buf.ack(5) == 0
        assert (await buf.stats()).records == 0
        assert await buf.append([scan(i) for i in range(4, 7)]) == [6, 7, 8]
        with pytest.raises(ValueError, match="beyond the last seq"):
            await buf.ack(9)
    async with Buffer.open(tmp_path / "outbox.db", max_records=3) as buf:
        stats = await buf.stats()
        assert (stats.records, stats.last_acked_seq, stats.next_seq) == (3, 5, 9)
        assert [r.seq for r in await buf.peek(10, 10**6)] == [6, 7, 8]


async def test_stats_track_records_bytes_and_seqs(buf: Buffer) -> None:
    assert await buf.stats() == BufferStats(0, 0, None, 1, 0)
    await buf.append([position(0), measurement(1)])
    sizes = [len(serialize_payload(position(0))), len(serialize_payload(measurement(1)))]
    stats = await buf.stats()
    assert (stats.records, stats.bytes, stats.next_seq, stats.last_acked_seq) == (
        2,
        sum(sizes),
        3,
        0,
    )
    assert stats.oldest_created_at is not None
    await buf.ack(1)
    after = await buf.stats()
    assert (after.records, after.bytes, after.next_seq, after.last_acked_seq) == (
        1,
        sizes[1],
        3,
        1,
    )


async def test_seqs_and_acks_survive_reopen_even_when_empty(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "outbox.db"
    async with Buffer.open(path) as buf:
        await buf.append([position(i) for i in range(3)])
        await buf.ack(3)
    async with Buffer.open(path) as buf:
        assert await buf.stats() == BufferStats(0, 0, None, 4, 3)
        assert buf.recovery is None
        assert await buf.append([scan(9)]) == [4]
    async with Buffer.open(path) as buf:
        peeked = await buf.peek(10, 10**6)
        assert [(r.seq, r.kind) for r in peeked] == [(4, "scan")]
        assert isinstance(peeked[0], BufferedRecord)
        assert await buf.schema_version() == len(MIGRATIONS) == 3


async def test_file_database_uses_wal_full_sync_and_records_migrations(tmp_path: Path) -> None:
    path = tmp_path / "outbox.db"
    async with Buffer.open(path) as buf:
        await buf.append([position(0)])
        async with buf._db.execute("PRAGMA synchronous") as cursor:
            assert await cursor.fetchone() == (2,)  # FULL: durable when COMMIT returns
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        assert conn.execute("SELECT version FROM schema_migrations").fetchall() == [
            (1,),
            (2,),
            (3,),
        ]
        assert conn.execute("SELECT key, value FROM meta ORDER BY key").fetchall() == [
            ("last_acked_seq", 0),
            ("next_seq", 2),
        ]
        assert conn.execute("SELECT seq, kind, evictable FROM outbox").fetchall() == [
            (1, "position", 1)
        ]
        assert conn.execute("SELECT COUNT(*) FROM quarantine").fetchone() == (0,)
    assert json.loads((tmp_path / "outbox.db.seq.json").read_text()) == {"reserved": 10_001}


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.booleans(), st.integers(0, 6)), max_size=12))
def test_buffer_matches_a_model_of_appends_and_acks(ops: list[tuple[bool, int]]) -> None:
    """Whatever mix of appends and (possibly stale) acks: seqs never repeat and exactly the
    unacknowledged records remain, oldest first."""

    async def scenario() -> None:
        async with Buffer.open(":memory:") as buf:
            remaining: list[int] = []
            next_seq, acked = 1, 0
            for is_append, n in ops:
                if is_append:
                    seqs = await buf.append([position(i) for i in range(n)])
                    assert seqs == list(range(next_seq, next_seq + n))
                    remaining += seqs
                    next_seq += n
                else:
                    target = min(n * 2, next_seq - 1)
                    deleted = await buf.ack(target)
                    expected = [s for s in remaining if s <= target] if target > acked else []
                    assert deleted == len(expected)
                    remaining = [s for s in remaining if s not in expected]
                    acked = max(acked, target)
                assert [r.seq for r in await buf.peek(1000, 10**9)] == remaining
            stats = await buf.stats()
            assert (stats.records, stats.next_seq, stats.last_acked_seq) == (
                len(remaining),
                next_seq,
                acked,
            )

    asyncio.run(scenario())
