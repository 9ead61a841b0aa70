"""The base map's land cut: TopoJSON arcs decoded and rings clipped to the region."""

from __future__ import annotations

import itertools
import json

from tests.console.land import LAND_CLIP, REGION, clip_ring, decode_arcs, ring_of


def test_arcs_are_delta_decoded_with_the_transform() -> None:
    topology = {
        "transform": {"scale": [0.5, 0.25], "translate": [100.0, 30.0]},
        "arcs": [[[2, 4], [2, 0], [0, 4]]],
    }
    assert decode_arcs(topology) == [[(101.0, 31.0), (102.0, 31.0), (102.0, 32.0)]]


def test_a_ring_joins_arcs_reversing_negative_ids_and_sharing_end_points() -> None:
    arcs = [[(0.0, 0.0), (1.0, 0.0)], [(0.0, 0.0), (0.0, 1.0), (1.0, 0.0)]]
    assert ring_of([0, ~1], arcs) == [(0.0, 0.0), (1.0, 0.0), (0.0, 1.0), (0.0, 0.0)]


def test_clipping_keeps_the_part_inside_with_edges_on_the_box() -> None:
    square = [(-1.0, -1.0), (1.0, -1.0), (1.0, 1.0), (-1.0, 1.0)]
    clipped = clip_ring(square, (0.0, 0.0, 2.0, 2.0))
    assert sorted(clipped) == [(0.0, 0.0), (0.0, 1.0), (1.0, 0.0), (1.0, 1.0)]


def test_a_ring_wholly_outside_vanishes() -> None:
    assert clip_ring([(5.0, 5.0), (6.0, 5.0), (6.0, 6.0)], (0.0, 0.0, 1.0, 1.0)) == []


def test_the_committed_land_holds_the_network_and_not_the_sea() -> None:
    """Xuhui and Hangzhou are on land; a point in the East China Sea is not."""
    polygons = [
        f["geometry"]["coordinates"][0] for f in json.loads(LAND_CLIP.read_text())["features"]
    ]
    west, south, east, north = REGION
    for ring in polygons:
        assert all(west <= lon <= east and south <= lat <= north for lon, lat in ring)

    def on_land(lon: float, lat: float) -> bool:
        return any(_contains(ring, lon, lat) for ring in polygons)

    assert on_land(121.437, 31.188)  # Xuhui front warehouse
    assert on_land(120.1645, 30.273)  # Hangzhou
    assert not on_land(122.2, 31.0)  # East China Sea off Pudong
    assert not on_land(121.2, 30.5)  # Hangzhou Bay


def _contains(ring: list[list[float]], lon: float, lat: float) -> bool:
    inside = False
    for (x1, y1), (x2, y2) in itertools.pairwise(ring):
        if (y1 > lat) != (y2 > lat) and lon < x1 + (lat - y1) * (x2 - x1) / (y2 - y1):
            inside = not inside
    return inside
