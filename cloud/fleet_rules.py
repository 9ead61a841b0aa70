"""Fleet rules (pure): shifts, plausible positions, compartments in band, what a task needs.

No database and no HTTP here: the services hand in plain values and act on the answers.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from cloud.dispatch.eta import Point, haversine_m

COURIER_KINDS: Final = ("rider", "van", "reefer_van")
COLD_SKILLS: Final = ("chilled", "frozen")
# The coldest class wins: a basket with one frozen item travels frozen.
CLASS_ORDER: Final = {"ambient": 0, "chilled": 1, "frozen": 2}
# Positions further than this from the courier's home node are on another continent (or a
# broken receiver); no shift of an instant-delivery courier spans that.
MAX_FROM_HOME_M: Final = 150_000.0
# Faster than this between two fixes is a jump, not a ride (216 km/h).
MAX_SPEED_MPS: Final = 60.0
# Two fixes this close in distance are accepted whatever their spacing in time (GPS noise).
JITTER_M: Final = 50.0
MAX_FUTURE: Final = timedelta(seconds=60)
# A compartment reading older than this says nothing about the compartment now.
READING_STALE: Final = timedelta(minutes=15)
# Chilled and frozen goods may not ride longer than this from pickup to drop.
COLD_MAX_RIDE_S: Final = 45 * 60.0
PICKUP_SERVICE_S: Final = 120.0
DROPOFF_SERVICE_S: Final = 180.0
UNBOXING_SERVICE_S: Final = 300.0


@dataclass(frozen=True)
class Fix:
    lat: float
    lon: float
    time: datetime


@dataclass(frozen=True)
class Compartment:
    name: str
    sensor_device_id: str
    temperature_class: str
    min_c: float
    max_c: float


@dataclass(frozen=True)
class Reading:
    device_id: str
    time: datetime
    value: float


@dataclass(frozen=True)
class CompartmentFault:
    """A compartment whose latest reading is missing, stale or out of band."""

    compartment: Compartment
    reading: Reading | None
    why: str


class PositionRejected(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


def check_position(fix: Fix, *, home: Point, previous: Fix | None, now: datetime) -> None:
    """Raise :class:`PositionRejected` for a fix that cannot be where the courier is."""
    for name, value, limit in (("lat", fix.lat, 90.0), ("lon", fix.lon, 180.0)):
        if not (math.isfinite(value) and -limit <= value <= limit):
            raise PositionRejected(name, f"{value} is not a valid coordinate")
    if fix.time > now + MAX_FUTURE:
        raise PositionRejected("time", f"{fix.time.isoformat()} is in the future")
    here = Point(fix.lat, fix.lon)
    away = haversine_m(home, here)
    if away > MAX_FROM_HOME_M:
        raise PositionRejected(
            "lat",
            f"({fix.lat}, {fix.lon}) is {away / 1000:.0f} km from the courier's home node; "
            "a receiver fault or a wrong device, ignored",
        )
    if previous is None:
        return
    if fix.time < previous.time:
        raise PositionRejected(
            "time", f"{fix.time.isoformat()} is older than the last fix {previous.time.isoformat()}"
        )
    moved = haversine_m(Point(previous.lat, previous.lon), here)
    seconds = (fix.time - previous.time).total_seconds()
    if moved > JITTER_M and moved > MAX_SPEED_MPS * max(seconds, 1.0):
        raise PositionRejected(
            "lat",
            f"a jump of {moved / 1000:.1f} km in {seconds:.0f} s from the last fix is impossible; "
            "ignored",
        )


def check_shifts(shifts: Sequence[tuple[datetime, datetime]]) -> str | None:
    """Why ``shifts`` are unusable (the message names the index), or None."""
    for i, (start, end) in enumerate(shifts):
        if start.tzinfo is None or end.tzinfo is None:
            return f"shifts[{i}]: add a timezone to start and end"
        if end <= start:
            return f"shifts[{i}]: end is not after start"
        if i and start < shifts[i - 1][1]:
            return f"shifts[{i}]: overlaps the shift before it (sort them, no overlaps)"
    return None


def current_shift(
    shifts: Sequence[tuple[datetime, datetime]], now: datetime
) -> tuple[datetime, datetime] | None:
    """The shift ``now`` is in, else the next one to start; None when all are over."""
    for start, end in shifts:
        if end > now:
            return (start, end)
    return None


def compartment_faults(
    compartments: Sequence[Compartment], latest: Mapping[str, Reading], now: datetime
) -> list[CompartmentFault]:
    faults: list[CompartmentFault] = []
    for compartment in compartments:
        reading = latest.get(compartment.sensor_device_id)
        if reading is None:
            faults.append(CompartmentFault(compartment, None, "no temperature reading yet"))
        elif now - reading.time > READING_STALE:
            faults.append(
                CompartmentFault(compartment, reading, f"last reading {reading.time.isoformat()}")
            )
        elif not compartment.min_c <= reading.value <= compartment.max_c:
            faults.append(
                CompartmentFault(
                    compartment,
                    reading,
                    f"{reading.value:g} °C outside {compartment.min_c:g}..{compartment.max_c:g} °C",
                )
            )
    return faults


def effective_skills(
    skills: Sequence[str], compartments: Sequence[Compartment], faults: Sequence[CompartmentFault]
) -> frozenset[str]:
    """The courier's skills minus each cold class whose compartments are not all in band.

    A class without a monitored compartment (a rider's insulated box) keeps its skill."""
    lost = {fault.compartment.temperature_class for fault in faults}
    monitored = {c.temperature_class for c in compartments}
    return frozenset(s for s in skills if s not in lost or s not in monitored)


def coldest(classes: Sequence[str]) -> str:
    return max(classes, key=lambda c: CLASS_ORDER.get(c, 0), default="ambient")


def task_skills(temperature_class: str) -> frozenset[str]:
    return frozenset({temperature_class}) if temperature_class in COLD_SKILLS else frozenset()


def dropoff_service_s(service: Mapping[str, object]) -> float:
    extra = UNBOXING_SERVICE_S if service.get("unboxing_inspection") else 0.0
    return DROPOFF_SERVICE_S + extra


def round_position(lat: float, lon: float) -> tuple[float, float]:
    """About 100 m: three decimals of latitude are 111 m, of longitude ≤ 111 m."""
    return (round(lat, 3), round(lon, 3))
