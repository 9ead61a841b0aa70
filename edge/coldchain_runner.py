"""Run the cold-chain rules inside the gateway: a :class:`~edge.band_runner.BandRunner` over the
``[[coldchain]]`` zones (or the cloud's), its probe state under ``coldchain:`` rows."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from edge.band_runner import AlarmSink, BandRunner, Sink
from edge.coldchain import ColdChainEngine, ZoneRule
from edge.coldchain_state import CODEC, PREFIX
from edge.config import ColdChainZone
from edge.pipeline import Put

__all__ = ["PREFIX", "AlarmSink", "ColdChainRunner", "Put", "Sink", "rules_from_config"]


def rules_from_config(zones: Iterable[ColdChainZone]) -> list[ZoneRule]:
    return [
        ZoneRule(
            zone=zone.zone,
            devices=tuple(zone.devices),
            min_c=zone.min_c,
            max_c=zone.max_c,
            tolerance_s=zone.tolerance_s,
            silence_periods=zone.silence_periods,
            sample_period_s=zone.sample_period_s,
        )
        for zone in zones
    ]


class ColdChainRunner(BandRunner[ZoneRule]):
    engine_class = ColdChainEngine
    codec = CODEC

    def snapshot(self) -> dict[str, Any]:
        return {"zones": sorted(rule.zone for rule in self.rules), **super().snapshot()}
