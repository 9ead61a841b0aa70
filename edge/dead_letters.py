"""Dead letters: device messages the gateway could not use, kept with the reason for an engineer.

A separate SQLite file (``dead_letters.db`` in the gateway's data_dir) so bad input from a device
never competes with the outbox for room or locks. The table is capped: a device stuck sending
garbage keeps the newest rows, and every one is still counted in ``total`` (per source too, so a
connector's count survives a restart). Whatever a device sent is storable: a payload is kept up
to :data:`MAX_PAYLOAD_BYTES`, a reason up to :data:`MAX_REASON_CHARS`, and text that UTF-8
cannot encode (lone surrogates from JSON escapes) is stored with backslash escapes.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import aiosqlite

FILE_NAME: Final = "dead_letters.db"
DEFAULT_MAX_ROWS: Final = 10_000
MAX_PAYLOAD_BYTES: Final = 65_536
"""A longer payload is stored cut to this (its reason says how long it was)."""
MAX_REASON_CHARS: Final = 500

MIGRATIONS: Final[list[list[str]]] = [
    [
        "CREATE TABLE dead_letters (id INTEGER PRIMARY KEY, received_at REAL NOT NULL, "
        "source TEXT NOT NULL, topic TEXT NOT NULL, reason TEXT NOT NULL, payload BLOB NOT NULL)",
        "CREATE TABLE dead_letter_meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL)",
        "INSERT INTO dead_letter_meta (key, value) VALUES ('total', 0)",
    ],
    [
        "CREATE TABLE dead_letter_sources (source TEXT PRIMARY KEY, total INTEGER NOT NULL)",
        # Older files counted only the whole: what their rows show is the best there is.
        "INSERT INTO dead_letter_sources (source, total) "
        "SELECT source, COUNT(*) FROM dead_letters GROUP BY source",
    ],
]


@dataclass(frozen=True, slots=True)
class DeadLetter:
    source: str
    """The connector (device entry) that received it."""
    topic: str
    reason: str
    payload: bytes
    received_at: float = 0.0
    """Unix time; 0 means now when added."""


class DeadLetters:
    def __init__(self, db: aiosqlite.Connection, *, max_rows: int) -> None:
        self._db = db
        self._max_rows = max_rows

    @classmethod
    @asynccontextmanager
    async def open(
        cls, path: str | Path, *, max_rows: int = DEFAULT_MAX_ROWS
    ) -> AsyncIterator[DeadLetters]:
        """Open (creating and migrating if needed) the table at ``path``; ``":memory:"`` works."""
        if str(path) != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        db = await aiosqlite.connect(str(path), isolation_level=None)
        try:
            await db.execute("PRAGMA journal_mode=WAL")
            await db.execute("PRAGMA synchronous=FULL")
            await db.execute("PRAGMA busy_timeout=5000")
            await _migrate(db)
            yield cls(db, max_rows=max_rows)
        finally:
            await db.close()

    async def add(self, letters: Sequence[DeadLetter]) -> None:
        """Store ``letters`` durably (one transaction), dropping the oldest rows over the cap."""
        if not letters:
            return
        now = time.time()
        rows = [
            (
                letter.received_at or now,
                _storable(letter.source),
                _storable(letter.topic),
                _storable(letter.reason[:MAX_REASON_CHARS]),
                letter.payload[:MAX_PAYLOAD_BYTES],
            )
            for letter in letters
        ]
        per_source = Counter(row[1] for row in rows)
        await self._db.execute("BEGIN IMMEDIATE")
        try:
            await self._db.executemany(
                "INSERT INTO dead_letters (received_at, source, topic, reason, payload) "
                "VALUES (?, ?, ?, ?, ?)",
                rows,
            )
            await self._db.execute(
                "UPDATE dead_letter_meta SET value = value + ? WHERE key = 'total'", (len(rows),)
            )
            await self._db.executemany(
                "INSERT INTO dead_letter_sources (source, total) VALUES (?, ?) "
                "ON CONFLICT (source) DO UPDATE SET total = total + excluded.total",
                sorted(per_source.items()),
            )
            await self._db.execute(
                "DELETE FROM dead_letters WHERE id <= (SELECT MAX(id) FROM dead_letters) - ?",
                (self._max_rows,),
            )
            await self._db.execute("COMMIT")
        except BaseException:
            await self._db.execute("ROLLBACK")
            raise

    async def total(self, source: str | None = None) -> int:
        """Dead letters ever added to this file (of ``source`` when given), including those
        dropped by the cap."""
        args: tuple[str, ...] = ()
        if source is None:
            query = "SELECT value FROM dead_letter_meta WHERE key = 'total'"
        else:
            query = "SELECT total FROM dead_letter_sources WHERE source = ?"
            args = (_storable(source),)
        async with self._db.execute(query, args) as cursor:
            row = await cursor.fetchone()
        return int(row[0]) if row else 0

    async def recent(self, limit: int = 100, *, source: str | None = None) -> list[DeadLetter]:
        """The newest ``limit`` dead letters (of ``source`` when given), oldest first."""
        where, args = ("WHERE source = ?", (source, limit)) if source else ("", (limit,))
        rows = await self._db.execute_fetchall(
            "SELECT received_at, source, topic, reason, payload FROM dead_letters "
            f"{where} ORDER BY id DESC LIMIT ?",
            args,
        )
        return [
            DeadLetter(str(src), str(topic), str(reason), bytes(payload), float(at))
            for at, src, topic, reason, payload in reversed(list(rows))
        ]


def _storable(text: str) -> str:
    """``text`` as SQLite can store it: lone surrogates backslash-escaped."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


async def _migrate(db: aiosqlite.Connection) -> None:
    await db.execute("BEGIN IMMEDIATE")
    try:
        await db.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations "
            "(version INTEGER PRIMARY KEY, applied_at REAL NOT NULL)"
        )
        async with db.execute("SELECT COALESCE(MAX(version), 0) FROM schema_migrations") as cur:
            row = await cur.fetchone()
        current = int(row[0]) if row else 0
        for version, statements in enumerate(MIGRATIONS, start=1):
            if version <= current:
                continue
            for statement in statements:
                await db.execute(statement)
            await db.execute(
                "INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)",
                (version, time.time()),
            )
        await db.execute("COMMIT")
    except BaseException:
        await db.execute("ROLLBACK")
        raise
