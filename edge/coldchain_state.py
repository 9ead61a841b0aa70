"""Cold-chain probe state as ``edge_state`` rows keyed ``coldchain:["<zone>","<device>"]`` (pure).

The row layout is :mod:`edge.band_state`'s; this module adds how a :class:`ZoneRule` is written.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from edge import band_state
from edge.band_engine import Probe, ProbeState
from edge.band_state import RuleCodec, optional_float
from edge.coldchain import ZoneRule

PREFIX: Final = "coldchain:"


def _encode_rule(rule: ZoneRule) -> dict[str, Any]:
    return {
        "zone": rule.zone,
        "min_c": rule.min_c,
        "max_c": rule.max_c,
        "tolerance_s": rule.tolerance_s,
        "silence_periods": rule.silence_periods,
        "sample_period_s": rule.sample_period_s,
    }


def _decode_rule(probe: Probe, data: Mapping[str, Any]) -> ZoneRule:
    return ZoneRule(
        zone=probe[0],
        devices=(probe[1],),
        min_c=optional_float(data["min_c"]),
        max_c=optional_float(data["max_c"]),
        tolerance_s=float(data["tolerance_s"]),
        silence_periods=int(data["silence_periods"]),
        sample_period_s=float(data["sample_period_s"]),
    )


CODEC: Final = RuleCodec(PREFIX, _encode_rule, _decode_rule)


def state_key(probe: Probe) -> str:
    return CODEC.state_key(probe)


def encode(rule: ZoneRule, state: ProbeState) -> str:
    return band_state.encode(CODEC, rule, state)


def decode(probe: Probe, text: str) -> tuple[ZoneRule, ProbeState]:
    return band_state.decode(CODEC, probe, text)


def decode_rows(rows: Mapping[str, str]) -> dict[Probe, tuple[ZoneRule, ProbeState]]:
    return band_state.decode_rows(CODEC, rows)
