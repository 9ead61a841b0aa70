"""Wire record -> table row tuple, validated exactly like ``record_from_wire`` but faster.

``record_from_wire`` builds a frozen dataclass per record and dispatches on every field name;
on the ingest hot path (5,000 records per batch) that dominated the request. Here each kind
gets its field list once, with one converter per field chosen up front, and a record becomes
a plain tuple ``(gateway_id, seq, *fields)`` in :data:`COLUMNS` order. The checks, their order
(dataclass field order, first failure wins) and the error messages are the same as
:mod:`firmware_bridge.wire`'s, which a Hypothesis test holds us to.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Final

from firmware_bridge.records import (
    Alarm,
    FixQuality,
    Measurement,
    Position,
    Quantity,
    RecordKind,
    Scan,
    ScanOperation,
    Severity,
    TagRead,
    Unit,
)
from firmware_bridge.wire import RecordFormatError, parse_time

Converter = Callable[[Any], Any]
Row = tuple[Any, ...]

_CLASSES: Final[dict[RecordKind, type[Any]]] = {
    RecordKind.POSITION: Position,
    RecordKind.MEASUREMENT: Measurement,
    RecordKind.TAG_READ: TagRead,
    RecordKind.SCAN: Scan,
    RecordKind.ALARM: Alarm,
}
_ENUMS: Final[dict[str, type[StrEnum]]] = {
    "fix_quality": FixQuality,
    "quantity": Quantity,
    "unit": Unit,
    "operation": ScanOperation,
    "severity": Severity,
}
_TIME_FIELDS: Final = frozenset({"time", "started_at", "ended_at"})
_FLOAT_FIELDS: Final = frozenset(
    {"lat", "lon", "speed_mps", "course_deg", "hdop", "altitude_m", "value", "rssi_dbm"}
)
_INT_FIELDS: Final = frozenset({"satellites", "antenna"})
_RANGES: Final[dict[str, tuple[float, float]]] = {"lat": (-90.0, 90.0), "lon": (-180.0, 180.0)}


def _integer(raw: Any) -> int:
    if isinstance(raw, bool) or not isinstance(raw, int):
        raise ValueError("expected an integer")
    return raw


def _text(raw: Any) -> str:
    if not isinstance(raw, str) or not raw:
        raise ValueError("expected a non-empty string")
    return raw


def _object(raw: Any) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise ValueError("expected an object")
    return raw


def _enum(enum: type[StrEnum]) -> Converter:
    values = {member.value: member.value for member in enum}

    def convert(raw: Any) -> str:
        if raw.__class__ is str:
            found = values.get(raw)
            if found is not None:
                return found
        # The enum itself raises the exact error record_from_wire would.
        return enum(raw).value

    return convert


def _number(name: str) -> Converter:
    low, high = _RANGES.get(name, (-math.inf, math.inf))
    isfinite = math.isfinite

    def convert(raw: Any) -> float:
        if isinstance(raw, bool) or not isinstance(raw, int | float):
            raise ValueError("expected a number")
        value = float(raw)
        if not isfinite(value):
            raise ValueError("must be finite")
        if not low <= value <= high:
            raise ValueError(f"{value} is outside {low}..{high}")
        return value

    return convert


def _converter(kind: RecordKind, name: str) -> Converter:
    """The same dispatch order as ``firmware_bridge.wire._parse_field``."""
    if name in _TIME_FIELDS:
        return parse_time
    if name in _INT_FIELDS or (name == "quantity" and kind is RecordKind.SCAN):
        return _integer
    if name in _ENUMS:
        return _enum(_ENUMS[name])
    if name in _FLOAT_FIELDS:
        return _number(name)
    if name == "evidence":
        return _object
    return _text


@dataclass(frozen=True, slots=True)
class _Field:
    name: str
    convert: Converter
    required: bool
    default: Any
    default_factory: Callable[[], Any] | None


def _fields(kind: RecordKind) -> tuple[_Field, ...]:
    out: list[_Field] = []
    for item in dataclasses.fields(_CLASSES[kind]):
        if not item.init:
            continue
        factory = None if item.default_factory is dataclasses.MISSING else item.default_factory
        default = None if item.default is dataclasses.MISSING else item.default
        if isinstance(default, StrEnum):
            default = default.value
        required = item.default is dataclasses.MISSING and factory is None
        out.append(_Field(item.name, _converter(kind, item.name), required, default, factory))
    return tuple(out)


_FIELDS: Final[dict[str, tuple[_Field, ...]]] = {kind.value: _fields(kind) for kind in RecordKind}

COLUMNS: Final[dict[RecordKind, tuple[str, ...]]] = {
    kind: ("gateway_id", "seq", *(f.name for f in _FIELDS[kind.value])) for kind in RecordKind
}
"""Column names of each kind's row tuple, in order."""

TIME_COLUMNS: Final[dict[RecordKind, tuple[int, ...]]] = {
    kind: tuple(i for i, name in enumerate(COLUMNS[kind]) if name in _TIME_FIELDS)
    for kind in RecordKind
}
"""Indexes of the datetime values in each kind's row tuple."""

_KINDS: Final[dict[str, RecordKind]] = {kind.value: kind for kind in RecordKind}


def wire_row(data: Any, gateway_id: str, seq: int) -> tuple[RecordKind, Row]:
    """The kind and row tuple of wire record ``data``; raises :class:`RecordFormatError`."""
    if not isinstance(data, dict):
        raise RecordFormatError("record must be a JSON object")
    raw_kind = data.get("kind")
    key = str(raw_kind)
    fields = _FIELDS.get(key)
    if fields is None:
        raise RecordFormatError(f"kind: unknown record kind {raw_kind!r}")
    row: list[Any] = [gateway_id, seq]
    append = row.append
    get = data.get
    for field in fields:
        raw = get(field.name)
        if raw is None:
            if field.required:
                raise RecordFormatError(f"{field.name}: required for {key} records")
            factory = field.default_factory
            append(field.default if factory is None else factory())
            continue
        try:
            append(field.convert(raw))
        except ValueError as exc:
            raise RecordFormatError(f"{field.name}: {exc}") from None
    return _KINDS[key], tuple(row)


def row_dict(kind: RecordKind, row: Row) -> dict[str, Any]:
    """``row`` as a column-name mapping."""
    return dict(zip(COLUMNS[kind], row, strict=True))


def row_time(kind: RecordKind, row: Row) -> datetime:
    """The record's own time (``time``, or ``started_at`` for alarms)."""
    value: datetime = row[TIME_COLUMNS[kind][0]]
    return value
