"""The carrier interface: book a delivery, cancel it, and read the carrier's status callbacks.

An adapter translates between these values and one carrier's API (an instant-delivery company
or an aggregator); the dispatch loop and the callback route only see this interface.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar, Literal, Protocol

from cloud.dispatch.eta import Point

UpdateStatus = Literal["picked_up", "delivered", "failed", "cancelled"]


class CarrierError(RuntimeError):
    """The carrier refused or failed; the message says why (shown to operators)."""


@dataclass(frozen=True)
class ShipmentRequest:
    task_id: str
    order_id: str
    pickup: Point
    dropoff: Point
    ready_at: datetime
    deliver_by: datetime
    temperature_class: str
    size: int


@dataclass(frozen=True)
class CarrierBooking:
    external_id: str
    pickup_eta: datetime
    drop_eta: datetime


@dataclass(frozen=True)
class CarrierUpdate:
    external_id: str
    status: UpdateStatus
    at: datetime
    reason: str | None = None


class Carrier(Protocol):
    name: ClassVar[str]

    def create(self, request: ShipmentRequest, now: datetime) -> CarrierBooking:
        """Book the delivery; raises :class:`CarrierError` when the carrier refuses."""
        ...

    def cancel(self, external_id: str, now: datetime) -> None:
        """Cancel a booking; raises :class:`CarrierError` when it cannot be cancelled."""
        ...

    def parse_callback(self, payload: Mapping[str, Any]) -> CarrierUpdate:
        """The status update in the carrier's callback body; ValueError naming the field."""
        ...
