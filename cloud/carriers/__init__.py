"""Third-party delivery carriers behind one interface (create, cancel, status callback)."""

from cloud.carriers.base import (
    Carrier,
    CarrierBooking,
    CarrierError,
    CarrierUpdate,
    ShipmentRequest,
)
from cloud.carriers.simulated import SimulatedCarrier

__all__ = [
    "Carrier",
    "CarrierBooking",
    "CarrierError",
    "CarrierUpdate",
    "ShipmentRequest",
    "SimulatedCarrier",
    "carrier_for",
]


def carrier_for(name: str) -> Carrier | None:
    """The carrier a setting names; None for ``none``."""
    if name == "none":
        return None
    if name == SimulatedCarrier.name:
        return SimulatedCarrier()
    raise ValueError(f"unknown carrier {name!r}; known: none, simulated")
