"""Typed NMEA 0183 field converters: one raw field string in, a value (or None when empty) out.

Each raises :class:`MalformedSentence` naming the field, never a bare ``ValueError``.
"""

from __future__ import annotations

import math
import re
from datetime import date, time

from firmware_bridge.nmea_errors import MalformedSentence

KNOT_MPS = 1852.0 / 3600.0
KMH_MPS = 1000.0 / 3600.0

_TIME = re.compile(r"(\d{2})(\d{2})(\d{2})(?:\.(\d{1,6}))?")
_DATE = re.compile(r"(\d{2})(\d{2})(\d{2})")
_ANGLE = re.compile(r"(\d{1,3})(\d{2}(?:\.\d*)?)")
_DECIMAL = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)")
_INTEGER = re.compile(r"\d+")

# Two-digit NMEA years: 80..99 are 1980..1999 (GPS began in 1980), the rest 2000..2079.
_CENTURY_PIVOT = 80


def optional_float(raw: str, name: str) -> float | None:
    if raw == "":
        return None
    if _DECIMAL.fullmatch(raw) is None:
        raise MalformedSentence(f"{name}: not a number: {raw!r}")
    value = float(raw)
    if not math.isfinite(value):
        raise MalformedSentence(f"{name}: not finite: {raw!r}")
    return value


def optional_int(raw: str, name: str) -> int | None:
    if raw == "":
        return None
    if _INTEGER.fullmatch(raw) is None:
        raise MalformedSentence(f"{name}: not an integer: {raw!r}")
    return int(raw)


def time_of_day(raw: str, name: str = "time") -> time | None:
    """``hhmmss`` or ``hhmmss.s..`` (up to microseconds)."""
    if raw == "":
        return None
    match = _TIME.fullmatch(raw)
    if match is None:
        raise MalformedSentence(f"{name}: not hhmmss[.ss]: {raw!r}")
    hours, minutes, seconds, fraction = match.groups()
    micros = int((fraction or "0").ljust(6, "0"))
    try:
        return time(int(hours), int(minutes), int(seconds), micros)
    except ValueError as exc:
        raise MalformedSentence(f"{name}: out of range: {raw!r}") from exc


def day_month_year(raw: str, name: str = "date") -> date | None:
    """``ddmmyy``; two-digit years pivot at 1980."""
    if raw == "":
        return None
    match = _DATE.fullmatch(raw)
    if match is None:
        raise MalformedSentence(f"{name}: not ddmmyy: {raw!r}")
    day, month, yy = (int(part) for part in match.groups())
    year = (1900 if yy >= _CENTURY_PIVOT else 2000) + yy
    try:
        return date(year, month, day)
    except ValueError as exc:
        raise MalformedSentence(f"{name}: out of range: {raw!r}") from exc


def angle(raw: str, hemisphere: str, name: str, positive: str, negative: str) -> float | None:
    """``(d)ddmm.mmm`` plus hemisphere letter -> signed decimal degrees; None when both empty."""
    if raw == "" and hemisphere == "":
        return None
    if raw == "":
        raise MalformedSentence(f"{name}: hemisphere {hemisphere!r} without a value")
    match = _ANGLE.fullmatch(raw)
    if match is None:
        raise MalformedSentence(f"{name}: not (d)ddmm.mmm: {raw!r}")
    degrees, minutes = int(match.group(1)), float(match.group(2))
    if minutes >= 60.0:
        raise MalformedSentence(f"{name}: minutes >= 60: {raw!r}")
    value = degrees + minutes / 60.0
    limit = 90.0 if positive == "N" else 180.0
    if value > limit:
        raise MalformedSentence(f"{name}: beyond {limit:g} degrees: {raw!r}")
    if hemisphere == positive:
        return value
    if hemisphere == negative:
        return -value
    raise MalformedSentence(f"{name}: hemisphere is not {positive} or {negative}: {hemisphere!r}")


def latitude(raw: str, hemisphere: str) -> float | None:
    return angle(raw, hemisphere, "latitude", "N", "S")


def longitude(raw: str, hemisphere: str) -> float | None:
    return angle(raw, hemisphere, "longitude", "E", "W")


def one_of(raw: str, name: str, allowed: str) -> str | None:
    """A single-letter field from ``allowed``; None when empty."""
    if raw == "":
        return None
    if len(raw) != 1 or raw not in allowed:
        raise MalformedSentence(f"{name}: {raw!r} is not one of {', '.join(allowed)}")
    return raw
