"""Order payloads as the three kinds of sales channel send them (pure: builds dicts only).

A channel-neutral :class:`SimOrder` (random ones from :func:`random_order`) is rendered in a
channel's own shape by :func:`render`: ``app`` (our native JSON), ``marketplace``
(Tmall/JD-style trade) or ``delivery_platform`` (Meituan/Ele.me-style push). The shapes are
documented in the README under "Channel order payloads"; the benchmark and the demo post them
to ``POST /api/v1/orders``.
"""

from __future__ import annotations

import json
import math
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Final

CHINA_TIME: Final = timezone(timedelta(hours=8), "CST")
PEOPLE_SQUARE: Final = (31.2304, 121.4737)
_SURNAMES: Final = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高"
_GIVEN: Final = ("伟", "芳", "娜", "敏", "静", "丽", "强", "磊", "洋", "艳", "杰", "婷", "军", "霞")
_DISTRICTS: Final = ("徐汇区", "浦东新区", "静安区", "黄浦区", "长宁区", "普陀区", "杨浦区")
_ROADS: Final = ("漕溪北路", "世纪大道", "南京西路", "张江路", "陆家嘴环路", "淮海中路", "长寿路")
_NOTES: Final = ("放门口即可", "请先打电话", "不要按门铃", "leave at the door", None, None, None)
PROMISES: Final = ("instant", "same_day", "next_day")


@dataclass(frozen=True)
class SimLine:
    sku_ref: str
    quantity: int
    unit_price_cents: int


@dataclass(frozen=True)
class SimOrder:
    external_id: str
    member_id: str | None
    name: str
    phone: str
    district: str
    # Street, number and flat, e.g. "世纪大道100号5楼".
    detail: str
    lat: float
    lon: float
    lines: tuple[SimLine, ...]
    promise: str | None
    # Whole seconds, timezone-aware.
    placed_at: datetime
    note: str | None

    @property
    def address(self) -> str:
        return f"上海市{self.district}{self.detail}"


def random_order(
    rng: random.Random,
    *,
    external_id: str,
    sku_refs: Sequence[str],
    placed_at: datetime,
    center: tuple[float, float] = PEOPLE_SQUARE,
    radius_km: float = 3.0,
    member_ids: Sequence[str] = (),
    max_lines: int = 3,
    max_quantity: int = 3,
) -> SimOrder:
    """A plausible Shanghai order: 1..``max_lines`` distinct SKUs from ``sku_refs``, delivered
    within ``radius_km`` of ``center`` (coordinates rounded to 6 decimals, as platforms send)."""
    distance = radius_km * math.sqrt(rng.random())
    bearing = rng.uniform(0, 2 * math.pi)
    lat = center[0] + distance * math.cos(bearing) / 111.32
    lon = center[1] + distance * math.sin(bearing) / (111.32 * math.cos(math.radians(center[0])))
    skus = rng.sample(list(sku_refs), k=min(len(sku_refs), rng.randint(1, max_lines)))
    return SimOrder(
        external_id=external_id,
        member_id=rng.choice(list(member_ids)) if member_ids and rng.random() < 0.5 else None,
        name=rng.choice(_SURNAMES) + "".join(rng.choices(_GIVEN, k=rng.randint(1, 2))),
        phone=f"1{rng.choice('3456789')}{rng.randrange(10**9):09d}",
        district=rng.choice(_DISTRICTS),
        detail=f"{rng.choice(_ROADS)}{rng.randint(1, 2000)}号{rng.randint(1, 30)}楼",
        lat=round(lat, 6),
        lon=round(lon, 6),
        lines=tuple(
            SimLine(sku, rng.randint(1, max_quantity), rng.randint(150, 25_000)) for sku in skus
        ),
        promise=rng.choice((*PROMISES, None)),
        placed_at=placed_at.replace(microsecond=0),
        note=rng.choice(_NOTES),
    )


