"""Cold-chain rules judged on the gateway's clock, whatever the probe's clock says: slow and fast
probe clocks, a reading stamped far in the future, a backlog flushed after a reconnect, a probe
clock set while running."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from edge.coldchain import EXCURSION_RULE, SILENCE_RULE, ColdChainEngine
from edge.coldchain_state import decode_rows, encode, state_key
from firmware_bridge.records import Alarm
from firmware_bridge.wire import parse_time
from tests.edge.test_edge_coldchain import CHILLED, at, excursion, point, silence, temp

PROBE = replace(CHILLED, devices=("probe-1",))
"""0–4 °C, tolerance 600 s, silent after 3 × 30 s."""


def run(
    engine: ColdChainEngine,
    until_s: int,
    reading: Callable[[int], tuple[float, float] | None],
    *,
    start_s: int = 0,
) -> list[tuple[int, Alarm]]:
    """Gateway seconds ``start_s``..``until_s``: each second ``reading(s)`` gives (device time,
    value) of a reading received then, or None; the engine ticks every second. Returns the
    alarms with the gateway second they came at."""
    out: list[tuple[int, Alarm]] = []
    for s in range(start_s, until_s + 1):
        got = reading(s)
        if got is not None:
            device_s, value = got
            out += [(s, a) for a in engine.observe(temp(device_s, value), at(s))]
        out += [(s, a) for a in engine.tick(at(s))]
    return out


def every_30_s(
    skew_s: float, value: Callable[[int], float]
) -> Callable[[int], tuple[float, float] | None]:
    return lambda s: (s + skew_s, value(s)) if s % 30 == 0 else None


def test_a_probe_five_minutes_slow_raises_no_silence_storm() -> None:
    engine = ColdChainEngine([PROBE], at(0))
    assert run(engine, 600, every_30_s(-300, lambda s: 3.0)) == []
    probe = engine.probes()[("chiller-1", "probe-1")]
    assert probe.clock.offset_s == 300.0 and engine.counters.as_dict() == {
        "flagged_readings": 0,
        "late_readings": 0,
        "out_of_order_readings": 0,
        "clock_suspect_readings": 0,
        "clocks_relearned": 0,
    }


def test_a_probe_five_minutes_fast_alarms_after_the_tolerance_on_the_gateway_clock() -> None:
    engine = ColdChainEngine([PROBE], at(0))
    warm = every_30_s(300, lambda s: 3.0 if s < 300 else 6.0)
    alarms = run(engine, 1000, warm)
    raised = excursion(
        PROBE,
        "probe-1",
        (600, 6.0),
        (1200, 6.0),
        (600, 6.0),
    )
    # Device times in the evidence are the probe's (5 min ahead); the gateway's are 5 min less.
    assert alarms == [(900, gateway_times(raised, -300))]
    assert engine.counters.clock_suspect_readings == 0


def gateway_times(alarm: Alarm, shift_s: float) -> Alarm:
    """``alarm`` of readings whose gateway times are their device times + ``shift_s``."""
    evidence = dict(alarm.evidence)
    for key in ("first_out", "last_out", "peak", "back_in_band"):
        if key in evidence:
            device_s = (parse_time(evidence[key]["time"]) - at(0)).total_seconds()
            evidence[key] = point(device_s, evidence[key]["value_c"], gateway=device_s + shift_s)
    started = parse_time(evidence["first_out"]["gateway_time"])
    ended = None if alarm.ended_at is None else parse_time(evidence["back_in_band"]["gateway_time"])
    return replace(alarm, started_at=started, ended_at=ended, evidence=evidence)


def test_a_future_glitch_does_not_blind_the_rule_to_a_real_excursion() -> None:
    engine = ColdChainEngine([PROBE], at(0))

    def probe(s: int) -> tuple[float, float] | None:
        if s == 120:
            return (s + 3000, 3.0)  # one reading stamped 50 minutes ahead
        if s % 30:
            return None
        return (s, 3.0 if s < 300 else 15.0)  # the chiller fails at 300 s

    alarms = run(engine, 1200, probe)
    assert alarms == [(900, excursion(PROBE, "probe-1", (300, 15.0), (900, 15.0), (300, 15.0)))]
    assert (engine.counters.clock_suspect_readings, engine.counters.out_of_order_readings) == (1, 0)
    assert engine.active()[0].evidence["last_out"] == point(1200, 15.0)


def test_a_glitch_out_of_band_counts_from_when_it_was_received() -> None:
    engine = ColdChainEngine([PROBE], at(0))

    def probe(s: int) -> tuple[float, float] | None:
        if s % 30:
            return None
        return (s + 3000, 9.0) if s == 60 else (s, 3.0 if s < 60 else 9.0)

    [(second, alarm)] = run(engine, 700, probe)
    assert (second, alarm.started_at) == (660, at(60))
    assert alarm.evidence["first_out"] == {**point(3060, 9.0, gateway=60), "clock_suspect": True}


def test_a_backlog_flushed_after_a_reconnect_is_judged_by_its_own_times() -> None:
    rule = replace(PROBE, tolerance_s=300)
    engine = ColdChainEngine([rule], at(0))
    assert run(engine, 30, every_30_s(0, lambda s: 3.0)) == []
    # Disconnected at 30 s: silent after 90 s without a reading.
    assert run(engine, 639, lambda s: None, start_s=31) == [
        (120, silence("probe-1", 120, (30, 3.0)))
    ]
    # Reconnected at 640 s: the device flushes 60..630 s within a second: out of band from 60
    # to 480 s (7 minutes), back in band from 510 s.
    backlog = [temp(s, 8.0 if s <= 480 else 3.0) for s in range(60, 631, 30)]
    alarms = [a for m in backlog for a in engine.observe(m, at(640))]
    raised = excursion(rule, "probe-1", (60, 8.0), (360, 8.0), (60, 8.0))
    cleared = excursion(
        rule, "probe-1", (60, 8.0), (480, 8.0), (60, 8.0), ended=510, back_in_band=point(510, 3.0)
    )
    resumed = {
        "time": point(60, 8.0)["time"],
        "gateway_time": point(640, 0)["time"],
        "value_c": 8.0,
    }
    assert alarms == [
        silence("probe-1", 120, (30, 3.0), ended=640, resumed=resumed),
        raised,
        cleared,
    ]
    assert engine.counters.late_readings == 19  # 630 s, received 10 s later, is live
    assert engine.active() == []


def test_the_clock_waits_for_a_backlog_before_timing_an_excursion() -> None:
    rule = replace(PROBE, tolerance_s=300)
    engine = ColdChainEngine([rule], at(0))
    run(engine, 30, every_30_s(0, lambda s: 3.0))
    # The backlog arrives slowly after a reconnect at 640 s: by the gateway's clock the first
    # out-of-band reading (60 s) is long past the tolerance, but the backlog is still coming.
    for i, s in enumerate(range(60, 241, 30)):
        engine.observe(temp(s, 8.0), at(640 + i))
        assert [a.rule for a in engine.tick(at(640 + i))] in ([], [SILENCE_RULE])
    assert [a.rule for a in engine.active()] == []
    # It ends in band after 270 s out: no excursion alarm ever.
    engine.observe(temp(330, 3.0), at(650))
    assert engine.tick(at(2000))[0].rule == SILENCE_RULE  # quiet since
    assert all(a.rule != EXCURSION_RULE for a in engine.active())


def test_a_probe_clock_set_back_an_hour_is_followed_without_a_false_silence() -> None:
    engine = ColdChainEngine([PROBE], at(0))
    assert run(engine, 900, every_30_s(0, lambda s: 3.0)) == []
    # From 930 s the probe's clock is an hour behind, and the chiller fails at 1000 s.
    alarms = run(
        engine,
        1800,
        lambda s: (s - 3600, 3.0 if s < 1000 else 9.0) if s % 30 == 0 else None,
        start_s=901,
    )
    assert engine.counters.clocks_relearned == 1
    assert engine.counters.out_of_order_readings == 2  # 930 and 960 s, until learned again
    [(second, alarm)] = alarms
    assert (second, alarm.rule, alarm.started_at) == (1620, EXCURSION_RULE, at(1020))
    assert alarm.evidence["first_out"] == point(1020 - 3600, 9.0, gateway=1020)


def test_a_backlog_ending_out_of_band_is_timed_by_the_clock_once_quiet() -> None:
    rule = replace(PROBE, tolerance_s=300)
    engine = ColdChainEngine([rule], at(0))
    run(engine, 30, every_30_s(0, lambda s: 3.0))
    for s in range(60, 181, 30):  # flushed at 640 s, out of band from 60 s; then nothing
        engine.observe(temp(s, 8.0), at(640))
    ticks = run(engine, 700, lambda s: None, start_s=641)
    assert [(second, a.rule) for second, a in ticks] == [(700, EXCURSION_RULE)]
    assert ticks[0][1].started_at == at(60)


def restarted(engine: ColdChainEngine, now_s: float) -> ColdChainEngine:
    """A new engine at ``now_s`` given ``engine``'s saved probe states (a gateway restart)."""
    again = ColdChainEngine(engine.rules, at(now_s))
    rows = {state_key(p): encode(*found) for p in engine.probes() if (found := engine.state_of(p))}
    assert again.restore(decode_rows(rows), at(now_s)) == []
    return again


def test_after_a_restart_the_clock_waits_for_what_the_broker_kept() -> None:
    engine = ColdChainEngine([PROBE], at(0))
    run(engine, 30, every_30_s(0, lambda s: 8.0))  # out of band from 0 s
    # Down from 31 s to 700 s: past the tolerance, but the probe's readings meanwhile may
    # still arrive (a broker's queue): they show the chiller recovered at 300 s.
    again = restarted(engine, 700)
    assert again.tick(at(700)) == []
    for s in range(60, 331, 30):
        again.observe(temp(s, 8.0 if s < 300 else 3.0), at(701))
    assert [a.rule for a in again.tick(at(900))] == [SILENCE_RULE]  # quiet since 701 s
    assert [a.rule for a in again.active()] == [SILENCE_RULE]
    # Without such readings, the clock times the excursion again once the probe stays quiet.
    quiet = restarted(engine, 700)
    assert quiet.tick(at(759)) == []
    assert [(a.rule, a.started_at) for a in quiet.tick(at(760))] == [(EXCURSION_RULE, at(0))]
