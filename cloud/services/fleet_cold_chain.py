"""Cold chain as a dispatch constraint: couriers whose compartment left its band lose the
skill (see :mod:`cloud.services.fleet`), their undelivered chilled or frozen tasks are flagged
to operators, and work not yet on board goes back to be planned again. A delivered cold task
keeps the readings of the compartment that carried it."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Final

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cloud.fleet_models import Courier, DeliveryTask, DispatchFlag
from cloud.fleet_rules import CompartmentFault
from cloud.models import MeasurementRow
from cloud.services.delivery_tasks import change_task
from cloud.services.fleet import CourierLive, compartments_of

FLAG_KIND: Final = "cold_chain_out_of_band"
MAX_RECORDED: Final = 5000
HELD: Final = ("assigned", "accepted", "picked_up")


def _evidence(fault: CompartmentFault) -> dict[str, Any]:
    reading = fault.reading
    return {
        "compartment": fault.compartment.name,
        "device_id": fault.compartment.sensor_device_id,
        "min_c": fault.compartment.min_c,
        "max_c": fault.compartment.max_c,
        "latest_c": reading.value if reading else None,
        "latest_at": reading.time.isoformat() if reading else None,
        "why": fault.why,
    }


async def enforce_cold_chain(
    *, session: AsyncSession, couriers: Sequence[CourierLive], now: datetime
) -> int:
    """Flag every undelivered cold task held by a courier that lost its skill (once per task
    while the fault lasts), release accepted ones to be planned again, and resolve the flags
    of couriers back in band. Returns how many flags were raised."""
    raised = 0
    for live in couriers:
        lost = {s for s in live.courier.skills if s not in live.skills}
        open_flags = {
            f.task_id: f
            for f in await session.scalars(
                select(DispatchFlag).where(
                    DispatchFlag.courier_id == live.courier.id,
                    DispatchFlag.kind == FLAG_KIND,
                    DispatchFlag.resolved_at.is_(None),
                )
            )
        }
        if not lost:
            for flag in open_flags.values():
                flag.resolved_at = now
            continue
        tasks = (
            await session.scalars(
                select(DeliveryTask).where(
                    DeliveryTask.courier_id == live.courier.id,
                    DeliveryTask.status.in_(HELD),
                    DeliveryTask.temperature_class.in_(lost),
                )
            )
        ).all()
        faults = {f.compartment.temperature_class: f for f in live.faults}
        for task in tasks:
            fault = faults[task.temperature_class]
            if task.id not in open_flags:
                where = "on board" if task.status == "picked_up" else "re-planned"
                session.add(
                    DispatchFlag(
                        kind=FLAG_KIND,
                        courier_id=live.courier.id,
                        task_id=task.id,
                        order_id=task.order_id,
                        message=(
                            f"courier {live.courier.id}: {fault.compartment.name} "
                            f"({task.temperature_class}) {fault.why}; task {task.id} {where}"
                        ),
                        evidence=_evidence(fault),
                        raised_at=now,
                    )
                )
                raised += 1
            if task.status in ("assigned", "accepted"):
                await change_task(
                    session=session,
                    task=task,
                    expect=(task.status,),
                    values={
                        "status": "open",
                        "courier_id": None,
                        "accepted_at": None,
                        "arrived_at": None,
                        "planned_pickup_at": None,
                        "planned_drop_at": None,
                    },
                    now=now,
                )
    await session.flush()
    return raised


async def temperature_record(
    *,
    session: AsyncSession,
    courier: Courier,
    temperature_class: str,
    since: datetime,
    until: datetime,
) -> dict[str, Any] | None:
    """The readings of the courier's compartment for ``temperature_class`` from pickup to
    drop, with their extremes and whether they all stayed in band; None for ambient goods or
    a courier without a monitored compartment of that class."""
    compartment = next(
        (c for c in compartments_of(courier) if c.temperature_class == temperature_class), None
    )
    if compartment is None:
        return None
    rows = (
        await session.execute(
            select(MeasurementRow.time, MeasurementRow.value)
            .where(
                MeasurementRow.device_id == compartment.sensor_device_id,
                MeasurementRow.quantity == "temperature",
                MeasurementRow.time >= since,
                MeasurementRow.time <= until,
            )
            .order_by(MeasurementRow.time)
            .limit(MAX_RECORDED)
        )
    ).all()
    values = [float(v) for _, v in rows]
    return {
        "compartment": compartment.name,
        "device_id": compartment.sensor_device_id,
        "band_c": [compartment.min_c, compartment.max_c],
        "from": since.isoformat(),
        "to": until.isoformat(),
        "readings": [[t.isoformat(), float(v)] for t, v in rows],
        "min_c": min(values) if values else None,
        "max_c": max(values) if values else None,
        "in_band": bool(values)
        and all(compartment.min_c <= v <= compartment.max_c for v in values),
    }
