"""The pure ATP core: distance, opening hours in the node's timezone, ETA, promise classes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from cloud.atp import (
    BasketLine,
    NodeInfo,
    PromiseClass,
    Timing,
    Verdict,
    classes_met,
    evaluate_node,
    evaluate_nodes,
    haversine_km,
    next_opening,
    outside_every_area,
    promise_deadline,
)

SHANGHAI = "Asia/Shanghai"
DAILY = {day: [["08:00", "22:00"]] for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}
TIMING = Timing(speed_kmh=20.0, handling_min=15.0)
# Wednesday 2026-11-25 10:00 in Shanghai
MORNING = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)


def node(node_id: str = "fw", kind: str = "front_warehouse", **changes: object) -> NodeInfo:
    fields: dict[str, object] = {
        "id": node_id,
        "kind": kind,
        "lat": 31.2304,
        "lon": 121.4737,
        "timezone": SHANGHAI,
        "opening_hours": DAILY,
        "capabilities": frozenset({"ambient", "chilled"}),
        "delivery_radius_km": 3.0,
    }
    fields.update(changes)
    return NodeInfo(**fields)  # type: ignore[arg-type]


def test_haversine_matches_known_distances() -> None:
    assert haversine_km(0.0, 0.0, 0.0, 1.0) == pytest.approx(111.195, abs=0.01)
    assert haversine_km(31.2304, 121.4737, 31.2304, 121.4737) == 0.0
    # People's Square to the Lujiazui store of the seed network: ~3.1 km
    assert haversine_km(31.2304, 121.4737, 31.2380, 121.5050) == pytest.approx(3.09, abs=0.05)


def test_open_node_is_ready_now_and_closed_node_at_its_next_opening() -> None:
    assert next_opening(node(), MORNING) == MORNING
    assert next_opening(node(opening_hours=None), MORNING) == MORNING
    # 23:30 Shanghai: next opening is 08:00 the next morning = 00:00 UTC
    late = datetime(2026, 11, 25, 15, 30, tzinfo=UTC)
    assert next_opening(node(), late) == datetime(2026, 11, 26, 0, 0, tzinfo=UTC)
    # 05:00 Shanghai: opens at 08:00 the same day
    early = datetime(2026, 11, 24, 21, 0, tzinfo=UTC)
    assert next_opening(node(), early) == datetime(2026, 11, 25, 0, 0, tzinfo=UTC)


def test_weekend_closure_and_interval_past_midnight() -> None:
    weekdays = node(opening_hours={"mon": [["09:00", "17:00"]], "fri": [["09:00", "17:00"]]})
    # Friday 18:00 Shanghai -> Monday 09:00 Shanghai
    friday_evening = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)
    assert next_opening(weekdays, friday_evening) == datetime(2026, 11, 30, 1, 0, tzinfo=UTC)
    night = node(opening_hours={"tue": [["20:00", "02:00"]]})
    # Wednesday 01:00 Shanghai is still inside Tuesday's night shift
    wednesday_1am = datetime(2026, 11, 24, 17, 0, tzinfo=UTC)
    assert next_opening(night, wednesday_1am) == wednesday_1am
    with pytest.raises(ValueError, match="no opening hours"):
        next_opening(node(opening_hours={}), MORNING)


def test_promise_deadlines_are_local_cutoffs() -> None:
    assert promise_deadline(PromiseClass.INSTANT, node(), MORNING) == MORNING + timedelta(hours=1)
    # 22:00 Shanghai = 14:00 UTC, today and tomorrow
    assert promise_deadline(PromiseClass.SAME_DAY, node(), MORNING) == datetime(
        2026, 11, 25, 14, 0, tzinfo=UTC
    )
    assert promise_deadline(PromiseClass.NEXT_DAY, node(), MORNING) == datetime(
        2026, 11, 26, 14, 0, tzinfo=UTC
    )


def test_only_stores_and_front_warehouses_deliver_instant() -> None:
    soon = MORNING + timedelta(minutes=30)
    assert classes_met(node(), soon, MORNING) == (
        PromiseClass.INSTANT,
        PromiseClass.SAME_DAY,
        PromiseClass.NEXT_DAY,
    )
    assert classes_met(node(kind="dc"), soon, MORNING) == (
        PromiseClass.SAME_DAY,
        PromiseClass.NEXT_DAY,
    )
    tomorrow = MORNING + timedelta(hours=20)
    assert classes_met(node(), tomorrow, MORNING) == (PromiseClass.NEXT_DAY,)


def test_eta_waits_for_opening_then_adds_handling_and_travel() -> None:
    basket = [BasketLine("milk", 2, "chilled")]
    # 2 km east of the node at 20 km/h = 6 min travel
    lon = 121.4737 + 2 / (111.195 * 0.8549)
    open_now = evaluate_node(
        node(),
        lat=31.2304,
        lon=lon,
        basket=basket,
        available={"milk": 5},
        timing=TIMING,
        now=MORNING,
    )
    assert open_now.distance_km == pytest.approx(2.0, abs=0.01)
    assert open_now.eta_min == pytest.approx(15 + 6, abs=0.1)
    assert open_now.open_now and open_now.within_radius and open_now.capable
    assert open_now.verdict(PromiseClass.INSTANT) is Verdict.OK
    early = datetime(2026, 11, 24, 23, 30, tzinfo=UTC)  # 07:30 Shanghai, opens 08:00
    waiting = evaluate_node(
        node(),
        lat=31.2304,
        lon=lon,
        basket=basket,
        available={"milk": 5},
        timing=TIMING,
        now=early,
    )
    assert not waiting.open_now
    assert waiting.eta_min == pytest.approx(30 + 15 + 6, abs=0.1)
    assert waiting.verdict(PromiseClass.INSTANT) is Verdict.OK


def test_verdicts_name_what_is_missing() -> None:
    basket = [BasketLine("milk", 2, "chilled"), BasketLine("dumplings", 1, "frozen")]
    far = evaluate_node(
        node(),
        lat=31.30,
        lon=121.4737,
        basket=basket[:1],
        available={"milk": 5},
        timing=TIMING,
        now=MORNING,
    )
    assert far.verdict(PromiseClass.INSTANT) is Verdict.OUT_OF_RADIUS
    frozen = evaluate_node(
        node(),
        lat=31.2304,
        lon=121.4737,
        basket=basket,
        available={"milk": 5, "dumplings": 5},
        timing=TIMING,
        now=MORNING,
    )
    assert frozen.missing_classes == ("frozen",)
    assert frozen.verdict(PromiseClass.INSTANT) is Verdict.NOT_CAPABLE
    # the same SKU on two lines counts twice
    short = evaluate_node(
        node(),
        lat=31.2304,
        lon=121.4737,
        basket=[BasketLine("milk", 2, "chilled"), BasketLine("milk", 2, "chilled")],
        available={"milk": 3},
        timing=TIMING,
        now=MORNING,
    )
    assert not short.has_stock
    assert short.shortfalls() == [("milk", 3, 4)]
    assert short.verdict(PromiseClass.INSTANT) is Verdict.NO_STOCK
    inactive = evaluate_node(
        node(active=False),
        lat=31.2304,
        lon=121.4737,
        basket=basket[:1],
        available={"milk": 5},
        timing=TIMING,
        now=MORNING,
    )
    assert inactive.verdict(PromiseClass.INSTANT) is Verdict.INACTIVE
    assert not inactive.eligible(PromiseClass.NEXT_DAY)


def test_candidates_sorted_nearest_first_and_delivery_area() -> None:
    nodes = [
        node("b", lat=31.2304, lon=121.50),
        node("a", lat=31.2304, lon=121.48),
        node("dc", kind="dc", lat=31.35, lon=121.25, delivery_radius_km=60.0),
    ]
    basket = [BasketLine("milk", 1, "chilled")]
    candidates = evaluate_nodes(
        nodes,
        lat=31.2304,
        lon=121.4737,
        basket=basket,
        stock={("a", "milk"): 1},
        timing=TIMING,
        now=MORNING,
    )
    assert [c.node.id for c in candidates] == ["a", "b", "dc"]
    assert [c.has_stock for c in candidates] == [True, False, False]
    assert not outside_every_area(candidates)
    hangzhou = evaluate_nodes(
        nodes, lat=30.27, lon=120.15, basket=basket, stock={}, timing=TIMING, now=MORNING
    )
    assert outside_every_area(hangzhou)
