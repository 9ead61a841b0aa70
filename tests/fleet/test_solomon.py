from pathlib import Path

import pytest

from retailedge.bench.solomon import parse_instance, solomon_summary, solve_instance

TINY = """TINY

VEHICLE
NUMBER     CAPACITY
  2         10

CUSTOMER
CUST NO.  XCOORD.   YCOORD.    DEMAND   READY TIME  DUE DATE   SERVICE   TIME

    0      0          0          0          0        1000          0
    1      3          4          5          0        1000         10
    2      6          8          5          0        1000         10
    3      -3         -4         5          0         100         10
"""


def _write(tmp_path: Path, cost: float) -> Path:
    (tmp_path / "TINY.txt").write_text(TINY)
    (tmp_path / "TINY.sol").write_text(f"Route #1: 1 2\nRoute #2: 3\nCost {cost}\n")
    return tmp_path / "TINY.txt"


def test_parse_and_solve_a_tiny_instance(tmp_path: Path) -> None:
    path = _write(tmp_path, 30.0)
    instance = parse_instance(path)
    assert (instance.vehicles, instance.capacity, len(instance.rows)) == (2, 10, 4)
    result = solve_instance(path, 1.0)
    # Depot -> 1 -> 2 -> depot is 5 + 5 + 10, depot -> 3 -> depot is 10: the optimum is 30.
    assert result.unassigned == 0
    assert result.cost == pytest.approx(30.0)
    assert result.gap == pytest.approx(0.0)


def test_summary_and_skip_reason(tmp_path: Path) -> None:
    _write(tmp_path, 25.0)
    summary = solomon_summary(tmp_path, 0.5, 0)
    assert summary["solomon_instances"] == 1
    assert summary["solomon_mean_gap"] == pytest.approx(0.2)
    empty = solomon_summary(tmp_path / "absent", 0.5, 0)
    assert "no Solomon instances" in str(empty["solomon_skipped"])
