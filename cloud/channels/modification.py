"""A channel's change to an order it placed (``PATCH /api/v1/orders/{id}``), checked (pure).

    {"recipient": {"name": "王小明", "phone": "13800138001"},
     "delivery": {"address": "上海市徐汇区漕溪北路88号", "lat": 31.19, "lon": 121.438},
     "lines": [{"sku": "sku-milk-950", "quantity": 3, "unit_price_cents": 1290}],
     "expected_version": 2}

Every key is optional, but at least one change must be present; ``delivery`` moves as a whole
(address text and coordinates together). ``expected_version`` makes the change conditional on
the order's ``version`` (an optimistic lock). Field names in errors are these keys.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from cloud.channels import fields as f
from cloud.channels.app import app_lines, only_known
from cloud.channels.model import ChannelPayloadError, NormalisedLine

_TOP: Final = frozenset({"recipient", "delivery", "lines", "expected_version"})
_RECIPIENT: Final = frozenset({"name", "phone"})
_DELIVERY: Final = frozenset({"address", "lat", "lon"})


@dataclass(frozen=True)
class Delivery:
    address_text: str
    lat: float
    lon: float


@dataclass(frozen=True)
class OrderChanges:
    recipient_name: str | None = None
    recipient_phone: str | None = None
    delivery: Delivery | None = None
    lines: tuple[NormalisedLine, ...] | None = None
    expected_version: int | None = None

    @property
    def changed_fields(self) -> list[str]:
        names = []
        if self.recipient_name is not None:
            names.append("recipient.name")
        if self.recipient_phone is not None:
            names.append("recipient.phone")
        if self.delivery is not None:
            names.append("delivery")
        if self.lines is not None:
            names.append("lines")
        return names


def parse_changes(payload: Mapping[str, Any]) -> OrderChanges:
    body = f.mapping(payload, "payload")
    only_known(body, _TOP, "")
    name = phone = None
    if body.get("recipient") is not None:
        recipient = f.mapping(body["recipient"], "recipient")
        only_known(recipient, _RECIPIENT, "recipient.")
        if recipient.get("name") is not None:
            name = f.text(recipient["name"], "recipient.name", max_length=200)
        if recipient.get("phone") is not None:
            phone = f.phone(recipient["phone"], "recipient.phone")
    delivery = None
    if body.get("delivery") is not None:
        where = f.mapping(body["delivery"], "delivery")
        only_known(where, _DELIVERY, "delivery.")
        lat = f.coordinate(f.required(where, "lat", "delivery."), "delivery.lat", limit=90)
        lon = f.coordinate(f.required(where, "lon", "delivery."), "delivery.lon", limit=180)
        f.check_position(lat, lon, "delivery")
        address = f.text(
            f.required(where, "address", "delivery."), "delivery.address", max_length=500
        )
        delivery = Delivery(address, lat, lon)
    lines = None if body.get("lines") is None else app_lines(body["lines"])
    version = body.get("expected_version")
    changes = OrderChanges(
        recipient_name=name,
        recipient_phone=phone,
        delivery=delivery,
        lines=lines,
        expected_version=None
        if version is None
        else f.integer(version, "expected_version", low=1, high=2**31 - 1),
    )
    if not changes.changed_fields:
        raise ChannelPayloadError("payload", "nothing to change: send recipient, delivery or lines")
    return changes
