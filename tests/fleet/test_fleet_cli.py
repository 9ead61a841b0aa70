import json
import shutil
from pathlib import Path

from click.testing import CliRunner

from retailedge.cli import root
from retailedge.fleet.scenario import write_scenario
from tests.fleet.test_replay import SAMPLE, tiny_day

FLEET_KEYS = {
    "orders",
    "delivered",
    "on_time_rate",
    "mean_click_to_door_min",
    "p90_click_to_door_min",
    "orders_per_courier_hour",
    "km_per_order",
    "batch_rate",
    "eta_mae_min",
}
BENCH_KEYS = {
    "tasks",
    "riders",
    "replan_p50_ms",
    "replan_p99_ms",
    "cost_ratio_vs_30s",
    "orders_per_rider_hour",
    "baseline_orders_per_rider_hour",
    "on_time_rate",
    "baseline_on_time_rate",
}


def test_simulate_fleet_prints_the_day_as_json(tmp_path: Path) -> None:
    write_scenario(tmp_path, tiny_day())
    for policy in ("engine", "baseline"):
        result = CliRunner().invoke(
            root, ["simulate", "fleet", "--scenario", str(tmp_path), "--policy", policy, "--json"]
        )
        assert result.exit_code == 0, result.output
        figures = json.loads(result.output)
        assert set(figures) >= FLEET_KEYS
        assert figures["orders"] == figures["delivered"] == 14
        assert figures["policy"] == policy


def test_simulate_fleet_names_the_bad_cell(tmp_path: Path) -> None:
    day = tmp_path / "day"
    shutil.copytree(SAMPLE, day)
    text = (day / "pickups.csv").read_text().splitlines()
    text[2] = text[2].split(",")[0] + ",north,121.4"
    (day / "pickups.csv").write_text("\n".join(text) + "\n")
    result = CliRunner().invoke(root, ["simulate", "fleet", "--scenario", str(day)])
    assert result.exit_code == 1
    assert "pickups.csv: line 3, column lat: 'north' is not a number" in result.output


def test_bench_dispatch_quick_json_has_the_figures() -> None:
    result = CliRunner().invoke(
        root, ["bench", "dispatch", "--quick", "--solomon-limit", "1", "--json"]
    )
    assert result.exit_code == 0, result.output
    figures = json.loads(result.output.splitlines()[-1])
    assert set(figures) >= BENCH_KEYS
    assert figures["tasks"] > 0 and figures["riders"] == 8
    assert 0 < figures["replan_p50_ms"] <= figures["replan_p99_ms"]
    assert figures["cost_ratio_vs_30s"] > 0.5
    assert figures["orders_per_rider_hour"] > 0 and figures["baseline_orders_per_rider_hour"] > 0
    assert "solomon_mean_gap" in figures or "solomon_skipped" in figures
