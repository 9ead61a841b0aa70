"""Realistic channel payloads, one per channel kind, as the integrators' manual shows them."""

from __future__ import annotations

import json
from typing import Any

APP_ORDER: dict[str, Any] = {
    "external_id": "APP-20261125-000123",
    "member_id": "m-vip-001",
    "recipient": {"name": "王小明", "phone": "+86 138 0013 8001"},
    "delivery": {
        "address": "上海市徐汇区漕溪北路88号2号楼1201室",
        "lat": 31.19,
        "lon": 121.438,
    },
    "lines": [
        {"sku": "sku-milk-950", "quantity": 2, "unit_price_cents": 1290},
        {"sku": "06901234500014", "quantity": 1},
    ],
    "promise": "instant",
    "placed_at": "2026-11-25T18:03:12+08:00",
    "note": "ring twice",
}

MARKETPLACE_ORDER: dict[str, Any] = {
    "tid": "3857264910283746",
    "status": "WAIT_SELLER_SEND_GOODS",
    "created": "2026-11-25 18:03:12",
    "buyer_member_id": "m-freq-003",
    "receiver": {
        "name": "张伟",
        "mobile": "13700137003",
        "province": "上海",
        "city": "上海市",
        "district": "浦东新区",
        "detail": "陆家嘴环路1000号18楼",
        "zip": "200120",
        "geo": "121.506000,31.237000",
    },
    "items": [
        {"outer_sku_id": "sku-diapers-l", "num": 2, "price": "129.00", "title": "纸尿裤 L 54片"},
        {"outer_sku_id": "sku-formula-800", "num": "1", "price": "268.5"},
    ],
    "shipping_type": "next_day",
    "buyer_memo": "工作日送达",
}

DELIVERY_PLATFORM_ORDER: dict[str, Any] = {
    "order_id": 27061900338121234,
    "wm_order_id_view": "27061900338121234",
    "recipient_name": "陈女士",
    "recipient_phone": "13600136004_8866",
    "recipient_address": "上海市静安区南京西路1600号9楼 (前台)",
    "latitude": 31224000,
    "longitude": 121446000,
    "detail": json.dumps(
        [
            {"app_food_code": "sku-water-550", "quantity": 6, "price": 2.5, "unit": "瓶"},
            {"app_food_code": "sku-icecream-4", "quantity": 1, "price": 39.9},
        ],
        ensure_ascii=False,
    ),
    "ctime": 1764065000,
    "delivery_time": 0,
    "caution": "不要按门铃",
    "pay_type": 2,
}
