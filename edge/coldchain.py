"""Cold-chain rules: temperature bands per zone, excursion and sensor-silence alarms.

Pure: readings and the current time are passed in, alarms come out. Each (zone, device) pair is
tracked on its own, so two probes of one chiller raise and clear independently; an alarm's
subject is ``"<zone>/<device>"`` and its clear repeats the rule, subject and ``started_at``.

- Excursion: starts with the first reading outside ``[min_c, max_c]`` (edges are in band); the
  alarm is raised once the readings stay out for ``tolerance_s`` (checked on each reading and on
  :meth:`ColdChainEngine.tick`), and cleared by the next in-band reading. An excursion that ends
  before ``tolerance_s`` raises nothing, so a flapping probe alarms only when it stays out.
- Silence: no temperature reading for ``silence_periods * sample_period_s``; cleared by the next.

Each probe's state (last reading, excursion, raised alarms) can be taken out with
:meth:`ColdChainEngine.state_of` and put back with :meth:`ColdChainEngine.restore`, so a gateway
restart neither raises an open alarm again nor forgets it (see :mod:`edge.coldchain_state`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from firmware_bridge.records import Alarm, Measurement, MeasurementQuality, Quantity, Severity
from firmware_bridge.wire import format_time

EXCURSION_RULE = "coldchain.excursion"
SILENCE_RULE = "coldchain.silence"


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
    def silence_after(self) -> timedelta:
        return timedelta(seconds=self.silence_periods * self.sample_period_s)

    def deviation(self, value: float) -> float:
        """How far ``value`` lies outside the band (°C); 0 inside it, edges included."""
        if self.max_c is not None and value > self.max_c:
            return value - self.max_c
        if self.min_c is not None and value < self.min_c:
            return self.min_c - value
        return 0.0

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


Probe = tuple[str, str]
"""(zone, device)."""


@dataclass(frozen=True, slots=True)
class Reading:
    time: datetime
    value_c: float

    def to_evidence(self) -> dict[str, Any]:
        return {"time": format_time(self.time), "value_c": self.value_c}


@dataclass(slots=True)
class Excursion:
    first: Reading
    last: Reading
    peak: Reading
    peak_deviation: float
    raised: bool = False


@dataclass(slots=True)
class ProbeState:
    last_seen: datetime
    """Time of the last reading, or when watching began for a probe not heard yet."""
    last: Reading | None = None
    excursion: Excursion | None = None
    silent_since: datetime | None = None
    """Start of the raised silence alarm, None while the probe is heard."""


class ColdChainEngine:
    def __init__(self, rules: Iterable[ZoneRule], now: datetime) -> None:
        self._rules: dict[str, ZoneRule] = {}
        self._states: dict[tuple[str, str], ProbeState] = {}
        self._zones_of: dict[str, list[str]] = {}
        self.stale_readings = 0
        """Readings older than the probe's last one, ignored."""
        self.flagged_readings = 0
        """Readings flagged by the edge (outside the profile's valid range), ignored: an
        implausible value is no evidence of the temperature, nor that the probe works."""
        self.touched: set[Probe] = set()
        """Probes whose state changed since the caller last cleared this set (to persist it)."""
        self._install(list(rules), now)

    @property
    def rules(self) -> list[ZoneRule]:
        return list(self._rules.values())

    def active(self) -> list[Alarm]:
        """The alarms raised and not yet cleared, as raised."""
        alarms = []
        for (zone, device), state in self._states.items():
            rule = self._rules[zone]
            if state.excursion is not None and state.excursion.raised:
                alarms.append(_excursion_alarm(rule, device, state.excursion))
            if state.silent_since is not None:
                alarms.append(_silence_alarm(rule, device, state, state.silent_since))
        return alarms

    def state_of(self, probe: Probe) -> tuple[ZoneRule, ProbeState] | None:
        """The rule and state of ``probe`` (zone, device); None when no rule watches it."""
        state = self._states.get(probe)
        return None if state is None else (self._rules[probe[0]], state)

    def probes(self) -> dict[Probe, ProbeState]:
        return dict(self._states)

    def restore(
        self, saved: Mapping[Probe, tuple[ZoneRule, ProbeState]], now: datetime
    ) -> list[Alarm]:
        """Take back probe states saved before a restart under the rules they were judged by.
        A probe still watched by an unchanged band continues as it was (its raised alarms stay
        raised, nothing is raised again); under a changed band it is re-judged like
        :meth:`update_rules` does; a probe no longer watched has its raised alarms cleared at
        ``now``. Returns those clears; restored and dropped probes are marked touched."""
        alarms: list[Alarm] = []
        for probe, (old, state) in saved.items():
            self.touched.add(probe)
            rule = self._rules.get(probe[0])
            if probe not in self._states or rule is None:
                alarms.extend(_close_all(old, probe[1], state, now, "rule removed"))
                continue
            if state.silent_since is None and state.last_seen < now:
                # Silence is timed from the last reading or from when watching (re)began:
                # the gateway's own downtime is not the probe's silence.
                state.last_seen = now
            self._states[probe] = state
            if not rule.same_band(old):
                alarms.extend(_rebase(old, rule, probe[1], state, now))
        return alarms

    def observe(self, measurement: Measurement) -> list[Alarm]:
        """Feed one measurement; alarms it raises or clears. Non-temperature ones are ignored,
        and so are readings flagged as not good (counted in ``flagged_readings``)."""
        if measurement.quantity is not Quantity.TEMPERATURE:
            return []
        if measurement.quality is not MeasurementQuality.GOOD:
            if measurement.device_id in self._zones_of:
                self.flagged_readings += 1
            return []
        reading = Reading(measurement.time, measurement.value)
        alarms: list[Alarm] = []
        for zone in self._zones_of.get(measurement.device_id, ()):
            rule = self._rules[zone]
            state = self._states[(zone, measurement.device_id)]
            if state.last is not None and reading.time < state.last.time:
                self.stale_readings += 1
                continue
            self.touched.add((zone, measurement.device_id))
            alarms.extend(_apply_reading(rule, measurement.device_id, state, reading))
        return alarms

    def tick(self, now: datetime) -> list[Alarm]:
        """Alarms due by the clock: excursions past their tolerance, probes gone silent."""
        alarms: list[Alarm] = []
        for (zone, device), state in self._states.items():
            rule = self._rules[zone]
            excursion = state.excursion
            if excursion is not None and not excursion.raised and _outlasted(rule, excursion, now):
                excursion.raised = True
                self.touched.add((zone, device))
                alarms.append(_excursion_alarm(rule, device, excursion))
            if state.silent_since is None and now - state.last_seen >= rule.silence_after:
                state.silent_since = state.last_seen + rule.silence_after
                self.touched.add((zone, device))
                alarms.append(_silence_alarm(rule, device, state, state.silent_since))
        return alarms

    def update_rules(self, rules: Iterable[ZoneRule], now: datetime) -> list[Alarm]:
        """Replace the rules. Unchanged zones keep their state; a changed zone keeps each
        remaining probe's state re-judged against the new band; alarms of removed zones or
        probes, or no longer out of the new band, are cleared at ``now``."""
        new = {rule.zone: rule for rule in rules}
        alarms: list[Alarm] = []
        for (zone, device), state in list(self._states.items()):
            old, rule = self._rules[zone], new.get(zone)
            if rule is None or device not in rule.devices:
                alarms.extend(_close_all(old, device, state, now, "rule removed"))
                del self._states[(zone, device)]
                self.touched.add((zone, device))
            elif rule != old:
                alarms.extend(_rebase(old, rule, device, state, now))
                self.touched.add((zone, device))
        self._rules = {}
        self._zones_of = {}
        self._install(list(new.values()), now)
        return alarms

    def _install(self, rules: list[ZoneRule], now: datetime) -> None:
        for rule in rules:
            if rule.zone in self._rules:
                raise ValueError(f"zone {rule.zone!r} has two rules")
            self._rules[rule.zone] = rule
            for device in dict.fromkeys(rule.devices):
                self._states.setdefault((rule.zone, device), ProbeState(last_seen=now))
                self._zones_of.setdefault(device, []).append(rule.zone)


