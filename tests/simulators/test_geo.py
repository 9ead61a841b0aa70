"""Spherical geometry against published reference values."""

from __future__ import annotations

import math

import pytest

from simulators.geo import EARTH_RADIUS_M, bearing_deg, haversine_m, interpolate

# Ed Williams' Aviation Formulary worked example: LAX (33°57'N 118°24'W) to JFK (40°38'N 73°47'W)
# is 0.623585 rad (2144 nm) on the sphere, initial true course 1.150035 rad.
LAX = (33 + 57 / 60, -(118 + 24 / 60))
JFK = (40 + 38 / 60, -(73 + 47 / 60))


def test_lax_to_jfk_distance_matches_the_formulary_on_the_sphere() -> None:
    assert haversine_m(*LAX, *JFK) / EARTH_RADIUS_M == pytest.approx(0.623585, abs=2e-6)


def test_lax_to_jfk_initial_course_matches_the_formulary() -> None:
    assert bearing_deg(*LAX, *JFK) == pytest.approx(math.degrees(1.150035), abs=1e-4)


@pytest.mark.parametrize(
    ("start", "end", "wgs84_metres"),
    [
        # One degree of latitude and of longitude at Shanghai's latitude, from the WGS84 ellipsoid
        # series (111132.954 - 559.822 cos 2φ ... and 111412.84 cos φ - 93.5 cos 3φ ...).
        ((30.7, 121.45), (31.7, 121.45), 110_873.0),
        ((31.2, 121.0), (31.2, 122.0), 95_305.0),
    ],
)
def test_distances_are_within_half_a_percent_of_the_ellipsoid(
    start: tuple[float, float], end: tuple[float, float], wgs84_metres: float
) -> None:
    assert haversine_m(*start, *end) == pytest.approx(wgs84_metres, rel=0.005)


def test_distance_is_symmetric_and_zero_for_the_same_point() -> None:
    a, b = (31.2237, 121.4458), (30.2730, 120.1645)
    assert haversine_m(*a, *b) == haversine_m(*b, *a)
    assert haversine_m(*a, *a) == 0.0


@pytest.mark.parametrize(
    ("end", "expected"),
    [((1.0, 0.0), 0.0), ((0.0, 1.0), 90.0), ((-1.0, 0.0), 180.0), ((0.0, -1.0), 270.0)],
)
def test_cardinal_bearings_from_the_origin(end: tuple[float, float], expected: float) -> None:
    assert bearing_deg(0.0, 0.0, *end) == pytest.approx(expected, abs=1e-9)


def test_interpolate_ends_and_middle() -> None:
    assert interpolate(0.0, 0.0, 0.0, 10.0, 0.0) == pytest.approx((0.0, 0.0), abs=1e-12)
    assert interpolate(0.0, 0.0, 0.0, 10.0, 1.0) == pytest.approx((0.0, 10.0), abs=1e-12)
    assert interpolate(0.0, 0.0, 0.0, 10.0, 0.5) == pytest.approx((0.0, 5.0), abs=1e-12)
    a, b = (31.2237, 121.4458), (31.2295, 121.4640)
    middle = interpolate(*a, *b, 0.5)
    assert haversine_m(*a, *middle) == pytest.approx(haversine_m(*a, *b) / 2, rel=1e-9)
