"""Band-rule probe state as JSON rows of the buffer's ``edge_state`` table (pure).

One row per probe, keyed ``<prefix>["<rule key>","<device>"]``, holding the rule the state was
judged by (so a band changed while the gateway was down is re-judged) and the probe's state:
last reading, open excursion with its evidence, raised alarms, the device's learned clock. Rows
written before readings were placed on the gateway's clock (no ``clock``) are read with their
device times as gateway times and a clock still to learn. A row that cannot be read back is
reported and skipped: the probe then starts fresh, as it would without the row. Each kind of
rule brings its :class:`RuleCodec`.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

from edge.band_engine import Excursion, Probe, ProbeState, Reading
from edge.device_clock import DeviceClock
from firmware_bridge.wire import format_time, parse_time

log = logging.getLogger(__name__)

R = TypeVar("R")


@dataclass(frozen=True, slots=True)
class RuleCodec(Generic[R]):
    prefix: str
    """Of the ``edge_state`` keys, e.g. ``coldchain:``."""
    encode: Callable[[R], dict[str, Any]]
    decode: Callable[[Probe, Mapping[str, Any]], R]
    """Rebuilds the rule of one probe; raises ValueError, KeyError or TypeError on a bad shape."""

    def state_key(self, probe: Probe) -> str:
        return self.prefix + json.dumps(list(probe), ensure_ascii=False)

    def probe_of(self, key: str) -> Probe:
        rule_key, device = json.loads(key.removeprefix(self.prefix))
        if not isinstance(rule_key, str) or not isinstance(device, str):
            raise ValueError(f"not a probe key: {key!r}")
        return rule_key, device


def encode(codec: RuleCodec[R], rule: R, state: ProbeState) -> str:
    excursion = state.excursion
    data = {
        "rule": codec.encode(rule),
        "heard_at": format_time(state.heard_at),
        "last": _reading(state.last),
        "excursion": None
        if excursion is None
        else {
            "first": _reading(excursion.first),
            "last": _reading(excursion.last),
            "peak": _reading(excursion.peak),
            "peak_deviation": excursion.peak_deviation,
            "raised": excursion.raised,
        },
        "silent_since": _time(state.silent_since),
        "clock": _clock(state.clock),
        "caught_up": state.caught_up,
    }
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False)


def decode(codec: RuleCodec[R], probe: Probe, text: str) -> tuple[R, ProbeState]:
    """Raises ValueError (or KeyError/TypeError on a wrong shape) for a row it cannot read."""
    data = json.loads(text)
    rule = codec.decode(probe, data["rule"])
    raw = data["excursion"]
    excursion = None
    if raw is not None:
        excursion = Excursion(
            first=_parse_reading(raw["first"]),
            last=_parse_reading(raw["last"]),
            peak=_parse_reading(raw["peak"]),
            peak_deviation=float(raw["peak_deviation"]),
            raised=bool(raw["raised"]),
        )
    clock = data.get("clock")
    state = ProbeState(
        heard_at=parse_time(data["heard_at"] if "heard_at" in data else data["last_seen"]),
        last=None if data["last"] is None else _parse_reading(data["last"]),
        excursion=excursion,
        silent_since=_parse_optional_time(data["silent_since"]),
        clock=DeviceClock() if clock is None else _parse_clock(clock),
        caught_up=bool(data.get("caught_up", True)),
    )
    return rule, state


def decode_rows(codec: RuleCodec[R], rows: Mapping[str, str]) -> dict[Probe, tuple[R, ProbeState]]:
    """The probes of ``edge_state`` rows under the codec's prefix; unreadable rows are logged."""
    out: dict[Probe, tuple[R, ProbeState]] = {}
    for key, text in rows.items():
        try:
            probe = codec.probe_of(key)
            out[probe] = decode(codec, probe, text)
        except (ValueError, KeyError, TypeError) as exc:
            log.error("rule state %s cannot be read (%s); that probe starts fresh", key, exc)
    return out


def optional_float(raw: Any) -> float | None:
    return None if raw is None else float(raw)


def _reading(reading: Reading | None) -> dict[str, Any] | None:
    if reading is None:
        return None
    return {
        "time": format_time(reading.time),
        "at": format_time(reading.at),
        "value": reading.value,
        "clock_suspect": reading.clock_suspect,
    }


def _parse_reading(raw: Mapping[str, Any]) -> Reading:
    if "at" not in raw:  # written before readings were placed on the gateway's clock
        return Reading(parse_time(raw["time"]), parse_time(raw["time"]), float(raw["value_c"]))
    return Reading(
        parse_time(raw["time"]),
        parse_time(raw["at"]),
        float(raw["value"]),
        bool(raw["clock_suspect"]),
    )


def _clock(clock: DeviceClock) -> dict[str, Any]:
    return {
        "offset_s": clock.offset_s,
        "confirmed": clock.confirmed,
        "placed_at": _time(clock.placed_at),
        "off_since": _time(clock.off_since),
        "off_sample_s": clock.off_sample_s,
    }


def _parse_clock(raw: Mapping[str, Any]) -> DeviceClock:
    return DeviceClock(
        offset_s=optional_float(raw["offset_s"]),
        confirmed=bool(raw["confirmed"]),
        placed_at=_parse_optional_time(raw["placed_at"]),
        off_since=_parse_optional_time(raw["off_since"]),
        off_sample_s=float(raw["off_sample_s"]),
    )


def _time(moment: datetime | None) -> str | None:
    return None if moment is None else format_time(moment)


def _parse_optional_time(raw: str | None) -> datetime | None:
    return None if raw is None else parse_time(raw)
