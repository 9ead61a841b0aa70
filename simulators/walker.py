"""A van driving a closed polyline: where it is, which way it heads and how fast, at any time.

Traffic is modelled as legs between traffic lights: accelerate to a cruise speed that varies a
little per leg, cruise, then either brake to a stop and wait for green or pass through. Every random
choice comes from one seeded generator, drawn in order, so a seed always yields the same drive.
"""

from __future__ import annotations

import bisect
import itertools
import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from simulators.geo import bearing_deg, haversine_m, interpolate

ACCEL_MPS2: Final = 1.2
BRAKE_MPS2: Final = 1.8
CRUISE_FACTOR: Final = (0.85, 1.10)
"""Each leg cruises at the nominal speed times a factor drawn from this range."""
LEG_LENGTH_M: Final = (250.0, 900.0)
STOP_PROBABILITY: Final = 0.55
DWELL_S: Final = (5.0, 30.0)


@dataclass(frozen=True, slots=True)
class VanState:
    lat: float
    lon: float
    course_deg: float
    speed_mps: float
    odometer_m: float


@dataclass(frozen=True, slots=True)
class _Phase:
    """Constant acceleration from ``t0`` for ``duration`` seconds."""

    t0: float
    s0: float
    v0: float
    accel: float
    duration: float

    @property
    def end(self) -> float:
        return self.t0 + self.duration

    def distance_at(self, t: float) -> float:
        dt = min(max(t - self.t0, 0.0), self.duration)
        return self.s0 + self.v0 * dt + 0.5 * self.accel * dt * dt

    def speed_at(self, t: float) -> float:
        dt = min(max(t - self.t0, 0.0), self.duration)
        return max(0.0, self.v0 + self.accel * dt)


class RouteWalker:
    """Position along a looping route at any elapsed time; deterministic for a given seed.

    ``points`` are (lat, lon) in degrees; the route is closed back to its first point when the
    last point differs from it. With ``traffic=False`` the van drives at exactly ``speed_mps``.
    """

    def __init__(
        self,
        points: Sequence[tuple[float, float]],
        speed_mps: float,
        *,
        seed: int = 0,
        traffic: bool = True,
    ) -> None:
        if len(points) < 2:
            raise ValueError("a route needs at least two points")
        if not (math.isfinite(speed_mps) and speed_mps > 0):
            raise ValueError(f"speed_mps must be a positive number, got {speed_mps}")
        loop = list(points)
        if loop[0] != loop[-1]:
            loop.append(loop[0])
        self._points = loop
        self._cumulative = [0.0]
        for (lat1, lon1), (lat2, lon2) in itertools.pairwise(loop):
            self._cumulative.append(self._cumulative[-1] + haversine_m(lat1, lon1, lat2, lon2))
        if self._cumulative[-1] <= 0:
            raise ValueError("route has zero length")
        self.speed_mps = speed_mps
        self.traffic = traffic
        self._rng = random.Random(seed)
        self._phases: list[_Phase] = []
        self._starts: list[float] = []
        if not traffic:
            self._append(_Phase(0.0, 0.0, speed_mps, 0.0, math.inf))

    @property
    def length_m(self) -> float:
        return self._cumulative[-1]

    @property
    def max_speed_mps(self) -> float:
        return self.speed_mps * (CRUISE_FACTOR[1] if self.traffic else 1.0)

    def at(self, elapsed_s: float) -> VanState:
        """The van's state ``elapsed_s`` seconds after it left the first point (at rest)."""
        if elapsed_s < 0:
            raise ValueError("elapsed time must not be negative")
        while self._phases == [] or self._phases[-1].end < elapsed_s:
            self._plan_leg()
        phase = self._phases[bisect.bisect_right(self._starts, elapsed_s) - 1]
        odometer = phase.distance_at(elapsed_s)
        lat, lon, course = self._locate(odometer % self.length_m)
        return VanState(lat, lon, course, phase.speed_at(elapsed_s), odometer)

    def _locate(self, s: float) -> tuple[float, float, float]:
        index = min(bisect.bisect_right(self._cumulative, s) - 1, len(self._points) - 2)
        (lat1, lon1), (lat2, lon2) = self._points[index], self._points[index + 1]
        seg_len = self._cumulative[index + 1] - self._cumulative[index]
        fraction = 0.0 if seg_len == 0 else (s - self._cumulative[index]) / seg_len
        lat, lon = interpolate(lat1, lon1, lat2, lon2, fraction)
        if seg_len - (s - self._cumulative[index]) > 1.0:
            course = bearing_deg(lat, lon, lat2, lon2)
        else:
            course = bearing_deg(lat1, lon1, lat2, lon2)
        return lat, lon, course

    def _append(self, phase: _Phase) -> None:
        self._phases.append(phase)
        self._starts.append(phase.t0)

    def _plan_leg(self) -> None:
        last = self._phases[-1] if self._phases else None
        t = last.end if last else 0.0
        s = last.distance_at(t) if last else 0.0
        v = last.speed_at(t) if last else 0.0
        cruise = self.speed_mps * self._rng.uniform(*CRUISE_FACTOR)
        stop = self._rng.random() < STOP_PROBABILITY
        dwell = self._rng.uniform(*DWELL_S)
        leg = self._rng.uniform(*LEG_LENGTH_M)

        rate = ACCEL_MPS2 if cruise >= v else -BRAKE_MPS2
        ramp_t = (cruise - v) / rate
        ramp_s = (cruise * cruise - v * v) / (2 * rate)
        brake_t = cruise / BRAKE_MPS2 if stop else 0.0
        brake_s = cruise * cruise / (2 * BRAKE_MPS2) if stop else 0.0
        cruise_s = max(leg, ramp_s + brake_s + 50.0) - ramp_s - brake_s

        for accel, duration, v0 in (
            (rate, ramp_t, v),
            (0.0, cruise_s / cruise, cruise),
            (-BRAKE_MPS2, brake_t, cruise),
        ):
            if duration > 0:
                self._append(_Phase(t, s, v0, accel, duration))
                t, s = t + duration, self._phases[-1].distance_at(t + duration)
        if stop:
            self._append(_Phase(t, s, 0.0, 0.0, dwell))
