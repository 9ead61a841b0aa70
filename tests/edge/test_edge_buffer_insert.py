"""The outbox's multi-row INSERTs store exactly what a statement per row would, whatever the
number of rows (every statement size, and the remainders between them)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from edge.buffer import Buffer, serialize_payload
from edge.eviction import KEEP, TELEMETRY
from tests.edge.edge_factories import measurement, position, scan


@pytest.mark.parametrize("count", [1, 3, 4, 17, 256, 341, 600])
async def test_every_row_is_stored_in_order_with_its_columns(tmp_path: Path, count: int) -> None:
    makers = (position, measurement, scan)
    records = [makers[i % 3](i) for i in range(count)]
    path = tmp_path / "outbox.db"
    async with Buffer.open(path) as buffer:
        assert await buffer.append([scan(-1)]) == [1]
        assert await buffer.append(records) == list(range(2, count + 2))
        assert (await buffer.stats()).next_seq == count + 2
    with sqlite3.connect(path) as connection:
        rows = connection.execute(
            "SELECT seq, kind, payload, evictable FROM outbox WHERE seq > 1 ORDER BY seq"
        ).fetchall()
    assert rows == [
        (
            seq,
            record.kind.value,
            serialize_payload(record),
            KEEP if record.kind.value == "scan" else TELEMETRY,
        )
        for seq, record in enumerate(records, start=2)
    ]


async def test_a_clashing_row_stores_nothing_of_its_group(tmp_path: Path) -> None:
    path = tmp_path / "outbox.db"
    async with Buffer.open(path) as buffer:
        await buffer.append([scan(0)])
    with sqlite3.connect(path) as connection:
        # A row already holding the seq the 300th record will get: the whole INSERT must fail.
        connection.execute(
            "INSERT INTO outbox (seq, kind, device_id, created_at, payload, evictable) "
            "VALUES (301, 'scan', 'x', 0, '{}', 0)"
        )
    async with Buffer.open(path) as buffer:
        with pytest.raises(sqlite3.IntegrityError):
            await buffer.append([position(i) for i in range(400)])
    with sqlite3.connect(path) as connection:
        assert connection.execute("SELECT seq FROM outbox ORDER BY seq").fetchall() == [
            (1,),
            (301,),
        ]
