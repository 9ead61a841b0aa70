"""The PATCH body of an order change: checked like the app shape, fields named."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings

from cloud.channels import ChannelPayloadError, NormalisedLine
from cloud.channels.modification import Delivery, OrderChanges, parse_changes
from tests.cloud.channels.test_channel_properties import json_values


def test_a_full_change_is_parsed() -> None:
    changes = parse_changes(
        {
            "recipient": {"name": " 王小明 ", "phone": "138-0013-8001"},
            "delivery": {"address": "上海市徐汇区漕溪北路88号", "lat": 31.19, "lon": 121.438},
            "lines": [{"sku": "sku-milk-950", "quantity": 3, "unit_price_cents": 1290}],
            "expected_version": 2,
        }
    )
    assert changes == OrderChanges(
        recipient_name="王小明",
        recipient_phone="13800138001",
        delivery=Delivery("上海市徐汇区漕溪北路88号", 31.19, 121.438),
        lines=(NormalisedLine("sku-milk-950", 3, 1290),),
        expected_version=2,
    )
    assert changes.changed_fields == ["recipient.name", "recipient.phone", "delivery", "lines"]
    assert parse_changes({"recipient": {"phone": "13900139000"}}).changed_fields == [
        "recipient.phone"
    ]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "payload"),
        ({"expected_version": 3}, "payload"),
        ({"recipient": {}}, "payload"),
        ({"note": "x"}, "note"),
        ({"recipient": {"email": "a@b"}}, "recipient.email"),
        ({"delivery": {"address": "x", "lat": 31.2}}, "delivery.lon"),
        ({"delivery": {"lat": 31.2, "lon": 121.4}}, "delivery.address"),
        ({"lines": []}, "lines"),
        ({"lines": [{"sku": "a", "quantity": 10_001}]}, "lines.0.quantity"),
        ({"lines": [{"sku": "a", "quantity": 1}], "expected_version": 0}, "expected_version"),
        ({"recipient": {"phone": "n/a"}}, "recipient.phone"),
    ],
)
def test_bad_changes_name_the_field(body: dict[str, Any], field: str) -> None:
    with pytest.raises(ChannelPayloadError) as caught:
        parse_changes(body)
    assert caught.value.field == field


@settings(max_examples=200, deadline=None)
@given(body=json_values)
def test_random_bodies_raise_only_payload_errors(body: Any) -> None:
    try:
        parse_changes(body)
    except ChannelPayloadError as exc:
        assert exc.field
