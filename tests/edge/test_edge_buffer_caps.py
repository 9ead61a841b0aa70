"""Caps, eviction, back-pressure, disk full and quarantine of the real SQLite buffer."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from edge.buffer import Buffer, BufferFullError, serialize_payload
from firmware_bridge.records import Record
from tests.edge.edge_factories import measurement, position, scan


async def seqs_and_kinds(buf: Buffer) -> list[tuple[int, str]]:
    return [(r.seq, r.kind) for r in await buf.peek(100_000, 10**12)]


def size(records: list[Record]) -> int:
    return sum(len(serialize_payload(r)) for r in records)


async def test_record_cap_evicts_oldest_telemetry_in_the_same_append(tmp_path: Path) -> None:
    async with Buffer.open(tmp_path / "o.db", max_records=5) as buf:
        assert await buf.append([position(0), scan(1), position(2), measurement(3)]) == [1, 2, 3, 4]
        assert await buf.append([scan(4), position(5), scan(6)]) == [5, 6, 7]
        # 7 records, cap 5: the two oldest telemetry records (1 and 3) made room.
        assert await seqs_and_kinds(buf) == [
            (2, "scan"),
            (4, "measurement"),
            (5, "scan"),
            (6, "position"),
            (7, "scan"),
        ]
        stats = await buf.stats()
        assert (stats.records, stats.evicted, stats.max_records) == (5, {"position": 2}, 5)
        assert await buf.append([measurement(7)]) == [8]
        assert await seqs_and_kinds(buf) == [
            (2, "scan"),
            (5, "scan"),
            (6, "position"),
            (7, "scan"),
            (8, "measurement"),
        ]
        assert (await buf.stats()).evicted == {"measurement": 1, "position": 2}


async def test_new_telemetry_evicts_itself_when_only_business_is_older(tmp_path: Path) -> None:
    async with Buffer.open(tmp_path / "o.db", max_records=2) as buf:
        await buf.append([scan(0), scan(1)])
        assert await buf.append([position(2)]) == [3]
        assert await seqs_and_kinds(buf) == [(1, "scan"), (2, "scan")]
        stats = await buf.stats()
        assert (stats.records, stats.next_seq, stats.evicted) == (2, 4, {"position": 1})


async def test_business_that_cannot_fit_is_refused_and_nothing_is_stored(tmp_path: Path) -> None:
    async with Buffer.open(tmp_path / "o.db", max_records=3) as buf:
        await buf.append([scan(0), position(1), scan(2)])
        with pytest.raises(BufferFullError, match="buffer full: 2 records do not fit"):
            await buf.append([scan(3), scan(4)])
        # All or nothing: the refused group evicted nothing and used no seq.
        assert await seqs_and_kinds(buf) == [(1, "scan"), (2, "position"), (3, "scan")]
        stats = await buf.stats()
        assert (stats.next_seq, stats.evicted) == (4, {})
        # One more business record fits by evicting the telemetry one.
        assert await buf.append([scan(3)]) == [4]
        assert await seqs_and_kinds(buf) == [(1, "scan"), (3, "scan"), (4, "scan")]
        assert (await buf.stats()).evicted == {"position": 1}


async def test_groups_are_admitted_each_all_or_nothing_in_one_transaction(
    tmp_path: Path,
) -> None:
    async with Buffer.open(tmp_path / "o.db", max_records=3) as buf:
        await buf.append([scan(0)])
        results = await buf.append_groups(
            [[position(1)], [scan(2), scan(3), scan(4)], [scan(5)], [measurement(6)], [scan(7)]]
        )
        assert results[0] == [2]
        assert isinstance(results[1], BufferFullError)
        assert results[2:] == [[3], [4], [5]]
        assert await seqs_and_kinds(buf) == [(1, "scan"), (3, "scan"), (5, "scan")]
        assert (await buf.stats()).evicted == {"measurement": 1, "position": 1}


async def test_byte_cap_counts_payload_bytes(tmp_path: Path) -> None:
    cap = size([scan(0), position(1), position(2)])
    async with Buffer.open(tmp_path / "o.db", max_bytes=cap) as buf:
        await buf.append([scan(0), position(1), position(2)])
        assert (await buf.stats()).bytes == cap
        await buf.append([position(3)])
        assert await seqs_and_kinds(buf) == [(1, "scan"), (3, "position"), (4, "position")]
        stats = await buf.stats()
        assert (stats.bytes, stats.evicted, stats.max_bytes) == (
            size([scan(0), position(2), position(3)]),
            {"position": 1},
            cap,
        )
        with pytest.raises(BufferFullError):
            await buf.append([scan(i) for i in range(1, 4)])


async def test_evictions_persist_across_reopen_and_acks_keep_usage_right(tmp_path: Path) -> None:
    path = tmp_path / "o.db"
    async with Buffer.open(path, max_records=2) as buf:
        await buf.append([position(i) for i in range(5)])
        assert await buf.ack(4) == 1
    async with Buffer.open(path, max_records=2) as buf:
        stats = await buf.stats()
        assert (stats.records, stats.evicted, stats.last_acked_seq) == (1, {"position": 3}, 4)
        await buf.append([scan(5), measurement(6)])
        assert await seqs_and_kinds(buf) == [(6, "scan"), (7, "measurement")]
        assert (await buf.stats()).evicted == {"position": 4}
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT key, value FROM meta ORDER BY key").fetchall() == [
            ("evicted:position", 4),
            ("last_acked_seq", 4),
            ("next_seq", 8),
        ]


async def test_downsampling_keeps_every_nth_record_per_device_before_evicting(
    tmp_path: Path,
) -> None:
    async with Buffer.open(tmp_path / "o.db", max_records=10, telemetry_downsample=3) as buf:
        # seqs 1..10 alternate between two vans: a = odd seqs, b = even seqs
        await buf.append([position(i, "a" if i % 2 == 0 else "b") for i in range(10)])
        await buf.append([position(10 + i, "c") for i in range(4)])
        # Need 4: walking from the oldest, per van keep the 1st of every 3, evict the others.
        # a: 1 keep, 3 evict, 5 evict; b: 2 keep, 4 evict, 6 evict.
        assert [r.seq for r in await buf.peek(100, 10**9)] == [1, 2, 7, 8, 9, 10, 11, 12, 13, 14]
        await buf.append([position(20, "c"), position(21, "c")])
        # Survivors 1 and 2 are not thinned again: a: 7 keep, 9 evict; b: 8 keep, 10 evict.
        assert [r.seq for r in await buf.peek(100, 10**9)] == [1, 2, 7, 8, 11, 12, 13, 14, 15, 16]
        assert (await buf.stats()).evicted == {"position": 6}


async def test_downsampling_falls_back_to_oldest_first_when_nothing_is_left_to_thin(
    tmp_path: Path,
) -> None:
    async with Buffer.open(tmp_path / "o.db", max_records=3, telemetry_downsample=2) as buf:
        await buf.append([position(0, "a"), position(1, "b"), position(2, "c")])
        await buf.append([scan(3)])
        # Each van has one record: thinning keeps them all (marked); then the oldest goes.
        assert await seqs_and_kinds(buf) == [(2, "position"), (3, "position"), (4, "scan")]


async def test_disk_full_evicts_telemetry_and_retries_then_refuses(tmp_path: Path) -> None:
    async with Buffer.open(tmp_path / "o.db") as buf:
        big = [measurement(i) for i in range(3000)]
        await buf.append(big)
        async with buf._db.execute("PRAGMA page_count") as cursor:
            row = await cursor.fetchone()
        assert row is not None
        # A real SQLITE_FULL: the file may not grow beyond its current pages.
        await buf._db.execute(f"PRAGMA max_page_count = {row[0]}")
        scans = [scan(i) for i in range(200)]
        seqs = await buf.append(scans)
        assert seqs == list(range(3001, 3201))
        stats = await buf.stats()
        assert stats.evicted["measurement"] > 0
        assert stats.records == 3200 - stats.evicted["measurement"]
        remaining = await seqs_and_kinds(buf)
        assert remaining[-200:] == [(s, "scan") for s in seqs]
        # Only business left and still no room: back-pressure, not a crash, nothing stored.
        await buf.ack(3000)
        with pytest.raises(BufferFullError):
            for i in range(100):
                await buf.append([scan(j) for j in range(i * 500, i * 500 + 500)])
        after = await buf.stats()
        assert after.records == (after.next_seq - 3001)
        assert [s for s, _ in await seqs_and_kinds(buf)] == list(range(3001, after.next_seq))
        assert await buf.ack(after.next_seq - 1) == after.records


async def test_quarantine_moves_a_record_out_of_the_outbox(tmp_path: Path) -> None:
    path = tmp_path / "o.db"
    async with Buffer.open(path) as buf:
        await buf.append([position(0), scan(1), position(2)])
        await buf.quarantine(2, "alarm: severity: bad")
        await buf.quarantine(9, "not there")  # already gone: no effect
        assert await seqs_and_kinds(buf) == [(1, "position"), (3, "position")]
        stats = await buf.stats()
        assert (stats.records, stats.bytes, stats.quarantined) == (
            2,
            size([position(0), position(2)]),
            1,
        )
    async with Buffer.open(path) as buf:
        assert await buf.quarantined_records() == [(2, "scan", "alarm: severity: bad")]
        assert (await buf.stats()).quarantined == 1
    with sqlite3.connect(path) as conn:
        row = conn.execute("SELECT payload FROM quarantine").fetchone()
        assert row == (serialize_payload(scan(1)),)
