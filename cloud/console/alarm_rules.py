"""Which alarms the console shows (pure): gateway health, late-risk orders, the gateways' own
alarm records, and the state operators gave each alarm.

Every alarm is one incident with its own key, so an acknowledge or resolve never covers a later
one: a gateway alarm is its raise and clear records (``alarm:<gateway>:<first seq>``); gateway
offline is one silence (``gateway_offline:<gateway>@<last contact>``); backlog, clock skew and
late risk are numbered occurrences of their condition (``gateway_backlog:<gateway>@<n>``), the
number moving on each time the condition is seen again after it cleared."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import groupby
from typing import Any

from cloud.console.schemas import AlarmOut, AlarmState
from firmware_bridge.wire import format_time

OFFLINE_AFTER = timedelta(minutes=2)
BACKLOG_RECORDS = 10_000
BACKLOG_AGE_S = 300.0
BACKLOG_GROWTH_PER_MIN = 100.0
"""A backlog growing this fast (records a minute, over the gateway's last minutes) ..."""
BACKLOG_GROWING_FROM = 1_000
"""... and already this deep means the uplink is not keeping up."""
CLOCK_SKEW_S = 5.0
LATE_RISK_WITHIN = timedelta(minutes=15)
OPEN_ORDER_STATUSES = frozenset({"received", "allocated", "picking", "packed", "dispatched"})
SEVERITIES = {"info": 0, "warning": 1, "critical": 2}
# Derived from current state with no start of their own: tracked as numbered occurrences.
OCCURRENCE_KINDS = frozenset({"gateway_backlog", "clock_skew", "late_risk"})


@dataclass(frozen=True, slots=True)
class GatewayFacts:
    id: str
    last_seen: datetime | None
    clock_skew_s: float | None
    health: Mapping[str, Any] | None
    ack_seq: int = 0


@dataclass(frozen=True, slots=True)
class OrderFacts:
    id: str
    status: str
    promise_by: datetime | None
    planned_drop_at: datetime | None


@dataclass(frozen=True, slots=True)
class Ack:
    action: str
    comment: str
    user_name: str
    at: datetime


@dataclass(frozen=True, slots=True)
class Occurrence:
    """The current (``ended_at`` None) or last occurrence of a derived condition."""

    number: int
    started_at: datetime
    ended_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class OccurrenceChanges:
    """What to store: occurrences that begin (number 1, or one past an ended one) and ones that
    end, by condition key."""

    started: dict[str, Occurrence] = field(default_factory=dict)
    ended: dict[str, Occurrence] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class AlarmRecord:
    """One alarm record a gateway sent: a raise (``ended_at`` None) or its clear, which repeats
    the rule, subject and ``started_at``."""

    gateway_id: str
    seq: int
    rule: str
    subject: str
    severity: str
    started_at: datetime
    ended_at: datetime | None
    evidence: Mapping[str, Any]


def buffer_records(health: Mapping[str, Any] | None) -> int | None:
    value = (health or {}).get("buffer", {}).get("records")
    return int(value) if isinstance(value, int | float) else None


def oldest_unsent_s(health: Mapping[str, Any] | None) -> float | None:
    value = (health or {}).get("buffer", {}).get("oldest_age_s")
    return float(value) if isinstance(value, int | float) else None


def backlog_growth_per_min(health: Mapping[str, Any] | None) -> float | None:
    value = (health or {}).get("buffer", {}).get("growth_per_min")
    return float(value) if isinstance(value, int | float) else None


def evicted_total(health: Mapping[str, Any] | None) -> int:
    evicted = (health or {}).get("evicted") or {}
    return sum(int(v) for v in evicted.values() if isinstance(v, int | float))


def is_online(gateway: GatewayFacts, now: datetime) -> bool:
    return gateway.last_seen is not None and now - gateway.last_seen <= OFFLINE_AFTER


def gateway_alarms(gateways: Iterable[GatewayFacts], now: datetime) -> list[AlarmOut]:
    """Offline (silent > 2 min), backlog (≥ 10,000 records, oldest unsent ≥ 5 min, evictions,
    or ≥ 1,000 records and growing ≥ 100 a minute) and clock skew (≥ 5 s) for each gateway."""
    found: list[AlarmOut] = []
    for gw in gateways:
        if gw.last_seen is not None and not is_online(gw, now):
            silent = (now - gw.last_seen).total_seconds()
            found.append(
                _alarm(
                    f"gateway_offline:{gw.id}@{format_time(gw.last_seen)}",
                    "gateway_offline",
                    gw.id,
                    "critical",
                    f"no contact for {silent:.0f} s",
                    gw.last_seen,
                    {"last_seen": gw.last_seen.isoformat()},
                )
            )
        records, age = buffer_records(gw.health), oldest_unsent_s(gw.health)
        evicted = evicted_total(gw.health)
        growth = backlog_growth_per_min(gw.health)
        growing = (growth or 0.0) >= BACKLOG_GROWTH_PER_MIN and (
            records or 0
        ) >= BACKLOG_GROWING_FROM
        if (
            (records or 0) >= BACKLOG_RECORDS
            or (age or 0.0) >= BACKLOG_AGE_S
            or evicted > 0
            or growing
        ):
            trend = f", growing {growth:.0f}/min" if growth is not None and growth > 0 else ""
            found.append(
                _alarm(
                    f"gateway_backlog:{gw.id}",
                    "gateway_backlog",
                    gw.id,
                    "warning",
                    f"{records or 0} records buffered{trend}, oldest unsent {age or 0:.0f} s, "
                    f"{evicted} evicted",
                    None,
                    {
                        "buffer_records": records,
                        "oldest_unsent_s": age,
                        "evicted": evicted,
                        "growth_per_min": growth,
                    },
                )
            )
        if gw.clock_skew_s is not None and abs(gw.clock_skew_s) >= CLOCK_SKEW_S:
            found.append(
                _alarm(
                    f"clock_skew:{gw.id}",
                    "clock_skew",
                    gw.id,
                    "warning",
                    f"gateway clock off by {gw.clock_skew_s:+.1f} s",
                    None,
                    {"clock_skew_s": gw.clock_skew_s},
                )
            )
    return found


def is_late_risk(order: OrderFacts, now: datetime) -> bool:
    """Open and either past its promise, planned to arrive after it, or due within 15 min."""
    if order.status not in OPEN_ORDER_STATUSES or order.promise_by is None:
        return False
    if order.planned_drop_at is not None and order.planned_drop_at > order.promise_by:
        return True
    return order.promise_by - now <= LATE_RISK_WITHIN


def late_risk_alarms(orders: Iterable[OrderFacts], now: datetime) -> list[AlarmOut]:
    found = []
    for order in orders:
        if not is_late_risk(order, now) or order.promise_by is None:
            continue
        left = (order.promise_by - now).total_seconds() / 60
        message = f"promise missed {-left:.0f} min ago" if left < 0 else f"due in {left:.0f} min"
        if order.planned_drop_at is not None and order.planned_drop_at > order.promise_by:
            message += f"; planned drop {order.planned_drop_at.isoformat(timespec='minutes')}"
        found.append(
            _alarm(
                f"late_risk:{order.id}",
                "late_risk",
                order.id,
                "critical" if left < 0 else "warning",
                message,
                None,
                {"status": order.status, "promise_by": order.promise_by.isoformat()},
            )
        )
    return found


def occurrence_changes(
    active: Iterable[str],
    stored: Mapping[str, Occurrence],
    now: datetime,
    *,
    may_end: Callable[[str], bool] = lambda key: True,
) -> OccurrenceChanges:
    """A condition seen with no occurrence, or whose last one ended, begins a new one now; an
    open occurrence whose condition is gone ends now (if ``may_end``: the caller looked at it)."""
    holding = set(active)
    changes = OccurrenceChanges()
    for key in sorted(holding):
        last = stored.get(key)
        if last is None:
            changes.started[key] = Occurrence(1, now)
        elif last.ended_at is not None:
            changes.started[key] = Occurrence(last.number + 1, now)
    for key, last in sorted(stored.items()):
        if key not in holding and last.ended_at is None and may_end(key):
            changes.ended[key] = Occurrence(last.number, last.started_at, now)
    return changes


def as_occurrence(alarm: AlarmOut, occurrence: Occurrence) -> AlarmOut:
    """The alarm of one occurrence of its condition: its own key and start."""
    return alarm.model_copy(
        update={
            "key": f"{alarm.key}@{occurrence.number}",
            "started_at": alarm.started_at or occurrence.started_at,
        }
    )


def record_alarm(
    *,
    gateway_id: str,
    seq: int,
    rule: str,
    subject: str,
    severity: str,
    started_at: datetime,
    ended_at: datetime | None,
    evidence: Mapping[str, Any],
) -> AlarmOut:
    """An alarm a gateway raised (cold-chain excursion, sensor silence, ...); ``seq`` is its
    first record's."""
    level = severity if severity in SEVERITIES else "warning"
    state = "ended" if ended_at is not None else "active"
    return _alarm(
        f"alarm:{gateway_id}:{seq}",
        rule,
        subject,
        level,
        f"{rule} on {subject} ({state}); reported by {gateway_id}",
        started_at,
        dict(evidence),
        ended_at=ended_at,
    )


def _incident(record: AlarmRecord) -> tuple[str, str, str, datetime]:
    return (record.gateway_id, record.rule, record.subject, record.started_at)


def record_incidents(records: Iterable[AlarmRecord], *, complete: bool) -> list[AlarmOut]:
    """One alarm per incident (gateway, rule, subject, start): keyed by its first record, ended
    by its clear, with the newest record's severity and evidence; newest start first.

    ``records`` come newest start first; when not ``complete`` (a query limit cut them), the
    incidents of the oldest start are left out, as some of their records may be missing."""
    ordered = sorted(records, key=lambda r: (-r.started_at.timestamp(), _incident(r), r.seq))
    if not complete and ordered:
        oldest = ordered[-1].started_at
        ordered = [r for r in ordered if r.started_at != oldest]
    found = []
    for _, group in groupby(ordered, key=_incident):
        rows = list(group)
        first, newest = rows[0], rows[-1]
        ends = [r.ended_at for r in rows if r.ended_at is not None]
        found.append(
            record_alarm(
                gateway_id=first.gateway_id,
                seq=first.seq,
                rule=first.rule,
                subject=first.subject,
                severity=newest.severity,
                started_at=first.started_at,
                ended_at=max(ends) if ends else None,
                evidence=newest.evidence,
            )
        )
    return found


def with_acks(alarms: Sequence[AlarmOut], acks: Mapping[str, Ack]) -> list[AlarmOut]:
    """Each alarm with the state of its latest acknowledge/resolve; most severe first."""
    out = []
    for alarm in alarms:
        ack = acks.get(alarm.key)
        if ack is None:
            out.append(alarm)
            continue
        state: AlarmState = "resolved" if ack.action == "resolve" else "acknowledged"
        out.append(
            alarm.model_copy(update={"state": state, "comment": ack.comment, "by": ack.user_name})
        )
    return sorted(
        out,
        key=lambda a: (
            a.state == "resolved",
            -SEVERITIES[a.severity],
            -(a.started_at.timestamp() if a.started_at else 0.0),
            a.key,
        ),
    )


def _alarm(
    key: str,
    kind: str,
    subject: str,
    severity: str,
    message: str,
    started_at: datetime | None,
    evidence: dict[str, Any],
    *,
    ended_at: datetime | None = None,
) -> AlarmOut:
    return AlarmOut.model_validate(
        {
            "key": key,
            "kind": kind,
            "subject": subject,
            "severity": severity,
            "message": message,
            "started_at": started_at,
            "ended_at": ended_at,
            "evidence": evidence,
            "state": "open",
        }
    )
