"""How a record is stored in the outbox: its kind, its source device and its JSON payload.

The payload is the record's compact JSON object without ``seq`` and always ASCII, so its length
in characters is its size in bytes. It must parse to exactly
:func:`firmware_bridge.wire.record_to_wire`. orjson renders the dataclass directly (about ten
times faster than building the dict and ``json.dumps``); anything orjson would render differently
goes the slow way: naive or non-UTC times (the slow way converts them or raises ``ValueError``),
non-finite floats (orjson writes ``null``), non-ASCII text, classes not known to be safe (alarms
with their free-form ``evidence``) and whatever orjson refuses.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from operator import attrgetter
from typing import Any, Final

import orjson

from edge.eviction import KEEP, evictable_flag
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
from firmware_bridge.wire import record_to_wire

__all__ = ["EncodedGroup", "Row", "encode_group", "record_source", "serialize_payload"]

_OPTIONS: Final = orjson.OPT_UTC_Z
_dumps: Final = orjson.dumps


def record_source(record: Record) -> str:
    """The device (or rule subject) a record came from, for the outbox's device_id column."""
    match record:
        case Position() | Measurement():
            return record.device_id
        case TagRead() | TagEvent():
            return record.reader_id
        case Scan():
            return record.scanner_id
        case Alarm():
            return record.subject


def _position_floats(record: Position) -> tuple[object, ...]:
    return (
        record.lat,
        record.lon,
        record.speed_mps,
        record.course_deg,
        record.hdop,
        record.altitude_m,
    )


# Classes whose only datetime is ``time`` and whose other fields orjson renders as json does,
# except non-finite floats, listed per class. Others (alarms with free-form evidence, tag events
# with several times, any new class) take the slow way until they are listed here.
_FAST: Final[dict[type, Callable[[Any], tuple[object, ...]]]] = {
    Position: _position_floats,
    Measurement: lambda record: (record.value,),
    TagRead: lambda record: (record.rssi_dbm,),
    Scan: lambda record: (),
}


# Per class: the text orjson writes for a field the wire form omits at its default
# (firmware_bridge.wire.OMITTED_DEFAULTS). Outside strings every quote is bare, inside them it
# is escaped, so this text can only be the field itself.
_OMIT: Final[dict[type, str]] = {Measurement: ',"quality":"good"'}


def serialize_payload(record: Record) -> str:
    floats = _FAST.get(type(record))
    if floats is not None:
        text = _fast_payload(record, floats, _OMIT.get(type(record)))
        if text is not None:
            return text
    return _slow_payload(record)


def _slow_payload(record: Record) -> str:
    return json.dumps(record_to_wire(record), separators=(",", ":"), ensure_ascii=True)


def _fast_payload(
    record: Any, floats: Callable[[Any], tuple[object, ...]], omit: str | None
) -> str | None:
    """orjson's text for a record of a class in :data:`_FAST`, or None when it would differ
    from the slow way's."""
    moment = record.time
    if moment.__class__ is not datetime or moment.tzinfo is not UTC:
        return None
    try:
        data = _dumps(record, option=_OPTIONS)
    except orjson.JSONEncodeError:
        return None
    if not data.isascii():
        return None
    text = data.decode("ascii")
    # orjson writes NaN and infinities as null, json.dumps does not.
    if "null" in text and not _finite(floats(record)):
        return None
    return text if omit is None else text.replace(omit, "", 1)


def _finite(values: tuple[object, ...]) -> bool:
    return all(not isinstance(v, float) or math.isfinite(v) for v in values)


Row = tuple[str, str, str, int]
"""kind, device_id, payload, evictable flag."""


@dataclass(frozen=True, slots=True)
class EncodedGroup:
    """Records ready for one all-or-nothing append, with the sums admission and caps need."""

    rows: list[Row]
    bytes: int
    business_records: int
    business_bytes: int
    kinds: dict[str, int]
    """Records per kind."""


def _layout(record: Record) -> tuple[str, str, int]:
    kind = record.kind.value
    return kind, record_source(record), evictable_flag(kind)


_SOURCE_FIELD: Final[dict[type, str]] = {
    Position: "device_id",
    Measurement: "device_id",
    TagRead: "reader_id",
    TagEvent: "reader_id",
    Scan: "scanner_id",
    Alarm: "subject",
}
# Per record class: kind, the attribute naming its source, evictable flag. Looked up by exact
# type, this is much cheaper per record than the enum's .value and a match statement.
_LAYOUTS: Final[dict[type, tuple[str, Callable[[Any], str], int]]] = {
    cls: (kind.value, attrgetter(_SOURCE_FIELD[cls]), evictable_flag(kind.value))
    for cls, kind in (
        (Position, RecordKind.POSITION),
        (Measurement, RecordKind.MEASUREMENT),
        (TagRead, RecordKind.TAG_READ),
        (Scan, RecordKind.SCAN),
        (Alarm, RecordKind.ALARM),
        (TagEvent, RecordKind.TAG_EVENT),
    )
}


# Per fast class: its layout, its float fields and the default text to omit, in one lookup.
_SPECS: Final[
    dict[
        type, tuple[str, Callable[[Any], str], int, Callable[[Any], tuple[object, ...]], str | None]
    ]
] = {cls: (*_LAYOUTS[cls], floats, _OMIT.get(cls)) for cls, floats in _FAST.items()}


def encode_group(records: Sequence[Record]) -> EncodedGroup:
    """Encode ``records`` once (pure CPU work a producer can do while a commit is on disk)."""
    rows: list[Row] = []
    append = rows.append
    kinds: dict[str, int] = {}
    business_records = business_bytes = total = 0
    for record in records:
        spec = _SPECS.get(record.__class__)
        if spec is None:
            layout = _LAYOUTS.get(type(record))
            if layout is None:
                kind, source, flag = _layout(record)
            else:
                kind, source_of, flag = layout
                source = source_of(record)
            payload = serialize_payload(record)
        else:
            kind, source_of, flag, floats, omit = spec
            source = source_of(record)
            payload = _fast_payload(record, floats, omit) or _slow_payload(record)
        append((kind, source, payload, flag))
        kinds[kind] = kinds.get(kind, 0) + 1
        size = len(payload)
        total += size
        if flag == KEEP:
            business_records += 1
            business_bytes += size
    return EncodedGroup(rows, total, business_records, business_bytes, kinds)