def _outlasted(rule: ZoneRule, excursion: Excursion, now: datetime) -> bool:
    return (now - excursion.first.time).total_seconds() >= rule.tolerance_s


def _apply_reading(rule: ZoneRule, device: str, state: ProbeState, reading: Reading) -> list[Alarm]:
    alarms: list[Alarm] = []
    if state.silent_since is not None:
        alarms.append(
            _silence_alarm(
                rule,
                device,
                state,
                state.silent_since,
                ended_at=reading.time,
                extra={"resumed": reading.to_evidence()},
            )
        )
        state.silent_since = None
    state.last_seen = reading.time
    state.last = reading
    deviation = rule.deviation(reading.value_c)
    excursion = state.excursion
    if deviation > 0:
        if excursion is None:
            excursion = state.excursion = Excursion(reading, reading, reading, deviation)
        else:
            excursion.last = reading
            if deviation > excursion.peak_deviation:
                excursion.peak, excursion.peak_deviation = reading, deviation
        if not excursion.raised and _outlasted(rule, excursion, reading.time):
            excursion.raised = True
            alarms.append(_excursion_alarm(rule, device, excursion))
    elif excursion is not None:
        if excursion.raised:
            alarms.append(
                _excursion_alarm(
                    rule,
                    device,
                    excursion,
                    ended_at=reading.time,
                    extra={"back_in_band": reading.to_evidence()},
                )
            )
        state.excursion = None
    return alarms


