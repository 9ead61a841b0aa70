"""The benchmarks' text progress bar."""

from __future__ import annotations

import pytest

from cloud.progress import text_bar


@pytest.mark.parametrize(
    ("done", "total", "bar"),
    [
        (0, 10, "[--------------------]"),
        (5, 10, "[##########----------]"),
        (19, 20, "[###################-]"),
        (10, 10, "[####################]"),
        (12, 10, "[####################]"),
        (0, 0, "[####################]"),
    ],
)
def test_bar_fills_in_proportion(done: int, total: int, bar: str) -> None:
    assert text_bar(done, total) == bar
