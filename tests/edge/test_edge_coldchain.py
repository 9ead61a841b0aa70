"""The pure cold-chain engine: bands, tolerance, flapping, clears, silence, rule updates, peaks."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from edge.coldchain import EXCURSION_RULE, SILENCE_RULE, ColdChainEngine, ZoneRule
from firmware_bridge.records import Alarm, Measurement, MeasurementQuality, Quantity, Severity, Unit
from firmware_bridge.wire import format_time

T0 = datetime(2026, 3, 1, 8, 0, 0, tzinfo=UTC)
CHILLED = ZoneRule(
    zone="chiller-1",
    devices=("probe-1", "probe-2"),
    min_c=0.0,
    max_c=4.0,
    tolerance_s=600,
    silence_periods=3,
    sample_period_s=30,
)
QUIET_OK = replace(CHILLED, sample_period_s=3600)
"""CHILLED with silence far off, for tests about excursions on the clock."""
FROZEN = ZoneRule(zone="freezer", devices=("probe-9",), max_c=-18.0, tolerance_s=600)


def at(s: float) -> datetime:
    return T0 + timedelta(seconds=s)


def temp(s: float, value: float, device: str = "probe-1") -> Measurement:
    return Measurement(device, at(s), Quantity.TEMPERATURE, value, Unit.CELSIUS)


def point(s: float, value: float, *, gateway: float | None = None) -> dict[str, Any]:
    """A reading in evidence: its device time ``s`` and its time on the gateway's clock."""
    return {
        "time": format_time(at(s)),
        "gateway_time": format_time(at(s if gateway is None else gateway)),
        "value_c": value,
    }


def excursion(
    rule: ZoneRule,
    device: str,
    first: tuple[float, float],
    last: tuple[float, float],
    peak: tuple[float, float],
    *,
    ended: float | None = None,
    **extra: Any,
) -> Alarm:
    return Alarm(
        rule=EXCURSION_RULE,
        subject=f"{rule.zone}/{device}",
        severity=Severity.CRITICAL,
        started_at=at(first[0]),
        ended_at=None if ended is None else at(ended),
        evidence={
            "zone": rule.zone,
            "device": device,
            "band": {"min_c": rule.min_c, "max_c": rule.max_c, "tolerance_s": rule.tolerance_s},
            "first_out": point(*first),
            "last_out": point(*last),
            "peak": point(*peak),
            **extra,
        },
    )


def silence(
    device: str,
    started: float,
    last: tuple[float, float] | None,
    *,
    ended: float | None = None,
    **extra: Any,
) -> Alarm:
    return Alarm(
        rule=SILENCE_RULE,
        subject=f"chiller-1/{device}",
        severity=Severity.WARNING,
        started_at=at(started),
        ended_at=None if ended is None else at(ended),
        evidence={
            "zone": "chiller-1",
            "device": device,
            "silence_s": 90.0,
            "last_reading": None if last is None else point(*last),
            **extra,
        },
    )


def feed(engine: ColdChainEngine, *readings: Measurement) -> list[Alarm]:
    """Readings of probes whose clocks agree with the gateway's, received as taken."""
    return [alarm for m in readings for alarm in engine.observe(m, m.time)]


@pytest.mark.parametrize(
    ("rule", "value", "out"),
    [
        (CHILLED, 4.0, False),
        (CHILLED, 0.0, False),
        (CHILLED, 4.01, True),
        (CHILLED, -0.01, True),
        (FROZEN, -18.0, False),
        (FROZEN, -40.0, False),
        (FROZEN, -17.9, True),
    ],
)
def test_band_edges_are_in_band(rule: ZoneRule, value: float, out: bool) -> None:
    device = rule.devices[0]
    engine = ColdChainEngine([rule], T0)
    alarms = feed(engine, temp(0, value, device), temp(600, value, device))
    expected = [excursion(rule, device, (0, value), (600, value), (0, value))] if out else []
    assert alarms == expected


