"""Marketplace orders (Tmall/JD-style open-platform trades): nested receiver, yuan prices as
decimal strings, the creation time in China time without an offset. Extra keys are ignored
(marketplaces send dozens we do not use).

    {"tid": "3857264910283746", "created": "2026-11-25 18:03:12", "buyer_member_id": "M-10086",
     "receiver": {"name": "李雷", "mobile": "13800138000", "province": "上海", "city": "上海市",
                  "district": "浦东新区", "detail": "世纪大道 100 号", "geo": "121.5063,31.2354"},
     "items": [{"outer_sku_id": "SKU-MILK-1L", "num": 2, "price": "12.90"}],
     "shipping_type": "express", "buyer_memo": "leave at the door"}
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta, timezone
from typing import Any, Final

from cloud.channels import fields as f
from cloud.channels.model import (
    ChannelPayloadError,
    NormalisedLine,
    NormalisedOrder,
    PromiseClass,
)

# China has kept UTC+8 without daylight saving since 1991, so a fixed offset is exact.
CHINA_TIME: Final = timezone(timedelta(hours=8), "CST")
CREATED_FORMAT: Final = "%Y-%m-%d %H:%M:%S"
# shipping_type -> requested promise; "express" (or none) leaves it to the member rules.
SHIPPING_TYPES: Final[dict[str, PromiseClass | None]] = {
    "express": None,
    "instant": "instant",
    "same_day": "same_day",
    "next_day": "next_day",
}


def normalise_marketplace(payload: Mapping[str, Any]) -> NormalisedOrder:
    body = f.mapping(payload, "payload")
    receiver = f.mapping(f.required(body, "receiver"), "receiver")
    lon, lat = _geo(f.required(receiver, "geo", "receiver."))
    member = body.get("buyer_member_id")
    return NormalisedOrder(
        external_id=f.identifier(f.required(body, "tid"), "tid", max_length=128),
        member_id=None
        if member is None
        else f.identifier(member, "buyer_member_id", max_length=64),
        recipient_name=f.text(
            f.required(receiver, "name", "receiver."), "receiver.name", max_length=200
        ),
        recipient_phone=f.phone(f.required(receiver, "mobile", "receiver."), "receiver.mobile"),
        address_text=_address(receiver),
        lat=lat,
        lon=lon,
        lines=_items(f.required(body, "items")),
        requested_promise=_shipping_type(body.get("shipping_type")),
        placed_at=_created(f.required(body, "created")),
        note=f.optional_text(body.get("buyer_memo"), "buyer_memo", max_length=500),
    )


def _geo(value: object) -> tuple[float, float]:
    raw = f.text(value, "receiver.geo", max_length=64)
    parts = raw.split(",")
    if len(parts) != 2:
        raise ChannelPayloadError("receiver.geo", f"{raw!r} is not 'lon,lat'")
    try:
        numbers = [float(part) for part in parts]
    except ValueError:
        raise ChannelPayloadError("receiver.geo", f"{raw!r} is not 'lon,lat' in degrees") from None
    lon = f.coordinate(numbers[0], "receiver.geo", limit=180)
    lat = f.coordinate(numbers[1], "receiver.geo", limit=90)
    f.check_position(lat, lon, "receiver.geo")
    return lon, lat


def _address(receiver: Mapping[str, Any]) -> str:
    """province city district detail, without the repeat of municipalities (上海 / 上海市)."""
    parts: list[str] = []
    for key in ("province", "city", "district", "detail"):
        path = f"receiver.{key}"
        if key == "district":
            part = f.optional_text(receiver.get(key), path, max_length=200)
        else:
            part = f.text(f.required(receiver, key, "receiver."), path, max_length=200)
        if part and not (parts and parts[-1].rstrip("市") == part.rstrip("市")):
            parts.append(part)
    return " ".join(parts)


def _items(value: object) -> tuple[NormalisedLine, ...]:
    lines = []
    for index, item in enumerate(f.sequence(value, "items", max_items=f.MAX_LINES)):
        path = f"items.{index}"
        entry = f.mapping(item, path)
        price = entry.get("price")
        lines.append(
            NormalisedLine(
                sku_ref=f.identifier(
                    f.required(entry, "outer_sku_id", f"{path}."),
                    f"{path}.outer_sku_id",
                    max_length=64,
                ),
                quantity=f.quantity(
                    f.required(entry, "num", f"{path}."), f"{path}.num", digits_ok=True
                ),
                unit_price_cents=None
                if price is None
                else f.cents_from_yuan(price, f"{path}.price"),
            )
        )
    return tuple(lines)


def _shipping_type(value: object) -> PromiseClass | None:
    if value is None:
        return None
    if isinstance(value, str) and value in SHIPPING_TYPES:
        return SHIPPING_TYPES[value]
    raise ChannelPayloadError(
        "shipping_type", f"{value!r} is not one of {', '.join(SHIPPING_TYPES)}"
    )


def _created(value: object) -> datetime:
    raw = f.text(value, "created", max_length=19)
    try:
        local = datetime.strptime(raw, CREATED_FORMAT)
    except ValueError:
        raise ChannelPayloadError(
            "created", f"{raw!r} is not 'YYYY-MM-DD HH:MM:SS' (China time)"
        ) from None
    return f.within_years(local.replace(tzinfo=CHINA_TIME), "created")
