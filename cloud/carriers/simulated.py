"""A deterministic in-process carrier for tests and the demo.

It books everything it can carry (at most :data:`MAX_SIZE` units, no frozen goods), picks up
:data:`PICKUP_LEAD` after booking (or when the goods are ready) and rides at
:data:`SPEED_MPS` along haversine × :data:`DETOUR`. :meth:`SimulatedCarrier.due_updates` says
which status callbacks the carrier would have sent by a given time, so the dispatch loop can
feed them through the same path as a real carrier's callbacks.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, ClassVar, Final

from pydantic import ValidationError

from cloud.carriers.base import CarrierBooking, CarrierError, CarrierUpdate, ShipmentRequest
from cloud.dispatch.eta import haversine_m
from cloud.fleet_schemas import CarrierCallbackIn

MAX_SIZE: Final = 20
PICKUP_LEAD: Final = timedelta(minutes=10)
SPEED_MPS: Final = 5.0
DETOUR: Final = 1.3


@dataclass(frozen=True)
class Booked:
    external_id: str
    status: str
    pickup_eta: datetime
    drop_eta: datetime


class SimulatedCarrier:
    name: ClassVar[str] = "simulated"

    def create(self, request: ShipmentRequest, now: datetime) -> CarrierBooking:
        if request.size > MAX_SIZE:
            raise CarrierError(f"size: {request.size} units is over the {MAX_SIZE}-unit limit")
        if request.temperature_class == "frozen":
            raise CarrierError("temperature_class: the simulated carrier has no freezer bags")
        digest = hashlib.sha256(request.task_id.encode()).hexdigest()[:16]
        pickup = max(now + PICKUP_LEAD, request.ready_at)
        ride = haversine_m(request.pickup, request.dropoff) * DETOUR / SPEED_MPS
        return CarrierBooking(f"sim-{digest}", pickup, pickup + timedelta(seconds=round(ride)))

    def cancel(self, external_id: str, now: datetime) -> None:
        if not external_id.startswith("sim-"):
            raise CarrierError(f"external_id: {external_id!r} is not a simulated booking")

    def parse_callback(self, payload: Mapping[str, Any]) -> CarrierUpdate:
        try:
            body = CarrierCallbackIn.model_validate(payload)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "body"
            raise ValueError(f"{where}: {first['msg']}") from None
        return CarrierUpdate(body.external_id, body.status, body.at, body.reason)

    def due_updates(self, booked: Iterable[Booked], now: datetime) -> list[dict[str, Any]]:
        """Callback bodies the carrier has sent by ``now`` and the receiver has not applied."""
        bodies: list[dict[str, Any]] = []
        for b in booked:
            steps = [("picked_up", b.pickup_eta), ("delivered", b.drop_eta)]
            done = {"created": 0, "picked_up": 1, "delivered": 2}.get(b.status)
            if done is None:
                continue
            for status, moment in steps[done:]:
                if moment <= now:
                    bodies.append(
                        {"external_id": b.external_id, "status": status, "at": moment.isoformat()}
                    )
        return bodies