def app_payload(order: SimOrder) -> dict[str, Any]:
    """Our own app's native JSON."""
    payload: dict[str, Any] = {
        "external_id": order.external_id,
        "recipient": {"name": order.name, "phone": order.phone},
        "delivery": {"address": order.address, "lat": order.lat, "lon": order.lon},
        "lines": [
            {
                "sku": line.sku_ref,
                "quantity": line.quantity,
                "unit_price_cents": line.unit_price_cents,
            }
            for line in order.lines
        ],
        "placed_at": order.placed_at.isoformat(),
    }
    if order.member_id is not None:
        payload["member_id"] = order.member_id
    if order.promise is not None:
        payload["promise"] = order.promise
    if order.note is not None:
        payload["note"] = order.note
    return payload


def marketplace_payload(order: SimOrder) -> dict[str, Any]:
    """A Tmall/JD-style trade: yuan as strings, China time, ``geo`` as "lon,lat"."""
    payload: dict[str, Any] = {
        "tid": order.external_id,
        "status": "WAIT_SELLER_SEND_GOODS",
        "created": order.placed_at.astimezone(CHINA_TIME).strftime("%Y-%m-%d %H:%M:%S"),
        "receiver": {
            "name": order.name,
            "mobile": order.phone,
            "province": "上海",
            "city": "上海市",
            "district": order.district,
            "detail": order.detail,
            "zip": "200000",
            "geo": f"{order.lon:.6f},{order.lat:.6f}",
        },
        "items": [
            {
                "outer_sku_id": line.sku_ref,
                "num": line.quantity,
                "price": f"{line.unit_price_cents // 100}.{line.unit_price_cents % 100:02d}",
            }
            for line in order.lines
        ],
        "shipping_type": order.promise or "express",
    }
    if order.member_id is not None:
        payload["buyer_member_id"] = order.member_id
    if order.note is not None:
        payload["buyer_memo"] = order.note
    return payload


def delivery_platform_payload(order: SimOrder) -> dict[str, Any]:
    """A Meituan/Ele.me-style push: microdegrees, the basket as a JSON string, epoch seconds.
    Delivery platforms always deliver: no promise is rendered as "as soon as possible"."""
    payload: dict[str, Any] = {
        "order_id": order.external_id,
        "recipient_name": order.name,
        "recipient_phone": order.phone,
        "recipient_address": order.address,
        "latitude": round(order.lat * 1_000_000),
        "longitude": round(order.lon * 1_000_000),
        "detail": json.dumps(
            [
                {
                    "app_food_code": line.sku_ref,
                    "quantity": line.quantity,
                    "price": line.unit_price_cents / 100,
                    "unit": "份",
                }
                for line in order.lines
            ],
            ensure_ascii=False,
        ),
        "ctime": int(order.placed_at.timestamp()),
        "delivery_time": _booked_delivery(order),
        "pay_type": 2,
    }
    if order.note is not None:
        payload["caution"] = order.note
    return payload


def _booked_delivery(order: SimOrder) -> int:
    """0 (as soon as possible) or the booked time in epoch seconds for the promise."""
    placed = order.placed_at.astimezone(CHINA_TIME)
    if order.promise == "same_day":
        day_end = placed.replace(hour=23, minute=59, second=59)
        return int(max(placed, min(placed + timedelta(hours=3), day_end)).timestamp())
    if order.promise == "next_day":
        morning = (placed + timedelta(days=1)).replace(hour=10, minute=0, second=0)
        return int(morning.timestamp())
    return 0


RENDERERS: Final[dict[str, Callable[[SimOrder], dict[str, Any]]]] = {
    "app": app_payload,
    "marketplace": marketplace_payload,
    "delivery_platform": delivery_platform_payload,
}


def render(channel_kind: str, order: SimOrder) -> dict[str, Any]:
    """``order`` in the shape of ``channel_kind`` (app, marketplace or delivery_platform)."""
    try:
        renderer = RENDERERS[channel_kind]
    except KeyError:
        raise ValueError(
            f"unknown channel kind {channel_kind!r}; expected {', '.join(RENDERERS)}"
        ) from None
    return renderer(order)
