"""Solomon VRPTW instances through the same routing engine, against best-known solutions.

Distances are Euclidean, truncated to one decimal (the DIMACS convention the best-known ``.sol``
costs use); the engine works in tenths. Vehicles return to the depot. The engine minimises total
distance (not vehicles first), like the distance-minimal ``.sol`` files.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cloud.dispatch.engine import EngineDrop, EngineInput, EngineVehicle, Window
from cloud.dispatch.vroom_engine import VroomEngine

SOLOMON_DIR = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "solomon"


@dataclass(frozen=True)
class SolomonInstance:
    name: str
    vehicles: int
    capacity: int
    rows: tuple[tuple[float, float, int, int, int, int], ...]  # x, y, demand, ready, due, service


def parse_instance(path: Path) -> SolomonInstance:
    lines = path.read_text().splitlines()
    vehicles = capacity = -1
    rows: list[tuple[float, float, int, int, int, int]] = []
    for i, line in enumerate(lines):
        if line.strip().startswith("NUMBER"):
            vehicles, capacity = (int(v) for v in lines[i + 1].split())
        parts = line.split()
        if len(parts) == 7 and all(re.fullmatch(r"-?\d+(\.\d+)?", p) for p in parts):
            _, x, y, demand, ready, due, service = parts
            rows.append((float(x), float(y), int(demand), int(ready), int(due), int(service)))
    if vehicles < 1 or len(rows) < 2:
        raise ValueError(f"{path}: not a Solomon instance")
    return SolomonInstance(path.stem, vehicles, capacity, tuple(rows))


def best_known_cost(path: Path) -> float:
    match = re.search(r"^Cost\s+([\d.]+)", path.read_text(), re.MULTILINE)
    if match is None:
        raise ValueError(f"{path}: no Cost line")
    return float(match.group(1))


def engine_input(instance: SolomonInstance) -> EngineInput:
    xy = np.array([(r[0], r[1]) for r in instance.rows])
    metres = np.sqrt(((xy[:, None, :] - xy[None, :, :]) ** 2).sum(axis=-1))
    tenths = np.floor(metres * 10 + 1e-9).astype(np.int64)
    depot = instance.rows[0]
    vehicles = tuple(
        EngineVehicle(
            id=v + 1,
            start=0,
            end=0,
            window=Window(depot[3] * 10, depot[4] * 10),
            capacity=instance.capacity,
            skills=frozenset(),
        )
        for v in range(instance.vehicles)
    )
    drops = tuple(
        EngineDrop(
            id=i,
            location=i,
            window=Window(row[3] * 10, row[4] * 10),
            service=row[5] * 10,
            amount=row[2],
            skills=frozenset(),
            priority=0,
        )
        for i, row in enumerate(instance.rows)
        if i > 0
    )
    return EngineInput(tenths, vehicles, (), drops)


@dataclass(frozen=True)
class SolomonResult:
    name: str
    cost: float
    best_known: float
    unassigned: int

    @property
    def gap(self) -> float:
        return self.cost / self.best_known - 1.0


def solve_instance(txt: Path, budget_s: float) -> SolomonResult:
    instance = parse_instance(txt)
    solution = VroomEngine(exploration_level=5).solve(engine_input(instance), budget_s)
    return SolomonResult(
        instance.name,
        solution.cost / 10,
        best_known_cost(txt.with_suffix(".sol")),
        len(solution.unassigned),
    )


def solomon_summary(directory: Path, budget_s: float, limit: int) -> dict[str, object]:
    """Mean and worst gap to best-known over the first ``limit`` instances (all when 0 or less);
    ``{"solomon_skipped": reason}`` when the data is absent."""
    files = sorted(p for p in directory.glob("*.txt") if p.with_suffix(".sol").is_file())
    if not files:
        return {"solomon_skipped": f"no Solomon instances in {directory}"}
    if limit > 0:
        files = files[:limit]
    results = [solve_instance(path, budget_s) for path in files]
    complete = [r for r in results if r.unassigned == 0]
    gaps = [r.gap for r in complete]
    return {
        "solomon_instances": len(results),
        "solomon_budget_s": budget_s,
        "solomon_mean_gap": round(sum(gaps) / len(gaps), 4) if gaps else math.nan,
        "solomon_max_gap": round(max(gaps), 4) if gaps else math.nan,
        "solomon_incomplete": [r.name for r in results if r.unassigned],
        "solomon_gaps": {r.name: round(r.gap, 4) for r in complete},
    }