def _rebase(
    old: ZoneRule, rule: ZoneRule, device: str, state: ProbeState, now: datetime
) -> list[Alarm]:
    excursion = state.excursion
    if excursion is None:
        return []
    if rule.deviation(excursion.last.value_c) > 0:
        # Only the old peak is known; it stays the peak unless the last reading is further out.
        peak_dev = rule.deviation(excursion.peak.value_c)
        last_dev = rule.deviation(excursion.last.value_c)
        if last_dev > peak_dev:
            excursion.peak, peak_dev = excursion.last, last_dev
        excursion.peak_deviation = peak_dev
        return []
    state.excursion = None
    if not excursion.raised:
        return []
    return [
        _excursion_alarm(old, device, excursion, ended_at=now, extra={"reason": "rule changed"})
    ]


def _close_all(
    rule: ZoneRule, device: str, state: ProbeState, now: datetime, reason: str
) -> list[Alarm]:
    alarms = []
    if state.excursion is not None and state.excursion.raised:
        alarms.append(
            _excursion_alarm(rule, device, state.excursion, ended_at=now, extra={"reason": reason})
        )
    if state.silent_since is not None:
        alarms.append(
            _silence_alarm(
                rule, device, state, state.silent_since, ended_at=now, extra={"reason": reason}
            )
        )
    return alarms


def _excursion_alarm(
    rule: ZoneRule,
    device: str,
    excursion: Excursion,
    *,
    ended_at: datetime | None = None,
    extra: dict[str, Any] | None = None,
) -> Alarm:
    evidence = {
        "zone": rule.zone,
        "device": device,
        "band": rule.describe(),
        "first_out": excursion.first.to_evidence(),
        "last_out": excursion.last.to_evidence(),
        "peak": excursion.peak.to_evidence(),
        **(extra or {}),
    }
    return Alarm(
        rule=EXCURSION_RULE,
        subject=f"{rule.zone}/{device}",
        severity=Severity.CRITICAL,
        started_at=excursion.first.time,
        ended_at=ended_at,
        evidence=evidence,
    )


def _silence_alarm(
    rule: ZoneRule,
    device: str,
    state: ProbeState,
    started_at: datetime,
    *,
    ended_at: datetime | None = None,
    extra: dict[str, Any] | None = None,
) -> Alarm:
    evidence = {
        "zone": rule.zone,
        "device": device,
        "silence_s": rule.silence_after.total_seconds(),
        "last_reading": None if state.last is None else state.last.to_evidence(),
        **(extra or {}),
    }
    return Alarm(
        rule=SILENCE_RULE,
        subject=f"{rule.zone}/{device}",
        severity=Severity.WARNING,
        started_at=started_at,
        ended_at=ended_at,
        evidence=evidence,
    )
