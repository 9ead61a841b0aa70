"""Travel times: haversine distance × a detour factor, at speeds learned from the fleet's own GPS.

A :class:`SpeedModel` keeps, per (hour of day, area cell), the distance and time riders covered
while moving. It is fitted from GPS tracks and updated as new fixes arrive; a lookup falls back from
the cell to the hour, then to the whole fleet, then to a configured default when data is thin.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Final

import numpy as np
import numpy.typing as npt

EARTH_RADIUS_M: Final = 6_371_008.8
DEFAULT_DETOUR: Final = 1.3
MOVING_MIN_MPS: Final = 0.5
MOVING_MAX_MPS: Final = 40.0
MAX_FIX_GAP_S: Final = 600.0
MIN_TRIP_M: Final = 300.0


@dataclass(frozen=True)
class Point:
    lat: float
    lon: float


@dataclass(frozen=True)
class GpsFix:
    """One position of one rider; ``t_s`` is seconds on the caller's clock (epoch or simulated)."""

    rider_id: str
    t_s: float
    lat: float
    lon: float


def haversine_m(a: Point, b: Point) -> float:
    """Great-circle distance in metres."""
    phi1, phi2 = math.radians(a.lat), math.radians(b.lat)
    dphi = phi2 - phi1
    dlmb = math.radians(b.lon - a.lon)
    h = math.sin(dphi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(dlmb / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(h)))


def _unit_vectors(points: Sequence[Point]) -> npt.NDArray[np.float64]:
    lat = np.radians(np.array([p.lat for p in points], dtype=np.float64))
    lon = np.radians(np.array([p.lon for p in points], dtype=np.float64))
    return np.stack((np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.sin(lat)), axis=1)


def haversine_pairs_m(origins: Sequence[Point], points: Sequence[Point]) -> npt.NDArray[np.float64]:
    """Great-circle distances in metres from each origin (rows) to each point, from unit-vector
    chords: the same distance as the haversine formula without m × n trigonometric calls."""
    a, b = _unit_vectors(origins), _unit_vectors(points)
    chord_sq = np.zeros((len(origins), len(points)))
    for axis in range(3):  # squared differences keep centimetres that 2 - 2·dot would lose
        chord_sq += (a[:, None, axis] - b[None, :, axis]) ** 2
    half = np.minimum(1.0, np.sqrt(chord_sq) / 2)
    if (
        half.size and half.max() < 0.01
    ):  # within ~127 km: arcsin's series to third order, error < 1e-9
        return np.asarray(2 * EARTH_RADIUS_M * half * (1.0 + half * half / 6.0))
    return np.asarray(2 * EARTH_RADIUS_M * np.arcsin(half))


def haversine_matrix_m(points: Sequence[Point]) -> npt.NDArray[np.float64]:
    """All pairwise great-circle distances in metres (n × n)."""
    return haversine_pairs_m(points, points)


class DistanceCache:
    """The last distance matrix by point: from one re-plan to the next most points (open tasks)
    recur, so only the rows and columns of new points are computed."""

    def __init__(self) -> None:
        self._state: tuple[dict[Point, int], npt.NDArray[np.float64]] = ({}, np.zeros((0, 0)))

    def matrix_m(self, points: Sequence[Point]) -> npt.NDArray[np.float64]:
        index, last = self._state
        old = np.array([index.get(p, -1) for p in points], dtype=np.int64)
        known, new = np.flatnonzero(old >= 0), np.flatnonzero(old < 0)
        if len(known) < len(points) // 2:
            metres = haversine_matrix_m(points)
        else:
            metres = np.empty((len(points), len(points)))
            metres[np.ix_(known, known)] = last[np.ix_(old[known], old[known])]
            if len(new):
                rows = haversine_pairs_m([points[int(i)] for i in new], points)
                metres[new, :] = rows
                metres[:, new] = rows.T
        self._state = ({p: i for i, p in enumerate(points)}, metres)
        return metres


