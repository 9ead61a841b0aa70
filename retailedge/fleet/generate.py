"""Synthetic recorded days: orders from several sales channels, each with its own daily demand
curve and kitchen/picking time, around a handful of stores; couriers on staggered shifts."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

from cloud.dispatch.eta import Point
from retailedge.fleet.scenario import Courier, Order, Params, Pickup, Scenario

SHANGHAI = Point(31.2304, 121.4737)
METRES_PER_DEG_LAT = 111_320.0


@dataclass(frozen=True)
class Channel:
    """Share of the day's orders, demand peaks as (hour, width in hours, weight), prep minutes."""

    name: str
    share: float
    peaks: tuple[tuple[float, float, float], ...]
    prep_min: tuple[float, float]


CHANNELS = (
    Channel("own-app", 0.40, ((11.8, 1.0, 1.0), (18.3, 1.2, 1.2), (15.0, 3.0, 0.3)), (5, 12)),
    Channel("platform", 0.35, ((12.0, 0.8, 1.3), (18.8, 1.0, 1.0)), (8, 15)),
    Channel("mini-program", 0.25, ((10.0, 2.0, 0.6), (20.5, 1.3, 1.0)), (4, 10)),
)
SHIFTS = ((9 * 60, 15 * 60), (10.5 * 60, 14.5 * 60), (16 * 60, 22 * 60), (11 * 60, 21 * 60))
TRAFFIC = tuple(
    0.8 if h in (8, 9, 17, 18) else 0.9 if h in (7, 12, 13, 19) else 1.1 if h < 6 or h > 21 else 1.0
    for h in range(24)
)


def _offset(origin: Point, north_m: float, east_m: float) -> Point:
    lat = origin.lat + north_m / METRES_PER_DEG_LAT
    lon = origin.lon + east_m / (METRES_PER_DEG_LAT * math.cos(math.radians(origin.lat)))
    return Point(round(lat, 6), round(lon, 6))


def _demand(channel: Channel, hour: float) -> float:
    return sum(w * math.exp(-0.5 * ((hour - h) / width) ** 2) for h, width, w in channel.peaks)


def placed_minute(rng: random.Random, channel: Channel, open_h: float, close_h: float) -> float:
    top = max(_demand(channel, open_h + i * 0.05) for i in range(int((close_h - open_h) / 0.05)))
    while True:  # rejection sampling from the channel's daily curve
        hour = rng.uniform(open_h, close_h)
        if rng.uniform(0, top) <= _demand(channel, hour):
            return round(hour * 60, 1)


def generate_scenario(
    seed: int = 7,
    orders: int = 300,
    couriers: int = 20,
    stores: int = 6,
    center: Point = SHANGHAI,
    radius_m: float = 3000.0,
) -> Scenario:
    rng = random.Random(seed)
    pickups = tuple(
        Pickup(
            f"store-{i + 1}",
            _offset(center, rng.uniform(-radius_m, radius_m), rng.uniform(-radius_m, radius_m)),
        )
        for i in range(stores)
    )
    fleet = []
    for i in range(couriers):
        on, off = SHIFTS[i % len(SHIFTS)]
        home = rng.choice(pickups).point
        fleet.append(
            Courier(
                f"courier-{i + 1:02d}", _offset(home, rng.gauss(0, 300), rng.gauss(0, 300)), on, off
            )
        )
    made = []
    for n in range(orders):
        channel = rng.choices(CHANNELS, weights=[c.share for c in CHANNELS])[0]
        placed = placed_minute(rng, channel, 9.5, 21.5)
        ready = round(placed + rng.uniform(*channel.prep_min), 1)
        store = rng.choice(pickups)
        distance = min(4000.0, abs(rng.gauss(0, 1500)) + 200)
        angle = rng.uniform(0, 2 * math.pi)
        drop = _offset(store.point, distance * math.cos(angle), distance * math.sin(angle))
        made.append(Order(f"{channel.name}-{n + 1:04d}", placed, ready, store.id, drop))
    made.sort(key=lambda o: (o.placed_min, o.id))
    params = Params(
        speed_m_per_min=250.0,
        pickup_service_min=2.0,
        dropoff_service_min=3.0,
        target_click_to_door_min=45.0,
        max_click_to_door_min=75.0,
        courier_capacity=4,
        traffic_by_hour=TRAFFIC,
    )
    return Scenario(pickups, tuple(fleet), tuple(made), params)


def main() -> None:
    """``python -m retailedge.fleet.generate DIR [SEED]`` writes a day (the committed sample:
    ``retailedge/fleet/sample_day``, seed 7)."""
    import sys
    from pathlib import Path

    from retailedge.fleet.scenario import write_scenario

    seed = int(sys.argv[2]) if len(sys.argv) > 2 else 7
    write_scenario(Path(sys.argv[1]), generate_scenario(seed=seed))


if __name__ == "__main__":
    main()
