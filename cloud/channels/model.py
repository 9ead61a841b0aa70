"""The channel-neutral order every adapter produces, its error and its fingerprint (pure)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, Literal

PromiseClass = Literal["instant", "same_day", "next_day"]
PROMISE_CLASSES: Final[tuple[PromiseClass, ...]] = ("instant", "same_day", "next_day")


class ChannelPayloadError(ValueError):
    """A channel payload that cannot become an order; ``field`` is the dotted path in the
    channel's own payload (``items.2.num``, ``receiver.geo``) so the integrator can find it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True)
class NormalisedLine:
    # Our SKU id or a GTIN; placement resolves it against the catalogue.
    sku_ref: str
    quantity: int
    unit_price_cents: int | None


@dataclass(frozen=True)
class NormalisedOrder:
    external_id: str
    member_id: str | None
    recipient_name: str
    recipient_phone: str
    address_text: str
    lat: float
    lon: float
    lines: tuple[NormalisedLine, ...]
    requested_promise: PromiseClass | None
    # Timezone-aware UTC when the channel says when the order was placed.
    placed_at: datetime | None
    note: str | None


def canonical_order(order: NormalisedOrder) -> dict[str, Any]:
    """The order as plain JSON values, the input of :func:`order_fingerprint`."""
    return {
        "external_id": order.external_id,
        "member_id": order.member_id,
        "recipient_name": order.recipient_name,
        "recipient_phone": order.recipient_phone,
        "address_text": order.address_text,
        "lat": order.lat,
        "lon": order.lon,
        "lines": [
            {
                "sku_ref": line.sku_ref,
                "quantity": line.quantity,
                "unit_price_cents": line.unit_price_cents,
            }
            for line in order.lines
        ],
        "requested_promise": order.requested_promise,
        "placed_at": order.placed_at.isoformat() if order.placed_at else None,
        "note": order.note,
    }


def order_fingerprint(order: NormalisedOrder) -> str:
    """SHA-256 hex of the canonical JSON of ``order``: equal for a replay of the same order,
    different as soon as any normalised field differs."""
    text = json.dumps(
        canonical_order(order), sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )
    return hashlib.sha256(text.encode()).hexdigest()
