"""Durable outbox: records wait in SQLite until the cloud acknowledged them.

Sequence numbers are assigned here, strictly increasing and never reused, across restarts and even
when the outbox is empty (``meta.next_seq`` is persisted). Each record's JSON (without ``seq``) is
stored pre-serialized so the uplink builds a request body by joining strings.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sqlite3
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import aiosqlite

from firmware_bridge.records import Alarm, Measurement, Position, Record, Scan, TagRead
from firmware_bridge.wire import record_to_wire

# Each migration runs once, in order, inside one transaction; append, never edit.
MIGRATIONS: Final[tuple[tuple[str, ...], ...]] = (
    (
        "CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL)",
        "INSERT INTO meta (key, value) VALUES ('next_seq', 1), ('last_acked_seq', 0)",
        """CREATE TABLE outbox (
            seq INTEGER PRIMARY KEY,
            kind TEXT NOT NULL,
            device_id TEXT NOT NULL,
            created_at REAL NOT NULL,
            payload TEXT NOT NULL
        )""",
    ),
)


@dataclass(frozen=True, slots=True)
class BufferedRecord:
    seq: int
    kind: str
    device_id: str
    created_at: float
    payload: str
    """The record's compact ASCII JSON object without ``seq``."""

    @property
    def size(self) -> int:
        return len(self.payload)


@dataclass(frozen=True, slots=True)
class BufferStats:
    records: int
    bytes: int
    oldest_created_at: float | None
    next_seq: int
    last_acked_seq: int


def record_source(record: Record) -> str:
    """The device (or rule subject) a record came from, for the outbox's device_id column."""
    match record:
        case Position() | Measurement():
            return record.device_id
        case TagRead():
            return record.reader_id
        case Scan():
            return record.scanner_id
        case Alarm():
            return record.subject


def serialize_payload(record: Record) -> str:
    # ensure_ascii keeps len(payload) equal to its size in bytes on the wire.
    return json.dumps(record_to_wire(record), separators=(",", ":"), ensure_ascii=True)


