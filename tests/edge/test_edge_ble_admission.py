"""Admission of a known sensor's adverts (pure): interval, events, encrypted counters."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from edge.connectors.ble_admission import (
    AdmissionMemory,
    Heard,
    Verdict,
    admit,
    counter_is_newer,
)

T0 = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def verdicts(heard: list[Heard], min_interval_s: float = 10.0) -> list[Verdict]:
    memory = AdmissionMemory()
    return [admit(memory, h, min_interval_s=min_interval_s, reset_after_s=300.0) for h in heard]


def test_periodic_readings_are_thinned_by_the_interval() -> None:
    assert verdicts(
        [
            Heard(b"a", at(0)),
            Heard(b"a", at(0.1)),
            Heard(b"b", at(3)),
            Heard(b"b", at(10)),
            Heard(b"b", at(19.9)),
            Heard(b"b", at(20)),
        ]
    ) == ["take", "duplicate", "throttled", "take", "duplicate", "take"]


def test_a_door_opened_and_closed_inside_the_interval_keeps_both_events() -> None:
    # BTHome packet ids 7 (open) and 8 (closed), each advertised three times, 4 s apart; then
    # a periodic reading without an event inside the interval is still thinned.
    heard = [Heard(b"open", at(0.1 * i), event=7) for i in range(3)]
    heard += [Heard(b"closed", at(4 + 0.1 * i), event=8) for i in range(3)]
    heard += [Heard(b"battery", at(6))]
    assert verdicts(heard) == [
        "event",
        "duplicate",
        "duplicate",
        "event",
        "duplicate",
        "duplicate",
        "throttled",
    ]


def test_the_same_event_packet_heard_after_the_interval_is_a_fresh_reading() -> None:
    assert verdicts([Heard(b"p", at(0), event=3), Heard(b"p", at(15), event=3)]) == [
        "event",
        "take",
    ]


def counted(counter: int, seconds: float, payload: bytes | None = None) -> Heard:
    return Heard(payload or counter.to_bytes(4, "little"), at(seconds), counter=counter)


def test_an_older_encrypted_counter_is_a_replay_and_the_same_one_a_duplicate() -> None:
    assert verdicts(
        [
            counted(41, 0),
            counted(41, 0.1),  # the sensor repeating its advert
            counted(42, 12),
            counted(43, 15),  # the sensor's next one, inside the interval
            counted(41, 30),  # captured at 0 s and sent again after the interval
            counted(43, 31),  # the latest again, after the interval: nothing new
            counted(44, 32),
        ]
    ) == ["take", "duplicate", "take", "throttled", "replayed", "duplicate", "take"]


def test_a_throttled_counter_cannot_come_back_later() -> None:
    assert verdicts([counted(1, 0), counted(2, 5), counted(2, 12)]) == [
        "take",
        "throttled",
        "duplicate",
    ]


def test_a_lower_counter_is_taken_as_a_restart_only_after_the_sensor_was_quiet() -> None:
    memory = AdmissionMemory()

    def judge(heard: Heard) -> Verdict:
        return admit(memory, heard, min_interval_s=10.0, reset_after_s=300.0)

    assert judge(counted(90_000, 0)) == "take"
    assert judge(counted(90_000, 200)) == "duplicate"  # still the sensor: the gap starts again
    # Battery changed: the sensor starts again from 0. Until 300 s after it was last heard
    # with its old counter, that looks like (and may be) a replay.
    assert judge(counted(0, 250)) == "replayed"
    assert judge(counted(1, 499)) == "replayed"
    assert judge(counted(2, 500)) == "counter_reset"
    assert judge(counted(3, 501)) == "throttled"
    assert judge(counted(4, 511)) == "take"
    assert judge(counted(3, 600)) == "replayed"


def test_the_counter_may_wrap() -> None:
    top = 2**32 - 1
    assert verdicts([counted(top - 1, 0), counted(top, 10), counted(0, 20), counted(top, 30)]) == [
        "take",
        "take",
        "take",
        "replayed",
    ]


@pytest.mark.parametrize(
    ("counter", "last", "newer"),
    [(1, 0, True), (0, 1, False), (5, 5, False), (0, 2**32 - 1, True), (2**31, 0, False)],
)
def test_counter_is_newer(counter: int, last: int, newer: bool) -> None:
    assert counter_is_newer(counter, last) is newer


@given(st.integers(0, 2**32 - 1), st.integers(0, 2**32 - 1))
def test_of_two_different_counters_exactly_one_is_newer_except_half_way(a: int, b: int) -> None:
    if a == b or (a - b) % 2**32 == 2**31:
        assert not counter_is_newer(a, b) and not counter_is_newer(b, a)
    else:
        assert counter_is_newer(a, b) != counter_is_newer(b, a)