def test_alarm_is_raised_exactly_when_the_tolerance_is_reached() -> None:
    engine = ColdChainEngine([CHILLED], T0)
    assert feed(engine, temp(0, 5.0), temp(300, 6.0), temp(599.9, 5.5)) == []
    assert feed(engine, temp(600, 5.2)) == [
        excursion(CHILLED, "probe-1", (0, 5.0), (600, 5.2), (300, 6.0))
    ]
    # Raised once: further out-of-band readings add nothing until the clear.
    assert feed(engine, temp(630, 7.0), temp(660, 5.0)) == []
    assert engine.active() == [excursion(CHILLED, "probe-1", (0, 5.0), (660, 5.0), (630, 7.0))]


def test_the_clock_raises_an_excursion_the_quiet_probe_does_not() -> None:
    engine = ColdChainEngine([QUIET_OK], T0)
    feed(engine, temp(0, 5.0), temp(30, 5.5), temp(30, 5.5, "probe-2"))
    assert engine.tick(at(599)) == []
    assert engine.tick(at(600)) == [excursion(QUIET_OK, "probe-1", (0, 5.0), (30, 5.5), (30, 5.5))]
    assert engine.tick(at(601)) == []


def test_flapping_shorter_than_the_tolerance_never_alarms() -> None:
    engine = ColdChainEngine([QUIET_OK], T0)
    readings = [temp(s, 5.0 if (s // 30) % 2 == 0 else 3.0) for s in range(0, 3000, 30)]
    assert feed(engine, *readings) == []
    assert engine.tick(at(3000)) == []
    assert engine.active() == []


def test_back_in_band_clears_with_the_same_rule_subject_and_start() -> None:
    engine = ColdChainEngine([CHILLED], T0)
    raised = feed(engine, temp(0, 5.0), temp(600, 6.5), temp(630, 5.0))
    cleared = feed(engine, temp(660, 3.9))
    assert raised == [excursion(CHILLED, "probe-1", (0, 5.0), (600, 6.5), (600, 6.5))]
    assert cleared == [
        excursion(
            CHILLED,
            "probe-1",
            (0, 5.0),
            (630, 5.0),
            (600, 6.5),
            ended=660,
            back_in_band=point(660, 3.9),
        )
    ]
    assert engine.active() == []
    # A new excursion starts from scratch and needs the whole tolerance again.
    assert feed(engine, temp(700, 4.5), temp(1299, 4.5)) == []
    assert feed(engine, temp(1300, 4.5)) == [
        excursion(CHILLED, "probe-1", (700, 4.5), (1300, 4.5), (700, 4.5))
    ]


def test_an_excursion_ending_before_the_tolerance_clears_nothing() -> None:
    engine = ColdChainEngine([CHILLED], T0)
    assert feed(engine, temp(0, 9.0), temp(599, 9.0), temp(600, 2.0), temp(1200, 9.0)) == []


def test_peak_is_the_reading_furthest_outside_the_band_on_either_side() -> None:
    engine = ColdChainEngine([QUIET_OK], T0)
    feed(engine, temp(0, 5.0), temp(100, -2.5), temp(200, 6.0), temp(300, 4.2))
    # -2.5 is 2.5 below min_c, 6.0 only 2.0 above max_c.
    assert engine.tick(at(600)) == [
        excursion(QUIET_OK, "probe-1", (0, 5.0), (300, 4.2), (100, -2.5))
    ]


def test_probes_of_a_zone_alarm_independently_and_other_quantities_are_ignored() -> None:
    engine = ColdChainEngine([CHILLED], T0)
    humid = Measurement("probe-2", at(0), Quantity.HUMIDITY, 99.0, Unit.PERCENT_RH)
    stranger = temp(0, 30.0, "probe-7")
    alarms = feed(engine, humid, stranger, temp(0, 5.0), temp(0, 3.0, "probe-2"))
    alarms += feed(engine, temp(600, 5.0), temp(600, 3.0, "probe-2"))
    assert alarms == [excursion(CHILLED, "probe-1", (0, 5.0), (600, 5.0), (0, 5.0))]


def test_readings_older_than_the_last_are_ignored_and_counted() -> None:
    engine = ColdChainEngine([QUIET_OK], T0)
    feed(engine, temp(0, 2.0), temp(100, 2.0))
    assert engine.observe(temp(50, 9.0), at(101)) == []  # sent again, or overtaken
    assert (engine.counters.out_of_order_readings, engine.tick(at(700))) == (1, [])


def test_flagged_readings_neither_alarm_nor_count_as_heard() -> None:
    engine = ColdChainEngine([CHILLED], T0)
    broken = replace(temp(10, 150.0), quality=MeasurementQuality.OUT_OF_RANGE)
    assert feed(engine, broken, replace(broken, device_id="elsewhere")) == []
    assert engine.counters.flagged_readings == 1
    # The probe sent only implausible values: it is silent, not out of band.
    assert [a.rule for a in engine.tick(at(90))] == [SILENCE_RULE, SILENCE_RULE]


def test_silence_is_raised_after_the_periods_and_cleared_by_a_reading() -> None:
    engine = ColdChainEngine([CHILLED], T0)
    feed(engine, temp(10, 3.0), temp(20, 3.1, "probe-2"))
    assert engine.tick(at(99)) == []
    assert engine.tick(at(100)) == [silence("probe-1", 100, (10, 3.0))]
    assert engine.tick(at(110)) == [silence("probe-2", 110, (20, 3.1))]
    assert engine.tick(at(500)) == []
    assert feed(engine, temp(520, 3.2)) == [
        silence("probe-1", 100, (10, 3.0), ended=520, resumed=point(520, 3.2))
    ]
    assert engine.active() == [silence("probe-2", 110, (20, 3.1))]


def test_a_probe_never_heard_is_silent_counted_from_when_watching_began() -> None:
    engine = ColdChainEngine([CHILLED], T0)
    feed(engine, temp(60, 3.0, "probe-2"))
    assert engine.tick(at(90)) == [silence("probe-1", 90, None)]


def test_update_keeps_the_state_of_unchanged_zones() -> None:
    engine = ColdChainEngine([CHILLED, FROZEN], T0)
    feed(engine, temp(0, 5.0), temp(0, -10.0, "probe-9"))
    warmer_freezer = ZoneRule(zone="freezer", devices=("probe-9",), max_c=-5.0)
    assert engine.update_rules([CHILLED, warmer_freezer], at(300)) == []
    # chiller-1's excursion still counts from t=0; the freezer's reading is now in band.
    assert feed(engine, temp(600, 5.0), temp(600, -10.0, "probe-9")) == [
        excursion(CHILLED, "probe-1", (0, 5.0), (600, 5.0), (0, 5.0))
    ]
    assert engine.rules == [CHILLED, warmer_freezer]


def test_update_clears_raised_alarms_of_removed_zones_and_of_a_widened_band() -> None:
    engine = ColdChainEngine([CHILLED, FROZEN], T0)
    feed(
        engine, temp(0, 5.0), temp(600, 5.0), temp(0, -10.0, "probe-9"), temp(600, -10.0, "probe-9")
    )
    wider = ZoneRule(zone="chiller-1", devices=("probe-1", "probe-2"), min_c=0.0, max_c=8.0)
    assert engine.update_rules([wider], at(700)) == [
        excursion(
            CHILLED, "probe-1", (0, 5.0), (600, 5.0), (0, 5.0), ended=700, reason="rule changed"
        ),
        excursion(
            FROZEN,
            "probe-9",
            (0, -10.0),
            (600, -10.0),
            (0, -10.0),
            ended=700,
            reason="rule removed",
        ),
    ]
    assert engine.active() == []
    assert feed(engine, temp(710, -10.0, "probe-9")) == []


def test_update_keeps_a_raised_alarm_still_outside_the_changed_band() -> None:
    engine = ColdChainEngine([CHILLED], T0)
    feed(engine, temp(0, 9.0), temp(600, 6.0))
    tighter = ZoneRule(
        zone="chiller-1", devices=("probe-1",), min_c=0.0, max_c=5.0, tolerance_s=600
    )
    assert engine.update_rules([tighter], at(650)) == []
    assert feed(engine, temp(660, 2.0)) == [
        excursion(
            tighter,
            "probe-1",
            (0, 9.0),
            (600, 6.0),
            (0, 9.0),
            ended=660,
            back_in_band=point(660, 2.0),
        )
    ]


def test_two_rules_for_one_zone_are_refused() -> None:
    with pytest.raises(ValueError, match="'freezer' has two rules"):
        ColdChainEngine([FROZEN, FROZEN], T0)
