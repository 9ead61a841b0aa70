"""Handing tasks to a third-party carrier and applying its status callbacks."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any, Final

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cloud.api_error import ApiError
from cloud.carriers import Carrier, CarrierError, CarrierUpdate, ShipmentRequest
from cloud.carriers.simulated import Booked, SimulatedCarrier
from cloud.catalog_models import Node
from cloud.dispatch.eta import Point
from cloud.fleet_models import CarrierShipment, DeliveryTask
from cloud.services.delivery_tasks import change_task
from cloud.services.order_delivery import order_delivered, order_failed, order_picked_up

log = logging.getLogger(__name__)
REFUSED: Final = "carrier refused: "

# Which callback may follow which shipment status.
NEXT: Final[dict[str, frozenset[str]]] = {
    "created": frozenset({"picked_up", "failed", "cancelled"}),
    "picked_up": frozenset({"delivered", "failed"}),
}


async def hand_over(
    *, session: AsyncSession, carrier: Carrier, task: DeliveryTask, now: datetime
) -> str | None:
    """Book ``task`` with ``carrier``; the task becomes ``carrier``. Returns why the carrier
    refused (the task stays for own couriers, planned late), or None when booked."""
    if task.status not in ("open", "assigned"):
        return f"task is {task.status}"
    node = await session.get(Node, task.pickup_node_id)
    assert node is not None
    request = ShipmentRequest(
        task_id=task.id,
        order_id=task.order_id,
        pickup=Point(node.lat, node.lon),
        dropoff=Point(task.drop_lat, task.drop_lon),
        ready_at=task.ready_at,
        deliver_by=task.window_end,
        temperature_class=task.temperature_class,
        size=task.size,
    )
    try:
        booking = carrier.create(request, now)
    except CarrierError as exc:
        # Remembered on the task: the loop plans it for own couriers, late if need be.
        await change_task(
            session=session,
            task=task,
            expect=(task.status,),
            values={"failure_reason": f"{REFUSED}{carrier.name}: {exc}"},
            now=now,
        )
        return str(exc)
    moved = await change_task(
        session=session,
        task=task,
        expect=(task.status,),
        values={
            "status": "carrier",
            "courier_id": None,
            "planned_pickup_at": booking.pickup_eta,
            "planned_drop_at": booking.drop_eta,
        },
        now=now,
    )
    if not moved:
        carrier.cancel(booking.external_id, now)
        return "task changed meanwhile"
    session.add(
        CarrierShipment(
            carrier=carrier.name,
            external_id=booking.external_id,
            task_id=task.id,
            status="created",
            pickup_eta=booking.pickup_eta,
            drop_eta=booking.drop_eta,
            events=[{"status": "created", "at": now.isoformat()}],
            created_at=now,
            updated_at=now,
        )
    )
    await session.flush()
    return None


async def cancel_shipment(
    *, session: AsyncSession, carrier: Carrier, task_id: str, now: datetime
) -> None:
    shipment = await session.scalar(
        select(CarrierShipment).where(CarrierShipment.task_id == task_id)
    )
    if shipment is None or shipment.status not in ("created", "picked_up"):
        return
    try:
        carrier.cancel(shipment.external_id, now)
    except CarrierError as exc:
        _log(shipment, "cancel_failed", now, str(exc))
        return
    shipment.status = "cancelled"
    _log(shipment, "cancelled", now, "order closed")


def _log(shipment: CarrierShipment, status: str, at: datetime, reason: str | None) -> None:
    event: dict[str, Any] = {"status": status, "at": at.isoformat()}
    if reason:
        event["reason"] = reason
    shipment.events = [*shipment.events, event]
    shipment.updated_at = at


async def apply_callback(
    *, session: AsyncSession, carrier: Carrier, payload: dict[str, Any], now: datetime
) -> CarrierShipment:
    """Apply one status callback; a repeated callback changes nothing."""
    try:
        update = carrier.parse_callback(payload)
    except ValueError as exc:
        raise ApiError(422, "invalid_callback", str(exc)) from None
    shipment = await session.scalar(
        select(CarrierShipment)
        .where(
            CarrierShipment.carrier == carrier.name,
            CarrierShipment.external_id == update.external_id,
        )
        .with_for_update()
    )
    if shipment is None:
        raise ApiError(
            404,
            "shipment_not_found",
            f"external_id: no {carrier.name} shipment {update.external_id!r}",
        )
    if shipment.status == update.status:
        return shipment
    if update.status not in NEXT.get(shipment.status, frozenset()):
        raise ApiError(
            409,
            "invalid_callback",
            f"status: shipment {update.external_id} is {shipment.status}; "
            f"{update.status} cannot follow",
        )
    await _apply(session, shipment, update, now)
    return shipment


async def _apply(
    session: AsyncSession, shipment: CarrierShipment, update: CarrierUpdate, now: datetime
) -> None:
    task = await session.get(DeliveryTask, shipment.task_id, with_for_update=True)
    assert task is not None
    actor = f"carrier:{shipment.carrier}"
    shipment.status = update.status
    _log(shipment, update.status, update.at, update.reason)
    if update.status == "picked_up":
        await order_picked_up(session=session, order_id=task.order_id, actor=actor, now=now)
        values: dict[str, Any] = {"picked_up_at": update.at}
    elif update.status == "delivered":
        values = {"status": "delivered", "finished_at": update.at}
    elif update.status == "failed":
        values = {"status": "failed", "finished_at": update.at, "failure_reason": update.reason}
    else:  # the carrier gave it back before pickup: own couriers plan it again
        values = {
            "status": "open",
            "planned_pickup_at": None,
            "planned_drop_at": None,
            "failure_reason": f"{actor} cancelled: {update.reason or 'no reason given'}",
        }
    if not await change_task(
        session=session, task=task, expect=("carrier",), values=values, now=now
    ):
        raise ApiError(409, "task_changed", f"task {task.id} is {task.status}, not with a carrier")
    if update.status == "delivered":
        await order_delivered(session=session, order_id=task.order_id, actor=actor, now=now)
    elif update.status == "failed":
        await order_failed(
            session=session,
            order_id=task.order_id,
            reason=update.reason or "the carrier could not deliver",
            actor=actor,
            now=now,
        )
    await session.flush()


async def simulated_updates(
    *, session: AsyncSession, carrier: SimulatedCarrier, now: datetime
) -> int:
    """Apply the callbacks the simulated carrier has 'sent' by ``now``; returns how many."""
    shipments = (
        await session.scalars(
            select(CarrierShipment).where(
                CarrierShipment.carrier == carrier.name,
                CarrierShipment.status.in_(("created", "picked_up")),
            )
        )
    ).all()
    booked = [
        Booked(s.external_id, s.status, s.pickup_eta, s.drop_eta)
        for s in shipments
        if s.pickup_eta is not None and s.drop_eta is not None
    ]
    applied = 0
    for body in carrier.due_updates(booked, now):
        try:
            async with session.begin_nested():  # one refused update must not undo the others
                await apply_callback(session=session, carrier=carrier, payload=body, now=now)
        except ApiError as exc:
            log.warning("simulated carrier update %s refused: %s", body, exc.message)
            continue
        applied += 1
    return applied
