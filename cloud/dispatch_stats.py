"""The dispatch loop's own figures for operators: re-plan latency over recent runs (pure).

A run that found nothing to plan is not a re-plan and is not counted. ``solve`` is the planner's
wall time (the critical path that produces the plan in force); ``round`` adds reading the fleet
and the tasks and applying the plan.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

RECENT_RUNS = 1000


def nearest_rank(values: Sequence[float], fraction: float) -> float | None:
    """The smallest value with ``fraction`` of the values at or below it; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(1, math.ceil(fraction * len(ordered))) - 1]


@dataclass(frozen=True)
class LatencySummary:
    p50_ms: float | None
    p99_ms: float | None
    max_ms: float | None


def summarize(values: Sequence[float]) -> LatencySummary:
    return LatencySummary(
        nearest_rank(values, 0.5), nearest_rank(values, 0.99), max(values, default=None)
    )


@dataclass
class ReplanStats:
    """Counts since the process started; latencies of the newest ``RECENT_RUNS`` re-plans."""

    replans: int = 0
    applied: int = 0
    kept_previous: int = 0
    background_adopted: int = 0
    last_replan_at: datetime | None = None
    last_error: str | None = None
    solve_ms: deque[float] = field(default_factory=lambda: deque(maxlen=RECENT_RUNS))
    round_ms: deque[float] = field(default_factory=lambda: deque(maxlen=RECENT_RUNS))

    def record(
        self,
        *,
        at: datetime,
        solve_ms: float,
        round_ms: float,
        error: str | None,
        background_adopted: bool,
    ) -> None:
        self.replans += 1
        if error is None:
            self.applied += 1
        else:
            self.kept_previous += 1
        self.background_adopted += int(background_adopted)
        self.last_replan_at = at
        self.last_error = error
        self.solve_ms.append(solve_ms)
        self.round_ms.append(round_ms)

    def solve_latency(self) -> LatencySummary:
        return summarize(self.solve_ms)

    def round_latency(self) -> LatencySummary:
        return summarize(self.round_ms)
