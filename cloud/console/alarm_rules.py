"""Which alarms the console shows (pure): gateway health, late-risk orders, compartments, and the
state operators gave each alarm."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from cloud.console.schemas import AlarmOut, AlarmState

OFFLINE_AFTER = timedelta(minutes=2)
BACKLOG_RECORDS = 10_000
BACKLOG_AGE_S = 300.0
CLOCK_SKEW_S = 5.0
LATE_RISK_WITHIN = timedelta(minutes=15)
OPEN_ORDER_STATUSES = frozenset({"received", "allocated", "picking", "packed", "dispatched"})
SEVERITIES = {"info": 0, "warning": 1, "critical": 2}


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


def buffer_records(health: Mapping[str, Any] | None) -> int | None:
    value = (health or {}).get("buffer", {}).get("records")
    return int(value) if isinstance(value, int | float) else None


def oldest_unsent_s(health: Mapping[str, Any] | None) -> float | None:
    value = (health or {}).get("buffer", {}).get("oldest_age_s")
    return float(value) if isinstance(value, int | float) else None


def evicted_total(health: Mapping[str, Any] | None) -> int:
    evicted = (health or {}).get("evicted") or {}
    return sum(int(v) for v in evicted.values() if isinstance(v, int | float))


def is_online(gateway: GatewayFacts, now: datetime) -> bool:
    return gateway.last_seen is not None and now - gateway.last_seen <= OFFLINE_AFTER


def gateway_alarms(gateways: Iterable[GatewayFacts], now: datetime) -> list[AlarmOut]:
    """Offline (silent > 2 min), backlog (≥ 10,000 records or oldest unsent ≥ 5 min, or
    evictions) and clock skew (≥ 5 s) for each gateway."""
    found: list[AlarmOut] = []
    for gw in gateways:
        if gw.last_seen is not None and not is_online(gw, now):
            silent = (now - gw.last_seen).total_seconds()
            found.append(
                _alarm(
                    f"gateway_offline:{gw.id}",
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
        if (records or 0) >= BACKLOG_RECORDS or (age or 0.0) >= BACKLOG_AGE_S or evicted > 0:
            found.append(
                _alarm(
                    f"gateway_backlog:{gw.id}",
                    "gateway_backlog",
                    gw.id,
                    "warning",
                    f"{records or 0} records buffered, oldest unsent {age or 0:.0f} s, "
                    f"{evicted} evicted",
                    None,
                    {"buffer_records": records, "oldest_unsent_s": age, "evicted": evicted},
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
    """An alarm a gateway raised (cold-chain excursion, sensor silence, ...)."""
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
