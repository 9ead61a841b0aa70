"""The fast wire-time path agrees with firmware_bridge.wire.parse_time on any text."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from cloud.ingest.times import canonical_utc, epoch_us, utc_datetime, utc_text
from firmware_bridge.wire import format_time, parse_time

moments = st.datetimes(
    min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=st.just(UTC)
)
wire_times = moments.map(format_time)
# Valid shapes with one character replaced: digits out of range, other separators, non-ASCII.
replacement = st.sampled_from(list("0123456789TZ:-.,+ W\u0660\uff11x\u00b2"))


@st.composite
def near_wire_times(draw: st.DrawFn) -> str:
    text = draw(wire_times)
    for _ in range(draw(st.integers(0, 3))):
        at = draw(st.integers(0, len(text) - 1))
        text = text[:at] + draw(replacement) + text[at + 1 :]
    if draw(st.booleans()):
        text = text[:-1] + draw(st.sampled_from(["Z", "+00:00", "-00:00", "+01:30", "z", ""]))
    return text


def outcome(convert: Any, raw: Any) -> tuple[str, str]:
    try:
        return ("ok", convert(raw))
    except Exception as exc:
        return ("raised", f"{type(exc).__name__}: {exc}")


def reference(raw: Any) -> str:
    return canonical_utc(parse_time(raw))


@settings(max_examples=3000, deadline=None)
@given(near_wire_times() | st.text(max_size=30) | st.none() | st.integers())
def test_utc_text_matches_parse_time(raw: Any) -> None:
    assert outcome(utc_text, raw) == outcome(reference, raw)


@settings(max_examples=500, deadline=None)
@given(moments)
def test_canonical_text_round_trips(moment: datetime) -> None:
    text = utc_text(format_time(moment))
    assert utc_datetime(text) == moment
    assert epoch_us(text) == (moment - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(
        microseconds=1
    )


def test_shapes() -> None:
    assert utc_text("2025-03-01T08:00:00Z") == "2025-03-01 08:00:00.000000"
    assert utc_text("2025-03-01T08:00:00.25Z") == "2025-03-01 08:00:00.250000"
    assert utc_text("2025-03-01T08:00:00.000001Z") == "2025-03-01 08:00:00.000001"
    assert utc_text("2025-03-01T09:30:00+01:30") == "2025-03-01 08:00:00.000000"
    assert outcome(utc_text, "2025-02-29T08:00:00Z") == (
        "raised",
        "ValueError: day is out of range for month",
    )
    assert outcome(utc_text, "2025-03-01T08:00:00") == (
        "raised",
        "ValueError: time has no timezone; send UTC with a Z suffix",
    )
