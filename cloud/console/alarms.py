"""Every alarm the console lists, and operators' acknowledge/resolve with a comment."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from cloud.api_error import ApiError
from cloud.console.alarm_rules import (
    LATE_RISK_WITHIN,
    OPEN_ORDER_STATUSES,
    Ack,
    GatewayFacts,
    OrderFacts,
    gateway_alarms,
    late_risk_alarms,
    record_alarm,
    with_acks,
)
from cloud.console.schemas import AlarmOut
from cloud.console_models import AlarmAck
from cloud.fleet_models import DeliveryTask, DispatchFlag
from cloud.models import AlarmRow, Gateway
from cloud.order_models import Order

RECENT_RECORD_ALARMS = 200
LATE_RISK_SCAN = 500


async def latest_acks(*, session: AsyncSession, keys: Sequence[str]) -> dict[str, Ack]:
    """The newest acknowledge/resolve of each key that has one."""
    if not keys:
        return {}
    newest = (
        select(func.max(AlarmAck.id))
        .where(AlarmAck.alarm_key.in_(sorted(set(keys))))
        .group_by(AlarmAck.alarm_key)
    )
    rows = await session.scalars(select(AlarmAck).where(AlarmAck.id.in_(newest)))
    return {r.alarm_key: Ack(r.action, r.comment, r.user_name, r.at) for r in rows}


async def gateway_facts(*, session: AsyncSession) -> list[GatewayFacts]:
    rows = await session.execute(
        select(
            Gateway.id,
            Gateway.last_seen,
            Gateway.clock_skew_s,
            Gateway.last_health,
            Gateway.ack_seq,
        ).order_by(Gateway.id)
    )
    return [GatewayFacts(r.id, r.last_seen, r.clock_skew_s, r.last_health, r.ack_seq) for r in rows]


async def late_risk_orders(*, session: AsyncSession, now: datetime) -> list[OrderFacts]:
    """Open orders due within the risk window or planned to drop after their promise."""
    planned = (
        select(DeliveryTask.order_id, func.max(DeliveryTask.planned_drop_at).label("drop"))
        .group_by(DeliveryTask.order_id)
        .subquery()
    )
    rows = await session.execute(
        select(Order.id, Order.status, Order.promise_by, planned.c.drop)
        .outerjoin(planned, planned.c.order_id == Order.id)
        .where(
            Order.status.in_(sorted(OPEN_ORDER_STATUSES)),
            Order.promise_by.is_not(None),
            (Order.promise_by <= now + LATE_RISK_WITHIN) | (planned.c.drop > Order.promise_by),
        )
        .order_by(Order.promise_by)
        .limit(LATE_RISK_SCAN)
    )
    return [OrderFacts(r.id, r.status, r.promise_by, r.drop) for r in rows]


def stored_alarm(a: AlarmRow) -> AlarmOut:
    """A gateway alarm the cloud stored, as the console shows it."""
    return record_alarm(
        gateway_id=a.gateway_id,
        seq=a.seq,
        rule=a.rule,
        subject=a.subject,
        severity=a.severity,
        started_at=a.started_at,
        ended_at=a.ended_at,
        evidence=a.evidence,
    )


async def record_alarms(*, session: AsyncSession) -> list[AlarmOut]:
    rows = await session.scalars(
        select(AlarmRow).order_by(AlarmRow.started_at.desc()).limit(RECENT_RECORD_ALARMS)
    )
    return [stored_alarm(a) for a in rows]


async def flag_alarms(*, session: AsyncSession) -> list[AlarmOut]:
    """The dispatch loop's operator flags (a reefer out of band holding chilled goods)."""
    rows = await session.scalars(
        select(DispatchFlag).order_by(DispatchFlag.raised_at.desc()).limit(RECENT_RECORD_ALARMS)
    )
    return [
        AlarmOut(
            key=f"flag:{f.id}",
            kind=f.kind,
            subject=f"{f.courier_id} / {f.order_id}",
            severity="critical" if f.resolved_at is None else "warning",
            message=f.message,
            started_at=f.raised_at,
            ended_at=f.resolved_at,
            evidence={**f.evidence, "task_id": f.task_id},
            state="open",
        )
        for f in rows
    ]


async def list_alarms(
    *, session: AsyncSession, now: datetime, include_resolved: bool
) -> list[AlarmOut]:
    """Gateway-raised alarms (cold chain, sensor silence), the dispatch loop's cold-chain flags,
    gateway health and late-risk orders,
    each with its acknowledge/resolve state; most severe open ones first."""
    alarms = [
        *await record_alarms(session=session),
        *await flag_alarms(session=session),
        *gateway_alarms(await gateway_facts(session=session), now),
        *late_risk_alarms(await late_risk_orders(session=session, now=now), now),
    ]
    acks = await latest_acks(session=session, keys=[a.key for a in alarms])
    merged = with_acks(alarms, acks)
    return merged if include_resolved else [a for a in merged if a.state != "resolved"]


async def record_ack(
    *,
    session: AsyncSession,
    alarm_key: str,
    action: str,
    comment: str,
    user_name: str,
    now: datetime,
) -> None:
    """Store an acknowledge or resolve of a currently listed alarm (else 404)."""
    known = await list_alarms(session=session, now=now, include_resolved=True)
    if alarm_key not in {a.key for a in known}:
        raise ApiError(404, "alarm_not_found", f"alarm_key: no current alarm {alarm_key!r}")
    session.add(
        AlarmAck(alarm_key=alarm_key, action=action, comment=comment, user_name=user_name, at=now)
    )
    await session.flush()
