"""Durable, bounded outbox: records wait in SQLite until the cloud acknowledged them.

Sequence numbers are assigned here, strictly increasing and never reused, across restarts and even
when the outbox is empty (``meta.next_seq`` is persisted) or its file was lost
(:mod:`edge.seq_file`). Each record's JSON (without ``seq``) is stored pre-serialized so the uplink
builds a request body by joining strings. Caps on records and payload bytes are enforced in the
transaction that appends: telemetry is evicted (see :mod:`edge.eviction`), business records never;
a group of records whose business records cannot fit is refused with :class:`BufferFullError`.

A group may carry a producer's idempotency key and small state rows (:class:`KeyedGroup`), both
written in the transaction that stores its records: a later group with a key already stored
stores nothing and is answered with the seqs the first one got (:class:`Replayed`). Keys are
forgotten oldest first beyond ``dedupe_max_keys`` or ``dedupe_max_age_s``.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import logging
import sqlite3
import time
from collections import Counter, OrderedDict
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from itertools import chain
from pathlib import Path
from typing import Final, TypeVar

import aiosqlite

from edge.buffer_schema import EVICTED_KEY_PREFIX, MIGRATIONS
from edge.eviction import (
    KEEP,
    THINNED,
    BufferFullError,
    Candidate,
    Caps,
    GroupSize,
    Plan,
    Usage,
    admit,
    evicted_per_kind,
    overflow,
    plan_oldest,
    plan_thinning,
)
from edge.eviction import TELEMETRY as TELEMETRY_FLAG
from edge.payload import EncodedGroup, Row, encode_group, record_source, serialize_payload
from edge.recovery import Recovery, recover, recover_if_corrupt
from edge.seq_file import BLOCK, read_reserved, seq_file_for, write_reserved
from firmware_bridge.records import Record

__all__ = [
    "DEFAULT_MAX_BYTES",
    "DEFAULT_MAX_RECORDS",
    "MIGRATIONS",
    "Buffer",
    "BufferFullError",
    "BufferStats",
    "BufferedRecord",
    "EncodedGroup",
    "GroupResult",
    "KeyedGroup",
    "Replayed",
    "StateWrite",
    "encode_group",
    "record_source",
    "serialize_payload",
]

log = logging.getLogger(__name__)

DEFAULT_MAX_RECORDS: Final = 2_000_000
DEFAULT_MAX_BYTES: Final = 1_000_000_000
DEFAULT_DEDUPE_MAX_KEYS: Final = 100_000
DEFAULT_DEDUPE_MAX_AGE_S: Final = 8 * 24 * 3600.0
"""A day longer than the broker session expiry the MQTT connector asks for by default."""
EVICTION_CHUNK: Final = 1000
_SQLITE_FULL: Final = 13
_CORRUPT_CODES: Final = frozenset({11, 26})  # SQLITE_CORRUPT, SQLITE_NOTADB


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
    evicted: dict[str, int] = field(default_factory=dict)
    """Records evicted per kind over the buffer file's life."""
    quarantined: int = 0
    """Rows in the quarantine table."""
    max_records: int = DEFAULT_MAX_RECORDS
    max_bytes: int = DEFAULT_MAX_BYTES
    dedupe_keys: int = 0
    """Idempotency keys remembered."""
    replayed: int = 0
    """Groups answered from a remembered key since open (nothing stored)."""


GroupResult = list[int] | BufferFullError
"""The seqs of an appended group, or why it was refused."""

StateWrite = tuple[str, str | None]
"""An ``edge_state`` row to write: its key and its JSON text, or None to delete it."""


@dataclass(frozen=True, slots=True)
class KeyedGroup(EncodedGroup):
    """An encoded group and what its transaction must write as well: the producer's
    idempotency key and ``edge_state`` rows. Make with :func:`keyed_group`."""

    dedupe_key: str | None = None
    state: tuple[StateWrite, ...] = ()


def keyed_group(
    group: EncodedGroup, *, dedupe_key: str | None = None, state: Sequence[StateWrite] = ()
) -> EncodedGroup:
    """``group`` with a dedupe key and state rows (``group`` itself when there are none)."""
    if dedupe_key is None and not state:
        return group
    if dedupe_key is not None and not dedupe_key:
        raise ValueError("dedupe_key must not be empty")
    return KeyedGroup(
        group.rows,
        group.bytes,
        group.business_records,
        group.business_bytes,
        group.kinds,
        dedupe_key,
        tuple(state),
    )


class Replayed(list[int]):
    """The seqs an earlier group with the same dedupe key got; nothing was stored this time."""


def _carries_state(group: EncodedGroup) -> bool:
    return type(group) is KeyedGroup and bool(group.state)


