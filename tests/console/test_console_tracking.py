"""The customer's tracking link: the link handed out is the page (absolute with the cloud's public
address), the page shows times on the shipping node's clock, says "Delivered" with the time (and
no courier) for 24 h after the delivery and "Cancelled" for a cancelled order, then ends; never
any personal data."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from cloud.console.pages import local_time, track_page
from cloud.fleet_schemas import Place, TrackOut
from cloud.settings import Settings
from tests.cloud.allocation.helpers import OPEN_HOURS, app_order, set_clock
from tests.cloud.cloud_helpers import Cloud
from tests.cloud.domain_seed import FW_XUHUI, WATER
from tests.cloud.fleet.fleet_helpers import add_courier, courier_body, rider_step, run_dispatch
from tests.cloud.orders_lifecycle.lifecycle_helpers import (
    Placed,
    place_app_order,
    seeded_with_stock,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")


async def _link(cloud: Cloud, placed: Placed) -> dict[str, Any]:
    response = await cloud.client.post(
        f"/api/v1/orders/{placed.order_id}/tracking-link", headers=cloud.auth(placed.token("app"))
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def _assert_private(placed: Placed, *texts: str) -> None:
    recipient = app_order("x", [])["recipient"]
    for text in texts:
        for private in (
            recipient["name"],
            recipient["phone"],
            placed.order_id,
            "漕溪北路",
            "rider-1",
            FW_XUHUI,
        ):
            assert private not in text, private


async def test_the_link_for_customers_is_the_page(cloud: Cloud) -> None:
    network = await seeded_with_stock(cloud)
    placed = await place_app_order(cloud, network, "ext-link", [(WATER, 1)])
    link = await _link(cloud, placed)
    token = link["token"]
    assert link["url"] == f"/t/{token}"
    assert link["api_path"] == f"/api/v1/track/{token}" and "path" not in link
    page = await cloud.client.get(link["url"])
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "Being prepared" in page.text
    as_json = await cloud.client.get(link["api_path"])
    assert as_json.json()["status"] == "allocated"
    assert as_json.json()["timezone"] == "Asia/Shanghai"

    app = cloud.client._transport.app  # type: ignore[attr-defined]
    app.state.settings = Settings(
        database_url=app.state.settings.database_url,
        data_dir=app.state.settings.data_dir,
        public_url="https://track.example.cn/",
    )
    public = await _link(cloud, placed)
    assert public["url"] == f"https://track.example.cn/t/{public['token']}"
    assert public["api_path"] == f"/api/v1/track/{public['token']}"


@pytest.mark.parametrize(
    "bad",
    ["track.example.cn", "ftp://track.example.cn", "https://x.cn/?a=1", "https://x.cn/#t"],
)
def test_the_public_url_must_be_a_web_base(bad: str) -> None:
    with pytest.raises(ValidationError, match="RETAILEDGE_PUBLIC_URL"):
        Settings(public_url=bad)


async def test_on_its_way_on_the_nodes_clock_then_delivered_for_a_day(cloud: Cloud) -> None:
    network = await seeded_with_stock(cloud)
    key = await add_courier(cloud, courier_body("rider-1"))
    placed = await place_app_order(cloud, network, "ext-ride", [(WATER, 2)])
    task_id = f"{placed.order_id}@{FW_XUHUI}"
    assert (await run_dispatch(cloud))["assigned"] == 1
    token = (await _link(cloud, placed))["token"]

    planned = await cloud.client.get(f"/api/v1/track/{token}")
    eta = datetime.fromisoformat(planned.json()["eta"])
    page = (await cloud.client.get(f"/t/{token}")).text
    local_eta = eta.astimezone(SHANGHAI).strftime("%H:%M")
    assert eta.astimezone(UTC).strftime("%H:%M") != local_eta  # 8 h apart: the test can tell
    assert f">{local_eta}</time>" in page and "UTC" not in page
    assert 'data-timezone="Asia/Shanghai"' in page and "Expected:" in page

    for step in ("accept", "arrived", "picked-up"):
        if step == "arrived":
            set_clock(cloud, OPEN_HOURS + timedelta(minutes=16))
        response = await rider_step(cloud, key, task_id, step)
        assert response.status_code == 200, response.text
    on_the_way = (await cloud.client.get(f"/t/{token}")).text
    assert "On its way" in on_the_way
    delivered_at = OPEN_HOURS + timedelta(minutes=31)
    set_clock(cloud, delivered_at)
    response = await rider_step(cloud, key, task_id, "delivered", {"proof": {"code": "4321"}})
    assert response.status_code == 200, response.text

    set_clock(cloud, delivered_at + timedelta(hours=3))
    tracked = await cloud.client.get(f"/api/v1/track/{token}")
    assert tracked.status_code == 200, tracked.text
    assert tracked.json()["status"] == "delivered"
    assert datetime.fromisoformat(tracked.json()["ended_at"]) == delivered_at
    assert (tracked.json()["eta"], tracked.json()["courier_position"]) == (None, None)
    done = await cloud.client.get(f"/t/{token}")
    assert done.status_code == 200
    assert '<p class="status" id="status" data-status="delivered">Delivered</p>' in done.text
    assert "Delivered at" in done.text
    assert f">{delivered_at.astimezone(SHANGHAI).strftime('%H:%M')}</time>" in done.text
    assert '<canvas id="track-map" width="320" height="220" hidden>' in done.text
    _assert_private(placed, page, on_the_way, done.text, tracked.text)

    set_clock(cloud, delivered_at + timedelta(hours=24))
    assert (await cloud.client.get(f"/api/v1/track/{token}")).status_code == 404
    gone = await cloud.client.get(f"/t/{token}")
    assert gone.status_code == 404 and "unknown or the delivery has ended" in gone.text


async def test_a_cancelled_order_says_so_then_ends(cloud: Cloud) -> None:
    network = await seeded_with_stock(cloud)
    placed = await place_app_order(cloud, network, "ext-cancel", [(WATER, 1)])
    token = (await _link(cloud, placed))["token"]
    cancelled_at = OPEN_HOURS + timedelta(minutes=5)
    set_clock(cloud, cancelled_at)
    response = await cloud.client.post(
        f"/api/v1/orders/{placed.order_id}/cancel",
        json={"reason": "customer called 13800138000"},
        headers=cloud.auth(placed.token("app")),
    )
    assert response.status_code == 200, response.text
    tracked = await cloud.client.get(f"/api/v1/track/{token}")
    assert tracked.json()["status"] == "cancelled"
    assert datetime.fromisoformat(tracked.json()["ended_at"]) == cancelled_at
    page = await cloud.client.get(f"/t/{token}")
    assert page.status_code == 200
    assert ">Cancelled</p>" in page.text and "Cancelled at" in page.text
    assert "customer called" not in page.text  # the reason is not the customer's page's
    _assert_private(placed, page.text, tracked.text)
    set_clock(cloud, cancelled_at + timedelta(hours=24, seconds=1))
    assert (await cloud.client.get(f"/t/{token}")).status_code == 404


def test_times_on_the_nodes_clock_with_the_date_when_not_today() -> None:
    now = datetime(2026, 11, 25, 15, 50, tzinfo=UTC)  # 23:50 in Shanghai
    assert local_time(now + timedelta(minutes=5), "Asia/Shanghai", today=now) == "23:55"
    assert local_time(now + timedelta(minutes=15), "Asia/Shanghai", today=now) == "Thu 26 Nov 00:05"
    # No known zone: UTC, marked so (the page's script shows the reader's own clock).
    assert local_time(now, None, today=now) == "15:50 UTC"
    assert local_time(now, "Mars/Olympus_Mons", today=now) == "15:50 UTC"

    page = track_page(
        token="t" * 43,
        track=TrackOut(
            status="dispatched",
            eta=now + timedelta(minutes=15),
            courier_position=Place(lat=31.2, lon=121.4),
            updated_at=now,
            timezone="Asia/Shanghai",
        ),
    )
    assert "Expected:" in page and "Thu 26 Nov 00:05" in page and "hidden" not in page
    failed = track_page(
        token="t" * 43,
        track=TrackOut(
            status="failed",
            eta=None,
            courier_position=Place(lat=31.2, lon=121.4),
            updated_at=now,
            ended_at=now,
        ),
    )
    assert "Not delivered" in failed and "Ended at" in failed and "15:50 UTC" in failed
    assert '<canvas id="track-map" width="320" height="220" hidden>' in failed
