"""The MQTT topic scheme for field devices and handheld scanners, and their JSON payloads.

Pure: topic text and payload bytes in, typed records or :class:`PayloadError` (with a reason that
names the field) out, whatever the bytes hold. Topics are
``{prefix}/{site}/{device}/{telemetry|scan|position|status}`` with the prefix ``retailedge/v1``
by default; the gateway answers each scan on ``{prefix}/{site}/{device}/scan/answer``, one level
deeper, so its subscriptions (``.../+/scan``, ``+`` being one level) never match its own answers.
Payloads are refused beyond :data:`MAX_PAYLOAD_BYTES`, JSON nesting deeper than
:data:`edge.bounded_json.MAX_DEPTH` levels and integers of more than
:data:`edge.bounded_json.MAX_INT_DIGITS` digits.
"""

from __future__ import annotations

import json
import math
import reprlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, Final

from edge.bounded_json import loads_bounded, storable_text
from firmware_bridge.records import Measurement, Position, Quantity, Record, Scan, Unit
from firmware_bridge.wire import RecordFormatError, parse_time, record_from_wire

DEFAULT_PREFIX: Final = "retailedge/v1"
MAX_PAYLOAD_BYTES: Final = 65_536
MAX_READINGS: Final = 100
MAX_CLOCK_AHEAD: Final = timedelta(hours=1)
EARLIEST_TIME: Final = datetime(2000, 1, 1, tzinfo=UTC)
MAX_SCAN_QUANTITY: Final = 1_000_000
MAX_STATUS_BYTES: Final = 64

UNITS: Final[dict[Quantity, Unit]] = {
    Quantity.TEMPERATURE: Unit.CELSIUS,
    Quantity.HUMIDITY: Unit.PERCENT_RH,
    Quantity.BATTERY_VOLTAGE: Unit.VOLT,
    Quantity.BATTERY_LEVEL: Unit.PERCENT,
    Quantity.PRESSURE: Unit.HECTOPASCAL,
}
"""The one unit each quantity travels in."""
_QUANTITIES: Final = {quantity.value: quantity for quantity in UNITS}
"""The quantities telemetry may carry, by name."""

PLAUSIBLE: Final[dict[Quantity, tuple[float, float]]] = {
    Quantity.TEMPERATURE: (-90.0, 150.0),
    Quantity.HUMIDITY: (0.0, 100.0),
    Quantity.BATTERY_VOLTAGE: (0.0, 60.0),
    Quantity.BATTERY_LEVEL: (0.0, 100.0),
    Quantity.PRESSURE: (300.0, 1100.0),
}
"""Values outside these are absurd for any device, whatever its profile says."""

MAX_PLAUSIBLE_SPEED_MPS: Final = 150.0
"""Faster than this is no vehicle on a street: a broken tracker (the gateway's plausibility
filter applies the fleet's own, lower limit to consecutive fixes)."""
MAX_HDOP: Final = 100.0

ANSWER_LEVEL: Final = "answer"
MSG_ID_KEY: Final = "msg_id"
MAX_MSG_ID_CHARS: Final = 128
MAX_VEHICLE_ID_CHARS: Final = 128
_SCAN_KEYS: Final = frozenset(
    {"time", "operator", "operation", "code", "quantity", "location", MSG_ID_KEY}
)
_TELEMETRY_KEYS: Final = frozenset({"time", "readings", MSG_ID_KEY})
_POSITION_KEYS: Final = frozenset(
    {"time", "lat", "lon", "speed_mps", "course_deg", "hdop", "vehicle_id", MSG_ID_KEY}
)


class PayloadError(ValueError):
    """A topic or payload the gateway cannot use; the message is the dead-letter reason."""


_short_repr: Final = reprlib.Repr()
_short_repr.maxstring = _short_repr.maxother = 40


def _show(value: Any) -> str:
    """``repr(value)`` cut short: a reason quotes what the device sent, not all of it."""
    return _short_repr.repr(value)


class MessageKind(StrEnum):
    TELEMETRY = "telemetry"
    SCAN = "scan"
    POSITION = "position"
    STATUS = "status"


class DeviceStatus(StrEnum):
    ONLINE = "online"
    OFFLINE = "offline"


@dataclass(frozen=True, slots=True)
class Topic:
    site: str
    device: str
    kind: MessageKind


def subscriptions(prefix: str = DEFAULT_PREFIX, site: str = "+") -> list[str]:
    """The topic filters a gateway subscribes to: every device of ``site`` (``+`` = any)."""
    return [f"{prefix}/{site}/+/{kind.value}" for kind in MessageKind]


def answer_topic(topic: Topic, prefix: str = DEFAULT_PREFIX) -> str:
    """Where the gateway answers a message of ``topic`` (a scan)."""
    return f"{prefix}/{topic.site}/{topic.device}/{topic.kind.value}/{ANSWER_LEVEL}"


