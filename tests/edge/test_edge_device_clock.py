"""Placing device readings on the gateway's clock: offsets learned, glitches, backlogs, clock
changes, and the gateway's own clock stepping back."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from edge.device_clock import RELEARN_S, TOLERANCE_S, Arrival, DeviceClock, Placement, place

T0 = datetime(2026, 3, 1, 8, 0, 0, tzinfo=UTC)


def at(s: float) -> datetime:
    return T0 + timedelta(seconds=s)


def feed(clock: DeviceClock, *pairs: tuple[float, float]) -> list[Placement]:
    """(device time, receive time) pairs, in seconds from T0."""
    return [place(clock, at(device), at(received)) for device, received in pairs]


def live(s: float) -> Placement:
    return Placement(Arrival.LIVE, at(s))


def test_a_clock_in_step_places_readings_when_received() -> None:
    clock = DeviceClock()
    assert feed(clock, (0, 0), (30, 30), (60, 60.5)) == [live(0), live(30), live(60)]
    assert (clock.offset_s, clock.confirmed) == (0.0, True)


def test_a_slow_or_fast_clock_is_learned() -> None:
    for skew in (-300.0, 300.0, 3 * 3600.0):
        clock = DeviceClock()
        readings = [(s + skew, s + 0.2 * (s % 7)) for s in range(0, 300, 30)]
        placed = feed(clock, *readings)
        assert [p.arrival for p in placed] == [Arrival.LIVE] * len(readings)
        # Offset = the least delayed reading's: the others keep their device spacing.
        assert clock.offset_s == -skew
        assert [p.at for p in placed] == [at(s) for s in range(0, 300, 30)]


def test_late_means_more_than_the_tolerance_after_the_device_clock_says() -> None:
    clock = DeviceClock()
    feed(clock, (0, 0), (30, 30))
    on_edge = place(clock, at(60), at(60 + TOLERANCE_S))
    beyond = place(clock, at(90), at(90 + TOLERANCE_S + 1))
    assert (on_edge, beyond) == (live(60), Placement(Arrival.LATE, at(90)))


def test_a_glitch_is_placed_at_its_receive_time_and_teaches_nothing() -> None:
    clock = DeviceClock()
    feed(clock, (0, 0), (30, 30))
    glitch = place(clock, at(60 + 3000), at(60))
    assert glitch == Placement(Arrival.CLOCK_SUSPECT, at(60))
    assert feed(clock, (90, 90), (120, 120)) == [live(90), live(120)]
    assert clock.offset_s == 0.0


def test_a_first_reading_that_is_a_glitch_is_replaced_by_the_next() -> None:
    clock = DeviceClock()
    assert feed(clock, (3000, 0), (30, 30), (60, 60)) == [live(0), live(30), live(60)]
    assert (clock.offset_s, clock.confirmed) == (0.0, True)


def test_a_backlog_keeps_its_device_spacing_and_is_never_replayed_over_history() -> None:
    clock = DeviceClock()
    feed(clock, (0, 0), (30, 30))
    # Ten minutes of backlog flushed within a second, then live again.
    backlog = [(s, 600 + s / 1000) for s in range(60, 601, 30)]
    placed = feed(clock, *backlog)
    assert [p.at for p in placed] == [at(s) for s in range(60, 601, 30)]
    assert [p.arrival for p in placed][:3] == [Arrival.LATE] * 3
    assert placed[-1].arrival is Arrival.LIVE  # received within the tolerance of its time
    # The same backlog again (sent twice) is older than what was placed: out of order.
    assert {p.arrival for p in feed(clock, (60, 601), (90, 601))} == {Arrival.OUT_OF_ORDER}
    assert feed(clock, (630, 630)) == [live(630)]


def test_a_clock_set_back_is_learned_again_after_relearn_s() -> None:
    clock = DeviceClock()
    feed(clock, (0, 0), (30, 30))
    # The device's clock is set an hour back: its readings look an hour late.
    readings = [(s - 3600, s) for s in range(60, 60 + int(RELEARN_S) + 31, 30)]
    placed = feed(clock, *readings)
    assert [p.arrival for p in placed] == [
        Arrival.OUT_OF_ORDER,
        Arrival.OUT_OF_ORDER,
        Arrival.LIVE,
        Arrival.LIVE,
    ]
    assert [p.relearned for p in placed] == [False, False, True, False]
    assert clock.offset_s == 3600.0
    assert [p.at for p in placed[2:]] == [at(120), at(150)]


def test_a_clock_set_forward_is_suspect_until_learned_again() -> None:
    clock = DeviceClock()
    feed(clock, (0, 0), (30, 30))
    placed = feed(clock, *[(s + 3600, s) for s in (60, 90, 120, 150)])
    assert [p.arrival for p in placed] == [Arrival.CLOCK_SUSPECT] * 2 + [Arrival.LIVE] * 2
    assert [p.at for p in placed] == [at(60), at(90), at(120), at(150)]


def test_a_slow_backlog_is_not_taken_for_a_clock_change() -> None:
    clock = DeviceClock()
    feed(clock, (0, 0), (10, 10))
    # 10 s samples flushed one a second: late readings that disagree with each other.
    placed = feed(clock, *[(10 + 10 * i, 300 + i) for i in range(1, 25)])
    assert {p.arrival for p in placed} == {Arrival.LATE}
    assert not any(p.relearned for p in placed)
    assert clock.offset_s == 0.0


def test_the_gateway_clock_stepping_back_never_places_a_reading_before_the_last() -> None:
    clock = DeviceClock()
    feed(clock, (0, 0), (30, 30))
    assert place(clock, at(60), at(10)).at == at(30)


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.floats(min_value=-7200, max_value=7200),  # device clock error
            st.floats(min_value=0, max_value=120),  # gateway time since the previous reading
        ),
        min_size=1,
        max_size=40,
    )
)
def test_placed_times_never_go_back_nor_pass_the_receive_time(
    steps: list[tuple[float, float]],
) -> None:
    clock = DeviceClock()
    received, last = 0.0, None
    for error, gap in steps:
        received += gap
        placed = place(clock, at(received + error), at(received))
        if placed.arrival is Arrival.OUT_OF_ORDER:
            assert placed.at is None
            continue
        assert placed.at is not None and placed.at <= at(received)
        assert last is None or placed.at >= last
        if placed.arrival is Arrival.CLOCK_SUSPECT:
            assert placed.at == at(received)
        last = placed.at
    assert clock.offset_s is not None
