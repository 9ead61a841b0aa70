"""Property tests of MQTT payload decoding: whatever a device sends, the decoders return records
or raise PayloadError, nothing else (anything else stops the connector)."""

from __future__ import annotations

import contextlib
import json
import time
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edge.bounded_json import JsonLimitError, loads_bounded, nesting_depth
from edge.mqtt_topics import (
    MessageKind,
    PayloadError,
    Topic,
    decode_envelope,
    decode_status,
    parse_topic,
)
from firmware_bridge.records import Quantity, ScanOperation, Unit

NOW = datetime(2026, 3, 1, 8, 0, 5, tzinfo=UTC)
TOPICS = [Topic("dc-1", "dev-1", kind) for kind in MessageKind if kind is not MessageKind.STATUS]

_leaves = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=-(10**1000), max_value=10**1000),
    st.floats(),  # NaN and infinities included: json.dumps writes them, json.loads reads them
    st.text(max_size=20),
)
json_values: st.SearchStrategy[Any] = st.recursive(
    _leaves,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(), children),
    max_leaves=12,
)

RAW = "\x00raw:"
"""A string that stands for raw JSON text (a deep nesting, a huge integer) in the payload."""
raw_values = st.one_of(
    st.integers(min_value=1, max_value=3000).map(lambda n: RAW + "[" * n + "]" * n),
    st.integers(min_value=1, max_value=3000).map(lambda n: RAW + '{"a":' * n + "1" + "}" * n),
    st.integers(min_value=20, max_value=6000).map(lambda n: RAW + "9" * n),
    st.integers(min_value=20, max_value=6000).map(lambda n: RAW + "-1" + "0" * n + ".5e999"),
)
any_value = json_values | raw_values


def _times() -> st.SearchStrategy[Any]:
    plausible = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2026, 3, 1))
    return (
        plausible.map(lambda moment: moment.isoformat() + "Z")
        | st.sampled_from(["9999-12-31T23:59:59-12:00", "0001-01-01T00:00:00+14:00"])
        | any_value
    )


def _choice(options: list[str]) -> st.SearchStrategy[Any]:
    return st.sampled_from(options) | any_value


_reading = st.fixed_dictionaries(
    {},
    optional={
        "quantity": _choice([q.value for q in Quantity]),
        "value": st.floats(-100, 200) | any_value,
        "unit": _choice([u.value for u in Unit]),
    },
)
envelopes = st.fixed_dictionaries(
    {"time": _times()},
    optional={
        "msg_id": st.text(max_size=3) | any_value,
        "readings": st.lists(_reading | any_value, max_size=3) | any_value,
        "operator": st.text(max_size=3) | any_value,
        "operation": _choice([op.value for op in ScanOperation]),
        "code": st.text(max_size=3) | any_value,
        "quantity": st.integers(-2, 2) | any_value,
        "location": st.text(max_size=3) | any_value,
        "lat": st.floats(-100, 100) | any_value,
        "lon": st.floats(-200, 200) | any_value,
        "speed_mps": any_value,
        "course_deg": any_value,
        "hdop": any_value,
        "vehicle_id": st.text(max_size=3) | any_value,
    },
)


def render(value: Any) -> str:
    """JSON text of ``value`` with :data:`RAW` strings written as the raw text they carry."""
    if isinstance(value, str) and value.startswith(RAW):
        return value[len(RAW) :]
    if isinstance(value, dict):
        items = (f"{json.dumps(key)}: {render(item)}" for key, item in value.items())
        return "{" + ", ".join(items) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(render(item) for item in value) + "]"
    return json.dumps(value)


def decodes_or_refuses(topic: Topic, payload: bytes) -> None:
    try:
        records, msg_id = decode_envelope(topic, payload, NOW)
    except PayloadError as exc:
        assert 0 < len(str(exc)) <= 300
    else:
        assert records and (msg_id is None or isinstance(msg_id, str))


FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FUZZ
@given(topic=st.sampled_from(TOPICS), payload=st.binary(max_size=300))
def test_random_bytes(topic: Topic, payload: bytes) -> None:
    decodes_or_refuses(topic, payload)


@FUZZ
@given(topic=st.sampled_from(TOPICS), value=any_value)
def test_random_json_trees(topic: Topic, value: Any) -> None:
    decodes_or_refuses(topic, render(value).encode())


@FUZZ
@given(topic=st.sampled_from(TOPICS), envelope=envelopes)
def test_envelopes_with_random_fields(topic: Topic, envelope: dict[str, Any]) -> None:
    decodes_or_refuses(topic, render(envelope).encode())


@FUZZ
@given(payload=st.binary(max_size=100) | st.text(max_size=100).map(str.encode))
def test_status_and_topics(payload: bytes) -> None:
    with contextlib.suppress(PayloadError):
        decode_status(payload)
    with contextlib.suppress(PayloadError):
        parse_topic("retailedge/v1/" + payload.decode("utf-8", "replace"))


def depth(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + max(map(depth, value.values()), default=0)
    if isinstance(value, list):
        return 1 + max(map(depth, value), default=0)
    return 0


def longest_int(value: Any) -> int:
    if isinstance(value, dict):
        return max(map(longest_int, value.values()), default=0)
    if isinstance(value, list):
        return max(map(longest_int, value), default=0)
    if isinstance(value, int) and not isinstance(value, bool):
        return len(str(abs(value)))
    return 0


@settings(max_examples=200, deadline=None)
@given(json_values)
def test_bounded_parse_is_json_loads_within_the_limits(value: Any) -> None:
    text = json.dumps(value)
    assert nesting_depth(text) == depth(value)
    if depth(value) > 16 or longest_int(value) > 20:
        with pytest.raises(JsonLimitError):
            loads_bounded(text)
    else:
        assert json.dumps(loads_bounded(text)) == text


@pytest.mark.parametrize(
    "text",
    ['"' + '\\"' * 30_000, '"\\' * 30_000, "[]" * 30_000, "[" * 60_000, '"[' * 30_000],
)
def test_nesting_depth_takes_linear_time_on_hostile_text(text: str) -> None:
    # Quadratic backtracking took seconds on the first two; linear work takes milliseconds.
    started = time.perf_counter()
    nesting_depth(text)
    assert time.perf_counter() - started < 0.5