def hour_of_day(t_s: float) -> int:
    return int(t_s // 3600) % 24


@dataclass
class _Sums:
    metres: float = 0.0
    seconds: float = 0.0
    samples: int = 0

    def add(self, metres: float, seconds: float) -> None:
        self.metres += metres
        self.seconds += seconds
        self.samples += 1

    def speed(self) -> float:
        return self.metres / self.seconds


@dataclass
class SpeedModel:
    """Moving speed (m/s) by hour of day × area cell, learned from GPS fixes.

    ``cell_deg`` is the side of a square lat/lon cell (0.01° ≈ 1.1 km). Fix pairs further apart
    than ``MAX_FIX_GAP_S``, standing still (< 0.5 m/s: waiting at a shop is not travel) or faster
    than 40 m/s (a GPS jump) are ignored. A figure needs ``min_samples`` pairs to be used.
    """

    default_mps: float
    cell_deg: float = 0.01
    min_samples: int = 20
    _by_cell: dict[tuple[int, int, int], _Sums] = field(default_factory=dict, repr=False)
    _by_hour: dict[int, _Sums] = field(default_factory=dict, repr=False)
    _all: _Sums = field(default_factory=_Sums, repr=False)
    _last_fix: dict[str, GpsFix] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        if not self.default_mps > 0:
            raise ValueError(f"default_mps must be positive, got {self.default_mps}")
        if not self.cell_deg > 0:
            raise ValueError(f"cell_deg must be positive, got {self.cell_deg}")

    @classmethod
    def fit(cls, fixes: Iterable[GpsFix], default_mps: float, cell_deg: float = 0.01) -> SpeedModel:
        """A model learned from tracks (fixes in any order; grouped per rider, sorted by time)."""
        model = cls(default_mps=default_mps, cell_deg=cell_deg)
        for fix in sorted(fixes, key=lambda f: (f.rider_id, f.t_s)):
            model.observe(fix)
        return model

    def cell(self, point: Point) -> tuple[int, int]:
        return (math.floor(point.lat / self.cell_deg), math.floor(point.lon / self.cell_deg))

    def observe(self, fix: GpsFix) -> None:
        """Fold one new fix into the model (pairs it with the rider's previous fix)."""
        previous = self._last_fix.get(fix.rider_id)
        self._last_fix[fix.rider_id] = fix
        if previous is None:
            return
        seconds = fix.t_s - previous.t_s
        if not 0 < seconds <= MAX_FIX_GAP_S:
            return
        metres = haversine_m(Point(previous.lat, previous.lon), Point(fix.lat, fix.lon))
        speed = metres / seconds
        if not MOVING_MIN_MPS <= speed <= MOVING_MAX_MPS:
            return
        middle = Point((previous.lat + fix.lat) / 2, (previous.lon + fix.lon) / 2)
        hour = hour_of_day(previous.t_s)
        key = (hour, *self.cell(middle))
        self._by_cell.setdefault(key, _Sums()).add(metres, seconds)
        self._by_hour.setdefault(hour, _Sums()).add(metres, seconds)
        self._all.add(metres, seconds)

    def speed_mps(self, point: Point, t_s: float) -> float:
        """Learned moving speed at ``point`` around ``t_s``; falls back when data is thin."""
        hour = hour_of_day(t_s)
        for sums in (
            self._by_cell.get((hour, *self.cell(point))),
            self._by_hour.get(hour),
            self._all,
        ):
            if sums is not None and sums.samples >= self.min_samples:
                return sums.speed()
        return self.default_mps

    @property
    def samples(self) -> int:
        return self._all.samples


def fit_detour_factor(fixes: Iterable[GpsFix], default: float = DEFAULT_DETOUR) -> float:
    """Path length over straight-line distance, over riders' trips (runs of moving fixes).

    A trip ends where a rider stands still or the track has a gap; trips shorter than 300 m in a
    straight line say little about the street grid and are skipped. ``default`` when no trip counts.
    """
    path_total, straight_total = detour_sums(fixes)
    if straight_total == 0:
        return default
    return max(1.0, path_total / straight_total)


def detour_sums(fixes: Iterable[GpsFix]) -> tuple[float, float]:
    """(path metres, straight-line metres) summed over the trips in ``fixes``, so fits over
    successive batches of fixes can be added up."""
    path_total = 0.0
    straight_total = 0.0
    by_rider: dict[str, list[GpsFix]] = {}
    for fix in fixes:
        by_rider.setdefault(fix.rider_id, []).append(fix)
    for track in by_rider.values():
        track.sort(key=lambda f: f.t_s)
        start = 0
        path = 0.0
        for i in range(1, len(track) + 1):
            moving = False
            if i < len(track):
                dt = track[i].t_s - track[i - 1].t_s
                step = haversine_m(
                    Point(track[i - 1].lat, track[i - 1].lon), Point(track[i].lat, track[i].lon)
                )
                moving = 0 < dt <= MAX_FIX_GAP_S and step / dt >= MOVING_MIN_MPS
            if moving:
                path += step
                continue
            first, last = track[start], track[i - 1]
            straight = haversine_m(Point(first.lat, first.lon), Point(last.lat, last.lon))
            if straight >= MIN_TRIP_M:
                path_total += path
                straight_total += straight
            start, path = i, 0.0
    return path_total, straight_total


@dataclass
class TravelModel:
    """Travel time estimates: haversine × ``detour`` at the learned speed of the origin's cell."""

    speeds: SpeedModel
    detour: float = DEFAULT_DETOUR
    distances: DistanceCache = field(default_factory=DistanceCache, repr=False, compare=False)

    def seconds(self, a: Point, b: Point, at_s: float) -> float:
        return haversine_m(a, b) * self.detour / self.speeds.speed_mps(a, at_s)

    def duration_matrix_s(self, points: Sequence[Point], at_s: float) -> npt.NDArray[np.int64]:
        """Whole-second travel times between all points (rows: origins), leaving at ``at_s``."""
        metres = self.distances.matrix_m(points)
        speeds = np.array([self.speeds.speed_mps(p, at_s) for p in points], dtype=np.float64)
        seconds = metres * (self.detour / speeds)[:, None]
        return np.rint(seconds, out=seconds).astype(np.int64)
