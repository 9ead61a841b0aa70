"""Pure console logic: which gateway/order alarms exist, how acks change them, SSE deltas."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from cloud.console.alarm_rules import (
    Ack,
    AlarmRecord,
    GatewayFacts,
    Occurrence,
    OccurrenceChanges,
    OrderFacts,
    as_occurrence,
    gateway_alarms,
    is_late_risk,
    late_risk_alarms,
    occurrence_changes,
    record_alarm,
    record_incidents,
    with_acks,
)
from cloud.console.schemas import AckIn
from cloud.console.stream import delta, diff, events, frame

NOW = datetime(2025, 3, 1, 10, 0, tzinfo=UTC)


def _health(
    records: int, age: float, evicted: int = 0, growth: float | None = None
) -> dict[str, Any]:
    return {
        "buffer": {"records": records, "oldest_age_s": age, "growth_per_min": growth},
        "evicted": {"position": evicted},
    }


def test_gateway_alarms_for_offline_backlog_evictions_and_skew() -> None:
    gateways = [
        GatewayFacts("ok", NOW - timedelta(seconds=30), 0.4, _health(12, 1.0)),
        GatewayFacts("silent", NOW - timedelta(minutes=5), None, None),
        GatewayFacts("deep", NOW, None, _health(10_000, 2.0)),
        GatewayFacts("stale", NOW, None, _health(3, 300.0)),
        GatewayFacts("evicting", NOW, None, _health(3, 1.0, evicted=7)),
        GatewayFacts("growing", NOW, None, _health(1_500, 40.0, growth=250.0)),
        GatewayFacts("growing-shallow", NOW, None, _health(200, 40.0, growth=250.0)),
        GatewayFacts("draining", NOW, None, _health(9_000, 40.0, growth=-900.0)),
        GatewayFacts("skewed", NOW, -6.5, None),
        GatewayFacts("never", None, None, None),
    ]
    found = {(a.kind, a.subject): a for a in gateway_alarms(gateways, NOW)}
    assert set(found) == {
        ("gateway_offline", "silent"),
        ("gateway_backlog", "deep"),
        ("gateway_backlog", "stale"),
        ("gateway_backlog", "evicting"),
        ("gateway_backlog", "growing"),
        ("clock_skew", "skewed"),
    }
    assert found[("gateway_offline", "silent")].message == "no contact for 300 s"
    # One silence is one incident: the next silence (after a later contact) has another key.
    assert found[("gateway_offline", "silent")].key == "gateway_offline:silent@2025-03-01T09:55:00Z"
    assert found[("gateway_backlog", "deep")].key == "gateway_backlog:deep"  # numbered later
    assert found[("gateway_backlog", "evicting")].evidence["evicted"] == 7
    growing = found[("gateway_backlog", "growing")]
    assert growing.evidence["growth_per_min"] == 250.0
    assert (
        growing.message == "1500 records buffered, growing 250/min, oldest unsent 40 s, 0 evicted"
    )
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


def test_a_condition_that_clears_and_comes_back_is_a_new_occurrence() -> None:
    later = NOW + timedelta(minutes=5)
    first = occurrence_changes(["gateway_backlog:gw"], {}, NOW)
    assert first == OccurrenceChanges(started={"gateway_backlog:gw": Occurrence(1, NOW)})
    holding = {"gateway_backlog:gw": Occurrence(1, NOW)}
    assert occurrence_changes(["gateway_backlog:gw"], holding, later) == OccurrenceChanges()
    cleared = occurrence_changes([], holding, later)
    assert cleared == OccurrenceChanges(ended={"gateway_backlog:gw": Occurrence(1, NOW, later)})
    back = occurrence_changes(
        ["gateway_backlog:gw"], {"gateway_backlog:gw": Occurrence(1, NOW, later)}, later
    )
    assert back.started == {"gateway_backlog:gw": Occurrence(2, later)}
    # A condition the caller did not look at (an order past its scan) is not taken as cleared.
    unseen = occurrence_changes(
        [], {"late_risk:o-1": Occurrence(3, NOW)}, later, may_end=lambda k: False
    )
    assert unseen == OccurrenceChanges()

    [backlog] = [
        a for a in gateway_alarms([GatewayFacts("gw", NOW, None, _health(20_000, 1.0))], NOW)
    ]
    second = as_occurrence(backlog, Occurrence(2, later))
    assert (second.key, second.started_at) == ("gateway_backlog:gw@2", later)
    acks = {"gateway_backlog:gw@1": Ack("resolve", "uplink fixed", "ops", NOW)}
    assert [a.state for a in with_acks([second], acks)] == ["open"]
    assert [a.state for a in with_acks([as_occurrence(backlog, Occurrence(1, NOW))], acks)] == [
        "resolved"
    ]


def _record(seq: int, subject: str, started: datetime, ended: datetime | None) -> AlarmRecord:
    peak = {"value": 8.0 + seq}
    return AlarmRecord("gw", seq, "coldchain.excursion", subject, "critical", started, ended, peak)


def test_a_gateway_alarm_and_its_clear_are_one_incident() -> None:
    t1, t2 = NOW - timedelta(minutes=30), NOW - timedelta(minutes=10)
    records = [
        _record(12, "chiller/p-1", t1, NOW - timedelta(minutes=20)),  # the clear of seq 10
        _record(30, "chiller/p-1", t2, None),  # a new excursion of the same probe
        _record(10, "chiller/p-1", t1, None),
        _record(11, "freezer/p-2", t1, None),
    ]
    found = record_incidents(records, complete=True)
    assert [(a.key, a.started_at, a.ended_at, a.evidence) for a in found] == [
        ("alarm:gw:30", t2, None, {"value": 38.0}),
        ("alarm:gw:10", t1, NOW - timedelta(minutes=20), {"value": 20.0}),
        ("alarm:gw:11", t1, None, {"value": 19.0}),
    ]
    assert "(ended)" in found[1].message and "(active)" in found[2].message
    # A query limit may have cut the oldest start's records: those incidents wait for a full read.
    assert [a.key for a in record_incidents(records, complete=False)] == ["alarm:gw:30"]
    assert record_incidents([], complete=False) == []


def test_a_blank_comment_is_refused_naming_the_field() -> None:
    with pytest.raises(ValidationError) as refused:
        AckIn.model_validate({"action": "resolve", "comment": " \t\n "})
    assert [e["loc"] for e in refused.value.errors()] == [("comment",)]
    assert AckIn.model_validate({"action": "resolve", "comment": "  ok  "}).comment == "ok"


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