def parse_topic(topic: str, prefix: str = DEFAULT_PREFIX) -> Topic:
    if not topic.startswith(prefix + "/"):
        raise PayloadError(f"topic {topic!r} is not under {prefix}/")
    parts = topic[len(prefix) + 1 :].split("/")
    if len(parts) != 3 or not all(parts):
        raise PayloadError(f"topic {topic!r} is not {prefix}/<site>/<device>/<kind>")
    site, device, kind = parts
    try:
        return Topic(site, device, MessageKind(kind))
    except ValueError:
        raise PayloadError(f"topic {topic!r}: unknown message kind {kind!r}") from None


def decode_message(topic: Topic, payload: bytes, received_at: datetime) -> list[Record]:
    """The records of a telemetry or scan message received at ``received_at``."""
    return decode_envelope(topic, payload, received_at)[0]


def decode_envelope(
    topic: Topic, payload: bytes, received_at: datetime
) -> tuple[list[Record], str | None]:
    """The records of a telemetry, scan or position message and its optional ``msg_id``: the
    device's identity of the message, the same when the device or the broker sends it again."""
    if topic.kind is MessageKind.STATUS:
        raise PayloadError(f"{topic.kind.value} messages carry no records")
    body = _json_object(payload)
    msg_id = _msg_id(body.get(MSG_ID_KEY))
    if topic.kind is MessageKind.TELEMETRY:
        return list(_telemetry(topic.device, body, received_at)), msg_id
    if topic.kind is MessageKind.POSITION:
        return [_position(topic.device, body, received_at)], msg_id
    return [_scan(topic.device, body, received_at)], msg_id


def peek_msg_id(payload: bytes) -> str | None:
    """The ``msg_id`` of a payload refused for another reason, so its answer names it; None
    when the payload holds no valid one."""
    try:
        return _msg_id(_json_object(payload).get(MSG_ID_KEY))
    except PayloadError:
        return None


def _msg_id(raw: Any) -> str | None:
    if raw is None:
        return None
    if not isinstance(raw, str) or not 0 < len(raw) <= MAX_MSG_ID_CHARS or not raw.isprintable():
        raise PayloadError(f"{MSG_ID_KEY}: expected 1..{MAX_MSG_ID_CHARS} printable characters")
    return raw


def decode_status(payload: bytes) -> DeviceStatus:
    """``online`` or ``offline`` (a device's Last Will), as plain text."""
    text = payload[:MAX_STATUS_BYTES].decode("utf-8", errors="replace").strip().lower()
    try:
        return DeviceStatus(text)
    except ValueError:
        raise PayloadError(f"status {_show(text)} is neither 'online' nor 'offline'") from None


def decode_telemetry(device: str, payload: bytes, received_at: datetime) -> list[Measurement]:
    """``{"time": ISO 8601, "readings": [{"quantity", "value", "unit"}, ...], "msg_id"?}``."""
    return _telemetry(device, _json_object(payload), received_at)


def _telemetry(device: str, body: dict[str, Any], received_at: datetime) -> list[Measurement]:
    extra = set(body) - _TELEMETRY_KEYS
    if extra:
        raise PayloadError(f"{sorted(extra)[0]}: unknown key")
    time = _time(body.get("time"), received_at)
    readings = body.get("readings")
    if not isinstance(readings, list) or not readings:
        raise PayloadError("readings: expected a non-empty list")
    if len(readings) > MAX_READINGS:
        raise PayloadError(f"readings: more than {MAX_READINGS}")
    return [_reading(device, time, i, reading) for i, reading in enumerate(readings)]


def decode_scan(device: str, payload: bytes, received_at: datetime) -> Scan:
    """``{"time", "operator", "operation", "code", "quantity", "location", "msg_id"?}``; the
    scanner is the device of the topic."""
    return _scan(device, _json_object(payload), received_at)


def _scan(device: str, body: dict[str, Any], received_at: datetime) -> Scan:
    extra = set(body) - _SCAN_KEYS
    if extra:
        raise PayloadError(f"{sorted(extra)[0]}: unknown key")
    _time(body.get("time"), received_at)
    fields = {key: value for key, value in body.items() if key != MSG_ID_KEY}
    try:
        record = record_from_wire({**fields, "kind": "scan", "scanner_id": device})
    except RecordFormatError as exc:
        raise PayloadError(_clip(str(exc))) from None
    assert isinstance(record, Scan)
    if not 0 <= record.quantity <= MAX_SCAN_QUANTITY:
        raise PayloadError(f"quantity: {record.quantity} is outside 0..{MAX_SCAN_QUANTITY}")
    for name in ("operator", "code", "location"):
        _storable_text(name, getattr(record, name))
    return record


def _clip(reason: str, limit: int = 200) -> str:
    return reason if len(reason) <= limit else reason[: limit - 3] + "..."


def _storable_text(name: str, text: str) -> None:
    if not storable_text(text):
        raise PayloadError(f"{name}: NUL characters and lone surrogates are not text")


