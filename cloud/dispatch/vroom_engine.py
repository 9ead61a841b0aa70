"""The VROOM engine (pyvroom): pickup-and-delivery with time windows, skills, capacities and
priorities, solved in milliseconds to a second for about a thousand stops."""

from __future__ import annotations

import datetime
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import vroom

from cloud.dispatch.engine import (
    EngineInput,
    EngineSolution,
    EngineStep,
    EngineVehicle,
    SolverError,
    StepKind,
    Window,
)

PROFILE = "car"
_STEP_TYPES = {b"pickup": StepKind.PICKUP, b"delivery": StepKind.DELIVERY, b"job": StepKind.SINGLE}
_STEP_NAMES = {StepKind.PICKUP: "pickup", StepKind.DELIVERY: "delivery", StepKind.SINGLE: "job"}
_MAX_DURATION = np.iinfo(np.uint32).max // 4


def _window(window: Window) -> list[int]:
    return [max(0, window.start), max(0, window.end)]


def _step(step: EngineStep) -> dict[str, Any]:
    return {"type": _STEP_NAMES[step.kind], "id": step.job_id}


def _vehicle(vehicle: EngineVehicle, with_initial: bool) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": vehicle.id,
        "start_index": vehicle.start,
        "capacity": [vehicle.capacity],
        "skills": sorted(vehicle.skills),
        "time_window": _window(vehicle.window),
    }
    if vehicle.end is not None:
        out["end_index"] = vehicle.end
    if with_initial and vehicle.initial:
        out["steps"] = [_step(step) for step in vehicle.initial]
    return out


def _document(problem: EngineInput, with_initial: bool) -> dict[str, Any]:
    """The instance in VROOM's JSON input format (the matrix is handed over separately)."""
    return {
        "vehicles": [_vehicle(v, with_initial) for v in problem.vehicles],
        "shipments": [
            {
                "pickup": {
                    "id": ship.id,
                    "location_index": ship.pickup,
                    "service": ship.pickup_service,
                    "time_windows": [_window(ship.pickup_window)],
                },
                "delivery": {
                    "id": ship.id + 1,
                    "location_index": ship.delivery,
                    "service": ship.delivery_service,
                    "time_windows": [_window(ship.delivery_window)],
                },
                "amount": [ship.amount],
                "skills": sorted(ship.skills),
                "priority": ship.priority,
            }
            for ship in problem.shipments
        ],
        "jobs": [
            {
                "id": drop.id,
                "location_index": drop.location,
                "service": drop.service,
                "delivery": [drop.amount],
                "skills": sorted(drop.skills),
                "priority": drop.priority,
                "time_windows": [_window(drop.window)],
            }
            for drop in problem.drops
        ],
    }


def _build(problem: EngineInput, with_initial: bool) -> vroom.Input:
    """A VROOM input read from its JSON format (one parse in C++, far cheaper than building
    pyvroom objects one by one), with the travel-time matrix set from the array."""
    if problem.durations.size and (
        problem.durations.min() < 0 or problem.durations.max() > _MAX_DURATION
    ):
        raise SolverError("travel times out of range for the engine")
    text = orjson.dumps(_document(problem, with_initial))
    with tempfile.NamedTemporaryFile(suffix=".json", prefix="vroom-") as handle:
        handle.write(text)
        handle.flush()
        instance = vroom.Input.from_json(Path(handle.name))
    instance.set_durations_matrix(PROFILE, problem.durations.astype(np.uint32))
    return instance


@dataclass(frozen=True)
class VroomEngine:
    """``exploration_level`` 1–5 trades time for quality; ``threads`` parallel search paths.

    Initial routes (the previous plan) seed the search; VROOM refuses initial routes that break a
    constraint, so when it does the instance is solved again from scratch within what is left.
    """

    exploration_level: int = 1
    threads: int = 2

    def solve(self, problem: EngineInput, budget_s: float) -> EngineSolution:
        if budget_s <= 0:
            raise SolverError("no time left to solve")
        if not problem.vehicles or not (problem.shipments or problem.drops):
            unassigned = {s.id for s in problem.shipments} | {d.id for d in problem.drops}
            return EngineSolution({}, frozenset(unassigned), 0)
        started = datetime.datetime.now()
        with_initial = any(v.initial for v in problem.vehicles)
        try:
            return self._solve(problem, budget_s, with_initial)
        except SolverError:
            raise
        except Exception as error:
            if not with_initial:
                raise SolverError(f"VROOM failed: {error}") from error
        left = budget_s - (datetime.datetime.now() - started).total_seconds()
        if left <= 0:
            raise SolverError("VROOM rejected the initial routes and no time is left")
        try:
            return self._solve(problem, left, False)
        except Exception as error:
            raise SolverError(f"VROOM failed: {error}") from error

    def _solve(self, problem: EngineInput, budget_s: float, with_initial: bool) -> EngineSolution:
        instance = _build(problem, with_initial)
        solution = instance.solve(
            exploration_level=self.exploration_level,
            nb_threads=self.threads,
            timeout=datetime.timedelta(seconds=budget_s),
        )
        return _read_solution(solution)


def _read_solution(solution: vroom.Solution) -> EngineSolution:
    # The structured array behind ``Solution.routes`` (that property wraps it in pandas, which
    # costs more than the solve on small instances).
    rows = np.asarray(solution._routes_numpy())
    routes: dict[int, list[EngineStep]] = {}
    for vehicle_id, kind_name, arrival, waiting, job_id in zip(
        rows["vehicle_id"].tolist(),
        rows["type"].tolist(),
        rows["arrival"].tolist(),
        rows["waiting_time"].tolist(),
        rows["id"].tolist(),
        strict=True,
    ):
        steps = routes.setdefault(int(vehicle_id), [])
        kind = _STEP_TYPES.get(kind_name)
        if kind is not None:
            steps.append(EngineStep(kind, int(job_id), int(arrival), int(arrival + waiting)))
    # The binding exposes an unassigned job's id and type only under these names.
    unassigned: set[int] = set()
    for job in solution.unassigned:
        job_id = int(job._id)
        unassigned.add(job_id - 1 if job._type == vroom.JOB_TYPE.DELIVERY else job_id)
    return EngineSolution(
        {vid: tuple(steps) for vid, steps in routes.items() if steps},
        frozenset(unassigned),
        int(solution.summary.cost),
    )
