"""The benchmark commands run as a user runs them (small sizes) and report honest, complete JSON.
Their speed figures are not asserted here: those go in the README and the closing notes."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

pytestmark = pytest.mark.integration


def _bench(*args: str) -> dict[str, object]:
    completed = subprocess.run(
        [sys.executable, "-m", "retailedge", "bench", *args, "--json"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    result: dict[str, object] = json.loads(completed.stdout.strip().splitlines()[-1])
    return result


def test_bench_ingest_reports_both_sides_of_the_comparison() -> None:
    result = _bench("ingest", "--records", "3000", "--repeat", "1")
    assert {"records_per_s", "baseline_records_per_s", "ratio", "p99_commit_ms"} <= set(result)
    assert result["records"] == 3000
    ours, baseline = result["records_per_s"], result["baseline_records_per_s"]
    assert isinstance(ours, int) and isinstance(baseline, int) and ours > 0 and baseline > 0
    assert result["ratio"] == pytest.approx(ours / baseline, rel=0.01)


def test_bench_drain_stores_every_record_exactly_once() -> None:
    result = _bench("drain", "--records", "12000", "--baseline-records", "5000")
    assert {"records", "seconds", "records_per_s", "duplicates", "missing"} <= set(result)
    assert result["records"] == 12000
    assert result["duplicates"] == 0
    assert result["missing"] == 0
    assert isinstance(result["baseline_records_per_s"], int)
