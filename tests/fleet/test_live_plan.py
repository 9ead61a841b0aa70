"""A live fleet run's plan (pure): the fleet it registers, the orders it places and when, and the
rider app's choice of the next stop."""

from __future__ import annotations

import random
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from cloud.channels.normalise import normalise_order
from cloud.fleet_schemas import CourierIn
from retailedge.fleet.live_compartment import compartment_c
from retailedge.fleet.live_plan import (
    CHILLED_BAND_C,
    PlannedOrder,
    SalesChannel,
    Store,
    courier_body,
    order_payload,
    order_schedule,
    plan_fleet,
)
from retailedge.fleet.live_route import RiderTask, next_stop
from simulators.fleet_motion import Spot
from simulators.geo import haversine_m

NOW = datetime(2026, 3, 1, 2, 0, tzinfo=UTC)
XUHUI = Store("fw-xuhui", Spot(31.188, 121.437), frozenset({"ambient", "chilled"}))
JINGAN = Store("st-jingan", Spot(31.223, 121.445), frozenset({"ambient"}))
CHANNELS = [
    SalesChannel("app", "app"),
    SalesChannel("tmall", "marketplace"),
    SalesChannel("meituan", "delivery_platform"),
]
SKUS = {
    "water": "ambient",
    "rice": "ambient",
    "noodles": "ambient",
    "milk": "chilled",
    "tofu": "chilled",
}


def test_the_fleet_is_spread_over_the_stores_and_reefers_only_where_chilled_goods_are() -> None:
    counts = {"rider": 3, "van": 1, "reefer_van": 2}
    fleet = plan_fleet(random.Random(1), counts, [XUHUI, JINGAN], "lfab12")
    assert [c.id for c in fleet] == [
        "lfab12-ebike-01", "lfab12-ebike-02", "lfab12-ebike-03", "lfab12-van-01",
        "lfab12-reefer-01", "lfab12-reefer-02",
    ]  # fmt: skip
    assert [c.store.id for c in fleet] == ["fw-xuhui", "st-jingan", "fw-xuhui"] + ["fw-xuhui"] * 3
    for courier in fleet:
        low, high = courier.kind.speed_kmh
        assert low / 3.6 <= courier.speed_mps <= high / 3.6
        home = courier.store.spot
        assert haversine_m(home.lat, home.lon, courier.start.lat, courier.start.lon) < 150
    assert fleet == plan_fleet(random.Random(1), counts, [XUHUI, JINGAN], "lfab12")
    assert [c.sensor_id for c in fleet if c.kind.kind == "reefer_van"] == [
        "lfab12-reefer-01-chiller",
        "lfab12-reefer-02-chiller",
    ]
    assert {c.sensor_id for c in fleet if c.kind.kind != "reefer_van"} == {None}


def test_courier_bodies_are_what_the_cloud_registers() -> None:
    rider, reefer = plan_fleet(random.Random(2), {"rider": 1, "reefer_van": 1}, [XUHUI], "t")
    shift = (NOW, NOW + timedelta(hours=1))
    parsed = CourierIn.model_validate(courier_body(reefer, shift, active=True))
    assert (parsed.kind, parsed.skills, parsed.gps_device_id) == (
        "reefer_van",
        ["chilled"],
        "t-reefer-01-gps",
    )
    [chiller] = parsed.compartments
    assert (chiller.sensor_device_id, chiller.temperature_class) == (
        "t-reefer-01-chiller",
        "chilled",
    )
    assert (chiller.min_c, chiller.max_c) == CHILLED_BAND_C
    retired = CourierIn.model_validate(courier_body(rider, shift, active=False))
    assert (retired.kind, retired.skills, retired.compartments, retired.active) == (
        "rider",
        [],
        [],
        False,
    )
    assert (retired.capacity, retired.home_node_id) == (10, "fw-xuhui")


def schedule(count: int, chilled_share: float, seed: int = 5) -> list[PlannedOrder]:
    return order_schedule(
        random.Random(seed),
        count=count,
        window_s=600.0,
        day_hours=(9.5, 21.5),
        channels=CHANNELS,
        stores=[XUHUI, JINGAN],
        sku_classes=SKUS,
        chilled_share=chilled_share,
        radius_m=1000.0,
        tag="t",
    )


