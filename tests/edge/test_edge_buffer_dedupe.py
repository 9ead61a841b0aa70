"""Idempotency keys and state rows written in the transaction of their records."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from edge.buffer import (
    MIGRATIONS,
    Buffer,
    EncodedGroup,
    Replayed,
    encode_group,
    keyed_group,
)
from edge.pipeline import Pipeline
from tests.edge.edge_factories import measurement, position, scan


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(params=["file", "memory"])
async def buf(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Buffer]:
    path = tmp_path / "outbox.db" if request.param == "file" else ":memory:"
    async with Buffer.open(path) as opened:
        yield opened


def keyed(key: str, *records: object) -> EncodedGroup:
    return keyed_group(encode_group(list(records)), dedupe_key=key)  # type: ignore[arg-type]


async def outbox(buf: Buffer) -> list[tuple[int, str]]:
    return [(r.seq, r.kind) for r in await buf.peek(100, 10**6)]


async def test_a_known_key_stores_nothing_and_answers_the_first_seqs(buf: Buffer) -> None:
    first = await buf.append_encoded([keyed("m-1", position(0), position(1))])
    assert first == [[1, 2]] and type(first[0]) is list
    # Another key in the same batch is stored; the repeated key (also twice in one batch) not.
    again = await buf.append_encoded(
        [keyed("m-1", position(0), position(1)), keyed("m-2", scan(2)), keyed("m-2", scan(2))]
    )
    assert again == [[1, 2], [3], [3]]
    assert [type(r) for r in again] == [Replayed, list, Replayed]
    assert await outbox(buf) == [(1, "position"), (2, "position"), (3, "scan")]
    # Acknowledged and deleted records are still remembered.
    await buf.ack(3)
    assert await buf.append_encoded([keyed("m-1", position(0))]) == [Replayed([1, 2])]
    assert await outbox(buf) == []
    stats = await buf.stats()
    assert (stats.dedupe_keys, stats.replayed, stats.next_seq) == (2, 3, 4)


async def test_append_now_takes_keys_the_same_way(buf: Buffer) -> None:
    outcome = buf.append_now([keyed("a", measurement(0)), keyed("a", measurement(0))])
    assert outcome is not None
    assert await outcome == [[1], Replayed([1])]
    later = buf.append_now([keyed("a", measurement(0)), keyed("b", measurement(1))])
    assert later is not None and await later == [[1], [2]]
    assert await outbox(buf) == [(1, "measurement"), (2, "measurement")]


async def test_keys_survive_reopen_and_a_buffer_full_refusal_stores_no_key(
    tmp_path: Path,
) -> None:
    path = tmp_path / "outbox.db"
    async with Buffer.open(path, max_records=2) as buf:
        assert await buf.append_encoded([keyed("s-1", scan(0)), keyed("s-2", scan(1))]) == [
            [1],
            [2],
        ]
        refused = await buf.append_encoded([keyed("s-3", scan(2))])
        assert "buffer full" in str(refused[0])
        # A replay needs no room: it is answered although the buffer is full.
        assert await buf.append_encoded([keyed("s-1", scan(0))]) == [[1]]
    async with Buffer.open(path, max_records=3) as buf:
        assert await buf.append_encoded([keyed("s-2", scan(1)), keyed("s-3", scan(2))]) == [
            [2],
            [3],
        ]
        assert await outbox(buf) == [(1, "scan"), (2, "scan"), (3, "scan")]
    with sqlite3.connect(path) as conn:
        assert conn.execute(
            "SELECT key, first_seq, count FROM dedupe_keys ORDER BY key"
        ).fetchall() == [
            ("s-1", 1, 1),
            ("s-2", 2, 1),
            ("s-3", 3, 1),
        ]


async def test_keys_expire_by_count_and_by_age(tmp_path: Path) -> None:
    clock = Clock()
    path = tmp_path / "outbox.db"
    async with Buffer.open(path, dedupe_max_keys=2, dedupe_max_age_s=60, clock=clock) as buf:
        for i, key in enumerate(["k1", "k2", "k3"]):
            await buf.append_encoded([keyed(key, position(i))])
            clock.now += 1
        # k1 was the oldest beyond two keys: forgotten, so it is stored again.
        assert await buf.append_encoded([keyed("k1", position(0))]) == [[4]]
        assert (await buf.stats()).dedupe_keys == 2
        assert await buf.append_encoded([keyed("k3", position(2))]) == [[3]]
        clock.now += 61
        # k3 and k1 are older than a minute now: neither counts as a replay any more.
        assert await buf.append_encoded([keyed("k3", position(2))]) == [[5]]
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT key, first_seq FROM dedupe_keys").fetchall() == [("k3", 5)]


async def test_a_failed_transaction_stores_neither_records_nor_key_nor_state(
    tmp_path: Path,
) -> None:
    path = tmp_path / "outbox.db"
    async with Buffer.open(path) as buf:
        await buf.save_state([("probe", '{"v":1}')])
        with sqlite3.connect(path) as other:  # a write the transaction will trip over
            other.execute("CREATE TRIGGER fail BEFORE INSERT ON dedupe_keys "
                          "BEGIN SELECT RAISE(ABORT, 'disk on fire'); END")  # fmt: skip
        group = keyed_group(encode_group([scan(0)]), dedupe_key="m-1", state=[("probe", '{"v":2}')])
        with pytest.raises(sqlite3.IntegrityError, match="disk on fire"):
            await buf.append_encoded([group])
        assert await outbox(buf) == []
        assert await buf.load_state("") == {"probe": '{"v":1}'}
        with sqlite3.connect(path) as other:
            other.execute("DROP TRIGGER fail")
        assert await buf.append_encoded([group]) == [[1]]
        assert await buf.load_state("pro") == {"probe": '{"v":2}'}
        assert await buf.append_encoded([group]) == [[1]]


async def test_state_rows_go_with_records_or_alone_and_none_deletes(buf: Buffer) -> None:
    with_alarm = keyed_group(
        encode_group([scan(0)]), state=[("cc:a", '{"n":1}'), ("cc:b", '{"n":1}')]
    )
    alone = keyed_group(encode_group([]), state=[("cc:a", None), ("cc:b", '{"n":2}')])
    assert await buf.append_encoded([with_alarm]) == [[1]]
    assert await buf.load_state("cc:") == {"cc:a": '{"n":1}', "cc:b": '{"n":1}'}
    assert await buf.append_encoded([alone]) == [[]]
    assert await buf.load_state("cc:") == {"cc:b": '{"n":2}'}
    assert await buf.load_state("other:") == {}
    assert (await buf.stats()).next_seq == 2


async def test_pipeline_put_with_a_key_is_answered_with_the_first_seqs(tmp_path: Path) -> None:
    async with Buffer.open(tmp_path / "outbox.db") as buf:
        pipeline = Pipeline(buf)
        task = asyncio.create_task(pipeline.run())
        try:
            first, same, other = await asyncio.gather(
                pipeline.put([measurement(0), measurement(1)], dedupe_key="m-1"),
                pipeline.put([measurement(0), measurement(1)], dedupe_key="m-1"),
                pipeline.put([measurement(2)], dedupe_key="m-2"),
            )
            assert (first, same, other) == ([1, 2], [1, 2], [3])
            assert type(same) is Replayed and type(first) is list
            later = await pipeline.put([measurement(0)], dedupe_key="m-1")
            assert type(later) is Replayed and later == [1, 2]
            pipeline.submit([], state=[("k", "{}")])
            await pipeline.flush()
            assert await buf.load_state("k") == {"k": "{}"}
            assert (pipeline.produced["measurement"], pipeline.replayed) == (3, 2)
        finally:
            pipeline.stop()
            await task
        assert await outbox(buf) == [(1, "measurement"), (2, "measurement"), (3, "measurement")]


async def test_an_older_buffer_file_is_migrated_and_keeps_its_records(tmp_path: Path) -> None:
    path = tmp_path / "outbox.db"
    with sqlite3.connect(path) as conn:
        conn.execute(
            "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at REAL)"
        )
        for version, statements in enumerate(MIGRATIONS[:2], start=1):
            for statement in statements:
                conn.execute(statement)
            conn.execute("INSERT INTO schema_migrations VALUES (?, ?)", (version, time.time()))
        conn.execute(
            "INSERT INTO outbox (seq, kind, device_id, created_at, payload, evictable) "
            "VALUES (1, 'scan', 'hh-1', 0, '{}', 0)"
        )
        conn.execute("UPDATE meta SET value = 2 WHERE key = 'next_seq'")
    conn.close()
    async with Buffer.open(path) as buf:
        assert await buf.schema_version() == 3
        assert await buf.append_encoded([keyed("m-1", scan(1))]) == [[2]]
        assert await outbox(buf) == [(1, "scan"), (2, "scan")]


def test_keyed_group_without_extras_is_the_group_and_refuses_an_empty_key() -> None:
    group = encode_group([scan(0)])
    assert keyed_group(group) is group
    with pytest.raises(ValueError, match="dedupe_key must not be empty"):
        keyed_group(group, dedupe_key="")


async def test_a_clock_set_back_does_not_block_storing_an_expired_key(tmp_path: Path) -> None:
    clock = Clock()
    path = tmp_path / "outbox.db"
    async with Buffer.open(path, dedupe_max_age_s=60, clock=clock) as buf:
        clock.now = 2000.0
        await buf.append_encoded([keyed("k0", scan(0))])
        clock.now = 1000.0  # set back
        await buf.append_encoded([keyed("k1", scan(1))])
        clock.now = 1061.0  # k1 is too old, k0 (from "the future") is not
        assert await buf.append_encoded([keyed("k1", scan(1))]) == [[3]]
        assert await buf.append_encoded([keyed("k1", scan(1))]) == [[3]]
    with sqlite3.connect(path) as conn:
        rows = conn.execute("SELECT key, first_seq FROM dedupe_keys ORDER BY key").fetchall()
        assert rows == [("k0", 1), ("k1", 3)]
