"""Pure fleet rules: plausible positions, shifts, compartments in band, task needs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from cloud.dispatch.eta import Point
from cloud.fleet_rules import (
    Compartment,
    Fix,
    PositionRejected,
    Reading,
    check_position,
    check_shifts,
    coldest,
    compartment_faults,
    current_shift,
    dropoff_service_s,
    effective_skills,
    round_position,
    task_skills,
)

NOW = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)
XUHUI = Point(31.1880, 121.4370)
CHILLER = Compartment("chiller", "van-7-chiller", "chilled", 0.0, 4.0)
FREEZER = Compartment("freezer", "van-7-freezer", "frozen", -25.0, -15.0)


def fix(lat: float, lon: float, seconds_ago: float = 0.0) -> Fix:
    return Fix(lat, lon, NOW - timedelta(seconds=seconds_ago))


def test_a_plausible_ride_passes() -> None:
    previous = fix(31.1880, 121.4370, seconds_ago=60)
    # 0.005° north is ~556 m in 60 s: 9.3 m/s, an e-bike.
    check_position(fix(31.1930, 121.4370), home=XUHUI, previous=previous, now=NOW)


@pytest.mark.parametrize(
    ("new", "previous", "field", "words"),
    [
        (fix(48.8566, 2.3522), None, "lat", "km from the courier's home node"),  # Paris
        (fix(31.2880, 121.4370), fix(31.1880, 121.4370, 30), "lat", "jump of 11.1 km in 30 s"),
        (fix(91.0, 121.4), None, "lat", "not a valid coordinate"),
        (fix(31.19, float("nan")), None, "lon", "not a valid coordinate"),
        (Fix(31.19, 121.44, NOW + timedelta(minutes=5)), None, "time", "in the future"),
        (fix(31.19, 121.44, 120), fix(31.19, 121.44, 60), "time", "older than the last fix"),
    ],
)
def test_implausible_positions_are_refused_naming_the_field(
    new: Fix, previous: Fix | None, field: str, words: str
) -> None:
    with pytest.raises(PositionRejected) as caught:
        check_position(new, home=XUHUI, previous=previous, now=NOW)
    assert caught.value.field == field
    assert words in str(caught.value)


def test_gps_jitter_at_the_same_second_is_not_a_jump() -> None:
    previous = fix(31.1880, 121.4370)
    check_position(fix(31.1883, 121.4370), home=XUHUI, previous=previous, now=NOW)  # 33 m


def test_shifts_must_be_ordered_and_not_overlap() -> None:
    a = (NOW, NOW + timedelta(hours=4))
    b = (NOW + timedelta(hours=3), NOW + timedelta(hours=6))
    assert check_shifts([a]) is None
    assert (
        check_shifts([a, b]) == "shifts[1]: overlaps the shift before it (sort them, no overlaps)"
    )
    assert check_shifts([(NOW, NOW)]) == "shifts[0]: end is not after start"


def test_current_shift_is_the_running_or_next_one() -> None:
    early = (NOW - timedelta(hours=8), NOW - timedelta(hours=4))
    late = (NOW + timedelta(hours=1), NOW + timedelta(hours=5))
    assert current_shift([early, late], NOW) == late
    assert current_shift([early], NOW) is None


def test_a_compartment_out_of_band_stale_or_silent_loses_its_skill() -> None:
    readings = {
        "van-7-chiller": Reading("van-7-chiller", NOW - timedelta(minutes=1), 7.5),
        "van-7-freezer": Reading("van-7-freezer", NOW - timedelta(minutes=1), -18.0),
    }
    faults = compartment_faults([CHILLER, FREEZER], readings, NOW)
    assert [(f.compartment.name, f.why) for f in faults] == [("chiller", "7.5 °C outside 0..4 °C")]
    assert effective_skills(["chilled", "frozen"], [CHILLER, FREEZER], faults) == {"frozen"}
    stale = {"van-7-chiller": Reading("van-7-chiller", NOW - timedelta(minutes=16), 2.0)}
    assert [f.compartment.name for f in compartment_faults([CHILLER], stale, NOW)] == ["chiller"]
    silent = compartment_faults([CHILLER], {}, NOW)
    assert [f.why for f in silent] == ["no temperature reading yet"]
    in_band = {"van-7-chiller": Reading("van-7-chiller", NOW, 0.0)}
    assert compartment_faults([CHILLER], in_band, NOW) == []


def test_a_skill_without_a_monitored_compartment_stays() -> None:
    # A rider's insulated box has no sensor: the skill is as declared.
    assert effective_skills(["chilled"], [], []) == {"chilled"}


def test_task_needs() -> None:
    assert coldest(["ambient", "frozen", "chilled"]) == "frozen"
    assert coldest([]) == "ambient"
    assert task_skills("chilled") == {"chilled"}
    assert task_skills("ambient") == frozenset()
    assert dropoff_service_s({"unboxing_inspection": True}) == 480.0
    assert dropoff_service_s({}) == 180.0
    assert round_position(31.234567, 121.498765) == (31.235, 121.499)
