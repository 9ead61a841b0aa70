"""Property tests: random payloads raise only ChannelPayloadError, and every order the
simulator renders in a channel's shape normalises back to the same order."""

from __future__ import annotations

import copy
import random
from datetime import UTC, datetime
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from cloud.channels import CHANNEL_KINDS, ChannelPayloadError, NormalisedLine, normalise_order
from simulators.order_payloads import SimOrder, random_order, render
from tests.cloud.channels.payloads import APP_ORDER, DELIVERY_PLATFORM_ORDER, MARKETPLACE_ORDER

BASES = {
    "app": APP_ORDER,
    "marketplace": MARKETPLACE_ORDER,
    "delivery_platform": DELIVERY_PLATFORM_ORDER,
}

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=30)
    | st.sampled_from(["12.90", "-1", "1e400", "NaN", "121.5,31.2", "2026-11-25 18:03:12", "[{"]),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=12,
)


def _only_payload_errors(kind: str, payload: Any) -> None:
    try:
        normalise_order(kind, payload)
    except ChannelPayloadError as exc:
        assert exc.field
        assert exc.message


@settings(max_examples=150, deadline=None)
@given(kind=st.sampled_from(CHANNEL_KINDS), payload=json_values)
def test_random_json_raises_only_payload_errors(kind: str, payload: Any) -> None:
    _only_payload_errors(kind, payload)


def _paths(value: Any, prefix: tuple[str | int, ...] = ()) -> list[tuple[str | int, ...]]:
    paths = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, child in value.items():
            paths += _paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            paths += _paths(child, (*prefix, index))
    return paths


@settings(max_examples=300, deadline=None)
@given(kind=st.sampled_from(CHANNEL_KINDS), data=st.data())
def test_mutated_real_payloads_raise_only_payload_errors(kind: str, data: st.DataObject) -> None:
    """One field of a valid payload replaced by random JSON: accepted or a named error."""
    payload = copy.deepcopy(BASES[kind])
    path = data.draw(st.sampled_from(_paths(payload)))
    target: Any = payload
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = data.draw(json_values)
    _only_payload_errors(kind, payload)


SKUS = ["sku-water-550", "sku-milk-950", "sku-diapers-l", "06901234500014", "sku-tofu-400"]


@settings(max_examples=200, deadline=None)
@given(
    kind=st.sampled_from(CHANNEL_KINDS),
    seed=st.integers(0, 2**32),
    placed_at=st.datetimes(
        min_value=datetime(2020, 1, 1), max_value=datetime(2035, 1, 1), timezones=st.just(UTC)
    ),
)
def test_simulated_orders_round_trip(kind: str, seed: int, placed_at: datetime) -> None:
    order = random_order(
        random.Random(seed),
        external_id=f"SIM-{seed}",
        sku_refs=SKUS,
        placed_at=placed_at,
        member_ids=["m-vip-001", "m-std-004"],
    )
    normalised = normalise_order(kind, render(kind, order))
    assert normalised.external_id == order.external_id
    assert normalised.recipient_name == order.name
    assert normalised.recipient_phone == order.phone
    assert (normalised.lat, normalised.lon) == (order.lat, order.lon)
    assert normalised.lines == tuple(
        NormalisedLine(line.sku_ref, line.quantity, line.unit_price_cents) for line in order.lines
    )
    assert normalised.placed_at == order.placed_at.replace(microsecond=0)
    assert normalised.note == order.note
    assert normalised.member_id == (None if kind == "delivery_platform" else order.member_id)
    assert normalised.requested_promise == _expected_promise(kind, order)
    assert order.district in normalised.address_text
    assert order.detail in normalised.address_text


def _expected_promise(kind: str, order: SimOrder) -> str | None:
    if kind == "delivery_platform" and order.promise is None:
        return "instant"  # a delivery platform delivers as soon as possible unless booked
    return order.promise