def test_orders_follow_the_channels_daily_curves_near_their_store() -> None:
    orders = schedule(2000, chilled_share=0.3)
    assert [o.at_s for o in orders] == sorted(o.at_s for o in orders)
    assert all(0 <= o.at_s <= 600 for o in orders)
    assert len({o.external_id for o in orders}) == 2000
    shares = Counter(o.channel.kind for o in orders)
    assert shares["app"] > shares["delivery_platform"] > shares["marketplace"] > 350
    # The window stands for 09:30-21:30: lunch (about 12:00, 125 s in) is busier than 15:30.
    lunch = sum(1 for o in orders if 100 <= o.at_s < 150)
    afternoon = sum(1 for o in orders if 275 <= o.at_s < 325)
    assert lunch > 1.5 * afternoon
    for order in orders:
        spot = order.store.spot
        assert haversine_m(spot.lat, spot.lon, order.drop.lat, order.drop.lon) <= 1000.5
        classes = {SKUS[s] for s in order.sku_ids}
        assert 1 <= len(order.sku_ids) <= 3 and len(set(order.sku_ids)) == len(order.sku_ids)
        assert classes <= order.store.capabilities
    at_xuhui = [o for o in orders if o.store is XUHUI]
    chilled = sum(1 for o in at_xuhui if "chilled" in {SKUS[s] for s in o.sku_ids})
    assert chilled / len(at_xuhui) == pytest.approx(0.3, abs=0.05)
    assert not any("chilled" in {SKUS[s] for s in o.sku_ids} for o in schedule(200, 0.0))


@pytest.mark.parametrize("kind", ["app", "marketplace", "delivery_platform"])
def test_each_channel_payload_is_an_instant_order_of_the_planned_basket(kind: str) -> None:
    planned = next(o for o in schedule(300, 0.5, seed=9) if o.channel.kind == kind)
    payload = order_payload(random.Random(1), planned, NOW)
    normalised = normalise_order(kind, payload)
    assert normalised.requested_promise == "instant"
    assert normalised.external_id == planned.external_id and normalised.member_id is None
    assert [line.sku_ref for line in normalised.lines] == list(planned.sku_ids)
    assert all(1 <= line.quantity <= 2 for line in normalised.lines)
    assert (normalised.lat, normalised.lon) == pytest.approx(
        (planned.drop.lat, planned.drop.lon), abs=1e-6
    )


def task(
    task_id: str, status: str, node: str = "fw-xuhui", pickup_min: int = 0, drop_min: int = 10
) -> RiderTask:
    return RiderTask(
        id=task_id,
        order_id=f"o-{task_id}",
        status=status,
        node_id=node,
        pickup=Spot(31.188, 121.437) if node == "fw-xuhui" else Spot(31.223, 121.445),
        drop=Spot(31.19, 121.44),
        ready_at=NOW,
        window_end=NOW + timedelta(hours=1),
        planned_pickup_at=NOW + timedelta(minutes=pickup_min),
        planned_drop_at=NOW + timedelta(minutes=drop_min),
        temperature_class="ambient",
    )


def test_the_next_stop_follows_the_plan_and_fetches_a_batch_at_once() -> None:
    assert next_stop([]) is None
    assert next_stop([task("a", "delivered")]) is None
    batch = next_stop(
        [
            task("c", "assigned", pickup_min=3, drop_min=20),
            task("a", "accepted", pickup_min=1, drop_min=12),
            task("b", "assigned", pickup_min=2, drop_min=15),
            task("d", "assigned", node="st-jingan", pickup_min=4, drop_min=30),
        ]
    )
    assert batch is not None and batch.kind == "pickup"
    assert [t.id for t in batch.tasks] == ["a", "b", "c"]
    assert batch.spot == Spot(31.188, 121.437)
    # Goods on board go first when their drop is planned before the next pickup...
    drop = next_stop([task("a", "picked_up", drop_min=5), task("b", "assigned", pickup_min=8)])
    assert drop is not None and (drop.kind, [t.id for t in drop.tasks]) == ("drop", ["a"])
    # ...and a pickup planned between two drops waits for the first drop only.
    pickup = next_stop([task("a", "picked_up", drop_min=9), task("b", "assigned", pickup_min=8)])
    assert pickup is not None and (pickup.kind, [t.id for t in pickup.tasks]) == ("pickup", ["b"])
    # A pickup at another node is a stop of its own.
    other = next_stop(
        [task("a", "assigned", pickup_min=1), task("d", "assigned", node="st-jingan", pickup_min=2)]
    )
    assert other is not None and [t.id for t in other.tasks] == ["a"]


def test_a_reefer_compartment_stays_in_band_until_it_fails_then_warms_out_of_it() -> None:
    rng = random.Random(4)
    low, high = CHILLED_BAND_C
    assert all(low < compartment_c(rng, None) < high for _ in range(1000))
    warming = [compartment_c(random.Random(4), seconds) for seconds in (0, 2, 4, 6, 60)]
    assert warming == sorted(warming) and warming[0] < high < warming[3]
    assert warming[-1] == 15.0  # as warm as the van gets
