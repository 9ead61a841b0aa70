"""Delivery-platform orders (Meituan/Ele.me-style push): flat form fields, coordinates as
integers in millionths of a degree, the basket as a JSON *string*, epoch-second times.
Extra keys are ignored.

    {"order_id": 27061900338121234, "recipient_name": "张女士",
     "recipient_phone": "13800138000_1234", "recipient_address": "上海市浦东新区世纪大道 100 号",
     "latitude": 31235400, "longitude": 121506300,
     "detail": "[{\"app_food_code\": \"SKU-MILK-1L\", \"quantity\": 2, \"price\": 12.9}]",
     "ctime": 1764065000, "delivery_time": 0, "caution": "no cutlery"}
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Final

from cloud.channels import fields as f
from cloud.channels.marketplace import CHINA_TIME
from cloud.channels.model import ChannelPayloadError, NormalisedLine, NormalisedOrder, PromiseClass

MICRODEGREES: Final = 1_000_000
MAX_DETAIL_CHARS: Final = 200_000
# Epoch seconds of 2000-01-01 and 2100-01-01 (UTC).
_EPOCH_LOW: Final = 946_684_800
_EPOCH_HIGH: Final = 4_102_444_800


def normalise_delivery_platform(payload: Mapping[str, Any]) -> NormalisedOrder:
    body = f.mapping(payload, "payload")
    lat = _microdegrees(f.required(body, "latitude"), "latitude", limit=90)
    lon = _microdegrees(f.required(body, "longitude"), "longitude", limit=180)
    f.check_position(lat, lon, "latitude")
    placed_at = _epoch(f.required(body, "ctime"), "ctime")
    return NormalisedOrder(
        external_id=f.identifier(f.required(body, "order_id"), "order_id", max_length=128),
        member_id=None,
        recipient_name=f.text(f.required(body, "recipient_name"), "recipient_name", max_length=200),
        recipient_phone=f.phone(f.required(body, "recipient_phone"), "recipient_phone"),
        address_text=f.text(
            f.required(body, "recipient_address"), "recipient_address", max_length=500
        ),
        lat=lat,
        lon=lon,
        lines=_detail(f.required(body, "detail")),
        requested_promise=_promise(body.get("delivery_time", 0), placed_at),
        placed_at=placed_at,
        note=f.optional_text(body.get("caution"), "caution", max_length=500),
    )


def _microdegrees(value: object, path: str, *, limit: int) -> float:
    number = f.integer(value, path, low=-limit * MICRODEGREES, high=limit * MICRODEGREES)
    return number / MICRODEGREES


def _epoch(value: object, path: str) -> datetime:
    seconds = f.integer(value, path, low=_EPOCH_LOW, high=_EPOCH_HIGH - 1)
    return datetime.fromtimestamp(seconds, UTC)


def _promise(value: object, placed_at: datetime) -> PromiseClass:
    """0 = as soon as possible (instant); otherwise the booked delivery time decides between
    the same day and the next day, counted in China time."""
    if value is None or (isinstance(value, int) and not isinstance(value, bool) and value == 0):
        return "instant"
    booked = _epoch(value, "delivery_time")
    if booked < placed_at:
        raise ChannelPayloadError("delivery_time", "is before ctime (the order time)")
    if booked.astimezone(CHINA_TIME).date() == placed_at.astimezone(CHINA_TIME).date():
        return "same_day"
    return "next_day"


def _detail(value: object) -> tuple[NormalisedLine, ...]:
    items: object = value
    if isinstance(value, str):
        if len(value) > MAX_DETAIL_CHARS:
            raise ChannelPayloadError("detail", f"is longer than {MAX_DETAIL_CHARS} characters")
        try:
            items = json.loads(value)
        except (ValueError, RecursionError):
            raise ChannelPayloadError("detail", "is not a JSON array of dishes/items") from None
    lines = []
    for index, item in enumerate(f.sequence(items, "detail", max_items=f.MAX_LINES)):
        path = f"detail.{index}"
        entry = f.mapping(item, path)
        price = entry.get("price")
        lines.append(
            NormalisedLine(
                sku_ref=f.identifier(
                    f.required(entry, "app_food_code", f"{path}."),
                    f"{path}.app_food_code",
                    max_length=64,
                ),
                quantity=f.quantity(f.required(entry, "quantity", f"{path}."), f"{path}.quantity"),
                unit_price_cents=None
                if price is None
                else f.cents_from_yuan(price, f"{path}.price"),
            )
        )
    return tuple(lines)
