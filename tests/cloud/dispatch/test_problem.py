from dataclasses import replace

from cloud.dispatch.build import (
    RIDER_SKILL_BASE,
    BuildRequest,
    Tier,
    active_riders,
    build_instance,
    instance_points,
)
from cloud.dispatch.engine import StepKind, Window
from cloud.dispatch.problem import Problem, StopKind, TaskState, reject_bad_tasks
from tests.cloud.dispatch.helpers import east, rider, task, travel


def _request(riders, tasks, now=0.0, **changes):
    request = BuildRequest(
        now_s=now,
        riders=tuple(riders),
        tasks=tuple(tasks),
        tiers={t.id: Tier.TARGET for t in tasks},
        pins={t.id: t.rider_id for t in tasks if t.rider_id},
        seeds={},
        pickup_not_before_s={},
        horizon_s=8 * 3600,
        durations=travel().duration_matrix_s(instance_points(riders, tasks), now),
    )
    return replace(request, **changes)


def test_bad_tasks_are_rejected_naming_the_field() -> None:
    good = task("ok", east(0), east(1000))
    bad = [
        task("late", east(0), east(1000), ready_s=4000, deadline_s=3000, target_s=2000),
        task("nan", east(0), east(1000), target_s=float("nan")),
        task("orphan", east(0), east(1000), state=TaskState.CARRIED, picked_up_s=0.0),
        task("ghost", east(0), east(1000), state=TaskState.ACCEPTED, rider_id="nobody"),
        task("ok", east(0), east(2000)),
        task("vip", east(0), east(1000), priority=101),
    ]
    kept, rejected = reject_bad_tasks(Problem(0, (rider("a", east(0)),), (good, *bad)))
    assert [t.id for t in kept] == ["ok"]
    assert [(r.task_id, r.field) for r in rejected] == [
        ("late", "deadline_s"),
        ("nan", "target_s"),
        ("orphan", "rider_id"),
        ("ghost", "rider_id"),
        ("ok", "id"),
        ("vip", "priority"),
    ]
    assert "impossible" in str(rejected[0])


def test_windows_are_relative_to_now_and_tiered() -> None:
    t = task("t", east(0), east(3000), ready_s=1300, target_s=2800, deadline_s=4000)
    r = rider("a", east(-500), available_s=1100)
    tiers = {"t": Tier.TARGET}
    instance = build_instance(_request([r], [t], now=1000.0, tiers=tiers))
    (shipment,) = instance.engine_input.shipments
    assert shipment.pickup_window.start == 300
    assert shipment.delivery_window == Window(0, 2800 - 1000 - 60)
    assert instance.engine_input.vehicles[0].window.start == 100
    deadline = build_instance(_request([r], [t], 1000.0, tiers={"t": Tier.DEADLINE}))
    assert deadline.engine_input.shipments[0].delivery_window.end == 4000 - 1000 - 60
    relaxed = build_instance(_request([r], [t], 1000.0, tiers={"t": Tier.RELAXED}))
    assert relaxed.engine_input.shipments[0].delivery_window.end == 8 * 3600


def test_carried_goods_are_a_drop_pinned_to_their_rider() -> None:
    riders = [rider("a", east(0)), rider("b", east(100))]
    carried = task("c", east(0), east(900), state=TaskState.CARRIED, rider_id="b", picked_up_s=0.0)
    instance = build_instance(_request(riders, [carried]))
    assert instance.engine_input.shipments == ()
    (drop,) = instance.engine_input.drops
    assert RIDER_SKILL_BASE + 1 in drop.skills
    vehicles = instance.engine_input.vehicles
    assert RIDER_SKILL_BASE + 1 in vehicles[1].skills
    assert RIDER_SKILL_BASE + 1 not in vehicles[0].skills


def test_a_rider_holding_only_takes_no_open_task() -> None:
    riders = [rider("a", east(0)), rider("b", east(100))]
    carried = task("c", east(0), east(900), state=TaskState.CARRIED, rider_id="b", picked_up_s=0.0)
    accepted = task("d", east(0), east(700), state=TaskState.ACCEPTED, rider_id="b")
    new = task("n", east(0), east(500))
    for held, b_takes_new in ((frozenset(), True), (frozenset({"b"}), False)):
        instance = build_instance(_request(riders, [carried, accepted, new], holding_only=held))
        a, b = instance.engine_input.vehicles
        (drop,) = instance.engine_input.drops
        held_shipment, open_shipment = instance.engine_input.shipments
        assert drop.skills <= b.skills and held_shipment.skills <= b.skills
        assert open_shipment.skills <= a.skills
        assert (open_shipment.skills <= b.skills) is b_takes_new


def test_cold_chain_skill_is_required() -> None:
    riders = [rider("plain", east(0)), rider("fridge", east(0), skills=frozenset({"chilled"}))]
    chilled = task("c", east(0), east(900), skills=frozenset({"chilled"}))
    instance = build_instance(_request(riders, [chilled]))
    (shipment,) = instance.engine_input.shipments
    plain, fridge = instance.engine_input.vehicles
    assert shipment.skills <= fridge.skills
    assert not shipment.skills <= plain.skills


def test_riders_off_shift_only_count_while_holding_work() -> None:
    off = rider("off", east(0), shift_end_s=100.0)
    holding = rider("holding", east(0), shift_end_s=100.0)
    on = rider("on", east(0))
    carried = task(
        "c", east(0), east(500), state=TaskState.CARRIED, rider_id="holding", picked_up_s=0.0
    )
    assert [r.id for r in active_riders([off, holding, on], [carried], 500.0)] == [
        "holding",
        "on",
    ]


def test_seed_keeps_the_previous_route_minus_what_no_longer_fits() -> None:
    r = rider("a", east(0))
    keep = task("keep", east(100), east(600))
    missed = task("missed", east(100), east(20_000), target_s=600, deadline_s=600)
    seeds = {
        "a": [
            ("keep", StopKind.PICKUP),
            ("missed", StopKind.PICKUP),
            ("gone", StopKind.PICKUP),
            ("keep", StopKind.DROPOFF),
            ("missed", StopKind.DROPOFF),
        ]
    }
    instance = build_instance(_request([r], [keep, missed], seeds=seeds))
    steps = instance.engine_input.vehicles[0].initial
    assert [(s.kind, s.job_id) for s in steps] == [(StepKind.PICKUP, 1), (StepKind.DELIVERY, 2)]
