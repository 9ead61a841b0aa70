"""Synthetic but realistic telemetry for benchmarks: vans reporting fixes, probes reporting
readings."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

from firmware_bridge.records import FixQuality, Measurement, Position, Quantity, Record, Unit

START = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)


def telemetry(count: int, *, vehicles: int = 200, probes: int = 200) -> Iterator[Record]:
    """``count`` records, three positions for every measurement, each device's values increasing."""
    for index in range(count):
        moment = START + timedelta(milliseconds=100 * index)
        if index % 4 == 3:
            yield Measurement(
                device_id=f"probe-{index % probes:03d}",
                time=moment,
                quantity=Quantity.TEMPERATURE,
                value=round(2.0 + (index % 700) / 100, 2),
                unit=Unit.CELSIUS,
            )
        else:
            yield Position(
                device_id=f"van-{index % vehicles:03d}",
                time=moment,
                lat=31.2 + (index % 1000) * 1e-5,
                lon=121.4 + (index % 997) * 1e-5,
                speed_mps=8.3,
                course_deg=float(index % 360),
                fix_quality=FixQuality.GPS,
                satellites=9,
                hdop=0.9,
                altitude_m=12.0,
            )