@dataclass(slots=True)
class _Extras:
    """What a transaction writes besides outbox rows."""

    keys: list[tuple[str, int, int, float]] = field(default_factory=list)
    """New dedupe keys: key, first seq, record count, created_at."""
    expired: list[str] = field(default_factory=list)
    state: dict[str, str | None] = field(default_factory=dict)
    updated_at: float = 0.0
    replayed: int = 0
    """Groups answered from a remembered key."""

    def __bool__(self) -> bool:
        return bool(self.keys or self.expired or self.state)


def _is_disk_full(exc: BaseException) -> bool:
    code = getattr(exc, "sqlite_errorcode", None)
    return (
        isinstance(exc, sqlite3.OperationalError)
        and code is not None
        and code & 0xFF == _SQLITE_FULL
    )


def _is_corrupt(exc: sqlite3.DatabaseError) -> bool:
    code = getattr(exc, "sqlite_errorcode", None)
    return code is not None and code & 0xFF in _CORRUPT_CODES


class Buffer:
    """Use as ``async with Buffer.open(path) as buf``. One writer per database file."""

    def __init__(
        self,
        db: aiosqlite.Connection,
        *,
        caps: Caps | None = None,
        telemetry_downsample: int | None = None,
        seq_path: Path | None = None,
        recovery: Recovery | None = None,
        dedupe_max_keys: int = DEFAULT_DEDUPE_MAX_KEYS,
        dedupe_max_age_s: float = DEFAULT_DEDUPE_MAX_AGE_S,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if dedupe_max_keys < 1 or dedupe_max_age_s <= 0:
            raise ValueError("dedupe_max_keys and dedupe_max_age_s must be positive")
        self._db = db
        # One connection is shared by the pipeline (append) and the uplink (peek/ack): a
        # transaction must not interleave with another coroutine's statements.
        self._lock = asyncio.Lock()
        self.caps = caps or Caps(DEFAULT_MAX_RECORDS, DEFAULT_MAX_BYTES)
        self._downsample = telemetry_downsample or 1
        self._seq_path = seq_path
        self._reserved = 0
        self.recovery = recovery
        """Set when the file was corrupt at open and moved aside."""
        self._next_seq = 1
        self._last_acked = 0
        self._usage = Usage()
        self._evicted: Counter[str] = Counter()
        self._quarantined = 0
        self._inflight: asyncio.Future[None] | None = None
        """The commit queued by :meth:`append_now`, until it is done."""
        self._clock = clock
        self._dedupe_max_keys = dedupe_max_keys
        self._dedupe_max_age_s = dedupe_max_age_s
        self._keys: OrderedDict[str, tuple[int, int, float]] = OrderedDict()
        """Stored dedupe keys, oldest first: first seq, record count, created_at."""
        self._replayed = 0

    @classmethod
    @asynccontextmanager
    async def open(
        cls,
        path: str | Path,
        *,
        max_records: int = DEFAULT_MAX_RECORDS,
        max_bytes: int = DEFAULT_MAX_BYTES,
        telemetry_downsample: int | None = None,
        dedupe_max_keys: int = DEFAULT_DEDUPE_MAX_KEYS,
        dedupe_max_age_s: float = DEFAULT_DEDUPE_MAX_AGE_S,
        clock: Callable[[], float] = time.time,
    ) -> AsyncIterator[Buffer]:
        """Open (creating and migrating if needed) the outbox at ``path``; ``":memory:"`` works.
        A corrupt file is moved aside and replaced by an empty buffer (see ``recovery``).
        ``clock`` (seconds since the epoch) stamps records, keys and state."""
        caps = Caps(max_records, max_bytes)
        make = functools.partial(
            cls,
            caps=caps,
            telemetry_downsample=telemetry_downsample,
            dedupe_max_keys=dedupe_max_keys,
            dedupe_max_age_s=dedupe_max_age_s,
            clock=clock,
        )
        if str(path) == ":memory:":
            db = await _connect(":memory:")
            try:
                buffer = make(db)
                await buffer._prepare()
                yield buffer
            finally:
                await db.close()
            return
        file = Path(path)
        file.parent.mkdir(parents=True, exist_ok=True)
        recovery = await asyncio.to_thread(recover_if_corrupt, file)
        db = await _connect(file)
        try:
            buffer = make(db, seq_path=seq_file_for(file), recovery=recovery)
            try:
                await buffer._prepare()
            except sqlite3.DatabaseError as exc:
                # quick_check passed but reading failed: corrupt in a way it did not see.
                if recovery is not None or not _is_corrupt(exc):
                    raise
                await db.close()
                buffer.recovery = await asyncio.to_thread(recover, file, str(exc))
                db = await _connect(file)
                buffer._db = db
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
        self._evicted = Counter(
            {
                key.removeprefix(EVICTED_KEY_PREFIX): value
                for key, value in meta.items()
                if key.startswith(EVICTED_KEY_PREFIX)
            }
        )
        self._usage = Usage()
        async with self._db.execute(
            "SELECT kind, COUNT(*), SUM(length(payload)) FROM outbox GROUP BY kind"
        ) as cursor:
            async for kind, n, size in cursor:
                self._usage.add(str(kind), int(n), int(size))
        async with self._db.execute("SELECT COUNT(*) FROM quarantine") as cursor:
            row = await cursor.fetchone()
        self._quarantined = int(row[0]) if row else 0
        async with self._db.execute(
            "SELECT key, first_seq, count, created_at FROM dedupe_keys "
            "ORDER BY created_at, first_seq"
        ) as cursor:
            self._keys = OrderedDict(
                [(str(k), (int(f), int(n), float(t))) async for k, f, n, t in cursor]
            )
        await self._continue_reserved_seqs()

    async def _continue_reserved_seqs(self) -> None:
        if self._seq_path is None:
            return
        self._reserved = await asyncio.to_thread(read_reserved, self._seq_path)
        fresh = self._next_seq == 1 and self._last_acked == 0 and self._usage.records == 0
        if not fresh or self._reserved == 0:
            return
        # A new file replacing a lost one: continue after every seq that may have been used.
        await self._db.execute("BEGIN IMMEDIATE")
        try:
            await self._db.execute(
                "UPDATE meta SET value = ? WHERE key = 'next_seq'", (self._reserved + 1,)
            )
            await self._db.execute(
                "UPDATE meta SET value = ? WHERE key = 'last_acked_seq'", (self._reserved,)
            )
            await self._db.execute("COMMIT")
        except BaseException:
            await self._rollback()
            raise
        self._next_seq, self._last_acked = self._reserved + 1, self._reserved
        log.warning(
            "new buffer file: seqs continue at %d after the reservation in %s",
            self._next_seq,
            self._seq_path,
        )

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
        # is nothing to roll back and the original exception is the one worth raising. SQLite
        # also rolls back by itself after some errors (e.g. a full disk).
        with contextlib.suppress(sqlite3.OperationalError):
            await self._db.execute("ROLLBACK")

    async def schema_version(self) -> int:
        async with self._db.execute("SELECT MAX(version) FROM schema_migrations") as cursor:
            row = await cursor.fetchone()
        return int(row[0]) if row and row[0] is not None else 0

    async def append(self, records: Sequence[Record]) -> list[int]:
        """Store ``records`` in one transaction; durable on return. Returns their seqs in order.
        Raises :class:`BufferFullError` (nothing stored) when their business records cannot fit."""
        result = (await self.append_groups([records]))[0]
        if isinstance(result, BufferFullError):
            raise result
        return result

    async def append_groups(self, groups: Sequence[Sequence[Record]]) -> list[GroupResult]:
        """Store every group that fits, each all or nothing, in one transaction (durable on
        return), evicting telemetry as the caps require. Per group: its seqs or the refusal."""
        return await self.append_encoded([encode_group(group) for group in groups])

    def append_now(
        self, groups: Sequence[EncodedGroup]
    ) -> asyncio.Future[list[GroupResult]] | None:
        """Queue the append of ``groups`` to SQLite's thread at once, without awaiting anything,
        when that is simple: no other transaction holds the buffer, no commit of this method is
        still in flight, nothing must be evicted. A seq reservation that is due is written in
        that thread before the transaction. Returns None otherwise (then use
        :meth:`append_encoded`). The future's outcome is that of :meth:`append_encoded`; if it
        fails, nothing was stored and the seqs are reused.

        Being synchronous, a caller can hand records to the disk the moment they arrive and
        prepare the next ones while this commit runs in the other thread."""
        if self._lock.locked() or self._inflight is not None or not groups:
            return None
        now = self._clock()
        fits = admit(self._usage, self._sizes(groups), self.caps)
        results, rows, usage, last, extras = self._assign(groups, fits, now)
        if not rows and not extras:
            return None
        need_records, need_bytes = overflow(usage, self.caps)
        if need_records > 0 or need_bytes > 0:
            return None
        reservation: _Reservation | None = None
        if self._seq_path is not None and last > self._reserved:
            reservation = (self._seq_path, last + BLOCK)
        first, before = self._next_seq, self._usage
        delta = _difference(usage, before)
        self._next_seq, self._usage = last + 1, usage
        loop = asyncio.get_running_loop()
        done: asyncio.Future[None] = loop.create_future()
        outcome: asyncio.Future[list[GroupResult]] = loop.create_future()
        self._inflight = done

        def finished(commit: asyncio.Future[None]) -> None:
            self._inflight = None
            done.set_result(None)
            if commit.cancelled():
                outcome.cancel()
                return
            error = commit.exception()
            if error is None:
                if reservation is not None:
                    self._reserved = reservation[1]
                self._remember(extras)
                outcome.set_result(results)
                return
            # Nothing else assigned seqs meanwhile: the other paths wait for this commit.
            self._next_seq = first
            self._usage = _difference(self._usage, delta)
            outcome.set_exception(error)

        stored = _outbox_rows(first, now, rows)
        _queue(
            self._db, _reserve_and_insert, reservation, stored, last + 1, extras
        ).add_done_callback(finished)
        return outcome

    async def _settle_inflight(self) -> None:
        if self._inflight is not None:
            await asyncio.shield(self._inflight)

    async def append_encoded(self, groups: Sequence[EncodedGroup]) -> list[GroupResult]:
        """:meth:`append_groups` of groups already encoded with :func:`encode_group` (or
        :func:`keyed_group`)."""
        if not any(group.rows or _carries_state(group) for group in groups):
            return [[] for _ in groups]
        now = self._clock()
        async with self._lock:
            await self._settle_inflight()
            fits = admit(self._usage, self._sizes(groups), self.caps)
            try:
                return await self._append_admitted(groups, fits, now)
            except sqlite3.OperationalError as exc:
                if not _is_disk_full(exc):
                    raise
                log.warning("buffer: disk full (%s); evicting telemetry to make room", exc)
            admitted = [g for g, ok in zip(groups, fits, strict=True) if ok]
            rows = sum(len(g.rows) for g in admitted)
            await self._free_room(rows, 2 * sum(g.bytes for g in admitted) + 65536)
            try:
                return await self._append_admitted(groups, fits, now)
            except sqlite3.OperationalError as exc:
                if not _is_disk_full(exc):
                    raise
                log.error(
                    "buffer: disk still full after evicting telemetry (%s); refusing %d records",
                    exc,
                    rows,
                )
                return [
                    BufferFullError("disk is full; retry later") if ok else self._refusal(g)
                    for g, ok in zip(groups, fits, strict=True)
                ]

    def _refusal(self, group: EncodedGroup) -> BufferFullError:
        return BufferFullError(
            f"buffer full: {len(group.rows)} records do not fit; business records already use "
            f"{self._usage.business_records} of {self.caps.max_records} records and "
            f"{self._usage.business_bytes} of {self.caps.max_bytes} bytes; retry later"
        )

    def _sizes(self, groups: Sequence[EncodedGroup]) -> list[GroupSize]:
        """What each group needs admitted; a replay of a remembered key needs nothing."""
        return [
            GroupSize(0, 0)
            if type(g) is KeyedGroup and g.dedupe_key in self._keys
            else GroupSize(g.business_records, g.business_bytes)
            for g in groups
        ]

    def _assign(
        self, groups: Sequence[EncodedGroup], fits: list[bool], now: float
    ) -> tuple[list[GroupResult], list[Row], Usage, int, _Extras]:
        """Results and rows of the admitted groups (their seqs follow on from ``next_seq`` in
        row order), the usage once they are stored, the last seq, and the keys and state to
        write with them. Nothing of the buffer changes here."""
        results: list[GroupResult] = []
        rows: list[Row] = []
        usage = dataclasses.replace(self._usage)
        seq = self._next_seq
        extras = _Extras(updated_at=now)
        new_keys: dict[str, tuple[int, int]] = {}
        for group, ok in zip(groups, fits, strict=True):
            key: str | None = None
            if type(group) is KeyedGroup:
                key = group.dedupe_key
                if key is not None:
                    known = new_keys.get(key) or self._known_key(key, now)
                    if known is not None:
                        results.append(Replayed(range(known[0], known[0] + known[1])))
                        extras.replayed += 1
                        continue
            if not ok:
                results.append(self._refusal(group))
                continue
            count = len(group.rows)
            results.append(list(range(seq, seq + count)))
            rows += group.rows
            usage.records += count
            usage.bytes += group.bytes
            usage.business_records += group.business_records
            usage.business_bytes += group.business_bytes
            if type(group) is KeyedGroup:
                if key is not None:
                    new_keys[key] = (seq, count)
                    extras.keys.append((key, seq, count, now))
                extras.state.update(group.state)
            seq += count
        if extras.keys:
            extras.expired = self._expiring(len(extras.keys), now)
        return results, rows, usage, seq - 1, extras

    def _known_key(self, key: str, now: float) -> tuple[int, int] | None:
        known = self._keys.get(key)
        if known is None or known[2] < now - self._dedupe_max_age_s:
            return None
        return known[0], known[1]

    def _expiring(self, adding: int, now: float) -> list[str]:
        """Remembered keys to forget when ``adding`` more are stored: too old, or the oldest
        beyond the cap."""
        over = len(self._keys) + adding - self._dedupe_max_keys
        oldest = now - self._dedupe_max_age_s
        expired: list[str] = []
        for key, (_, _, created_at) in self._keys.items():
            if len(expired) >= over and created_at >= oldest:
                break
            expired.append(key)
        return expired

    def _remember(self, extras: _Extras) -> None:
        """After the transaction holding ``extras`` committed."""
        self._replayed += extras.replayed
        for key in extras.expired:
            del self._keys[key]
        for key, first, count, created_at in extras.keys:
            self._keys[key] = (first, count, created_at)
            self._keys.move_to_end(key)

    async def _append_admitted(
        self, groups: Sequence[EncodedGroup], fits: list[bool], now: float
    ) -> list[GroupResult]:
        first = self._next_seq
        results, rows, usage, last, extras = self._assign(groups, fits, now)
        if not rows and not extras:
            self._replayed += extras.replayed
            return results
        if self._seq_path is not None and last > self._reserved:
            try:
                await asyncio.to_thread(write_reserved, self._seq_path, last + BLOCK)
            except OSError as exc:
                log.error("buffer: cannot reserve seqs in %s (%s)", self._seq_path, exc)
                refused = BufferFullError(f"cannot reserve seqs ({exc}); retry later")
                return [r if isinstance(r, BufferFullError) else refused for r in results]
            self._reserved = last + BLOCK
        need_records, need_bytes = overflow(usage, self.caps)
        if need_records <= 0 and need_bytes <= 0:
            await _in_thread(
                self._db, _insert_rows, _outbox_rows(first, now, rows), last + 1, extras
            )
            self._next_seq = last + 1
            self._usage = usage
            self._remember(extras)
            return results
        await self._db.execute("BEGIN IMMEDIATE")
        try:
            await _in_thread(self._db, _insert_outbox, _outbox_rows(first, now, rows))
            if extras:
                await _in_thread(self._db, _write_extras, extras)
            evicted = await self._evict(need_records, need_bytes)
            await self._db.execute("UPDATE meta SET value = ? WHERE key = 'next_seq'", (last + 1,))
            await self._count_evicted(evicted)
            await self._db.execute("COMMIT")
        except BaseException:
            await self._rollback()
            raise
        self._next_seq = last + 1
        self._usage = usage
        self._forget(evicted)
        self._remember(extras)
        return results

    async def _free_room(self, need_records: int, need_bytes: int) -> None:
        """Evict telemetry in a transaction of its own, so freed pages can take new rows."""
        try:
            await self._db.execute("BEGIN IMMEDIATE")
            try:
                evicted = await self._evict(need_records, need_bytes)
                await self._count_evicted(evicted)
                await self._db.execute("COMMIT")
            except BaseException:
                await self._rollback()
                raise
        except sqlite3.OperationalError as exc:
            if not _is_disk_full(exc):
                raise
            log.error("buffer: cannot even evict telemetry on the full disk (%s)", exc)
            return
        self._forget(evicted)

    def _forget(self, evicted: dict[str, tuple[int, int]]) -> None:
        for kind, (records, size) in evicted.items():
            self._usage.remove(kind, records, size)
            self._evicted[kind] += records

    async def _count_evicted(self, evicted: dict[str, tuple[int, int]]) -> None:
        if evicted:
            await self._db.executemany(
                "INSERT INTO meta (key, value) VALUES (?, ?) "
                "ON CONFLICT (key) DO UPDATE SET value = value + excluded.value",
                [(EVICTED_KEY_PREFIX + kind, n) for kind, (n, _) in sorted(evicted.items())],
            )

    async def _evict(self, need_records: int, need_bytes: int) -> dict[str, tuple[int, int]]:
        """Inside a transaction: evict telemetry until the needs are met (or none is left).
        Thinning first when downsampling is configured, then thinned survivors, then the rest,
        each oldest first."""
        plan = Plan()
        if need_records <= 0 and need_bytes <= 0:
            return {}
        applied = (0, 0)
        passes = [(TELEMETRY_FLAG, self._downsample)] if self._downsample > 1 else []
        passes += [(THINNED, 1), (TELEMETRY_FLAG, 1)]
        for flag, every in passes:
            seen: Counter[str] = Counter()
            after = 0
            while not plan.satisfies(need_records, need_bytes):
                chunk = await self._candidates(flag, after)
                if not chunk:
                    break
                if every > 1:
                    plan_thinning(chunk, every, need_records, need_bytes, plan, seen)
                else:
                    plan_oldest(chunk, need_records, need_bytes, plan)
                applied = await self._apply(plan, applied)
                after = chunk[-1].seq
        return evicted_per_kind(plan)

    async def _candidates(self, flag: int, after: int) -> list[Candidate]:
        # "evictable > 0" repeats the partial index's condition so SQLite may use it.
        async with self._db.execute(
            "SELECT seq, kind, device_id, length(payload) FROM outbox "
            "WHERE evictable > 0 AND evictable = ? AND seq > ? ORDER BY evictable, seq LIMIT ?",
            (flag, after, EVICTION_CHUNK),
        ) as cursor:
            return [Candidate(int(s), str(k), str(d), int(n)) async for s, k, d, n in cursor]

    async def _apply(self, plan: Plan, applied: tuple[int, int]) -> tuple[int, int]:
        evict, mark = plan.evict[applied[0] :], plan.mark_thinned[applied[1] :]
        if evict:
            await self._db.executemany(
                "DELETE FROM outbox WHERE seq = ?", [(c.seq,) for c in evict]
            )
        if mark:
            await self._db.executemany(
                f"UPDATE outbox SET evictable = {THINNED} WHERE seq = ?", [(s,) for s in mark]
            )
        return len(plan.evict), len(plan.mark_thinned)

    async def peek(
        self, max_records: int, max_bytes: int, *, after_seq: int | None = None
    ) -> list[BufferedRecord]:
        """Oldest records first (only those with seq > ``after_seq`` when given), at most
        ``max_records`` and ``max_bytes`` of payload; always at least one record when any is
        stored, so an oversized record cannot block the outbox."""
        if max_records < 1:
            raise ValueError("max_records must be at least 1")
        async with self._lock:
            rows = await self._db.execute_fetchall(
                "SELECT seq, kind, device_id, created_at, payload FROM outbox WHERE seq > ? "
                "ORDER BY seq LIMIT ?",
                (-1 if after_seq is None else after_seq, max_records),
            )
        out: list[BufferedRecord] = []
        total = 0
        for seq, kind, device_id, created_at, payload in rows:
            size = len(payload)
            if out and total + size > max_bytes:
                break
            out.append(BufferedRecord(seq, kind, device_id, created_at, payload))
            total += size
        return out

    async def ack(self, up_to_seq: int) -> int:
        """Delete every record with seq <= ``up_to_seq``; returns how many were deleted. Same
        rules as :meth:`ack_by_kind`, without its per-kind counts (no GROUP BY)."""
        self._check_ack(up_to_seq)
        async with self._lock:
            if up_to_seq <= self._last_acked:
                return 0
            removed = await _in_thread(self._db, _delete_acked_totals, up_to_seq)
        self._last_acked = up_to_seq
        self._usage = _difference(self._usage, removed)
        return removed.records

    def _check_ack(self, up_to_seq: int) -> None:
        if up_to_seq >= self._next_seq:
            raise ValueError(
                f"ack {up_to_seq} is beyond the last seq ever assigned ({self._next_seq - 1})"
            )

    async def ack_by_kind(self, up_to_seq: int) -> dict[str, int]:
        """Like :meth:`ack`, returning the deleted counts per record kind. An ack at or below the
        stored ``last_acked_seq`` changes nothing; one at or above ``next_seq`` is refused."""
        self._check_ack(up_to_seq)
        async with self._lock:
            if up_to_seq <= self._last_acked:
                return {}
            rows = await _in_thread(self._db, _delete_acked, up_to_seq)
        self._last_acked = up_to_seq
        for kind, n, size in rows:
            self._usage.remove(kind, n, size)
        return {kind: n for kind, n, _ in rows}

    async def stats(self) -> BufferStats:
        async with (
            self._lock,
            self._db.execute("SELECT created_at FROM outbox ORDER BY seq LIMIT 1") as cursor,
        ):
            row = await cursor.fetchone()
        return BufferStats(
            records=self._usage.records,
            bytes=self._usage.bytes,
            oldest_created_at=float(row[0]) if row else None,
            next_seq=self._next_seq,
            last_acked_seq=self._last_acked,
            evicted=dict(sorted(self._evicted.items())),
            quarantined=self._quarantined,
            max_records=self.caps.max_records,
            max_bytes=self.caps.max_bytes,
            dedupe_keys=len(self._keys),
            replayed=self._replayed,
        )

    @property
    def last_acked_seq(self) -> int:
        return self._last_acked

    async def load_state(self, prefix: str) -> dict[str, str]:
        """Every ``edge_state`` row whose key starts with ``prefix``: key -> JSON text."""
        async with (
            self._lock,
            self._db.execute(
                "SELECT key, value FROM edge_state WHERE substr(key, 1, ?) = ? ORDER BY key",
                (len(prefix), prefix),
            ) as cursor,
        ):
            return {str(key): str(value) async for key, value in cursor}

    async def save_state(self, writes: Sequence[StateWrite]) -> None:
        """Write state rows in a transaction of their own (no records). Producers whose state
        goes with records pass it along with them instead (:func:`keyed_group`)."""
        if writes:
            empty = EncodedGroup([], 0, 0, 0, {})
            await self.append_encoded([keyed_group(empty, state=writes)])

    async def quarantined_records(self) -> list[tuple[int, str, str]]:
        """``(seq, kind, reason)`` of every quarantined record, by seq."""
        async with (
            self._lock,
            self._db.execute("SELECT seq, kind, reason FROM quarantine ORDER BY seq") as cursor,
        ):
            return [(int(s), str(k), str(r)) async for s, k, r in cursor]

    async def quarantine(self, seq: int, reason: str) -> None:
        """Move record ``seq`` from the outbox to the quarantine table in one transaction: it is
        never sent, and the cloud records its seq as a gap. A seq no longer in the outbox
        (acknowledged or evicted meanwhile) is left alone."""
        async with self._lock:
            await self._db.execute("BEGIN IMMEDIATE")
            try:
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
        if row is None:
            log.warning("cannot quarantine seq %d: it is no longer in the outbox", seq)
            return
        self._usage.remove(str(row[0]), 1, len(row[1]))
        self._quarantined += 1


_INSERT_HEAD: Final = (
    "INSERT INTO outbox (seq, kind, device_id, created_at, payload, evictable) VALUES "
)
_INSERT: Final = _INSERT_HEAD + "(?, ?, ?, ?, ?, ?)"
_ROWS_PER_STATEMENT: Final = (256, 64, 16, 4, 1)
"""Multi-row INSERT sizes: few distinct statements, so each is compiled once and cached."""
_T = TypeVar("_T")
_OutboxRow = tuple[int, str, str, float, str, int]


def _outbox_rows(first_seq: int, created_at: float, rows: list[Row]) -> list[_OutboxRow]:
    """``rows`` as stored, with seqs from ``first_seq`` on."""
    return [
        (seq, kind, device, created_at, payload, flag)
        for seq, (kind, device, payload, flag) in enumerate(rows, first_seq)
    ]


_Reservation = tuple[Path, int]
"""The seq file and the seq to reserve up to."""


def _difference(a: Usage, b: Usage) -> Usage:
    return Usage(
        a.records - b.records,
        a.bytes - b.bytes,
        a.business_records - b.business_records,
        a.business_bytes - b.business_bytes,
    )


def _queue(db: aiosqlite.Connection, fn: Callable[..., _T], *args: object) -> asyncio.Future[_T]:
    """Queue ``fn(connection, *args)`` on aiosqlite's thread now (no await in between, so the
    statements run in the order they were queued); the future holds its outcome. This is what
    aiosqlite's ``_execute`` does before awaiting."""
    future: asyncio.Future[_T] = asyncio.get_running_loop().create_future()
    db._tx.put_nowait((future, functools.partial(fn, db._conn, *args)))
    return future


async def _in_thread(db: aiosqlite.Connection, fn: Callable[..., _T], *args: object) -> _T:
    """Run ``fn(connection, *args)`` in aiosqlite's thread: a whole transaction in one hop
    between the event loop and that thread instead of one per statement (each costs tens of
    microseconds). aiosqlite has no public API for this; ``_execute`` queues a callable on the
    connection's thread, which is what every public method does."""
    result: _T = await db._execute(fn, db._conn, *args)  # type: ignore[no-untyped-call]
    return result


def _reserve_and_insert(
    conn: sqlite3.Connection,
    reservation: _Reservation | None,
    rows: list[_OutboxRow],
    next_seq: int,
    extras: _Extras,
) -> None:
    """:func:`_insert_rows`, after writing ``reservation`` when one is due (an OSError then
    stores nothing)."""
    if reservation is not None:
        write_reserved(*reservation)
    _insert_rows(conn, rows, next_seq, extras)


def _insert_rows(
    conn: sqlite3.Connection, rows: list[_OutboxRow], next_seq: int, extras: _Extras
) -> None:
    conn.execute("BEGIN IMMEDIATE")
    try:
        if rows:
            _insert_outbox(conn, rows)
            conn.execute("UPDATE meta SET value = ? WHERE key = 'next_seq'", (next_seq,))
        if extras:
            _write_extras(conn, extras)
        conn.execute("COMMIT")
    except BaseException:
        _rollback_sync(conn)
        raise


@functools.cache
def _insert_sql(rows: int) -> str:
    return _INSERT_HEAD + ", ".join(["(?, ?, ?, ?, ?, ?)"] * rows)


def _insert_outbox(conn: sqlite3.Connection, rows: list[_OutboxRow]) -> None:
    """Inside a transaction: what ``executemany(_INSERT, rows)`` does, in a few multi-row
    INSERTs. A statement per row costs about twice as much per row (one VM run each, and the
    sqlite3 module gives up and takes back the GIL around every one of them)."""
    most = conn.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER) // 6
    start, total = 0, len(rows)
    for size in _ROWS_PER_STATEMENT:
        if size > most:
            continue
        statement = _insert_sql(size)
        while total - start >= size:
            conn.execute(statement, list(chain.from_iterable(rows[start : start + size])))
            start += size
    if start < total:  # a build allowing fewer than 6 variables per statement
        conn.executemany(_INSERT, rows[start:])


