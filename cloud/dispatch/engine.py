"""The routing-engine interface: an integer pickup-and-delivery instance in, routes out.

Times are whole seconds from the start of the plan (0 = now), windows are hard, the objective is
total travel time after assigning as much priority as possible. Any engine (VROOM, OR-Tools) that
honours this contract can be plugged into the planner.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

import numpy as np
import numpy.typing as npt


class SolverError(RuntimeError):
    """The engine failed or returned something unusable; the caller keeps its previous plan."""


class StepKind(StrEnum):
    PICKUP = "pickup"  # first half of a shipment
    DELIVERY = "delivery"  # second half of a shipment
    SINGLE = "single"  # a drop of goods already on board


@dataclass(frozen=True)
class Window:
    start: int
    end: int


@dataclass(frozen=True)
class EngineStep:
    kind: StepKind
    job_id: int
    arrival: int = 0
    service_start: int = 0


@dataclass(frozen=True)
class EngineVehicle:
    id: int
    start: int  # location index
    window: Window
    capacity: int
    skills: frozenset[int]
    initial: tuple[EngineStep, ...] = ()
    end: int | None = None  # location index to return to; None: the route ends at its last stop


@dataclass(frozen=True)
class EngineShipment:
    """Pickup ``id``, delivery ``id + 1``."""

    id: int
    pickup: int
    delivery: int
    pickup_window: Window
    delivery_window: Window
    pickup_service: int
    delivery_service: int
    amount: int
    skills: frozenset[int]
    priority: int


@dataclass(frozen=True)
class EngineDrop:
    """Goods already on board: loaded at the vehicle's start, dropped at ``location``."""

    id: int
    location: int
    window: Window
    service: int
    amount: int
    skills: frozenset[int]
    priority: int


@dataclass(frozen=True)
class EngineInput:
    durations: npt.NDArray[np.int64]
    vehicles: tuple[EngineVehicle, ...]
    shipments: tuple[EngineShipment, ...]
    drops: tuple[EngineDrop, ...]


@dataclass(frozen=True)
class EngineSolution:
    routes: dict[int, tuple[EngineStep, ...]]
    unassigned: frozenset[int]  # shipment ids (pickup ids) and drop ids
    cost: int


class RoutingEngine(Protocol):
    def solve(self, problem: EngineInput, budget_s: float) -> EngineSolution:
        """Best solution found within ``budget_s`` seconds; raises :class:`SolverError`."""
        ...
