"""Cold-chain rules: a temperature band per zone, excursion and sensor-silence alarms (pure).

A :class:`ZoneRule` is a band rule of :mod:`edge.band_engine` on temperature: its probes are the
zone's devices, an alarm's subject is ``"<zone>/<device>"``. Excursions are critical
(``coldchain.excursion``), silence is a warning (``coldchain.silence``: no reading for
``silence_periods * sample_period_s``). Times are the gateway's; the evidence also keeps each
reading's device time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

from edge.band_engine import (
    BandEngine,
    Excursion,
    Probe,
    ProbeState,
    Reading,
    band_alarm,
    excursion_band_alarm,
    outside_by,
)
from firmware_bridge.records import Alarm, Quantity, Severity

__all__ = [
    "EXCURSION_RULE",
    "SILENCE_RULE",
    "ColdChainEngine",
    "Excursion",
    "Probe",
    "ProbeState",
    "Reading",
    "ZoneRule",
]

EXCURSION_RULE: Final = "coldchain.excursion"
SILENCE_RULE: Final = "coldchain.silence"
VALUE_KEY: Final = "value_c"


@dataclass(frozen=True, slots=True)
class ZoneRule:
    """A zone or vehicle compartment: its probes and temperature band (°C, either side open)."""

    zone: str
    devices: tuple[str, ...]
    min_c: float | None = None
    max_c: float | None = None
    tolerance_s: float = 600.0
    silence_periods: int = 3
    sample_period_s: float = 30.0

    @property
    def key(self) -> str:
        return self.zone

    @property
    def quantity(self) -> Quantity:
        return Quantity.TEMPERATURE

    @property
    def value_key(self) -> str:
        return VALUE_KEY

    @property
    def silence_after(self) -> timedelta:
        return timedelta(seconds=self.silence_periods * self.sample_period_s)

    def subject(self, device: str) -> str:
        return f"{self.zone}/{device}"

    def deviation(self, value: float) -> float:
        """How far ``value`` lies outside the band (°C); 0 inside it, edges included."""
        return outside_by(value, self.min_c, self.max_c)

    def describe(self) -> dict[str, Any]:
        return {"min_c": self.min_c, "max_c": self.max_c, "tolerance_s": self.tolerance_s}

    def same_band(self, other: ZoneRule) -> bool:
        """Whether ``other`` judges readings exactly as this rule does (devices aside)."""
        return (
            self.min_c,
            self.max_c,
            self.tolerance_s,
            self.silence_periods,
            self.sample_period_s,
        ) == (
            other.min_c,
            other.max_c,
            other.tolerance_s,
            other.silence_periods,
            other.sample_period_s,
        )

    def excursion_alarm(
        self,
        device: str,
        excursion: Excursion,
        *,
        ended_at: datetime | None = None,
        extra: dict[str, Any] | None = None,
    ) -> Alarm:
        evidence = {"zone": self.zone, "device": device, "band": self.describe()}
        return excursion_band_alarm(
            EXCURSION_RULE,
            self.subject(device),
            Severity.CRITICAL,
            excursion,
            evidence,
            VALUE_KEY,
            ended_at=ended_at,
            extra=extra,
        )

    def silence_alarm(
        self,
        device: str,
        state: ProbeState,
        started_at: datetime,
        *,
        ended_at: datetime | None = None,
        extra: dict[str, Any] | None = None,
    ) -> Alarm:
        evidence = {
            "zone": self.zone,
            "device": device,
            "silence_s": self.silence_after.total_seconds(),
            "last_reading": None if state.last is None else state.last.to_evidence(VALUE_KEY),
        }
        return band_alarm(
            SILENCE_RULE,
            self.subject(device),
            Severity.WARNING,
            started_at,
            evidence,
            ended_at=ended_at,
            extra=extra,
        )


class ColdChainEngine(BandEngine[ZoneRule]):
    """The cold-chain zones' probes (one engine for every zone of a gateway)."""
