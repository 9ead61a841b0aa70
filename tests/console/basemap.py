"""Build the console's offline base map: Natural Earth's land around the example network
(tests/console/land.py cuts it out) and the simulator's real street loops.

Run ``python -m tests.console.basemap`` after changing simulators/routes.py or the land cut; the
output is committed (cloud/ must not import simulators/) and a test checks it is up to date.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from simulators.routes import ROUTES
from tests.console.land import LAND_CLIP

OUTPUT = Path(__file__).resolve().parents[2] / "cloud" / "console" / "static" / "basemap.geojson"


def basemap() -> dict[str, Any]:
    """A GeoJSON FeatureCollection: land polygons (drawn first, under everything), then each
    loop as a street line plus a label at its warehouse."""
    land = json.loads(LAND_CLIP.read_text(encoding="utf-8"))
    features: list[dict[str, Any]] = list(land["features"])
    for route in sorted(ROUTES.values(), key=lambda r: r.name):
        loop = [*route.points, route.points[0]]
        features.append(
            {
                "type": "Feature",
                "properties": {"kind": "street", "name": route.name, "city": route.city},
                "geometry": {
                    "type": "LineString",
                    "coordinates": [[lon, lat] for lat, lon in loop],
                },
            }
        )
        lat, lon = route.points[0]
        features.append(
            {
                "type": "Feature",
                "properties": {"kind": "place", "name": route.city},
                "geometry": {"type": "Point", "coordinates": [lon, lat]},
            }
        )
    return {"type": "FeatureCollection", "features": features}


def render() -> str:
    return json.dumps(basemap(), separators=(",", ":"), sort_keys=True) + "\n"


def main() -> None:
    OUTPUT.write_text(render(), encoding="utf-8")
    print(f"wrote {OUTPUT}")


if __name__ == "__main__":
    main()
