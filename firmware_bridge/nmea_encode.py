"""Encode GGA, RMC and VTG sentences, as a GNSS receiver would send them (for simulators).

Each function returns a complete ``$...*HH\\r\\n`` line. Times carry centiseconds (truncated, so a
time never rounds into the next second), positions five decimals of minutes, speeds three decimals
of knots (and km/h), courses two decimals.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime

from firmware_bridge.nmea_fields import KMH_MPS, KNOT_MPS

_MINUTE_STEPS = 100_000  # 1e-5 minute resolution


def checksum(body: str) -> int:
    """XOR of the characters between ``$`` and ``*``."""
    value = 0
    for char in body.encode("ascii"):
        value ^= char
    return value


def sentence(body: str) -> str:
    return f"${body}*{checksum(body):02X}\r\n"


def _utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValueError("time must be timezone-aware")
    return moment.astimezone(UTC)


def _time_field(moment: datetime) -> str:
    return f"{moment:%H%M%S}.{moment.microsecond // 10_000:02d}"


def _angle_field(value: float, degree_digits: int, limit: float, hemispheres: str) -> str:
    if not math.isfinite(value) or abs(value) > limit:
        raise ValueError(f"{value} is not within +-{limit:g} degrees")
    steps = round(abs(value) * 60 * _MINUTE_STEPS)
    degrees, rest = divmod(steps, 60 * _MINUTE_STEPS)
    minutes, fraction = divmod(rest, _MINUTE_STEPS)
    hemisphere = hemispheres[0] if value >= 0 else hemispheres[1]
    return f"{degrees:0{degree_digits}d}{minutes:02d}.{fraction:05d},{hemisphere}"


def _position_fields(lat: float, lon: float) -> str:
    return f"{_angle_field(lat, 2, 90.0, 'NS')},{_angle_field(lon, 3, 180.0, 'EW')}"


def _course_field(course_deg: float) -> str:
    if not math.isfinite(course_deg):
        raise ValueError(f"course {course_deg} is not finite")
    text = f"{course_deg % 360.0:.2f}"
    return "0.00" if text == "360.00" else text


def _speed_mps(speed_mps: float) -> float:
    if not math.isfinite(speed_mps) or speed_mps < 0:
        raise ValueError(f"speed {speed_mps} is not a finite, non-negative number")
    return speed_mps


def encode_gga(
    time: datetime,
    lat: float,
    lon: float,
    *,
    quality: int = 1,
    satellites: int = 9,
    hdop: float = 0.9,
    altitude_m: float = 12.0,
    talker: str = "GP",
) -> str:
    moment = _utc(time)
    body = (
        f"{talker}GGA,{_time_field(moment)},{_position_fields(lat, lon)},{quality:d},"
        f"{satellites:02d},{hdop:.1f},{altitude_m:.1f},M,,M,,"
    )
    return sentence(body)


def encode_rmc(
    time: datetime,
    lat: float,
    lon: float,
    *,
    speed_mps: float,
    course_deg: float,
    valid: bool = True,
    talker: str = "GP",
) -> str:
    moment = _utc(time)
    knots = _speed_mps(speed_mps) / KNOT_MPS
    status, mode = ("A", "A") if valid else ("V", "N")
    body = (
        f"{talker}RMC,{_time_field(moment)},{status},{_position_fields(lat, lon)},"
        f"{knots:.3f},{_course_field(course_deg)},{moment:%d%m%y},,,{mode}"
    )
    return sentence(body)


def encode_vtg(course_deg: float, speed_mps: float, *, talker: str = "GP") -> str:
    speed = _speed_mps(speed_mps)
    body = (
        f"{talker}VTG,{_course_field(course_deg)},T,,M,"
        f"{speed / KNOT_MPS:.3f},N,{speed / KMH_MPS:.3f},K,A"
    )
    return sentence(body)
