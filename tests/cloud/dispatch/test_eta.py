import math

import numpy as np
import pytest

from cloud.dispatch.eta import (
    DistanceCache,
    GpsFix,
    Point,
    SpeedModel,
    TravelModel,
    fit_detour_factor,
    haversine_m,
    haversine_matrix_m,
)

SHANGHAI = Point(31.2304, 121.4737)


def east(metres: float, north: float = 0.0) -> Point:
    return Point(SHANGHAI.lat + north / 111_195, SHANGHAI.lon + metres / 95_050)


def _track(rider: str, start: Point, t0: float, mps: float, bearing_north: bool, n: int) -> list:
    """Fixes every 10 s moving at ``mps`` due north (or east)."""
    fixes = []
    for i in range(n):
        metres = mps * 10 * i
        if bearing_north:
            lat, lon = start.lat + metres / 111_195, start.lon
        else:
            lat = start.lat
            lon = start.lon + metres / (111_195 * math.cos(math.radians(start.lat)))
        fixes.append(GpsFix(rider, t0 + 10 * i, lat, lon))
    return fixes


def test_haversine_one_degree_of_latitude() -> None:
    assert haversine_m(Point(0, 0), Point(1, 0)) == pytest.approx(111_195, abs=1)
    assert haversine_m(SHANGHAI, SHANGHAI) == 0


def test_matrix_matches_pairwise_haversine() -> None:
    points = [SHANGHAI, Point(31.25, 121.50), Point(31.20, 121.40), Point(40.0, 116.4)]
    matrix = haversine_matrix_m(points)
    for i, a in enumerate(points):
        for j, b in enumerate(points):
            assert matrix[i, j] == pytest.approx(haversine_m(a, b), abs=0.01)


def test_speed_model_learns_by_hour_and_cell() -> None:
    morning = _track("a", SHANGHAI, 8 * 3600, 4.0, True, 40)
    afternoon = _track("b", SHANGHAI, 14 * 3600, 8.0, True, 40)
    model = SpeedModel.fit(afternoon + morning, default_mps=5.0)
    assert model.speed_mps(SHANGHAI, 8 * 3600 + 100) == pytest.approx(4.0, rel=0.01)
    assert model.speed_mps(SHANGHAI, 14 * 3600 + 100) == pytest.approx(8.0, rel=0.01)
    # An hour with no data falls back to the whole fleet's speed, a fresh model to the default.
    assert 4.0 < model.speed_mps(SHANGHAI, 20 * 3600) < 8.0
    assert SpeedModel(default_mps=5.0).speed_mps(SHANGHAI, 0) == 5.0


def test_speed_model_ignores_standing_jumps_and_gaps() -> None:
    model = SpeedModel(default_mps=5.0, min_samples=1)
    standing = [GpsFix("a", t, SHANGHAI.lat, SHANGHAI.lon) for t in range(0, 300, 10)]
    for fix in standing:
        model.observe(fix)
    assert model.samples == 0
    model.observe(GpsFix("a", 310, SHANGHAI.lat + 0.1, SHANGHAI.lon))  # 11 km in 10 s
    model.observe(GpsFix("a", 5000, SHANGHAI.lat + 0.2, SHANGHAI.lon))  # after a long gap
    assert model.samples == 0


def test_speed_model_updates_as_riders_move() -> None:
    model = SpeedModel(default_mps=5.0, min_samples=5)
    for fix in _track("a", SHANGHAI, 9 * 3600, 3.0, False, 10):
        model.observe(fix)
    before = model.speed_mps(SHANGHAI, 9 * 3600)
    assert before == pytest.approx(3.0, rel=0.01)
    for fix in _track("a", SHANGHAI, 9 * 3600 + 200, 9.0, False, 30):
        model.observe(fix)
    assert model.speed_mps(SHANGHAI, 9 * 3600) > before + 1.0


def test_detour_factor_from_an_l_shaped_trip() -> None:
    north = _track("a", SHANGHAI, 0, 5.0, True, 21)  # 1,000 m north
    corner = Point(north[-1].lat, north[-1].lon)
    east = _track("a", corner, 210, 5.0, False, 21)[1:]  # then 1,000 m east
    factor = fit_detour_factor(north + east)
    assert factor == pytest.approx(2000 / math.hypot(1000, 1000), rel=0.01)
    assert fit_detour_factor([], default=1.4) == 1.4


def test_travel_matrix_uses_detour_and_speed() -> None:
    model = TravelModel(SpeedModel(default_mps=5.0), detour=1.5)
    b = Point(SHANGHAI.lat + 0.01, SHANGHAI.lon)
    matrix = model.duration_matrix_s([SHANGHAI, b], 0)
    expected = haversine_m(SHANGHAI, b) * 1.5 / 5.0
    assert matrix.dtype == np.int64
    assert matrix[0, 1] == round(expected)
    assert matrix[0, 0] == 0
    assert model.seconds(SHANGHAI, b, 0) == pytest.approx(expected)


def test_speed_model_refuses_bad_settings() -> None:
    with pytest.raises(ValueError, match="default_mps"):
        SpeedModel(default_mps=0)


def test_distance_cache_reuses_recurring_points_and_matches_a_fresh_matrix() -> None:
    cache = DistanceCache()
    first = [east(100 * i, 37 * i) for i in range(8)]
    assert np.array_equal(cache.matrix_m(first), haversine_matrix_m(first))
    # Reordered, two gone, three new (one of them twice): the same as computing it afresh.
    second = [first[5], east(-900, 40), first[0], first[7], east(2500), first[3], east(-900, 40)]
    second += [first[1], first[2], east(10, 10)]
    assert np.array_equal(cache.matrix_m(second), haversine_matrix_m(second))
    # Mostly new points: computed afresh.
    third = [east(5000 + i, 1) for i in range(9)] + [first[0]]
    assert np.array_equal(cache.matrix_m(third), haversine_matrix_m(third))
