"""Position and measurement rows as InfluxDB line protocol (pure).

Point design, so that writing the same record twice overwrites instead of duplicating:

- measurement per kind: ``position`` and ``measurement``;
- tags identify the series: ``gateway_id``, ``device_id`` and, for measurements, ``quantity``
  and ``unit``, plus ``quality`` on a reading the gateway flagged (``out_of_range``; good
  readings carry no quality tag, so their series are what they were before the flag existed);
  positions tag ``fix_quality`` (a handful of values, and VictoriaMetrics keeps numeric fields
  only);
- fields carry the values plus ``seq`` (an integer field, never a tag: a tag per record would
  make a series per record);
- the timestamp is the record's own time in nanoseconds with ``seq % 1000`` folded into the
  three sub-microsecond digits, which record times never use. InfluxDB keys a point by
  (measurement, tag set, timestamp), so a replayed record (same seq, same time) lands on its
  own point and overwrites it, while two different records of one device at the same
  microsecond stay two points. Servers with millisecond storage (VictoriaMetrics) drop the
  fold; there run with ``-dedup.minScrapeInterval=1ms`` so a replay collapses onto its sample.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from cloud.ingest.rows import COLUMNS, Row
from cloud.ingest.times import epoch_us
from firmware_bridge.records import MeasurementQuality, RecordKind

_TAG_ESCAPES: Final = str.maketrans({",": r"\,", "=": r"\=", " ": r"\ ", "\\": "\\\\"})

TELEMETRY_KINDS: Final = (RecordKind.POSITION, RecordKind.MEASUREMENT)


def _tag(value: str) -> str:
    return value.translate(_TAG_ESCAPES)


def timestamp_ns(moment: str, seq: int) -> int:
    """``moment`` (canonical UTC text) in nanoseconds since the epoch with ``seq % 1000`` as
    the sub-µs digits."""
    return epoch_us(moment) * 1000 + seq % 1000


def _index(kind: RecordKind) -> dict[str, int]:
    return {name: i for i, name in enumerate(COLUMNS[kind])}


_P: Final = _index(RecordKind.POSITION)
_M: Final = _index(RecordKind.MEASUREMENT)
_GOOD: Final = MeasurementQuality.GOOD.value
_POSITION_FLOATS: Final = ("lat", "lon", "speed_mps", "course_deg", "hdop", "altitude_m")


def _position(row: Row) -> str:
    fields = [f"{name}={row[_P[name]]!r}" for name in _POSITION_FLOATS if row[_P[name]] is not None]
    if row[_P["satellites"]] is not None:
        fields.append(f"satellites={row[_P['satellites']]}i")
    fields.append(f"seq={row[_P['seq']]}i")
    return (
        f"position,device_id={_tag(row[_P['device_id']])},fix_quality={_tag(row[_P['fix_quality']])}"
        f",gateway_id={_tag(row[_P['gateway_id']])} {','.join(fields)} "
        f"{timestamp_ns(row[_P['time']], row[_P['seq']])}"
    )


def _measurement(row: Row) -> str:
    quality = row[_M["quality"]]
    flag = "" if quality == _GOOD else f",quality={_tag(quality)}"
    return (
        f"measurement,device_id={_tag(row[_M['device_id']])},gateway_id={_tag(row[_M['gateway_id']])}"
        f"{flag},quantity={_tag(row[_M['quantity']])},unit={_tag(row[_M['unit']])} "
        f"value={row[_M['value']]!r},seq={row[_M['seq']]}i "
        f"{timestamp_ns(row[_M['time']], row[_M['seq']])}"
    )


_FORMATTERS: Final[dict[RecordKind, Callable[[Row], str]]] = {
    RecordKind.POSITION: _position,
    RecordKind.MEASUREMENT: _measurement,
}


def to_lines(rows: dict[RecordKind, list[Row]]) -> list[str]:
    """One line per position or measurement row; other kinds are not telemetry."""
    out: list[str] = []
    for kind in TELEMETRY_KINDS:
        formatter = _FORMATTERS[kind]
        out.extend(formatter(row) for row in rows.get(kind, ()))
    return out
