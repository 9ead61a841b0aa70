"""A courier riding from one place to another through a street grid at a steady speed (pure).

A city block grid makes a trip longer than the straight line: the courier rides north or south
first, then east or west, so the path is up to √2 × the straight distance (the dispatcher does
not know this; it learns the detour from the GPS fixes). :class:`Leg` says where the courier is,
which way it heads and how fast at any moment of the trip.
"""

from __future__ import annotations

from dataclasses import dataclass

from simulators.geo import bearing_deg, haversine_m, interpolate


@dataclass(frozen=True, slots=True)
class Spot:
    lat: float
    lon: float


@dataclass(frozen=True, slots=True)
class Fix:
    """Where a courier is at ``t_s`` and its velocity there."""

    t_s: float
    lat: float
    lon: float
    speed_mps: float
    course_deg: float


@dataclass(frozen=True, slots=True)
class Leg:
    origin: Spot
    corner: Spot
    target: Spot
    start_s: float
    speed_mps: float

    @classmethod
    def plan(cls, origin: Spot, target: Spot, start_s: float, speed_mps: float) -> Leg:
        if speed_mps <= 0:
            raise ValueError(f"speed must be positive, got {speed_mps}")
        return cls(origin, Spot(target.lat, origin.lon), target, start_s, speed_mps)

    @property
    def first_m(self) -> float:
        return _metres(self.origin, self.corner)

    @property
    def length_m(self) -> float:
        return self.first_m + _metres(self.corner, self.target)

    @property
    def end_s(self) -> float:
        return self.start_s + self.length_m / self.speed_mps

    def covered_m(self, t_s: float) -> float:
        """Metres ridden by ``t_s`` (0 before the start, the whole leg after the end)."""
        return min(self.length_m, max(0.0, (t_s - self.start_s) * self.speed_mps))

    def at(self, t_s: float) -> Fix:
        covered = self.covered_m(t_s)
        first = self.first_m
        if covered >= self.length_m:
            heading = self._course(self.corner, self.target, self.origin)
            return Fix(t_s, self.target.lat, self.target.lon, 0.0, heading)
        if covered < first:
            a, b, fraction = self.origin, self.corner, covered / first
        else:
            rest = self.length_m - first
            a, b, fraction = self.corner, self.target, (covered - first) / rest
        lat, lon = interpolate(a.lat, a.lon, b.lat, b.lon, fraction)
        return Fix(t_s, lat, lon, self.speed_mps, bearing_deg(a.lat, a.lon, b.lat, b.lon))

    @staticmethod
    def _course(corner: Spot, target: Spot, origin: Spot) -> float:
        """The heading on arrival: of the last segment that has a length."""
        start = corner if _metres(corner, target) > 0 else origin
        return bearing_deg(start.lat, start.lon, target.lat, target.lon)


def _metres(a: Spot, b: Spot) -> float:
    return haversine_m(a.lat, a.lon, b.lat, b.lon)
