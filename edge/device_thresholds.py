"""Device-profile thresholds (a profile's ``[[alarms]]``) as band rules of the gateway (pure).

Every device whose profile has ``[[alarms]]`` gets one :class:`ThresholdRule` per threshold: a
reading of that quantity outside ``[min, max]`` for ``hold_s`` of gateway time raises a
``device.threshold`` alarm (the profile's severity; subject ``"<device>/<quantity>"``) cleared
by the next reading back inside. No silence alarm: a profile says nothing of where a device is
needed (that is what ``[[coldchain]]`` zones are for).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from device_profiles import DeviceProfile
from edge.band_engine import (
    BandEngine,
    Excursion,
    Probe,
    ProbeState,
    excursion_band_alarm,
    outside_by,
)
from edge.band_state import RuleCodec, optional_float
from firmware_bridge.records import Alarm, Quantity, Severity, Unit

THRESHOLD_RULE: Final = "device.threshold"
PREFIX: Final = "threshold:"
VALUE_KEY: Final = "value"


@dataclass(frozen=True, slots=True)
class ThresholdRule:
    device: str
    profile: str
    """The profile's model, for the evidence."""
    quantity: Quantity
    unit: Unit
    min: float | None
    max: float | None
    hold_s: float
    severity: Severity

    @property
    def key(self) -> str:
        return f"{self.device}/{self.quantity.value}"

    @property
    def devices(self) -> tuple[str, ...]:
        return (self.device,)

    @property
    def tolerance_s(self) -> float:
        return self.hold_s

    @property
    def silence_after(self) -> None:
        return None

    @property
    def value_key(self) -> str:
        return VALUE_KEY

    def subject(self, device: str) -> str:
        return self.key

    def deviation(self, value: float) -> float:
        return outside_by(value, self.min, self.max)

    def same_band(self, other: ThresholdRule) -> bool:
        return (self.min, self.max, self.hold_s, self.severity, self.unit) == (
            other.min,
            other.max,
            other.hold_s,
            other.severity,
            other.unit,
        )

    def excursion_alarm(
        self,
        device: str,
        excursion: Excursion,
        *,
        ended_at: datetime | None = None,
        extra: dict[str, Any] | None = None,
    ) -> Alarm:
        evidence = {
            "device": device,
            "quantity": self.quantity.value,
            "unit": self.unit.value,
            "profile": self.profile,
            "band": {"min": self.min, "max": self.max, "hold_s": self.hold_s},
        }
        return excursion_band_alarm(
            THRESHOLD_RULE,
            self.key,
            self.severity,
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
        raise TypeError("a profile threshold has no silence alarm")  # silence_after is None


class ThresholdEngine(BandEngine[ThresholdRule]):
    """Every device's profile thresholds (one engine per gateway)."""


def threshold_rules(profiles: Mapping[str, DeviceProfile]) -> list[ThresholdRule]:
    """The rules of each device's profile (``device id -> profile``), in device order."""
    rules = []
    for device, profile in profiles.items():
        for alarm in profile.alarms:
            unit = next(spec.unit for spec in profile.fields if spec.quantity is alarm.quantity)
            rules.append(
                ThresholdRule(
                    device=device,
                    profile=profile.model,
                    quantity=alarm.quantity,
                    unit=unit,
                    min=alarm.min,
                    max=alarm.max,
                    hold_s=alarm.hold_s,
                    severity=alarm.severity,
                )
            )
    return rules


def _encode_rule(rule: ThresholdRule) -> dict[str, Any]:
    return {
        "profile": rule.profile,
        "quantity": rule.quantity.value,
        "unit": rule.unit.value,
        "min": rule.min,
        "max": rule.max,
        "hold_s": rule.hold_s,
        "severity": rule.severity.value,
    }


def _decode_rule(probe: Probe, data: Mapping[str, Any]) -> ThresholdRule:
    rule = ThresholdRule(
        device=probe[1],
        profile=str(data["profile"]),
        quantity=Quantity(data["quantity"]),
        unit=Unit(data["unit"]),
        min=optional_float(data["min"]),
        max=optional_float(data["max"]),
        hold_s=float(data["hold_s"]),
        severity=Severity(data["severity"]),
    )
    if rule.key != probe[0]:
        raise ValueError(f"rule {rule.key!r} saved under {probe[0]!r}")
    return rule


CODEC: Final = RuleCodec(PREFIX, _encode_rule, _decode_rule)
