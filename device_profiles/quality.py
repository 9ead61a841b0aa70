"""Judge readings against a profile's valid ranges: flag, never drop (pure)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence

from firmware_bridge.records import Measurement, MeasurementQuality, Quantity

Ranges = Mapping[Quantity, tuple[float, float]]
"""Inclusive valid range per quantity, e.g. ``DeviceProfile.valid_ranges()``."""


def judged(measurement: Measurement, ranges: Ranges) -> Measurement:
    """``measurement`` flagged ``out_of_range`` when its value lies outside its quantity's
    range (edges are in range); a quantity without a range is not judged."""
    valid = ranges.get(measurement.quantity)
    if valid is None or valid[0] <= measurement.value <= valid[1]:
        return measurement
    return dataclasses.replace(measurement, quality=MeasurementQuality.OUT_OF_RANGE)


def flag_out_of_range(readings: Sequence[Measurement], ranges: Ranges) -> list[Measurement]:
    return [judged(reading, ranges) for reading in readings]
