"""Cold-chain probe state as JSON rows of the buffer's ``edge_state`` table (pure).

One row per probe, keyed ``coldchain:["<zone>","<device>"]``, holding the rule the state was
judged by (so a band changed while the gateway was down is re-judged) and the probe's state: last
reading, open excursion with its evidence, raised alarms. A row that cannot be read back is
reported and skipped: the probe then starts fresh, as it would without the row.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any, Final

from edge.coldchain import Excursion, Probe, ProbeState, Reading, ZoneRule
from firmware_bridge.wire import format_time, parse_time

log = logging.getLogger(__name__)

PREFIX: Final = "coldchain:"


def state_key(probe: Probe) -> str:
    return PREFIX + json.dumps(list(probe), ensure_ascii=False)


def probe_of(key: str) -> Probe:
    zone, device = json.loads(key.removeprefix(PREFIX))
    if not isinstance(zone, str) or not isinstance(device, str):
        raise ValueError(f"not a probe key: {key!r}")
    return zone, device


def encode(rule: ZoneRule, state: ProbeState) -> str:
    excursion = state.excursion
    data = {
        "rule": {
            "zone": rule.zone,
            "min_c": rule.min_c,
            "max_c": rule.max_c,
            "tolerance_s": rule.tolerance_s,
            "silence_periods": rule.silence_periods,
            "sample_period_s": rule.sample_period_s,
        },
        "last_seen": format_time(state.last_seen),
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
        "silent_since": None if state.silent_since is None else format_time(state.silent_since),
    }
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False)


def decode(probe: Probe, text: str) -> tuple[ZoneRule, ProbeState]:
    """Raises ValueError (or KeyError/TypeError on a wrong shape) for a row it cannot read."""
    data = json.loads(text)
    rule_data = data["rule"]
    rule = ZoneRule(
        zone=probe[0],
        devices=(probe[1],),
        min_c=_optional_float(rule_data["min_c"]),
        max_c=_optional_float(rule_data["max_c"]),
        tolerance_s=float(rule_data["tolerance_s"]),
        silence_periods=int(rule_data["silence_periods"]),
        sample_period_s=float(rule_data["sample_period_s"]),
    )
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
    silent = data["silent_since"]
    state = ProbeState(
        last_seen=parse_time(data["last_seen"]),
        last=None if data["last"] is None else _parse_reading(data["last"]),
        excursion=excursion,
        silent_since=None if silent is None else parse_time(silent),
    )
    return rule, state


def decode_rows(rows: Mapping[str, str]) -> dict[Probe, tuple[ZoneRule, ProbeState]]:
    """The probes of ``edge_state`` rows under :data:`PREFIX`; unreadable rows are logged."""
    out: dict[Probe, tuple[ZoneRule, ProbeState]] = {}
    for key, text in rows.items():
        try:
            probe = probe_of(key)
            out[probe] = decode(probe, text)
        except (ValueError, KeyError, TypeError) as exc:
            log.error("cold-chain state %s cannot be read (%s); that probe starts fresh", key, exc)
    return out


def _reading(reading: Reading | None) -> dict[str, Any] | None:
    return None if reading is None else reading.to_evidence()


def _parse_reading(raw: Mapping[str, Any]) -> Reading:
    return Reading(parse_time(raw["time"]), float(raw["value_c"]))


def _optional_float(raw: Any) -> float | None:
    return None if raw is None else float(raw)