class Buffer:
    """Use as ``async with Buffer.open(path) as buf``. One writer per database file."""

    def __init__(self, db: aiosqlite.Connection) -> None:
        self._db = db
        # One connection is shared by the pipeline (append) and the uplink (peek/ack): a
        # transaction must not interleave with another coroutine's statements.
        self._lock = asyncio.Lock()
        self._next_seq = 1
        self._last_acked = 0
        self._records = 0
        self._bytes = 0

    @classmethod
    @asynccontextmanager
    async def open(cls, path: str | Path) -> AsyncIterator[Buffer]:
        """Open (creating and migrating if needed) the outbox at ``path``; ``":memory:"`` works."""
        if str(path) != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        # isolation_level=None: the sqlite3 module never opens transactions behind our back.
        db = await aiosqlite.connect(str(path), isolation_level=None)
        try:
            buffer = cls(db)
            await buffer._prepare()
            yield buffer
        finally:
            await db.close()

    async def _prepare(self) -> None:
        # journal_mode cannot change inside a transaction; FULL makes each COMMIT durable on
        # return, which is what "appended" promises to the pipeline.
        await self._db.execute("PRAGMA journal_mode=WAL")
        await self._db.execute("PRAGMA synchronous=FULL")
        await self._migrate()
        async with self._db.execute("SELECT key, value FROM meta") as cursor:
            meta = {str(key): int(value) async for key, value in cursor}
        self._next_seq, self._last_acked = meta["next_seq"], meta["last_acked_seq"]
        async with self._db.execute(
            "SELECT COUNT(*), COALESCE(SUM(length(payload)), 0) FROM outbox"
        ) as cursor:
            row = await cursor.fetchone()
        assert row is not None
        self._records, self._bytes = int(row[0]), int(row[1])

    async def _migrate(self) -> None:
        await self._db.execute("BEGIN IMMEDIATE")
        try:
            await self._db.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations "
                "(version INTEGER PRIMARY KEY, applied_at REAL NOT NULL)"
            )
            async with self._db.execute(
                "SELECT COALESCE(MAX(version), 0) FROM schema_migrations"
            ) as cursor:
                row = await cursor.fetchone()
            current = int(row[0]) if row else 0
            for version, statements in enumerate(MIGRATIONS, start=1):
                if version <= current:
                    continue
                for statement in statements:
                    await self._db.execute(statement)
                await self._db.execute(
                    "INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)",
                    (version, time.time()),
                )
            await self._db.execute("COMMIT")
        except BaseException:
            await self._rollback()
            raise

    async def _rollback(self) -> None:
        # After a cancellation the COMMIT may already have run in aiosqlite's thread; then there
        # is nothing to roll back and the original exception is the one worth raising.
        with contextlib.suppress(sqlite3.OperationalError):
            await self._db.execute("ROLLBACK")

    async def schema_version(self) -> int:
        async with self._db.execute("SELECT MAX(version) FROM schema_migrations") as cursor:
            row = await cursor.fetchone()
        return int(row[0]) if row and row[0] is not None else 0

    async def append(self, records: Sequence[Record]) -> list[int]:
        """Store ``records`` in one transaction; durable on return. Returns their seqs in order."""
        if not records:
            return []
        now = time.time()
        encoded = [(r.kind.value, record_source(r), serialize_payload(r)) for r in records]
        async with self._lock:
            first = self._next_seq
            last = first + len(encoded) - 1
            rows = [
                (first + i, kind, device, now, payload)
                for i, (kind, device, payload) in enumerate(encoded)
            ]
            await self._db.execute("BEGIN IMMEDIATE")
            try:
                await self._db.executemany(
                    "INSERT INTO outbox (seq, kind, device_id, created_at, payload) "
                    "VALUES (?, ?, ?, ?, ?)",
                    rows,
                )
                await self._db.execute(
                    "UPDATE meta SET value = ? WHERE key = 'next_seq'", (last + 1,)
                )
                await self._db.execute("COMMIT")
            except BaseException:
                await self._rollback()
                raise
            self._next_seq = last + 1
            self._records += len(rows)
            self._bytes += sum(len(payload) for _, _, payload in encoded)
        return list(range(first, last + 1))

    async def peek(self, max_records: int, max_bytes: int) -> list[BufferedRecord]:
        """Oldest records first, at most ``max_records`` and ``max_bytes`` of payload; always at
        least one record when any is stored, so an oversized record cannot block the outbox."""
        if max_records < 1:
            raise ValueError("max_records must be at least 1")
        out: list[BufferedRecord] = []
        total = 0
        async with (
            self._lock,
            self._db.execute(
                "SELECT seq, kind, device_id, created_at, payload FROM outbox ORDER BY seq LIMIT ?",
                (max_records,),
            ) as cursor,
        ):
            async for seq, kind, device_id, created_at, payload in cursor:
                item = BufferedRecord(
                    int(seq), str(kind), str(device_id), float(created_at), payload
                )
                if out and total + item.size > max_bytes:
                    break
                out.append(item)
                total += item.size
        return out

    async def ack(self, up_to_seq: int) -> int:
        """Delete every record with seq <= ``up_to_seq``; returns how many were deleted."""
        return sum((await self.ack_by_kind(up_to_seq)).values())

    async def ack_by_kind(self, up_to_seq: int) -> dict[str, int]:
        """Like :meth:`ack`, returning the deleted counts per record kind. An ack at or below the
        stored ``last_acked_seq`` changes nothing; one at or above ``next_seq`` is refused."""
        if up_to_seq >= self._next_seq:
            raise ValueError(
                f"ack {up_to_seq} is beyond the last seq ever assigned ({self._next_seq - 1})"
            )
        async with self._lock:
            if up_to_seq <= self._last_acked:
                return {}
            await self._db.execute("BEGIN IMMEDIATE")
            try:
                async with self._db.execute(
                    "SELECT kind, COUNT(*), SUM(length(payload)) FROM outbox WHERE seq <= ? "
                    "GROUP BY kind ORDER BY kind",
                    (up_to_seq,),
                ) as cursor:
                    rows = [(str(k), int(n), int(b)) async for k, n, b in cursor]
                await self._db.execute("DELETE FROM outbox WHERE seq <= ?", (up_to_seq,))
                await self._db.execute(
                    "UPDATE meta SET value = ? WHERE key = 'last_acked_seq'", (up_to_seq,)
                )
                await self._db.execute("COMMIT")
            except BaseException:
                await self._rollback()
                raise
        self._last_acked = up_to_seq
        self._records -= sum(n for _, n, _ in rows)
        self._bytes -= sum(b for _, _, b in rows)
        return {kind: n for kind, n, _ in rows}

    async def stats(self) -> BufferStats:
        async with (
            self._lock,
            self._db.execute("SELECT created_at FROM outbox ORDER BY seq LIMIT 1") as cursor,
        ):
            row = await cursor.fetchone()
        return BufferStats(
            records=self._records,
            bytes=self._bytes,
            oldest_created_at=float(row[0]) if row else None,
            next_seq=self._next_seq,
            last_acked_seq=self._last_acked,
        )

    @property
    def last_acked_seq(self) -> int:
        return self._last_acked

    async def quarantine(self, seq: int, reason: str) -> None:
        """Move outbox row ``seq`` to the ``quarantine`` table in one transaction: the cloud
        refused it, so it is kept for inspection and never sent again. A seq no longer in the
        outbox changes nothing. The seq is not acknowledged: the cloud sees it as a gap."""
        async with self._lock:
            await self._db.execute("BEGIN IMMEDIATE")
            try:
                await self._db.execute(
                    "CREATE TABLE IF NOT EXISTS quarantine (seq INTEGER PRIMARY KEY, "
                    "kind TEXT NOT NULL, payload TEXT NOT NULL, reason TEXT NOT NULL, "
                    "quarantined_at REAL NOT NULL)"
                )
                async with self._db.execute(
                    "SELECT kind, payload FROM outbox WHERE seq = ?", (seq,)
                ) as cursor:
                    row = await cursor.fetchone()
                if row is not None:
                    await self._db.execute(
                        "INSERT INTO quarantine (seq, kind, payload, reason, quarantined_at) "
                        "VALUES (?, ?, ?, ?, ?)",
                        (seq, row[0], row[1], reason, time.time()),
                    )
                    await self._db.execute("DELETE FROM outbox WHERE seq = ?", (seq,))
                await self._db.execute("COMMIT")
            except BaseException:
                await self._rollback()
                raise
            if row is not None:
                self._records -= 1
                self._bytes -= len(row[1])
