"""JSON wire form of records and of the gateway → cloud batch.

A record on the wire is a flat JSON object: ``{"seq": 17, "kind": "position", ...fields}``
with times as ISO 8601 UTC strings ending in ``Z``. Fields in :data:`OMITTED_DEFAULTS` are left
out while they hold that value (a measurement's ``quality`` while ``good``), so records written
before the field existed and records written after read the same. A batch is
``{"gateway_id", "first_seq", "last_seq", "sent_at", "records": [...], "health": {...}}`` where
``first_seq`` is one past the gateway's last acknowledged seq: a seq in ``first_seq..last_seq``
that no record carries was dropped at the gateway (evicted) and is reported by the cloud as a gap.
"""

from __future__ import annotations

import dataclasses
import math
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Final

from firmware_bridge.records import (
    Alarm,
    FixQuality,
    Measurement,
    MeasurementQuality,
    Position,
    Quantity,
    Record,
    RecordKind,
    Scan,
    ScanOperation,
    Severity,
    TagDirection,
    TagEvent,
    TagEventType,
    TagRead,
    Unit,
)


class RecordFormatError(ValueError):
    """A wire record that cannot be turned into a typed record; the message names the field."""


RECORD_CLASSES: Final[dict[RecordKind, type[Any]]] = {
    RecordKind.POSITION: Position,
    RecordKind.MEASUREMENT: Measurement,
    RecordKind.TAG_READ: TagRead,
    RecordKind.SCAN: Scan,
    RecordKind.ALARM: Alarm,
    RecordKind.TAG_EVENT: TagEvent,
}

ENUM_FIELDS: Final[dict[str, type[StrEnum]]] = {
    "fix_quality": FixQuality,
    "quantity": Quantity,
    "unit": Unit,
    "operation": ScanOperation,
    "severity": Severity,
    "event": TagEventType,
    "direction": TagDirection,
    "quality": MeasurementQuality,
}
OMITTED_DEFAULTS: Final[dict[str, StrEnum]] = {"quality": MeasurementQuality.GOOD}
"""Fields absent from the wire form while they hold this value (their default)."""
_KEPT: Final = object()
TIME_FIELDS: Final[frozenset[str]] = frozenset(
    {"time", "started_at", "ended_at", "first_seen", "last_seen"}
)
FLOAT_FIELDS: Final[frozenset[str]] = frozenset(
    {
        "lat",
        "lon",
        "speed_mps",
        "course_deg",
        "hdop",
        "altitude_m",
        "value",
        "rssi_dbm",
        "peak_rssi_dbm",
    }
)
INT_FIELDS: Final[frozenset[str]] = frozenset({"satellites", "antenna", "read_count"})
FIELD_RANGES: Final[dict[str, tuple[float, float]]] = {"lat": (-90.0, 90.0), "lon": (-180.0, 180.0)}


def format_time(moment: datetime) -> str:
    """ISO 8601 in UTC with a ``Z`` suffix and microseconds only when present."""
    if moment.tzinfo is None:
        raise ValueError("naive datetime: record times must be timezone-aware UTC")
    text = moment.astimezone(UTC).isoformat()
    return text.replace("+00:00", "Z")


def parse_time(text: str) -> datetime:
    if not isinstance(text, str):
        raise ValueError("expected an ISO 8601 string")
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        raise ValueError("time has no timezone; send UTC with a Z suffix")
    try:
        return moment.astimezone(UTC)
    except OverflowError:  # 9999-12-31T23:00:00-05:00 is past the last datetime in UTC
        raise ValueError(f"{text} is out of range in UTC") from None


def record_to_wire(record: Record, seq: int | None = None) -> dict[str, Any]:
    """The JSON-ready dict of ``record``; ``seq`` is added when given."""
    out: dict[str, Any] = {} if seq is None else {"seq": seq}
    for item in dataclasses.fields(record):
        value = getattr(record, item.name)
        if value is OMITTED_DEFAULTS.get(item.name, _KEPT):
            continue
        if isinstance(value, datetime):
            value = format_time(value)
        elif isinstance(value, StrEnum):
            value = value.value
        out[item.name] = value
    return out


def record_from_wire(data: Any) -> Record:
    """Parse one wire record (``seq`` is ignored here). Raises :class:`RecordFormatError`."""
    if not isinstance(data, dict):
        raise RecordFormatError("record must be a JSON object")
    try:
        kind = RecordKind(str(data.get("kind")))
    except ValueError:
        raise RecordFormatError(f"kind: unknown record kind {data.get('kind')!r}") from None
    cls = RECORD_CLASSES[kind]
    kwargs: dict[str, Any] = {}
    for item in dataclasses.fields(cls):
        if not item.init:
            continue
        name = item.name
        required = (
            item.default is dataclasses.MISSING and item.default_factory is dataclasses.MISSING
        )
        if name not in data or data[name] is None:
            if required:
                raise RecordFormatError(f"{name}: required for {kind.value} records")
            continue
        kwargs[name] = _parse_field(kind, name, data[name])
    return cls(**kwargs)  # type: ignore[no-any-return]


def _parse_field(kind: RecordKind, name: str, raw: Any) -> Any:
    try:
        if name in TIME_FIELDS:
            return parse_time(raw)
        if name in INT_FIELDS or (name == "quantity" and kind is RecordKind.SCAN):
            if isinstance(raw, bool) or not isinstance(raw, int):
                raise ValueError("expected an integer")
            return raw
        if name in ENUM_FIELDS:
            return ENUM_FIELDS[name](raw)
        if name in FLOAT_FIELDS:
            return _parse_float(name, raw)
        if name == "evidence":
            if not isinstance(raw, dict):
                raise ValueError("expected an object")
            return raw
        if not isinstance(raw, str) or not raw:
            raise ValueError("expected a non-empty string")
        return raw
    except ValueError as exc:
        raise RecordFormatError(f"{name}: {exc}") from None


def _parse_float(name: str, raw: Any) -> float:
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        raise ValueError("expected a number")
    try:
        value = float(raw)
    except OverflowError:
        raise ValueError("is too large for a number") from None
    if not math.isfinite(value):
        raise ValueError("must be finite")
    low, high = FIELD_RANGES.get(name, (-math.inf, math.inf))
    if not low <= value <= high:
        raise ValueError(f"{value} is outside {low}..{high}")
    return value
