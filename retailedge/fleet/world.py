"""The simulated street world: couriers moving on a Manhattan grid at the scenario's speed.

A courier goes north-south first, then east-west, so the path is longer than the straight line by
the grid's own detour (the dispatcher does not know it; it learns it from the GPS fixes this world
emits). Speed varies with the hour of day by the scenario's traffic factors.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from cloud.dispatch.eta import GpsFix, Point, haversine_m
from cloud.dispatch.problem import StopKind
from retailedge.fleet.scenario import Courier, Order, Params


class SimulationError(RuntimeError):
    """The world was asked to do something physically impossible (a broken plan)."""


@dataclass(frozen=True)
class Stop:
    order_id: str
    kind: StopKind


@dataclass
class OrderState:
    order: Order
    pickup_point: Point
    picked_s: float | None = None
    delivered_s: float | None = None
    courier_id: str | None = None
    batched: bool = False
    predicted_drop_s: float | None = None
    drops: int = 0


@dataclass
class Visit:
    """A stop in progress: travel, waiting and service, ending at ``done_s``."""

    stop: Stop
    depart_s: float
    origin: Point
    corner: Point
    target: Point
    arrive_s: float
    service_start_s: float
    done_s: float


@dataclass
class CourierState:
    courier: Courier
    position: Point
    clock_s: float
    route: list[Stop] = field(default_factory=list)
    current: Visit | None = None
    onboard: set[str] = field(default_factory=set)
    busy_s: float = 0.0
    metres: float = 0.0
    max_load: int = 0

    @property
    def on_s(self) -> float:
        return self.courier.on_min * 60

    @property
    def off_s(self) -> float:
        return self.courier.off_min * 60

    def on_shift(self, t_s: float) -> bool:
        return self.on_s <= t_s < self.off_s


def grid_path(a: Point, b: Point) -> tuple[Point, float]:
    """The corner of the north-south-then-east-west path from a to b, and the path length."""
    corner = Point(b.lat, a.lon)
    return corner, haversine_m(a, corner) + haversine_m(corner, b)


class World:
    def __init__(
        self,
        params: Params,
        couriers: tuple[Courier, ...],
        orders: dict[str, OrderState],
        on_pickup: Callable[[CourierState, Visit], None] | None = None,
    ) -> None:
        self.params = params
        self.orders = orders
        self.on_pickup = on_pickup
        self.couriers = {c.id: CourierState(c, c.point, c.on_min * 60) for c in couriers}

    def speed_mps(self, t_s: float) -> float:
        return self.params.speed_m_per_min / 60 * self.params.traffic_by_hour[int(t_s // 3600) % 24]

    def stop_point(self, stop: Stop) -> Point:
        state = self.orders[stop.order_id]
        return state.pickup_point if stop.kind is StopKind.PICKUP else state.order.point

    def _begin(self, c: CourierState, stop: Stop, t_s: float) -> Visit:
        target = self.stop_point(stop)
        corner, metres = grid_path(c.position, target)
        arrive = t_s + metres / self.speed_mps(t_s)
        state = self.orders[stop.order_id]
        if stop.kind is StopKind.PICKUP:
            if state.picked_s is not None or state.courier_id not in (None, c.courier.id):
                raise SimulationError(f"order {stop.order_id} is already with a courier")
            state.courier_id = c.courier.id
            start = max(arrive, state.order.ready_min * 60)
            done = start + self.params.pickup_service_min * 60
        else:
            if stop.order_id not in c.onboard:
                raise SimulationError(f"courier {c.courier.id} drops {stop.order_id} it lacks")
            start = arrive
            done = start + self.params.dropoff_service_min * 60
        c.metres += metres
        return Visit(stop, t_s, c.position, corner, target, arrive, start, done)

    def _finish(self, c: CourierState, visit: Visit) -> None:
        state = self.orders[visit.stop.order_id]
        if visit.stop.kind is StopKind.PICKUP:
            if visit.service_start_s < state.order.ready_min * 60:
                raise SimulationError(f"order {state.order.id} picked before it was ready")
            state.picked_s = visit.service_start_s
            if c.onboard:
                state.batched = True
                for other in c.onboard:
                    self.orders[other].batched = True
            c.onboard.add(state.order.id)
            c.max_load = max(c.max_load, len(c.onboard))
            if len(c.onboard) > self.params.courier_capacity:
                raise SimulationError(f"courier {c.courier.id} over capacity")
        else:
            c.onboard.discard(state.order.id)
            state.delivered_s = visit.done_s
            state.drops += 1
        c.busy_s += visit.done_s - visit.depart_s
        c.position = visit.target
        c.clock_s = visit.done_s
        if visit.stop.kind is StopKind.PICKUP and self.on_pickup is not None:
            self.on_pickup(c, visit)

    def advance(self, c: CourierState, until_s: float) -> list[Visit]:
        """Run a courier's work up to ``until_s``; the visits that ended, in order."""
        ended: list[Visit] = []
        while True:
            if c.current is None:
                if not c.route:
                    c.clock_s = max(c.clock_s, until_s)
                    return ended
                c.current = self._begin(c, c.route.pop(0), c.clock_s)
            if c.current.done_s > until_s:
                return ended
            visit = c.current
            self._finish(c, visit)
            c.current = None
            ended.append(visit)

    def fix(self, c: CourierState, t_s: float) -> GpsFix:
        """Where the courier is at ``t_s`` (on its grid path, or standing at a stop)."""
        visit = c.current
        if visit is None or t_s >= visit.arrive_s:
            where = c.position if visit is None else visit.target
            return GpsFix(c.courier.id, t_s, where.lat, where.lon)
        length = haversine_m(visit.origin, visit.corner) + haversine_m(visit.corner, visit.target)
        covered = (t_s - visit.depart_s) / max(1e-9, visit.arrive_s - visit.depart_s) * length
        first = haversine_m(visit.origin, visit.corner)
        if covered <= first:
            a, b, f = visit.origin, visit.corner, covered / max(1e-9, first)
        else:
            rest = length - first
            a, b, f = visit.corner, visit.target, (covered - first) / max(1e-9, rest)
        return GpsFix(c.courier.id, t_s, a.lat + (b.lat - a.lat) * f, a.lon + (b.lon - a.lon) * f)
