"""Is the buffer's backlog growing? Its depth now against its depth a few minutes ago, so an
operator hears that the uplink is not keeping up before the buffer fills or starts evicting."""

from __future__ import annotations

from collections import deque

WINDOW_S = 300.0
MIN_SPAN_S = 60.0


class BacklogTrend:
    """Samples of (monotonic time, buffered records) over the last ``window_s``."""

    def __init__(self, window_s: float = WINDOW_S, min_span_s: float = MIN_SPAN_S) -> None:
        self.window_s = window_s
        self.min_span_s = min_span_s
        self._samples: deque[tuple[float, int]] = deque()

    def observe(self, at_s: float, records: int) -> float | None:
        """Record the depth ``records`` at ``at_s``; the growth in records per minute over the
        window (negative while draining), or None until ``min_span_s`` of samples exist."""
        samples = self._samples
        if samples and at_s < samples[-1][0]:
            samples.clear()  # a clock that went back: start again rather than divide nonsense
        samples.append((at_s, records))
        while len(samples) > 1 and at_s - samples[1][0] >= self.window_s:
            samples.popleft()
        first_at, first_records = samples[0]
        span = at_s - first_at
        if span < self.min_span_s:
            return None
        return round((records - first_records) * 60.0 / span, 1)
