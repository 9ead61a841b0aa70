"""Pure console logic: which gateway/order alarms exist, how acks change them, SSE deltas."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from cloud.console.alarm_rules import (
    Ack,
    GatewayFacts,
    OrderFacts,
    gateway_alarms,
    is_late_risk,
    late_risk_alarms,
    record_alarm,
    with_acks,
)
from cloud.console.stream import delta, diff, events, frame

NOW = datetime(2025, 3, 1, 10, 0, tzinfo=UTC)


def _health(records: int, age: float, evicted: int = 0) -> dict[str, Any]:
    return {"buffer": {"records": records, "oldest_age_s": age}, "evicted": {"position": evicted}}


def test_gateway_alarms_for_offline_backlog_evictions_and_skew() -> None:
    gateways = [
        GatewayFacts("ok", NOW - timedelta(seconds=30), 0.4, _health(12, 1.0)),
        GatewayFacts("silent", NOW - timedelta(minutes=5), None, None),
        GatewayFacts("deep", NOW, None, _health(10_000, 2.0)),
        GatewayFacts("stale", NOW, None, _health(3, 300.0)),
        GatewayFacts("evicting", NOW, None, _health(3, 1.0, evicted=7)),
        GatewayFacts("skewed", NOW, -6.5, None),
        GatewayFacts("never", None, None, None),
    ]
    found = {(a.kind, a.subject): a for a in gateway_alarms(gateways, NOW)}
    assert set(found) == {
        ("gateway_offline", "silent"),
        ("gateway_backlog", "deep"),
        ("gateway_backlog", "stale"),
        ("gateway_backlog", "evicting"),
        ("clock_skew", "skewed"),
    }
    assert found[("gateway_offline", "silent")].message == "no contact for 300 s"
    assert found[("gateway_offline", "silent")].key == "gateway_offline:silent"
    assert found[("gateway_backlog", "evicting")].evidence["evicted"] == 7
    assert found[("clock_skew", "skewed")].message == "gateway clock off by -6.5 s"


def test_late_risk_is_open_orders_near_or_past_or_planned_after_their_promise() -> None:
    due = NOW + timedelta(minutes=10)
    later = NOW + timedelta(hours=2)
    assert is_late_risk(OrderFacts("a", "allocated", due, None), NOW)
    assert not is_late_risk(OrderFacts("b", "allocated", later, None), NOW)
    assert is_late_risk(OrderFacts("c", "dispatched", later, later + timedelta(minutes=1)), NOW)
    assert not is_late_risk(OrderFacts("d", "delivered", due, None), NOW)
    assert not is_late_risk(OrderFacts("e", "allocated", None, None), NOW)
    [missed] = late_risk_alarms([OrderFacts("f", "packed", NOW - timedelta(minutes=3), None)], NOW)
    assert (missed.key, missed.severity, missed.message) == (
        "late_risk:f",
        "critical",
        "promise missed 3 min ago",
    )


def test_acks_set_state_and_resolved_sort_last() -> None:
    alarms = [
        record_alarm(
            gateway_id="gw",
            seq=seq,
            rule="coldchain.excursion",
            subject=f"zone/probe-{seq}",
            severity=severity,
            started_at=NOW - timedelta(minutes=seq),
            ended_at=None,
            evidence={},
        )
        for seq, severity in ((1, "warning"), (2, "critical"), (3, "critical"))
    ]
    acks = {
        "alarm:gw:2": Ack("resolve", "fixed", "ops", NOW),
        "alarm:gw:3": Ack("acknowledge", "looking", "ops", NOW),
    }
    merged = with_acks(alarms, acks)
    assert [(a.key, a.state, a.comment) for a in merged] == [
        ("alarm:gw:3", "acknowledged", "looking"),
        ("alarm:gw:1", "open", None),
        ("alarm:gw:2", "resolved", "fixed"),
    ]


def test_diff_and_delta_send_only_what_changed() -> None:
    before = {"a": {"lat": 1}, "b": {"lat": 2}}
    after = {"a": {"lat": 1}, "b": {"lat": 3}, "c": {"lat": 4}}
    assert diff(before, after) == {"set": {"b": {"lat": 3}, "c": {"lat": 4}}, "del": []}
    assert diff(after, {"a": {"lat": 1}}) == {"set": {}, "del": ["b", "c"]}
    assert diff(before, before) is None
    keyed = frozenset({"vehicles"})
    old = {"vehicles": before, "alarms": [1], "orders": {"allocated": 1}}
    new = {"vehicles": after, "alarms": [1], "orders": {"allocated": 2}}
    assert delta(old, new, keyed) == {
        "vehicles": {"set": {"b": {"lat": 3}, "c": {"lat": 4}}, "del": []},
        "orders": {"allocated": 2},
    }
    assert delta(new, new, keyed) == {}
    assert frame("delta", {"x": 1}) == b'event: delta\ndata: {"x":1}\n\n'


async def test_events_are_a_snapshot_then_deltas_or_keepalives() -> None:
    states = iter(
        [
            {"vehicles": {"v": {"lat": 1}}},
            {"vehicles": {"v": {"lat": 1}}},
            {"vehicles": {"v": {"lat": 2}}},
        ]
    )
    ticks = iter([False, False, True])
    slept: list[float] = []

    async def read() -> dict[str, Any]:
        return next(states)

    async def stopped() -> bool:
        return next(ticks)

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    out = [
        chunk
        async for chunk in events(
            read, keyed=frozenset({"vehicles"}), interval_s=1.0, stopped=stopped, sleep=sleep
        )
    ]
    assert out == [
        b"retry: 2000\n\n",
        b'event: snapshot\ndata: {"vehicles":{"v":{"lat":1}}}\n\n',
        b": tick\n\n",
        b'event: delta\ndata: {"vehicles":{"set":{"v":{"lat":2}},"del":[]}}\n\n',
    ]
    assert slept == [1.0, 1.0]


async def test_events_end_after_max_ticks() -> None:
    async def read() -> dict[str, Any]:
        return {"orders": {}}

    async def never() -> bool:
        return False

    async def sleep(seconds: float) -> None:
        return None

    out = [
        chunk
        async for chunk in events(
            read, keyed=frozenset(), interval_s=1.0, stopped=never, max_ticks=3, sleep=sleep
        )
    ]
    assert out[2:] == [b": tick\n\n"] * 3 and len(out) == 5
