"""Decide what a batch does to the store, given the gateway's current ack (pure)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Final

from cloud.ingest.envelope import Batch
from cloud.ingest.rows import Row, row_dict, wire_row
from firmware_bridge.records import (
    Alarm,
    Measurement,
    Position,
    Record,
    RecordKind,
    Scan,
    TagEvent,
    TagRead,
)
from firmware_bridge.wire import RecordFormatError

NOT_SENT: Final = "not sent by gateway"
EVICTED: Final = "evicted at gateway"

# Positions of device_id and time in a position row tuple (gateway_id, seq, device_id, time, ...).
_DEVICE, _TIME = 2, 3


@dataclass(frozen=True, slots=True)
class Gap:
    from_seq: int
    to_seq: int
    reason: str


@dataclass(frozen=True, slots=True)
class Reject:
    seq: int
    kind: str | None
    reason: str
    raw: dict[str, Any]


@dataclass(slots=True)
class Plan:
    """Row tuples to insert per kind (see :data:`cloud.ingest.rows.COLUMNS`) and bookkeeping."""

    gateway_id: str
    ack_seq: int
    duplicates: int = 0
    rows: dict[RecordKind, list[Row]] = field(default_factory=dict)
    rejects: list[Reject] = field(default_factory=list)
    gaps: list[Gap] = field(default_factory=list)
    newest_positions: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def stored(self) -> int:
        return sum(len(rows) for rows in self.rows.values())


_COLUMNS: Final[dict[type[Any], tuple[str, ...]]] = {
    cls: tuple(item.name for item in dataclasses.fields(cls) if item.name != "kind")
    for cls in (Position, Measurement, TagRead, Scan, Alarm, TagEvent)
}


def record_row(record: Record, *, gateway_id: str, seq: int) -> dict[str, Any]:
    """Column values for ``record``: its fields by name, enums as their string value."""
    row: dict[str, Any] = {"gateway_id": gateway_id, "seq": seq}
    for name in _COLUMNS[type(record)]:
        value = getattr(record, name)
        row[name] = value.value if isinstance(value, StrEnum) else value
    return row


def plan_batch(batch: Batch, *, ack_seq: int) -> Plan:
    """What to store for ``batch`` when the gateway's contiguous ack is ``ack_seq``."""
    if batch.last_seq <= ack_seq:
        return Plan(batch.gateway_id, ack_seq, duplicates=len(batch.records))
    plan = Plan(batch.gateway_id, batch.last_seq)
    if batch.first_seq > ack_seq + 1:
        plan.gaps.append(Gap(ack_seq + 1, batch.first_seq - 1, NOT_SENT))
    gateway_id = plan.gateway_id
    rows = plan.rows
    records = batch.records
    start = max(batch.first_seq, ack_seq + 1)
    for seq, raw in records:
        if seq <= ack_seq:
            plan.duplicates += 1
            continue
        try:
            kind, row = wire_row(raw, gateway_id, seq)
        except RecordFormatError as exc:
            raw_kind = raw.get("kind")
            plan.rejects.append(
                Reject(seq, raw_kind if isinstance(raw_kind, str) else None, str(exc), raw)
            )
            continue
        kind_rows = rows.get(kind)
        if kind_rows is None:
            kind_rows = rows[kind] = []
        kind_rows.append(row)
    plan.newest_positions = _newest(rows.get(RecordKind.POSITION, ()))
    # Seqs ascend strictly within start..last_seq, so as many as the range holds cover it.
    if len(records) - plan.duplicates < batch.last_seq - start + 1:
        carried = [seq for seq, _ in records if seq >= start]
        plan.gaps.extend(_missing(start, batch.last_seq, carried))
    return plan


def _newest(positions: Iterable[Row]) -> dict[str, dict[str, Any]]:
    """Each device's latest position row; seqs ascend, so a later row wins a tie on time."""
    newest: dict[str, Row] = {}
    for row in positions:
        previous = newest.get(row[_DEVICE])
        if previous is None or row[_TIME] >= previous[_TIME]:
            newest[row[_DEVICE]] = row
    return {device: row_dict(RecordKind.POSITION, row) for device, row in newest.items()}


def _missing(start: int, end: int, carried: list[int]) -> list[Gap]:
    """Ranges in ``start..end`` that no seq in ascending ``carried`` covers."""
    gaps: list[Gap] = []
    expected = start
    for seq in carried:
        if seq > expected:
            gaps.append(Gap(expected, seq - 1, EVICTED))
        expected = seq + 1
    if expected <= end:
        gaps.append(Gap(expected, end, EVICTED))
    return gaps
