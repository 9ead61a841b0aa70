"""A corrupt buffer file is moved aside, reported, and seqs continue after the reservation."""

from __future__ import annotations

import logging
import os
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest

from edge.buffer import Buffer
from edge.recovery import find_corruption, move_aside
from tests.edge.edge_factories import position, scan


async def filled(path: Path, n: int = 2000) -> None:
    async with Buffer.open(path) as buf:
        await buf.append([position(i) for i in range(n)])
        await buf.ack(5)


def truncate(path: Path) -> None:
    with path.open("r+b") as handle:
        handle.truncate(path.stat().st_size // 2)


def garbage(path: Path) -> None:
    path.write_bytes(os.urandom(path.stat().st_size))


def empty(path: Path) -> None:
    path.write_bytes(b"")


@pytest.mark.parametrize("damage", [truncate, garbage, empty])
async def test_corrupt_file_is_moved_aside_reported_and_seqs_continue(
    tmp_path: Path, damage: object, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "outbox.db"
    await filled(path)
    original = path.read_bytes()
    assert callable(damage)
    damage(path)
    damaged = path.read_bytes()
    assert damaged != original
    with caplog.at_level(logging.ERROR, logger="edge.recovery"):
        async with Buffer.open(path) as buf:
            recovery = buf.recovery
            assert recovery is not None
            stats = await buf.stats()
            # Reserved up to 2,000 + 10,000, skipped: no seq the cloud may hold is reused.
            assert (stats.records, stats.next_seq, stats.last_acked_seq) == (0, 12_001, 12_000)
            assert await buf.append([scan(0)]) == [12_001]
    aside = tmp_path / f"outbox.db.corrupt-{recovery.at.strftime('%Y%m%dT%H%M%SZ')}"
    assert recovery.moved_aside == (aside,)
    assert aside.read_bytes() == damaged
    health = recovery.to_health()
    assert health["moved_aside"] == [str(aside)]
    assert health["reason"] == recovery.reason
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1
    assert "BUFFER CORRUPT" in errors[0] and str(aside) in errors[0]
    # The new file is healthy and keeps working across a reopen.
    async with Buffer.open(path) as buf:
        assert buf.recovery is None
        assert [r.seq for r in await buf.peek(10, 10**6)] == [12_001]


async def test_healthy_file_passes_and_absent_file_is_fine(tmp_path: Path) -> None:
    path = tmp_path / "outbox.db"
    assert find_corruption(path) is None
    await filled(path, 10)
    assert find_corruption(path) is None
    garbage(path)
    reason = find_corruption(path)
    assert reason == "file is not a database"


def test_move_aside_takes_wal_and_shm_and_never_overwrites(tmp_path: Path) -> None:
    at = datetime(2026, 3, 1, 8, 0, 0, tzinfo=UTC)
    for round_ in (1, 2):
        for suffix in ("", "-wal", "-shm"):
            (tmp_path / f"outbox.db{suffix}").write_text(f"{round_}{suffix}")
        moved = move_aside(tmp_path / "outbox.db", at)
        base = "outbox.db.corrupt-20260301T080000Z" + ("" if round_ == 1 else "-2")
        assert moved == tuple(tmp_path / f"{base}{s}" for s in ("", "-wal", "-shm"))
        assert [p.read_text() for p in moved] == [f"{round_}", f"{round_}-wal", f"{round_}-shm"]
    assert not (tmp_path / "outbox.db").exists()


async def test_seqs_survive_losing_the_file_between_reservations(tmp_path: Path) -> None:
    path = tmp_path / "outbox.db"
    async with Buffer.open(path) as buf:
        await buf.append([position(i) for i in range(10_000)])
        assert await buf.append([position(0)]) == [10_001]  # crosses into a second block
    path.unlink()
    async with Buffer.open(path) as buf:
        assert buf.recovery is None  # a missing file is not corruption; seqs still continue
        assert await buf.append([scan(0)]) == [20_001]


async def test_reading_a_corrupt_page_after_quick_check_is_also_recovered(
    tmp_path: Path,
) -> None:
    path = tmp_path / "outbox.db"
    await filled(path, 10)
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA writable_schema = ON")
        conn.execute("UPDATE sqlite_master SET sql = 'garbage' WHERE name = 'meta'")
    async with Buffer.open(path) as buf:
        assert buf.recovery is not None
        assert (await buf.stats()).next_seq == 10_011
