"""The dispatch bench's re-plan rounds with the background solve: every snapshot is solved in
the worker process and taken by the next re-plan."""

from __future__ import annotations

from retailedge.bench.dispatch import DispatchBenchConfig, _cost_ratio, _replan_rounds


def test_rounds_with_the_background_solve_adopt_its_results() -> None:
    config = DispatchBenchConfig(tasks=12, riders=3, rounds=1, interval_s=30.0, reference_s=1.0)
    result, last = _replan_rounds(config, lambda _: None)
    assert result["replans"] == 9 + config.rounds and result["replan_errors"] == 0
    assert result["background_error"] is None
    # Each round waits for the running solve (well under 30 s here), so every snapshot but the
    # last one is solved and taken by the next re-plan.
    assert result["background_solves"] == result["replans"]
    assert 0 < result["replan_p50_ms"] <= result["replan_p99_ms"] <= result["replan_max_ms"]
    assert last.engine_input is not None
    ratio = _cost_ratio(last, config.reference_s)
    assert ratio["reference_unassigned"] == 0 and ratio["replan_unassigned"] == 0
    assert 0.9 < ratio["cost_ratio_vs_30s"] < 1.5
