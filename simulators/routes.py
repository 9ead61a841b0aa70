"""Named delivery routes: closed loops of real streets starting at a front warehouse.

Points are (lat, lon) in WGS84 degrees at street corners, accurate to roughly 100 m (Chinese web
maps show GCJ-02 coordinates, which are offset by a few hundred metres from these). Each loop starts
and ends at the warehouse; the walker closes the loop from the last point back to the first.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

from simulators.geo import bearing_deg as bearing_deg
from simulators.geo import haversine_m as haversine_m
from simulators.walker import RouteWalker as RouteWalker
from simulators.walker import VanState as VanState


@dataclass(frozen=True)
class Route:
    name: str
    city: str
    description: str
    points: tuple[tuple[float, float], ...]

    @cached_property
    def length_m(self) -> float:
        """Length of the closed loop in metres."""
        loop = [*self.points, self.points[0]]
        return sum(
            haversine_m(lat1, lon1, lat2, lon2)
            for (lat1, lon1), (lat2, lon2) in itertools.pairwise(loop)
        )

    def walker(self, speed_mps: float, *, seed: int = 0, traffic: bool = True) -> RouteWalker:
        return RouteWalker(self.points, speed_mps, seed=seed, traffic=traffic)


SHANGHAI = Route(
    name="shanghai",
    city="Shanghai",
    description=(
        "Jing'an front warehouse on Yuyuan Rd; Nanjing Rd W east to Shimen No.1 Rd, south to "
        "Yan'an Rd, Maoming Rd S, Huaihai Rd M west to Changshu Rd, north to Jing'an Temple"
    ),
    points=(
        (31.2226, 121.4400),  # front warehouse, Yuyuan Rd at Wulumuqi Rd N
        (31.2237, 121.4458),  # Jing'an Temple: Nanjing Rd W / Huashan Rd
        (31.2250, 121.4500),  # Nanjing Rd W / Changde Rd
        (31.2268, 121.4560),  # Nanjing Rd W / Shaanxi Rd N
        (31.2282, 121.4604),  # Nanjing Rd W / Maoming Rd N
        (31.2295, 121.4640),  # Nanjing Rd W / Shimen No.1 Rd
        (31.2262, 121.4648),  # Shimen No.1 Rd / Weihai Rd
        (31.2232, 121.4655),  # Shimen No.1 Rd / Yan'an Rd M
        (31.2222, 121.4615),  # Yan'an Rd M / Maoming Rd S
        (31.2172, 121.4620),  # Maoming Rd S / Huaihai Rd M
        (31.2153, 121.4589),  # Huaihai Rd M / Shaanxi Rd S
        (31.2135, 121.4500),  # Huaihai Rd M / Changshu Rd
        (31.2188, 121.4490),  # Changshu Rd / Julu Rd
        (31.2218, 121.4475),  # Changshu Rd / Yan'an Rd M
        (31.2237, 121.4458),  # back at Jing'an Temple
    ),
)

HANGZHOU = Route(
    name="hangzhou",
    city="Hangzhou",
    description=(
        "Wulin Square front warehouse; Tiyuchang Rd east to Zhongshan Rd, south to Jiefang Rd, "
        "west to the West Lake shore, north along Hubin Rd and Huancheng Rd W back to Tiyuchang Rd"
    ),
    points=(
        (30.2730, 120.1645),  # front warehouse, north side of Wulin Square
        (30.2740, 120.1720),  # Tiyuchang Rd / Zhongshan Rd N
        (30.2640, 120.1720),  # Zhongshan Rd M / Qingchun Rd
        (30.2545, 120.1715),  # Zhongshan Rd M / Jiefang Rd
        (30.2545, 120.1660),  # Jiefang Rd / Yan'an Rd
        (30.2550, 120.1625),  # Jiefang Rd at Hubin Rd, lake shore
        (30.2620, 120.1610),  # Hubin Rd / Qingchun Rd
        (30.2640, 120.1590),  # Huancheng Rd W / Beishan Rd
        (30.2745, 120.1580),  # Huancheng Rd W / Tiyuchang Rd
    ),
)

ROUTES: dict[str, Route] = {route.name: route for route in (SHANGHAI, HANGZHOU)}


def get_route(name: str) -> Route:
    try:
        return ROUTES[name]
    except KeyError:
        known = ", ".join(sorted(ROUTES))
        raise ValueError(f"unknown route {name!r}; known routes: {known}") from None


route_by_name = get_route


def route_names() -> Sequence[str]:
    return sorted(ROUTES)
