"""The pages themselves: escaping, static files, the committed base map, the tracking page."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from cloud.console.pages import console_page, login_page, track_page
from cloud.console.routes import STATIC_DIR
from cloud.fleet_schemas import Place, TrackOut
from cloud.security import Principal, Role
from tests.cloud.allocation.helpers import app_order
from tests.cloud.cloud_helpers import Cloud
from tests.cloud.domain_seed import MILK
from tests.cloud.orders_lifecycle.lifecycle_helpers import place_app_order, seeded_with_stock
from tests.console.basemap import render


def test_the_committed_base_map_is_built_from_the_simulator_routes() -> None:
    committed = (STATIC_DIR / "basemap.geojson").read_text(encoding="utf-8")
    assert committed == render(), "run: python -m tests.console.basemap"
    features = json.loads(committed)["features"]
    streets = {f["properties"]["name"] for f in features if f["properties"]["kind"] == "street"}
    assert streets == {"shanghai", "hangzhou"}
    for feature in features:
        if feature["geometry"]["type"] == "LineString":
            coords = feature["geometry"]["coordinates"]
            assert coords[0] == coords[-1]  # closed loops
            assert all(119 < lon < 123 and 29 < lat < 32 for lon, lat in coords)


def test_pages_escape_what_users_typed() -> None:
    page = login_page(csrf="tok", name='"><script>alert(1)</script>', error="<b>no</b>")
    assert "<script>alert(1)" not in page and "&lt;script&gt;" in page
    assert "&lt;b&gt;no&lt;/b&gt;" in page
    shell = console_page(principal=Principal(Role.OPERATOR, "<img src=x>"), csrf="c")
    assert "<img src=x>" not in shell and "&lt;img src=x&gt;" in shell
    now = datetime(2025, 3, 1, 8, 0, tzinfo=UTC)
    moving = track_page(
        token="t" * 43,
        track=TrackOut(
            status="dispatched",
            eta=now,
            courier_position=Place(lat=31.2, lon=121.4),
            updated_at=now,
        ),
    )
    assert "On its way" in moving and "08:00 UTC" in moving and "hidden" not in moving
    waiting = track_page(
        token="t" * 43,
        track=TrackOut(status="allocated", eta=None, courier_position=None, updated_at=now),
    )
    assert "Being prepared" in waiting and "being planned" in waiting
    assert '<canvas id="track-map" width="320" height="220" hidden>' in waiting


async def test_static_files_and_the_tracking_page_without_personal_data(cloud: Cloud) -> None:
    client = cloud.client
    script = await client.get("/console/static/console.js")
    assert script.status_code == 200 and script.headers["content-type"].startswith(
        "text/javascript"
    )
    geo = await client.get("/console/static/basemap.geojson")
    assert geo.status_code == 200 and geo.json()["type"] == "FeatureCollection"
    for bad in ("../routes.py", "..%2Froutes.py", "routes.py", ".hidden.js", "nope.js"):
        assert (await client.get(f"/console/static/{bad}")).status_code == 404, bad

    network = await seeded_with_stock(cloud)
    placed = await place_app_order(cloud, network, "ext-track", [(MILK, 1)])
    link = await client.post(
        f"/api/v1/orders/{placed.order_id}/tracking-link", headers=cloud.auth(cloud.operator)
    )
    assert link.status_code == 201, link.text
    token = link.json()["token"]
    page = await client.get(f"/t/{token}")
    assert page.status_code == 200
    assert "Being prepared" in page.text and f'data-token="{token}"' in page.text
    assert page.headers["cache-control"] == "no-store"
    assert "default-src 'self'" in page.headers["content-security-policy"]
    recipient = app_order("x", [])["recipient"]
    for private in (recipient["name"], recipient["phone"], placed.order_id, "漕溪北路"):
        assert private not in page.text
    assert (await client.get(f"/t/{'x' * 43}")).status_code == 404
    assert (await client.get("/t/short")).status_code == 404
