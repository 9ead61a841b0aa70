"""The buffer's backlog trend: records per minute over the last five minutes."""

from __future__ import annotations

import pytest

from edge.backlog_trend import BacklogTrend


def test_no_figure_until_a_minute_of_samples() -> None:
    trend = BacklogTrend()
    assert trend.observe(0.0, 100) is None
    assert trend.observe(59.0, 500) is None
    assert trend.observe(60.0, 700) == 600.0


def test_growth_is_measured_over_the_window_only() -> None:
    trend = BacklogTrend(window_s=300.0)
    for second in range(0, 301, 10):
        figure = trend.observe(float(second), 1_000 + 10 * second)  # +600 a minute
    assert figure == 600.0
    # then it drains at 1,200 a minute for five minutes: the old growth has left the window
    depth = 1_000 + 10 * 300
    for second in range(310, 611, 10):
        depth -= 200
        figure = trend.observe(float(second), depth)
    assert figure == pytest.approx(-1_200.0, abs=1)


def test_a_steady_backlog_is_not_growing() -> None:
    trend = BacklogTrend()
    figures = [trend.observe(float(s), 5_000) for s in range(0, 400, 5)]
    assert figures[-1] == 0.0


def test_a_clock_that_goes_back_starts_again() -> None:
    trend = BacklogTrend()
    trend.observe(100.0, 10)
    trend.observe(200.0, 1_000)
    assert trend.observe(50.0, 1_000) is None
