"""Named routes and the van walking them."""

from __future__ import annotations

import itertools

import pytest

from simulators.geo import bearing_deg, haversine_m
from simulators.routes import HANGZHOU, ROUTES, SHANGHAI, Route, get_route
from simulators.walker import CRUISE_FACTOR, RouteWalker

CITY_CENTRES = {"shanghai": (31.2304, 121.4737), "hangzhou": (30.2741, 120.1551)}


@pytest.mark.parametrize("route", list(ROUTES.values()), ids=list(ROUTES))
def test_routes_are_5_to_10_km_loops_in_their_city(route: Route) -> None:
    assert 5_000 <= route.length_m <= 10_000
    centre = CITY_CENTRES[route.name]
    assert all(haversine_m(*centre, *point) < 5_000 for point in route.points)
    # Street corners, not a scribble: no leg longer than 1.5 km, none shorter than 50 m.
    loop = [*route.points, route.points[0]]
    legs = [haversine_m(*a, *b) for a, b in itertools.pairwise(loop)]
    assert min(legs) > 50 and max(legs) < 1_500


def test_get_route_by_name_and_unknown_names() -> None:
    assert get_route("shanghai") is SHANGHAI
    assert get_route("hangzhou") is HANGZHOU
    with pytest.raises(ValueError, match="unknown route 'paris'; known routes: hangzhou, shanghai"):
        get_route("paris")


def test_walker_without_traffic_drives_at_constant_speed_and_loops() -> None:
    walker = SHANGHAI.walker(10.0, traffic=False)
    start = walker.at(0.0)
    assert (start.lat, start.lon, start.speed_mps) == (*SHANGHAI.points[0], 10.0)
    assert start.course_deg == pytest.approx(bearing_deg(*SHANGHAI.points[0], *SHANGHAI.points[1]))
    lap = walker.at(walker.length_m / 10.0)
    assert lap.odometer_m == pytest.approx(walker.length_m)
    assert haversine_m(lap.lat, lap.lon, *SHANGHAI.points[0]) < 0.01
    assert walker.at(123.4).odometer_m == pytest.approx(1234.0)


@pytest.mark.parametrize("route", list(ROUTES.values()), ids=list(ROUTES))
def test_walker_never_jumps_further_than_its_speed_allows(route: Route) -> None:
    speed, dt = 40 / 3.6, 0.1
    walker = route.walker(speed, seed=7)
    limit = speed * CRUISE_FACTOR[1] * dt + 1e-6
    previous = walker.at(0.0)
    stopped = 0
    for step in range(1, 15_000):  # 25 minutes, more than a lap
        state = walker.at(step * dt)
        assert haversine_m(previous.lat, previous.lon, state.lat, state.lon) <= limit
        assert 0.0 <= state.speed_mps <= speed * CRUISE_FACTOR[1] + 1e-9
        assert state.odometer_m >= previous.odometer_m
        stopped += state.speed_mps == 0.0
        previous = state
    assert previous.odometer_m > route.length_m
    assert stopped > 100  # it waited at red lights


def test_walker_is_reproducible_per_seed() -> None:
    times = [0.0, 17.3, 95.0, 600.0, 1800.5]
    first = [SHANGHAI.walker(8.0, seed=3).at(t) for t in times]
    again = [SHANGHAI.walker(8.0, seed=3).at(t) for t in times]
    other = [SHANGHAI.walker(8.0, seed=4).at(t) for t in times]
    assert first == again
    assert first != other


def test_walker_queried_out_of_order_gives_the_same_states() -> None:
    forward = SHANGHAI.walker(8.0, seed=1)
    backward = SHANGHAI.walker(8.0, seed=1)
    times = [5.0 * i for i in range(200)]
    assert [forward.at(t) for t in times] == [backward.at(t) for t in reversed(times)][::-1]


def test_walker_average_speed_is_below_cruise_but_realistic() -> None:
    walker = HANGZHOU.walker(30 / 3.6, seed=11)
    average_kmh = walker.at(3600.0).odometer_m / 1000.0
    assert 12.0 < average_kmh < 30.0


@pytest.mark.parametrize(
    ("points", "speed", "message"),
    [
        ([(31.0, 121.0)], 5.0, "at least two points"),
        ([(31.0, 121.0), (31.0, 121.0)], 5.0, "zero length"),
        ([(31.0, 121.0), (31.1, 121.0)], 0.0, "positive"),
        ([(31.0, 121.0), (31.1, 121.0)], float("nan"), "positive"),
    ],
)
def test_walker_rejects_bad_input(
    points: list[tuple[float, float]], speed: float, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        RouteWalker(points, speed)
    with pytest.raises(ValueError, match="negative"):
        RouteWalker([(31.0, 121.0), (31.1, 121.0)], 5.0).at(-1.0)


def test_route_by_name_is_get_route() -> None:
    from simulators.routes import route_by_name

    assert route_by_name("hangzhou") is HANGZHOU
