"""Cut the land of the example network's region out of Natural Earth's 1:10m land polygons.

The console draws its offline base from known geography; the coastline comes from Natural Earth
(public domain), as published in TopoJSON by the npm package ``world-atlas``. To refresh it:

    npm pack world-atlas@2.0.2 && tar xzf world-atlas-2.0.2.tgz
    python -m tests.console.land package/land-10m.json

which rewrites ``tests/console/natural_earth_land.geojson`` (committed: a few kilobytes, where
the source is 3 MB); ``python -m tests.console.basemap`` then merges it into the base map.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

LAND_CLIP = Path(__file__).with_name("natural_earth_land.geojson")

REGION = (119.8, 29.9, 122.3, 32.0)
"""west, south, east, north: Shanghai, Hangzhou and the water between them."""

Point = tuple[float, float]
Ring = list[Point]


def decode_arcs(topology: dict[str, Any]) -> list[list[Point]]:
    """A quantized TopoJSON topology's arcs as absolute (lon, lat) points."""
    scale_x, scale_y = topology["transform"]["scale"]
    shift_x, shift_y = topology["transform"]["translate"]
    arcs: list[list[Point]] = []
    for arc in topology["arcs"]:
        x = y = 0
        points: list[Point] = []
        for dx, dy in arc:
            x += dx
            y += dy
            points.append((x * scale_x + shift_x, y * scale_y + shift_y))
        arcs.append(points)
    return arcs


def ring_of(arc_ids: Sequence[int], arcs: Sequence[Sequence[Point]]) -> Ring:
    """Join a ring's arcs (a negative id ``~i`` is arc i reversed), sharing end points once."""
    ring: Ring = []
    for arc_id in arc_ids:
        points = list(arcs[arc_id]) if arc_id >= 0 else list(reversed(arcs[~arc_id]))
        ring.extend(points if not ring else points[1:])
    return ring


def outer_rings(topology: dict[str, Any], name: str) -> list[Ring]:
    """The outer ring of every polygon of object ``name`` (Natural Earth land has no holes
    that matter at city scale)."""
    arcs = decode_arcs(topology)
    rings: list[Ring] = []
    for geometry in topology["objects"][name]["geometries"]:
        polygons = geometry["arcs"] if geometry["type"] == "MultiPolygon" else [geometry["arcs"]]
        rings.extend(ring_of(polygon[0], arcs) for polygon in polygons)
    return rings


def clip_ring(ring: Ring, box: tuple[float, float, float, float]) -> Ring:
    """Sutherland–Hodgman: the part of a closed ring inside ``box`` (edges along the box's
    sides where the land runs past it)."""
    west, south, east, north = box
    output = ring
    # each side of the box: (axis 0 = lon / 1 = lat, bound, whether inside is above the bound)
    for axis, bound, above in (
        (0, west, True),
        (0, east, False),
        (1, south, True),
        (1, north, False),
    ):
        points, output = output, []
        for index, current in enumerate(points):
            previous = points[index - 1]
            if _inside(current, axis, bound, above):
                if not _inside(previous, axis, bound, above):
                    output.append(_crossing(previous, current, axis, bound))
                output.append(current)
            elif _inside(previous, axis, bound, above):
                output.append(_crossing(previous, current, axis, bound))
        if not output:
            return []
    return output


def _inside(point: Point, axis: int, bound: float, above: bool) -> bool:
    return point[axis] >= bound if above else point[axis] <= bound


def _crossing(a: Point, b: Point, axis: int, bound: float) -> Point:
    """Where segment a–b crosses the line ``point[axis] == bound``."""
    t = (bound - a[axis]) / (b[axis] - a[axis])
    lon, lat = a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t
    return (bound, lat) if axis == 0 else (lon, bound)


def land_features(topology: dict[str, Any]) -> list[dict[str, Any]]:
    """GeoJSON polygons of the land inside REGION, coordinates rounded to ~10 m."""
    features = []
    for ring in outer_rings(topology, "land"):
        clipped = clip_ring(ring, REGION)
        if len(clipped) < 3:
            continue
        coordinates = [[round(lon, 4), round(lat, 4)] for lon, lat in clipped]
        coordinates.append(coordinates[0])
        features.append(
            {
                "type": "Feature",
                "properties": {"kind": "land", "source": "Natural Earth 1:10m land"},
                "geometry": {"type": "Polygon", "coordinates": [coordinates]},
            }
        )
    return features


def main(argv: Sequence[str]) -> None:
    if len(argv) != 1:
        sys.exit("usage: python -m tests.console.land LAND_10M_TOPOJSON")
    topology = json.loads(Path(argv[0]).read_text(encoding="utf-8"))
    collection = {"type": "FeatureCollection", "features": land_features(topology)}
    LAND_CLIP.write_text(json.dumps(collection, separators=(",", ":")) + "\n", encoding="utf-8")
    print(f"wrote {LAND_CLIP} ({len(collection['features'])} polygons)")


if __name__ == "__main__":
    main(sys.argv[1:])
