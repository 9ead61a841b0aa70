"""Scenario files: ``pickups.csv``, ``couriers.csv``, ``orders.csv`` and ``params.json``.

Every error names the file, the line and the column (or key) at fault.
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from cloud.dispatch.eta import Point

T = TypeVar("T")

PICKUP_COLUMNS = ("id", "lat", "lon")
COURIER_COLUMNS = ("id", "lat", "lon", "on_min", "off_min")
ORDER_COLUMNS = ("id", "placed_min", "ready_min", "pickup_id", "lat", "lon")
REQUIRED_PARAMS = (
    "speed_m_per_min",
    "pickup_service_min",
    "dropoff_service_min",
    "target_click_to_door_min",
    "max_click_to_door_min",
)


class ScenarioError(ValueError):
    def __init__(self, path: Path, line: int, column: str, message: str) -> None:
        super().__init__(f"{path}: line {line}, column {column}: {message}")
        self.path, self.line, self.column = path, line, column


@dataclass(frozen=True)
class Pickup:
    id: str
    point: Point


@dataclass(frozen=True)
class Courier:
    id: str
    point: Point
    on_min: float
    off_min: float


@dataclass(frozen=True)
class Order:
    id: str
    placed_min: float
    ready_min: float
    pickup_id: str
    point: Point


@dataclass(frozen=True)
class Params:
    """Required keys as in the issue; optional: ``courier_capacity`` (orders a courier carries at
    once, 4), ``traffic_by_hour`` (24 speed factors the simulated streets apply, all 1.0),
    ``max_ride_min`` (pickup-to-drop limit for every order, none)."""

    speed_m_per_min: float
    pickup_service_min: float
    dropoff_service_min: float
    target_click_to_door_min: float
    max_click_to_door_min: float
    courier_capacity: int = 4
    traffic_by_hour: tuple[float, ...] = field(default=(1.0,) * 24)
    max_ride_min: float | None = None


@dataclass(frozen=True)
class Scenario:
    pickups: tuple[Pickup, ...]
    couriers: tuple[Courier, ...]
    orders: tuple[Order, ...]
    params: Params


def _rows(path: Path, columns: tuple[str, ...]) -> Iterator[tuple[int, dict[str, str]]]:
    if not path.is_file():
        raise ScenarioError(path, 0, "-", "file not found")
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        header = reader.fieldnames or []
        for column in columns:
            if column not in header:
                raise ScenarioError(path, 1, column, "missing column")
        for row in reader:
            line = reader.line_num
            if None in row or any(row.get(c) is None for c in columns):
                raise ScenarioError(path, line, "-", f"expected {len(header)} fields")
            yield line, row


def _number(path: Path, line: int, column: str, text: str, check: Callable[[float], bool]) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ScenarioError(path, line, column, f"{text!r} is not a number") from None
    if not math.isfinite(value) or not check(value):
        raise ScenarioError(path, line, column, f"{text!r} is out of range")
    return value


def _point(path: Path, line: int, row: dict[str, str]) -> Point:
    lat = _number(path, line, "lat", row["lat"], lambda v: -90 <= v <= 90)
    lon = _number(path, line, "lon", row["lon"], lambda v: -180 <= v <= 180)
    return Point(lat, lon)


def _unique_id(path: Path, line: int, row: dict[str, str], seen: set[str]) -> str:
    ident = row["id"].strip()
    if not ident:
        raise ScenarioError(path, line, "id", "empty id")
    if ident in seen:
        raise ScenarioError(path, line, "id", f"duplicate id {ident!r}")
    seen.add(ident)
    return ident


def load_pickups(path: Path) -> tuple[Pickup, ...]:
    seen: set[str] = set()
    return tuple(
        Pickup(_unique_id(path, line, row, seen), _point(path, line, row))
        for line, row in _rows(path, PICKUP_COLUMNS)
    )


def load_couriers(path: Path) -> tuple[Courier, ...]:
    seen: set[str] = set()
    couriers = []
    for line, row in _rows(path, COURIER_COLUMNS):
        on = _number(path, line, "on_min", row["on_min"], lambda v: v >= 0)
        off = _number(path, line, "off_min", row["off_min"], lambda v: v >= 0)
        if off <= on:
            raise ScenarioError(path, line, "off_min", f"{off:g} is not after on_min {on:g}")
        ident = _unique_id(path, line, row, seen)
        couriers.append(Courier(ident, _point(path, line, row), on, off))
    return tuple(couriers)


def load_orders(path: Path, pickups: set[str]) -> tuple[Order, ...]:
    seen: set[str] = set()
    orders = []
    for line, row in _rows(path, ORDER_COLUMNS):
        placed = _number(path, line, "placed_min", row["placed_min"], lambda v: v >= 0)
        ready = _number(path, line, "ready_min", row["ready_min"], lambda v: v >= 0)
        if ready < placed:
            raise ScenarioError(path, line, "ready_min", f"{ready:g} is before placed_min")
        pickup_id = row["pickup_id"].strip()
        if pickup_id not in pickups:
            raise ScenarioError(path, line, "pickup_id", f"unknown pickup {pickup_id!r}")
        ident = _unique_id(path, line, row, seen)
        orders.append(Order(ident, placed, ready, pickup_id, _point(path, line, row)))
    return tuple(orders)


def _param(path: Path, data: dict[str, Any], key: str, check: Callable[[float], bool]) -> float:
    value = data[key]
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ScenarioError(path, 1, key, f"{value!r} is not a number")
    if not math.isfinite(value) or not check(value):
        raise ScenarioError(path, 1, key, f"{value!r} is out of range")
    return float(value)


def load_params(path: Path) -> Params:
    if not path.is_file():
        raise ScenarioError(path, 0, "-", "file not found")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise ScenarioError(path, error.lineno, str(error.colno), error.msg) from None
    if not isinstance(data, dict):
        raise ScenarioError(path, 1, "-", "expected a JSON object")
    for key in REQUIRED_PARAMS:
        if key not in data:
            raise ScenarioError(path, 1, key, "missing key")
    positive, non_negative = (lambda v: v > 0), (lambda v: v >= 0)
    target = _param(path, data, "target_click_to_door_min", positive)
    traffic = data.get("traffic_by_hour", [1.0] * 24)
    if not isinstance(traffic, list) or len(traffic) != 24:
        raise ScenarioError(path, 1, "traffic_by_hour", "expected a list of 24 numbers")
    capacity = _param(path, data, "courier_capacity", positive) if "courier_capacity" in data else 4
    max_ride = data.get("max_ride_min")
    return Params(
        speed_m_per_min=_param(path, data, "speed_m_per_min", positive),
        pickup_service_min=_param(path, data, "pickup_service_min", non_negative),
        dropoff_service_min=_param(path, data, "dropoff_service_min", non_negative),
        target_click_to_door_min=target,
        max_click_to_door_min=_param(path, data, "max_click_to_door_min", lambda v: v >= target),
        courier_capacity=int(capacity),
        traffic_by_hour=tuple(
            _param(path, {"traffic_by_hour": v}, "traffic_by_hour", positive) for v in traffic
        ),
        max_ride_min=None if max_ride is None else _param(path, data, "max_ride_min", positive),
    )


def load_scenario(directory: Path) -> Scenario:
    pickups = load_pickups(directory / "pickups.csv")
    couriers = load_couriers(directory / "couriers.csv")
    orders = load_orders(directory / "orders.csv", {p.id for p in pickups})
    return Scenario(pickups, couriers, orders, load_params(directory / "params.json"))


def write_scenario(directory: Path, scenario: Scenario) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    with (directory / "pickups.csv").open("w", newline="", encoding="utf-8") as handle:
        out = csv.writer(handle)
        out.writerow(PICKUP_COLUMNS)
        out.writerows((p.id, f"{p.point.lat:.6f}", f"{p.point.lon:.6f}") for p in scenario.pickups)
    with (directory / "couriers.csv").open("w", newline="", encoding="utf-8") as handle:
        out = csv.writer(handle)
        out.writerow(COURIER_COLUMNS)
        out.writerows(
            (c.id, f"{c.point.lat:.6f}", f"{c.point.lon:.6f}", f"{c.on_min:g}", f"{c.off_min:g}")
            for c in scenario.couriers
        )
    with (directory / "orders.csv").open("w", newline="", encoding="utf-8") as handle:
        out = csv.writer(handle)
        out.writerow(ORDER_COLUMNS)
        out.writerows(
            (
                o.id,
                f"{o.placed_min:.1f}",
                f"{o.ready_min:.1f}",
                o.pickup_id,
                f"{o.point.lat:.6f}",
                f"{o.point.lon:.6f}",
            )
            for o in scenario.orders
        )
    p = scenario.params
    params: dict[str, Any] = {
        "speed_m_per_min": p.speed_m_per_min,
        "pickup_service_min": p.pickup_service_min,
        "dropoff_service_min": p.dropoff_service_min,
        "target_click_to_door_min": p.target_click_to_door_min,
        "max_click_to_door_min": p.max_click_to_door_min,
        "courier_capacity": p.courier_capacity,
        "traffic_by_hour": list(p.traffic_by_hour),
    }
    if p.max_ride_min is not None:
        params["max_ride_min"] = p.max_ride_min
    (directory / "params.json").write_text(json.dumps(params, indent=2) + "\n", encoding="utf-8")
