"""The dispatch loop's own figures: nearest-rank percentiles over the newest re-plans (pure)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from cloud.dispatch_stats import RECENT_RUNS, LatencySummary, ReplanStats, nearest_rank

T0 = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)


def test_nearest_rank_percentiles() -> None:
    values = [float(v) for v in range(100, 0, -1)]  # 100 .. 1, unsorted on purpose
    assert nearest_rank(values, 0.5) == 50.0
    assert nearest_rank(values, 0.99) == 99.0
    assert nearest_rank([7.0], 0.99) == 7.0
    assert nearest_rank([], 0.5) is None


def test_replans_are_counted_and_latency_covers_the_newest_runs() -> None:
    stats = ReplanStats()
    assert stats.solve_latency() == LatencySummary(None, None, None)
    for n in range(RECENT_RUNS + 10):
        # The first ten are slow outliers that fall out of the window.
        slow = n < 10
        stats.record(
            at=T0 + timedelta(seconds=20 * n),
            solve_ms=5000.0 if slow else float(n % 100),
            round_ms=6000.0 if slow else float(n % 100) + 10,
            error="the solver failed" if n == 3 else None,
            background_adopted=n % 4 == 0,
        )
    assert (stats.replans, stats.applied, stats.kept_previous) == (1010, 1009, 1)
    assert stats.background_adopted == 253
    assert stats.last_replan_at == T0 + timedelta(seconds=20 * 1009) and stats.last_error is None
    assert len(stats.solve_ms) == RECENT_RUNS
    assert stats.solve_latency() == LatencySummary(49.0, 98.0, 99.0)
    assert stats.round_latency() == LatencySummary(59.0, 108.0, 109.0)
