"""The Dispatch tab's pure view: stops in plan order, late flags, work the plan does not have
yet, courier states, and a version that ignores seconds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from cloud.catalog_models import Node
from cloud.console.plan_view import DispatchFacts, build_view
from cloud.fleet_models import CarrierShipment, Courier, DeliveryTask, DispatchPlanRow
from cloud.fleet_rules import Reading

NOW = datetime(2025, 3, 1, 2, 0, tzinfo=UTC)
SHIFT = [
    {"start": (NOW - timedelta(hours=1)).isoformat(), "end": (NOW + timedelta(hours=7)).isoformat()}
]


def _courier(courier_id: str, **changes: Any) -> Courier:
    fields: dict[str, Any] = {
        "id": courier_id,
        "kind": "rider",
        "capacity": 6,
        "skills": ["chilled"],
        "shifts": SHIFT,
        "home_node_id": "fw-1",
        "gps_device_id": None,
        "compartments": [],
        "active": True,
    }
    fields.update(changes)
    return Courier(**fields)


def _task(task_id: str, **changes: Any) -> DeliveryTask:
    fields: dict[str, Any] = {
        "id": task_id,
        "order_id": f"order-{task_id}",
        "pickup_node_id": "fw-1",
        "drop_lat": 31.20449,
        "drop_lon": 121.44051,
        "window_end": NOW + timedelta(minutes=30),
        "deadline": NOW + timedelta(minutes=90),
        "temperature_class": "chilled",
        "size": 2,
        "status": "assigned",
        "courier_id": "r1",
        "failure_reason": None,
    }
    fields.update(changes)
    return DeliveryTask(**fields)


def _stop(task_id: str, kind: str, minutes: float) -> dict[str, str]:
    return {
        "task_id": task_id,
        "kind": kind,
        "arrival": (NOW + timedelta(minutes=minutes)).isoformat(),
    }


def _plan(routes: dict[str, list[dict[str, str]]], **extra: Any) -> DispatchPlanRow:
    return DispatchPlanRow(
        id=7,
        created_at=NOW,
        applied=True,
        solve_ms=12.0,
        cost_s=0.0,
        routes={"routes": routes, **extra},
    )


NODE = Node(id="fw-1", name="Xuhui front warehouse", lat=31.188, lon=121.437)


def _facts(
    plan: DispatchPlanRow | None, couriers: list[Courier], tasks: list[DeliveryTask], **kw: Any
) -> DispatchFacts:
    return DispatchFacts(
        plan=plan,
        newest_error=kw.get("error"),
        couriers=couriers,
        tasks=tasks,
        nodes={"fw-1": NODE},
        shipments=kw.get("shipments", {}),
    )


def test_stops_follow_the_plan_with_places_and_late_flags() -> None:
    tasks = [
        _task("a"),
        _task("b", window_end=NOW + timedelta(minutes=20)),
        _task("c", status="picked_up"),  # its pickup stop is done
        _task("gone", status="delivered"),
    ]
    plan = _plan(
        {
            "r1": [
                _stop("c", "pickup", 1),
                _stop("a", "pickup", 5),
                _stop("b", "pickup", 5),
                _stop("c", "dropoff", 12),
                _stop("a", "dropoff", 18),
                _stop("b", "dropoff", 25),  # after b's promise
                _stop("gone", "dropoff", 30),
            ]
        },
        late=["a"],
    )
    view = build_view(_facts(plan, [_courier("r1")], tasks), NOW)
    [courier] = view.couriers
    assert [(s.task_id, s.kind) for s in courier.stops] == [
        ("a", "pickup"),
        ("b", "pickup"),
        ("c", "dropoff"),
        ("a", "dropoff"),
        ("b", "dropoff"),
    ]
    assert [s.late for s in courier.stops] == [True, False, False, True, True]
    pickup, drop = courier.stops[0], courier.stops[3]
    assert (pickup.node_id, pickup.place, pickup.lat) == (
        "fw-1",
        "fw-1 (Xuhui front warehouse)",
        31.188,
    )
    assert (drop.node_id, drop.place, drop.lat) == (None, "31.204, 121.441", 31.20449)
    assert courier.stops[2].arrival == NOW + timedelta(minutes=12)
    assert (courier.state, courier.load, courier.on_board) == ("to_pickup", 6, 2)
    assert courier.unplanned == [] and view.plan_id == 7


def test_work_the_plan_does_not_have_courier_states_carrier_and_waiting() -> None:
    tasks = [
        _task("new", courier_id="r1", status="accepted"),
        _task("carried", status="picked_up", courier_id="r2"),
        _task("open-1", status="open", courier_id=None),
        _task("refused", status="open", courier_id=None, failure_reason="carrier refused: sim: no"),
        _task("ship", status="carrier", courier_id=None),
    ]
    couriers = [
        _courier("r1"),
        _courier("r2"),
        _courier("r3"),
        _courier("r4", shifts=[]),
        _courier("r5", active=False),
    ]
    shipment = CarrierShipment(
        carrier="simulated",
        external_id="sim-3",
        task_id="ship",
        status="created",
        pickup_eta=NOW + timedelta(minutes=10),
        drop_eta=NOW + timedelta(minutes=45),
    )
    plan = _plan({}, unassigned=["open-1"])
    view = build_view(
        _facts(plan, couriers, tasks, shipments={"ship": shipment}, error="solver hung"), NOW
    )
    by_id = {c.id: c for c in view.couriers}
    assert [(s.task_id, s.kind, s.arrival) for s in by_id["r1"].unplanned] == [
        ("new", "pickup", None)
    ]
    assert [(s.task_id, s.kind) for s in by_id["r2"].unplanned] == [("carried", "dropoff")]
    assert {c: by_id[c].state for c in by_id} == {
        "r1": "to_pickup",
        "r2": "delivering",
        "r3": "idle",
        "r4": "off_shift",
        "r5": "inactive",
    }
    assert by_id["r3"].shift_end == NOW + timedelta(hours=7) and by_id["r4"].shift_end is None
    [carried] = view.carrier
    assert (carried.task_id, carried.carrier, carried.external_id, carried.late) == (
        "ship",
        "simulated",
        "sim-3",
        True,
    )
    assert [(w.task_id, w.why) for w in view.waiting] == [
        ("open-1", "the plan found no courier that can take it"),
        ("refused", "carrier refused: sim: no"),
    ]
    assert view.error == "solver hung"
    empty = build_view(_facts(None, [], []), NOW)
    assert (empty.plan_id, empty.couriers, empty.carrier, empty.waiting) == (None, [], [], [])


def test_the_version_moves_with_what_is_shown_not_with_seconds() -> None:
    def version(minutes: float, status: str = "assigned", plan_id: int = 7) -> str:
        plan = _plan({"r1": [_stop("a", "pickup", 1), _stop("a", "dropoff", minutes)]})
        plan.id = plan_id
        return build_view(_facts(plan, [_courier("r1")], [_task("a", status=status)]), NOW).version

    base = version(10)
    assert version(10.5) == base and version(10, plan_id=8) == base  # same minute, new run
    assert version(11) != base
    assert version(10, status="accepted") != base


def test_a_reefer_out_of_band_shows_the_cold_skill_it_lost() -> None:

    chiller = {
        "name": "chiller",
        "sensor_device_id": "van-7-chiller",
        "temperature_class": "chilled",
        "min_c": 0.0,
        "max_c": 4.0,
    }
    van = _courier(
        "van-7", kind="reefer_van", skills=["ambient", "chilled"], compartments=[chiller]
    )
    rider = _courier("r1")  # an insulated box, no monitored compartment: keeps its skill
    for reading, skills, lost in (
        (3.5, ["ambient", "chilled"], []),
        (9.0, ["ambient"], ["chilled"]),
        (None, ["ambient"], ["chilled"]),  # never read: not trusted with chilled goods
    ):
        readings = (
            {} if reading is None else {"van-7-chiller": Reading("van-7-chiller", NOW, reading)}
        )
        view = build_view(
            DispatchFacts(None, None, [rider, van], [], {"fw-1": NODE}, {}, readings), NOW
        )
        by_id = {c.id: c for c in view.couriers}
        assert (by_id["van-7"].skills, by_id["van-7"].lost_skills) == (skills, lost)
        assert (by_id["r1"].skills, by_id["r1"].lost_skills) == (["chilled"], [])