def decode_position(device: str, payload: bytes, received_at: datetime) -> Position:
    """``{"time", "lat", "lon", "speed_mps"?, "course_deg"?, "hdop"?, "vehicle_id"?,
    "msg_id"?}``: a fix of ``vehicle_id``, else of the topic's device."""
    return _position(device, _json_object(payload), received_at)


def _position(device: str, body: dict[str, Any], received_at: datetime) -> Position:
    extra = set(body) - _POSITION_KEYS
    if extra:
        raise PayloadError(f"{sorted(extra)[0]}: unknown key")
    time = _time(body.get("time"), received_at)
    lat = _number(body, "lat", -90.0, 90.0)
    lon = _number(body, "lon", -180.0, 180.0)
    if lat is None or lon is None:
        raise PayloadError(f"{'lat' if lat is None else 'lon'}: required")
    if lat == 0 and lon == 0:
        raise PayloadError("lat, lon: (0, 0) is a receiver without a fix, not a place")
    hdop = _number(body, "hdop", 0.0, MAX_HDOP)
    if hdop == 0:
        raise PayloadError("hdop: 0 is not a dilution of precision (1 is ideal)")
    return Position(
        device_id=_vehicle_id(body.get("vehicle_id")) or device,
        time=time,
        lat=float(lat),
        lon=float(lon),
        speed_mps=_number(body, "speed_mps", 0.0, MAX_PLAUSIBLE_SPEED_MPS),
        course_deg=_number(body, "course_deg", 0.0, 360.0),
        hdop=hdop,
    )


def _finite(value: Any) -> float | None:
    """``value`` as a finite float; None for anything else (booleans, text, NaN, infinities,
    integers beyond any float)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        number = float(value)
    except OverflowError:
        return None
    return number if math.isfinite(number) else None


def _number(body: dict[str, Any], key: str, low: float, high: float) -> float | None:
    """``body[key]`` as a finite number within ``low..high``; None when absent or null."""
    value = body.get(key)
    if value is None:
        return None
    number = _finite(value)
    if number is None:
        raise PayloadError(f"{key}: expected a finite number")
    if not low <= number <= high:
        raise PayloadError(f"{key}: {value} is outside {low:g}..{high:g}")
    return number


def _vehicle_id(raw: Any) -> str | None:
    if raw is None:
        return None
    if (
        not isinstance(raw, str)
        or not 0 < len(raw) <= MAX_VEHICLE_ID_CHARS
        or not raw.isprintable()
        or any(ch.isspace() for ch in raw)
    ):
        raise PayloadError(
            f"vehicle_id: expected 1..{MAX_VEHICLE_ID_CHARS} printable characters without spaces"
        )
    return raw


def _json_object(payload: bytes) -> dict[str, Any]:
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise PayloadError(f"payload of {len(payload)} bytes is over {MAX_PAYLOAD_BYTES}")
    try:
        body = loads_bounded(payload.decode("utf-8"))  # UTF-8 only: json.loads would guess
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise PayloadError(f"not JSON: {exc}") from None
    except ValueError as exc:  # a limit of loads_bounded
        raise PayloadError(f"JSON beyond limits: {exc}") from None
    if not isinstance(body, dict):
        raise PayloadError(f"expected a JSON object, got {type(body).__name__}")
    return body


def _time(raw: Any, received_at: datetime) -> datetime:
    if raw is None:
        raise PayloadError("time: required")
    try:
        time = parse_time(raw)
    except ValueError as exc:
        raise PayloadError(_clip(f"time: {exc}")) from None
    if time < EARLIEST_TIME or time > received_at + MAX_CLOCK_AHEAD:
        raise PayloadError(f"time: {raw} is not plausible (gateway clock {received_at:%FT%TZ})")
    return time


def _reading(device: str, time: datetime, index: int, raw: Any) -> Measurement:
    where = f"readings[{index}]"
    if not isinstance(raw, dict):
        raise PayloadError(f"{where}: expected an object")
    extra = set(raw) - {"quantity", "value", "unit"}
    if extra:
        raise PayloadError(f"{where}.{sorted(extra)[0]}: unknown key")
    name = raw.get("quantity")
    if not isinstance(name, str) or name not in _QUANTITIES:
        raise PayloadError(
            f"{where}.quantity: unknown quantity {_show(name)} (one of {', '.join(_QUANTITIES)})"
        )
    quantity = _QUANTITIES[name]
    unit = UNITS[quantity]
    if raw.get("unit") != unit.value:
        raise PayloadError(
            f"{where}.unit: {_show(raw.get('unit'))} is not the unit of {quantity.value} "
            f"({unit.value})"
        )
    value = raw.get("value")
    number = _finite(value)
    if number is None:
        raise PayloadError(f"{where}.value: expected a finite number")
    low, high = PLAUSIBLE[quantity]
    if not low <= number <= high:
        raise PayloadError(f"{where}.value: {value} {unit.value} is outside {low}..{high}")
    return Measurement(device, time, quantity, number, unit)
