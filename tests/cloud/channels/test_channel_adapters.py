"""Channel adapters: each realistic payload to its whole normalised order, every kind of bad
input to a ChannelPayloadError naming the field, and random input to nothing else."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from typing import Any

import pytest

from cloud.channels import (
    CHANNEL_KINDS,
    ChannelPayloadError,
    NormalisedLine,
    NormalisedOrder,
    normalise_order,
    order_fingerprint,
)
from tests.cloud.channels.payloads import APP_ORDER, DELIVERY_PLATFORM_ORDER, MARKETPLACE_ORDER


def test_app_order_normalises_completely() -> None:
    assert normalise_order("app", APP_ORDER) == NormalisedOrder(
        external_id="APP-20261125-000123",
        member_id="m-vip-001",
        recipient_name="王小明",
        recipient_phone="+8613800138001",
        address_text="上海市徐汇区漕溪北路88号2号楼1201室",
        lat=31.19,
        lon=121.438,
        lines=(
            NormalisedLine("sku-milk-950", 2, 1290),
            NormalisedLine("06901234500014", 1, None),
        ),
        requested_promise="instant",
        placed_at=datetime(2026, 11, 25, 10, 3, 12, tzinfo=UTC),
        note="ring twice",
    )


def test_marketplace_order_normalises_completely() -> None:
    assert normalise_order("marketplace", MARKETPLACE_ORDER) == NormalisedOrder(
        external_id="3857264910283746",
        member_id="m-freq-003",
        recipient_name="张伟",
        recipient_phone="13700137003",
        address_text="上海 浦东新区 陆家嘴环路1000号18楼",
        lat=31.237,
        lon=121.506,
        lines=(
            NormalisedLine("sku-diapers-l", 2, 12900),
            NormalisedLine("sku-formula-800", 1, 26850),
        ),
        requested_promise="next_day",
        # 18:03:12 China time is 10:03:12 UTC.
        placed_at=datetime(2026, 11, 25, 10, 3, 12, tzinfo=UTC),
        note="工作日送达",
    )


def test_delivery_platform_order_normalises_completely() -> None:
    assert normalise_order("delivery_platform", DELIVERY_PLATFORM_ORDER) == NormalisedOrder(
        external_id="27061900338121234",
        member_id=None,
        recipient_name="陈女士",
        recipient_phone="13600136004_8866",
        address_text="上海市静安区南京西路1600号9楼 (前台)",
        lat=31.224,
        lon=121.446,
        lines=(
            NormalisedLine("sku-water-550", 6, 250),
            NormalisedLine("sku-icecream-4", 1, 3990),
        ),
        requested_promise="instant",
        placed_at=datetime.fromtimestamp(1764065000, UTC),
        note="不要按门铃",
    )


@pytest.mark.parametrize(
    ("delivery_time", "expected"),
    [
        (0, "instant"),
        (1764065000 + 2 * 3600, "same_day"),  # 18:03 China time + 2 h, still the 25th
        (1764065000 + 8 * 3600, "next_day"),  # 02:03 on the 26th in China
    ],
)
def test_delivery_platform_booked_time_decides_the_promise(
    delivery_time: int, expected: str
) -> None:
    payload = {**DELIVERY_PLATFORM_ORDER, "delivery_time": delivery_time}
    assert normalise_order("delivery_platform", payload).requested_promise == expected


def test_delivery_platform_accepts_an_already_parsed_detail_list() -> None:
    payload = {**DELIVERY_PLATFORM_ORDER, "detail": json.loads(DELIVERY_PLATFORM_ORDER["detail"])}
    assert normalise_order("delivery_platform", payload) == normalise_order(
        "delivery_platform", DELIVERY_PLATFORM_ORDER
    )


def _with(payload: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """A deep copy of ``payload`` with the dotted ``path`` set (or removed when value is ...)."""
    result = copy.deepcopy(payload)
    *parents, last = path.split(".")
    target: Any = result
    for part in parents:
        target = target[int(part)] if isinstance(target, list) else target[part]
    if isinstance(target, list):
        target[int(last)] = value
    elif value is ...:
        del target[last]
    else:
        target[last] = value
    return result


BAD_INPUT = [
    # (kind, base payload, path to change, new value or ... to remove, expected field, words)
    ("app", APP_ORDER, "external_id", ..., "external_id", "is required"),
    ("app", APP_ORDER, "external_id", "  ", "external_id", "must not be empty"),
    ("app", APP_ORDER, "external_id", "A" * 129, "external_id", "at most 128"),
    ("app", APP_ORDER, "recipient.phone", "call me", "recipient.phone", "phone number"),
    ("app", APP_ORDER, "recipient.phone", "138****8001", "recipient.phone", "phone number"),
    ("app", APP_ORDER, "recipient.nmae", "x", "recipient.nmae", "unknown field"),
    ("app", APP_ORDER, "delivery.lat", 91.0, "delivery.lat", "outside -90..90"),
    ("app", APP_ORDER, "delivery.lon", float("nan"), "delivery.lon", "outside"),
    ("app", APP_ORDER, "delivery.lat", "31.19", "delivery.lat", "expected a number"),
    ("app", APP_ORDER, "delivery", {"address": "x", "lat": 0, "lon": 0}, "delivery", "0,0"),
    ("app", APP_ORDER, "lines", [], "lines", "at least one"),
    ("app", APP_ORDER, "lines.0.quantity", 0, "lines.0.quantity", "outside 1..10000"),
    ("app", APP_ORDER, "lines.1.quantity", 10_001, "lines.1.quantity", "outside 1..10000"),
    ("app", APP_ORDER, "lines.0.quantity", 2.5, "lines.0.quantity", "expected an integer"),
    ("app", APP_ORDER, "lines.0.quantity", True, "lines.0.quantity", "expected an integer"),
    ("app", APP_ORDER, "lines.0.unit_price_cents", -1, "lines.0.unit_price_cents", "outside"),
    ("app", APP_ORDER, "lines.0.sku", None, "lines.0.sku", "is required"),
    ("app", APP_ORDER, "promise", "tomorrow", "promise", "not one of"),
    ("app", APP_ORDER, "placed_at", "2026-11-25 18:03", "placed_at", "UTC offset"),
    ("app", APP_ORDER, "placed_at", "yesterday", "placed_at", "ISO 8601"),
    ("app", APP_ORDER, "placed_at", "1999-12-31T23:00:00Z", "placed_at", "between 2000"),
    ("marketplace", MARKETPLACE_ORDER, "tid", ..., "tid", "is required"),
    ("marketplace", MARKETPLACE_ORDER, "receiver.geo", "31.2,121.5,0", "receiver.geo", "lon,lat"),
    ("marketplace", MARKETPLACE_ORDER, "receiver.geo", "121.5,131.2", "receiver.geo", "-90..90"),
    ("marketplace", MARKETPLACE_ORDER, "receiver.geo", "east,north", "receiver.geo", "degrees"),
    ("marketplace", MARKETPLACE_ORDER, "receiver.mobile", "138001", "receiver.mobile", "phone"),
    ("marketplace", MARKETPLACE_ORDER, "receiver.city", ..., "receiver.city", "is required"),
    ("marketplace", MARKETPLACE_ORDER, "items.1.num", "-1", "items.1.num", "expected an integer"),
    ("marketplace", MARKETPLACE_ORDER, "items.1.num", 20_000, "items.1.num", "outside 1..10000"),
    ("marketplace", MARKETPLACE_ORDER, "items.0.price", "-5.00", "items.0.price", "negative"),
    ("marketplace", MARKETPLACE_ORDER, "items.0.price", "12.345", "items.0.price", "fen"),
    ("marketplace", MARKETPLACE_ORDER, "items.0.price", "12,90", "items.0.price", "decimal"),
    ("marketplace", MARKETPLACE_ORDER, "items.0.price", "Infinity", "items.0.price", "amount"),
    ("marketplace", MARKETPLACE_ORDER, "items.0", "sku-diapers-l", "items.0", "JSON object"),
    ("marketplace", MARKETPLACE_ORDER, "created", "2026-11-25T18:03:12", "created", "YYYY"),
    ("marketplace", MARKETPLACE_ORDER, "shipping_type", "ems", "shipping_type", "not one of"),
    ("delivery_platform", DELIVERY_PLATFORM_ORDER, "latitude", 31.224, "latitude", "integer"),
    ("delivery_platform", DELIVERY_PLATFORM_ORDER, "longitude", 181_000_000, "longitude", ".."),
    ("delivery_platform", DELIVERY_PLATFORM_ORDER, "detail", "[{", "detail", "JSON array"),
    ("delivery_platform", DELIVERY_PLATFORM_ORDER, "detail", "{}", "detail", "JSON array"),
    (
        "delivery_platform",
        DELIVERY_PLATFORM_ORDER,
        "detail",
        '[{"app_food_code": "sku-water-550", "quantity": 0, "price": 2.5}]',
        "detail.0.quantity",
        "outside 1..10000",
    ),
    (
        "delivery_platform",
        DELIVERY_PLATFORM_ORDER,
        "detail",
        '[{"app_food_code": "sku-water-550", "quantity": 1, "price": -2.5}]',
        "detail.0.price",
        "negative",
    ),
    ("delivery_platform", DELIVERY_PLATFORM_ORDER, "ctime", "1764065000", "ctime", "integer"),
    ("delivery_platform", DELIVERY_PLATFORM_ORDER, "ctime", 99, "ctime", "outside"),
    (
        "delivery_platform",
        DELIVERY_PLATFORM_ORDER,
        "delivery_time",
        1764065000 - 60,
        "delivery_time",
        "before ctime",
    ),
    (
        "delivery_platform",
        DELIVERY_PLATFORM_ORDER,
        "recipient_phone",
        "",
        "recipient_phone",
        "empty",
    ),
    ("delivery_platform", DELIVERY_PLATFORM_ORDER, "order_id", "a b", "order_id", "spaces"),
]


@pytest.mark.parametrize(
    ("kind", "base", "path", "value", "field", "words"),
    BAD_INPUT,
    ids=[f"{row[0]}:{row[2]}={row[3]!r}"[:60] for row in BAD_INPUT],
)
def test_bad_input_names_the_field(
    kind: str, base: dict[str, Any], path: str, value: Any, field: str, words: str
) -> None:
    with pytest.raises(ChannelPayloadError) as caught:
        normalise_order(kind, _with(base, path, value))
    assert caught.value.field == field
    assert words in caught.value.message
    assert str(caught.value) == f"{field}: {caught.value.message}"


def test_a_payload_that_is_not_an_object_is_refused() -> None:
    for kind in CHANNEL_KINDS:
        with pytest.raises(ChannelPayloadError) as caught:
            normalise_order(kind, ["not", "an", "object"])  # type: ignore[arg-type]
        assert caught.value.field == "payload"


def test_unknown_channel_kind_is_refused() -> None:
    with pytest.raises(ChannelPayloadError) as caught:
        normalise_order("fax", APP_ORDER)
    assert caught.value.field == "channel_kind"
    assert "app, marketplace, delivery_platform" in caught.value.message


def test_fingerprint_is_stable_and_sensitive_to_content() -> None:
    order = normalise_order("app", APP_ORDER)
    same = normalise_order("app", copy.deepcopy(APP_ORDER))
    assert order_fingerprint(order) == order_fingerprint(same)
    assert len(order_fingerprint(order)) == 64
    # Whitespace the adapter strips is not a change of content.
    padded = _with(APP_ORDER, "recipient.name", "  王小明 ")
    assert order_fingerprint(normalise_order("app", padded)) == order_fingerprint(order)
    for path, value in (
        ("lines.0.quantity", 3),
        ("delivery.lat", 31.1901),
        ("note", "ring once"),
        ("promise", ...),
    ):
        changed = normalise_order("app", _with(APP_ORDER, path, value))
        assert order_fingerprint(changed) != order_fingerprint(order), path
