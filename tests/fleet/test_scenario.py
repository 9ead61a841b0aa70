import json
import shutil
from pathlib import Path

import pytest

from retailedge.fleet.generate import generate_scenario
from retailedge.fleet.scenario import ScenarioError, load_scenario, write_scenario

SAMPLE = Path(__file__).resolve().parents[2] / "retailedge" / "fleet" / "sample_day"


def test_generated_day_round_trips(tmp_path: Path) -> None:
    scenario = generate_scenario(seed=3, orders=40, couriers=5)
    write_scenario(tmp_path, scenario)
    loaded = load_scenario(tmp_path)
    assert loaded.params == scenario.params
    assert [c.id for c in loaded.couriers] == [c.id for c in scenario.couriers]
    assert [(o.id, o.pickup_id) for o in loaded.orders] == [
        (o.id, o.pickup_id) for o in scenario.orders
    ]
    assert all(o.ready_min >= o.placed_min for o in loaded.orders)
    assert {o.id.rsplit("-", 1)[0] for o in loaded.orders} <= {
        "own-app",
        "platform",
        "mini-program",
    }


def test_committed_sample_day_is_what_the_generator_makes(tmp_path: Path) -> None:
    sample = load_scenario(SAMPLE)
    assert 200 <= len(sample.orders) <= 500 and 15 <= len(sample.couriers) <= 25
    write_scenario(tmp_path, generate_scenario(seed=7))
    for name in ("pickups.csv", "couriers.csv", "orders.csv", "params.json"):
        assert (tmp_path / name).read_text() == (SAMPLE / name).read_text()


def _copy(tmp_path: Path) -> Path:
    target = tmp_path / "day"
    shutil.copytree(SAMPLE, target)
    return target


def _edit(path: Path, line: int, old: str, new: str) -> None:
    lines = path.read_text().splitlines()
    assert old in lines[line - 1]
    lines[line - 1] = lines[line - 1].replace(old, new, 1)
    path.write_text("\n".join(lines) + "\n")


def test_missing_column_names_file_line_and_column(tmp_path: Path) -> None:
    day = _copy(tmp_path)
    _edit(day / "couriers.csv", 1, "off_min", "off")
    with pytest.raises(
        ScenarioError, match=r"couriers\.csv: line 1, column off_min: missing column"
    ):
        load_scenario(day)


def test_bad_number_names_file_line_and_column(tmp_path: Path) -> None:
    day = _copy(tmp_path)
    row = (day / "orders.csv").read_text().splitlines()[3].split(",")
    _edit(day / "orders.csv", 4, f",{row[1]},", ",soon,")
    with pytest.raises(ScenarioError, match=r"orders\.csv: line 4, column placed_min: 'soon'"):
        load_scenario(day)


def test_unknown_pickup_and_early_ready_are_refused(tmp_path: Path) -> None:
    day = _copy(tmp_path)
    row = (day / "orders.csv").read_text().splitlines()[1].split(",")
    _edit(day / "orders.csv", 2, f",{row[3]},", ",store-99,")
    with pytest.raises(ScenarioError, match=r"line 2, column pickup_id: unknown pickup"):
        load_scenario(day)
    day2 = tmp_path / "day2"
    shutil.copytree(SAMPLE, day2)
    _edit(day2 / "orders.csv", 2, f",{row[2]},", ",1.0,")
    with pytest.raises(ScenarioError, match=r"line 2, column ready_min: .* before placed_min"):
        load_scenario(day2)


def test_params_errors_name_the_key(tmp_path: Path) -> None:
    day = _copy(tmp_path)
    params = json.loads((day / "params.json").read_text())
    del params["speed_m_per_min"]
    (day / "params.json").write_text(json.dumps(params))
    with pytest.raises(
        ScenarioError, match=r"params\.json: line 1, column speed_m_per_min: missing"
    ):
        load_scenario(day)
    params["speed_m_per_min"] = "fast"
    (day / "params.json").write_text(json.dumps(params))
    with pytest.raises(ScenarioError, match=r"column speed_m_per_min: 'fast' is not a number"):
        load_scenario(day)
    params["speed_m_per_min"] = 250
    params["max_click_to_door_min"] = 10
    (day / "params.json").write_text(json.dumps(params))
    with pytest.raises(ScenarioError, match=r"column max_click_to_door_min: .*out of range"):
        load_scenario(day)
