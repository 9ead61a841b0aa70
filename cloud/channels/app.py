"""Our own mini-program/app: native JSON, strict (unknown keys are refused so typos surface).

{"external_id": "APP-20261125-000123", "member_id": "M-10086",
 "recipient": {"name": "王芳", "phone": "+86 138 0013 8000"},
 "delivery": {"address": "上海市浦东新区世纪大道 100 号 2 楼", "lat": 31.2354, "lon": 121.5063},
 "lines": [{"sku": "SKU-MILK-1L", "quantity": 2, "unit_price_cents": 1290}],
 "promise": "instant", "placed_at": "2026-11-25T18:03:12+08:00", "note": "ring twice"}
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Final

from cloud.channels import fields as f
from cloud.channels.model import (
    PROMISE_CLASSES,
    ChannelPayloadError,
    NormalisedLine,
    NormalisedOrder,
    PromiseClass,
)

_TOP: Final = frozenset(
    {"external_id", "member_id", "recipient", "delivery", "lines", "promise", "placed_at", "note"}
)
_RECIPIENT: Final = frozenset({"name", "phone"})
_DELIVERY: Final = frozenset({"address", "lat", "lon"})
_LINE: Final = frozenset({"sku", "quantity", "unit_price_cents"})


def normalise_app(payload: Mapping[str, Any]) -> NormalisedOrder:
    body = f.mapping(payload, "payload")
    only_known(body, _TOP, "")
    recipient = f.mapping(f.required(body, "recipient"), "recipient")
    only_known(recipient, _RECIPIENT, "recipient.")
    delivery = f.mapping(f.required(body, "delivery"), "delivery")
    only_known(delivery, _DELIVERY, "delivery.")
    lat = f.coordinate(f.required(delivery, "lat", "delivery."), "delivery.lat", limit=90)
    lon = f.coordinate(f.required(delivery, "lon", "delivery."), "delivery.lon", limit=180)
    f.check_position(lat, lon, "delivery")
    member = body.get("member_id")
    return NormalisedOrder(
        external_id=f.identifier(f.required(body, "external_id"), "external_id", max_length=128),
        member_id=None if member is None else f.identifier(member, "member_id", max_length=64),
        recipient_name=f.text(
            f.required(recipient, "name", "recipient."), "recipient.name", max_length=200
        ),
        recipient_phone=f.phone(f.required(recipient, "phone", "recipient."), "recipient.phone"),
        address_text=f.text(
            f.required(delivery, "address", "delivery."), "delivery.address", max_length=500
        ),
        lat=lat,
        lon=lon,
        lines=app_lines(f.required(body, "lines")),
        requested_promise=_promise(body.get("promise")),
        placed_at=_placed_at(body.get("placed_at")),
        note=f.optional_text(body.get("note"), "note", max_length=500),
    )


def app_lines(value: object) -> tuple[NormalisedLine, ...]:
    lines = []
    for index, item in enumerate(f.sequence(value, "lines", max_items=f.MAX_LINES)):
        path = f"lines.{index}"
        line = f.mapping(item, path)
        only_known(line, _LINE, f"{path}.")
        price = line.get("unit_price_cents")
        lines.append(
            NormalisedLine(
                sku_ref=f.identifier(
                    f.required(line, "sku", f"{path}."), f"{path}.sku", max_length=64
                ),
                quantity=f.quantity(f.required(line, "quantity", f"{path}."), f"{path}.quantity"),
                unit_price_cents=None
                if price is None
                else f.cents_from_cents(price, f"{path}.unit_price_cents"),
            )
        )
    return tuple(lines)


def _promise(value: object) -> PromiseClass | None:
    if value is None:
        return None
    for promise in PROMISE_CLASSES:
        if value == promise:
            return promise
    raise ChannelPayloadError(
        "promise", f"{value!r} is not one of {', '.join(PROMISE_CLASSES)} (or leave it out)"
    )


def _placed_at(value: object) -> datetime | None:
    if value is None:
        return None
    raw = f.text(value, "placed_at", max_length=40)
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError:
        raise ChannelPayloadError(
            "placed_at", f"{raw!r} is not ISO 8601, e.g. 2026-11-25T18:03:12+08:00"
        ) from None
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ChannelPayloadError("placed_at", "add a UTC offset, e.g. +08:00 or Z")
    return f.within_years(moment, "placed_at")


def only_known(body: Mapping[str, Any], known: frozenset[str], prefix: str) -> None:
    for key in body:
        if key not in known:
            name = key if isinstance(key, str) and key.strip() else repr(key)
            raise ChannelPayloadError(
                f"{prefix}{name}", f"unknown field; expected {', '.join(sorted(known))}"
            )