def _write_extras(conn: sqlite3.Connection, extras: _Extras) -> None:
    """Inside a transaction: forget expired keys, store new ones, write state rows."""
    if extras.expired:
        conn.executemany("DELETE FROM dedupe_keys WHERE key = ?", [(k,) for k in extras.expired])
    if extras.keys:
        conn.executemany(
            # REPLACE: a key forgotten for its age may come again while its row is still there
            # (a clock set back keeps it out of the expired ones).
            "INSERT OR REPLACE INTO dedupe_keys (key, first_seq, count, created_at) "
            "VALUES (?, ?, ?, ?)",
            extras.keys,
        )
    gone = [(key,) for key, value in extras.state.items() if value is None]
    kept = [(k, v, extras.updated_at) for k, v in extras.state.items() if v is not None]
    if gone:
        conn.executemany("DELETE FROM edge_state WHERE key = ?", gone)
    if kept:
        conn.executemany(
            "INSERT INTO edge_state (key, value, updated_at) VALUES (?, ?, ?) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value, "
            "updated_at = excluded.updated_at",
            kept,
        )


def _delete_acked(conn: sqlite3.Connection, up_to_seq: int) -> list[tuple[str, int, int]]:
    """Delete seqs <= ``up_to_seq`` and record the ack; ``(kind, records, bytes)`` deleted."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        rows = [
            (str(kind), int(n), int(size))
            for kind, n, size in conn.execute(
                "SELECT kind, COUNT(*), SUM(length(payload)) FROM outbox WHERE seq <= ? "
                "GROUP BY kind ORDER BY kind",
                (up_to_seq,),
            )
        ]
        conn.execute("DELETE FROM outbox WHERE seq <= ?", (up_to_seq,))
        conn.execute("UPDATE meta SET value = ? WHERE key = 'last_acked_seq'", (up_to_seq,))
        conn.execute("COMMIT")
    except BaseException:
        _rollback_sync(conn)
        raise
    return rows


def _delete_acked_totals(conn: sqlite3.Connection, up_to_seq: int) -> Usage:
    """Delete seqs <= ``up_to_seq`` and record the ack; the usage deleted. One aggregate over
    the range (``evictable = 0`` marks business records) instead of a GROUP BY and its sort."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        records, size, business, business_size = conn.execute(
            "SELECT COUNT(*), TOTAL(length(payload)), TOTAL(evictable = ?), "
            "TOTAL(CASE WHEN evictable = ? THEN length(payload) END) "
            "FROM outbox WHERE seq <= ?",
            (KEEP, KEEP, up_to_seq),
        ).fetchone()
        conn.execute("DELETE FROM outbox WHERE seq <= ?", (up_to_seq,))
        conn.execute("UPDATE meta SET value = ? WHERE key = 'last_acked_seq'", (up_to_seq,))
        conn.execute("COMMIT")
    except BaseException:
        _rollback_sync(conn)
        raise
    return Usage(int(records), int(size), int(business), int(business_size))


def _rollback_sync(conn: sqlite3.Connection) -> None:
    # SQLite rolls back by itself after some errors (e.g. a full disk).
    with contextlib.suppress(sqlite3.OperationalError):
        conn.execute("ROLLBACK")


async def _connect(path: str | Path) -> aiosqlite.Connection:
    # isolation_level=None: the sqlite3 module never opens transactions behind our back.
    return await aiosqlite.connect(str(path), isolation_level=None)
