"""Every alarm the console lists, and operators' acknowledge/resolve with a comment.

Listing also records when derived conditions (backlog, clock skew, late risk) begin and end
(``alarm_conditions``), so a caller that lists alarms commits its session."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

from sqlalchemy import ColumnElement, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from cloud.api_error import ApiError
from cloud.console.alarm_rules import (
    LATE_RISK_WITHIN,
    OCCURRENCE_KINDS,
    OPEN_ORDER_STATUSES,
    Ack,
    AlarmRecord,
    GatewayFacts,
    Occurrence,
    OrderFacts,
    as_occurrence,
    gateway_alarms,
    late_risk_alarms,
    occurrence_changes,
    record_incidents,
    with_acks,
)
from cloud.console.schemas import AlarmOut
from cloud.console_models import AlarmAck, AlarmCondition
from cloud.fleet_models import DeliveryTask, DispatchFlag
from cloud.models import AlarmRow, Gateway
from cloud.order_models import Order
from cloud.services.sql import upsert_insert

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


async def record_alarms(
    *,
    session: AsyncSession,
    where: ColumnElement[bool] | None = None,
    limit: int = RECENT_RECORD_ALARMS,
) -> list[AlarmOut]:
    """The newest ``limit`` incidents the gateways reported (a raise and its clear are one),
    optionally only those matching ``where``."""
    # Two records (raise, clear) per incident; one more row tells whether the limit cut them.
    fetch = 2 * limit + 1
    query = select(AlarmRow).order_by(AlarmRow.started_at.desc(), AlarmRow.seq)
    if where is not None:
        query = query.where(where)
    rows = (await session.scalars(query.limit(fetch))).all()
    records = [
        AlarmRecord(
            a.gateway_id, a.seq, a.rule, a.subject, a.severity, a.started_at, a.ended_at, a.evidence
        )
        for a in rows
    ]
    return record_incidents(records, complete=len(rows) < fetch)[:limit]


async def track_occurrences(
    *,
    session: AsyncSession,
    active: Sequence[str],
    now: datetime,
    may_end: Callable[[str], bool],
) -> dict[str, Occurrence]:
    """Store where derived conditions began or ended; the current occurrence of each of
    ``active``. Concurrent listers agree: each change is conditional on the row it read."""
    stored = await _occurrences(
        session,
        or_(AlarmCondition.condition_key.in_(sorted(active)), AlarmCondition.ended_at.is_(None)),
    )
    changes = occurrence_changes(active, stored, now, may_end=may_end)
    table = AlarmCondition.__table__
    for key, begun in changes.started.items():
        if begun.number == 1:
            await session.execute(
                upsert_insert(session, table)  # type: ignore[arg-type]
                .values(condition_key=key, occurrence=1, started_at=begun.started_at, ended_at=None)
                .on_conflict_do_nothing(index_elements=["condition_key"])
            )
        else:
            await session.execute(
                update(AlarmCondition)
                .where(
                    AlarmCondition.condition_key == key,
                    AlarmCondition.occurrence == begun.number - 1,
                    AlarmCondition.ended_at.is_not(None),
                )
                .values(occurrence=begun.number, started_at=begun.started_at, ended_at=None)
            )
    for key, ended in changes.ended.items():
        await session.execute(
            update(AlarmCondition)
            .where(
                AlarmCondition.condition_key == key,
                AlarmCondition.occurrence == ended.number,
                AlarmCondition.ended_at.is_(None),
            )
            .values(ended_at=ended.ended_at)
        )
    if changes.started:
        # Another lister may have begun the same occurrence first: read back what is stored.
        stored |= await _occurrences(
            session, AlarmCondition.condition_key.in_(sorted(changes.started))
        )
    return {key: stored[key] for key in active if key in stored}


async def _occurrences(session: AsyncSession, where: ColumnElement[bool]) -> dict[str, Occurrence]:
    rows = await session.execute(
        select(
            AlarmCondition.condition_key,
            AlarmCondition.occurrence,
            AlarmCondition.started_at,
            AlarmCondition.ended_at,
        )
        .where(where)
        .execution_options(populate_existing=True)
    )
    return {r.condition_key: Occurrence(r.occurrence, r.started_at, r.ended_at) for r in rows}


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


async def observe_conditions(
    *, session: AsyncSession, now: datetime
) -> tuple[list[AlarmOut], dict[str, Occurrence]]:
    """The alarms derived from current state (gateway health, late-risk orders), and the
    occurrence of each tracked one, after recording which conditions began or ended."""
    late = await late_risk_orders(session=session, now=now)
    derived = [
        *gateway_alarms(await gateway_facts(session=session), now),
        *late_risk_alarms(late, now),
    ]
    tracked = [a.key for a in derived if a.kind in OCCURRENCE_KINDS]
    # Orders past the scan limit were not looked at: their late risk may still hold.
    scanned_all = len(late) < LATE_RISK_SCAN
    occurrences = await track_occurrences(
        session=session,
        active=tracked,
        now=now,
        may_end=lambda key: scanned_all or not key.startswith("late_risk:"),
    )
    return derived, occurrences


async def list_alarms(
    *, session: AsyncSession, now: datetime, include_resolved: bool
) -> list[AlarmOut]:
    """Gateway-raised alarms (cold chain, sensor silence), the dispatch loop's cold-chain flags,
    gateway health and late-risk orders,
    each with its acknowledge/resolve state; most severe open ones first."""
    derived, occurrences = await observe_conditions(session=session, now=now)
    alarms = [
        *await record_alarms(session=session),
        *await flag_alarms(session=session),
        *(as_occurrence(a, occurrences[a.key]) if a.key in occurrences else a for a in derived),
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
