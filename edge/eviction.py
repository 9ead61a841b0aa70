"""Pure rules of the bounded buffer: what is business, what fits, which telemetry to evict.

Business records are never evicted. When a write would exceed a cap, telemetry makes room
oldest-first; with ``telemetry_downsample = N`` it is first *thinned*: walking the oldest
not-yet-thinned telemetry, the first of every N records of each device is kept (and marked
thinned, so it is never thinned again) and the others are evicted. Only when no unthinned
telemetry is left are the thinned survivors evicted, oldest first. The oldest data thus becomes
coarser before it disappears. No I/O here; :mod:`edge.buffer` applies the plans.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Final

from firmware_bridge.records import BUSINESS_KINDS

_BUSINESS: Final[frozenset[str]] = frozenset(kind.value for kind in BUSINESS_KINDS)

# Values of the outbox ``evictable`` column.
KEEP: Final = 0
"""A business record."""
TELEMETRY: Final = 1
"""Telemetry that may be thinned or evicted."""
THINNED: Final = 2
"""Telemetry that survived thinning: evicted, never thinned again."""


class BufferFullError(Exception):
    """Business records cannot fit even after evicting all telemetry: retry later."""


def is_business(kind: str) -> bool:
    """The one business/telemetry split (add tag events here when they exist)."""
    return kind in _BUSINESS


def evictable_flag(kind: str) -> int:
    return KEEP if is_business(kind) else TELEMETRY


@dataclass(frozen=True, slots=True)
class Caps:
    max_records: int
    max_bytes: int


@dataclass(slots=True)
class Usage:
    """What the outbox holds; bytes are payload bytes."""

    records: int = 0
    bytes: int = 0
    business_records: int = 0
    business_bytes: int = 0

    def add(self, kind: str, records: int, size: int) -> None:
        self.records += records
        self.bytes += size
        if is_business(kind):
            self.business_records += records
            self.business_bytes += size

    def remove(self, kind: str, records: int, size: int) -> None:
        self.add(kind, -records, -size)


@dataclass(frozen=True, slots=True)
class GroupSize:
    business_records: int
    business_bytes: int


def group_size(rows: Iterable[tuple[str, int]]) -> GroupSize:
    """Size of a group of ``(kind, payload bytes)`` rows as far as admission cares."""
    sizes = [size for kind, size in rows if is_business(kind)]
    return GroupSize(len(sizes), sum(sizes))


def admit(usage: Usage, groups: Sequence[GroupSize], caps: Caps) -> list[bool]:
    """Which groups fit, each all or nothing, in order. A group fits when the business records
    stored, plus those of the groups admitted before it, plus its own stay within both caps:
    all telemetry (its own included) can be evicted to make room."""
    records, size = usage.business_records, usage.business_bytes
    out: list[bool] = []
    for group in groups:
        fits = (
            records + group.business_records <= caps.max_records
            and size + group.business_bytes <= caps.max_bytes
        )
        out.append(fits)
        if fits:
            records += group.business_records
            size += group.business_bytes
    return out


def overflow(usage: Usage, caps: Caps) -> tuple[int, int]:
    """Records and bytes to evict to get back within the caps."""
    return max(0, usage.records - caps.max_records), max(0, usage.bytes - caps.max_bytes)


@dataclass(frozen=True, slots=True)
class Candidate:
    seq: int
    kind: str
    device_id: str
    size: int


@dataclass(slots=True)
class Plan:
    evict: list[Candidate] = field(default_factory=list)
    mark_thinned: list[int] = field(default_factory=list)
    freed_records: int = 0
    freed_bytes: int = 0

    def satisfies(self, need_records: int, need_bytes: int) -> bool:
        return self.freed_records >= need_records and self.freed_bytes >= need_bytes

    def take(self, candidate: Candidate) -> None:
        self.evict.append(candidate)
        self.freed_records += 1
        self.freed_bytes += candidate.size


def plan_oldest(
    candidates: Iterable[Candidate], need_records: int, need_bytes: int, plan: Plan
) -> Plan:
    """Evict ``candidates`` (oldest first) until ``plan`` frees what is needed."""
    for candidate in candidates:
        if plan.satisfies(need_records, need_bytes):
            break
        plan.take(candidate)
    return plan


def plan_thinning(
    candidates: Iterable[Candidate],
    every: int,
    need_records: int,
    need_bytes: int,
    plan: Plan,
    seen: Counter[str],
) -> Plan:
    """Thin unthinned ``candidates`` (oldest first): per device keep one record in ``every``.
    ``seen`` counts records per device across calls of one eviction."""
    for candidate in candidates:
        if plan.satisfies(need_records, need_bytes):
            break
        position = seen[candidate.device_id]
        seen[candidate.device_id] = position + 1
        if position % every == 0:
            plan.mark_thinned.append(candidate.seq)
        else:
            plan.take(candidate)
    return plan


def evicted_per_kind(plan: Plan) -> dict[str, tuple[int, int]]:
    """``{kind: (records, bytes)}`` of what ``plan`` evicts."""
    out: dict[str, tuple[int, int]] = {}
    for candidate in plan.evict:
        records, size = out.get(candidate.kind, (0, 0))
        out[candidate.kind] = (records + 1, size + candidate.size)
    return out
