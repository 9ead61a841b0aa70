"""Reject implausible GNSS fixes before they leave the gateway (pure; times come with the fixes).

A fix is rejected when its HDOP is over the limit, when it is not newer than the last accepted
fix, or when reaching it from the last accepted fix would take a speed above the limit (a
multipath jump). The last accepted fix stays the reference, so one wild fix cannot drag the
track with it. Should the vehicle really be somewhere else (moved while the receiver was off),
``reanchor_after`` consecutive jump-rejected fixes that agree with each other are taken as the
new truth.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from enum import StrEnum

from firmware_bridge.records import Position

EARTH_RADIUS_M = 6_371_008.8


class Rejection(StrEnum):
    HDOP = "hdop"
    SPEED = "speed"
    NOT_NEWER = "not_newer"


@dataclass(frozen=True, slots=True)
class GpsLimits:
    max_hdop: float
    max_speed_mps: float
    reanchor_after: int = 5


def distance_m(a: Position, b: Position) -> float:
    """Great-circle (haversine) distance between two fixes."""
    lat1, lat2 = math.radians(a.lat), math.radians(b.lat)
    dlat = lat2 - lat1
    dlon = math.radians(b.lon - a.lon)
    h = math.sin(dlat / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin(dlon / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(h)))


def implied_speed_mps(start: Position, end: Position) -> float | None:
    """Speed needed to get from ``start`` to ``end``; None when ``end`` is not later."""
    seconds = (end.time - start.time).total_seconds()
    if seconds <= 0:
        return None
    return distance_m(start, end) / seconds


class GpsFilter:
    def __init__(self, limits: GpsLimits) -> None:
        self.limits = limits
        self.accepted = 0
        self.reanchored = 0
        self.rejected: Counter[Rejection] = Counter()
        self._anchor: Position | None = None
        self._candidate: Position | None = None
        self._streak = 0

    def counters(self) -> dict[str, int]:
        out = {reason.value: self.rejected[reason] for reason in Rejection}
        return {**out, "reanchored": self.reanchored}

    def check(self, fix: Position) -> Rejection | None:
        """None when ``fix`` is plausible (it becomes the reference), else why it is not."""
        reason = self._verdict(fix)
        if reason is None:
            self.accepted += 1
            self._anchor, self._candidate, self._streak = fix, None, 0
        else:
            self.rejected[reason] += 1
        return reason

    def accept(self, fixes: list[Position]) -> list[Position]:
        return [fix for fix in fixes if self.check(fix) is None]

    def _verdict(self, fix: Position) -> Rejection | None:
        if fix.hdop is not None and fix.hdop > self.limits.max_hdop:
            return Rejection.HDOP
        anchor = self._anchor
        if anchor is None:
            return None
        speed = implied_speed_mps(anchor, fix)
        if speed is None:
            return Rejection.NOT_NEWER
        if speed <= self.limits.max_speed_mps:
            return None
        return None if self._reanchors(fix) else Rejection.SPEED

    def _reanchors(self, fix: Position) -> bool:
        previous = self._candidate
        speed = None if previous is None else implied_speed_mps(previous, fix)
        consistent = speed is not None and speed <= self.limits.max_speed_mps
        self._streak = self._streak + 1 if consistent else 1
        self._candidate = fix
        if self._streak >= self.limits.reanchor_after:
            self.reanchored += 1
            return True
        return False
