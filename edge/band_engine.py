"""Band rules on any quantity: excursion and silence alarms per (rule, device), timed on the
gateway's clock (pure).

Readings, their receive times and the current time are passed in, alarms come out. A rule
(:class:`BandRule`: a cold-chain zone, a device profile's threshold) watches one quantity of some
devices; each (rule, device) pair is a *probe* tracked on its own, so two probes of one chiller
raise and clear independently. A clear repeats the rule, subject and ``started_at`` of its raise.

Time: every reading is placed on the gateway's clock by its device's learned clock offset
(:mod:`edge.device_clock`), so a probe whose clock is minutes off, or one glitched reading, does
not move the rules; the evidence keeps the device's own times too.

- Excursion: starts with the first reading outside the band (edges are in band); raised once the
  readings stay out for ``tolerance_s`` of gateway time — by the readings, or by the clock on
  :meth:`BandEngine.tick` (a probe quiet while out is taken to stay out) — and cleared by the
  next in-band reading. One ending sooner raises nothing, so a flapping probe alarms only when
  it stays out. While a probe delivers a backlog (late readings), only its readings time it.
- Silence (rules with ``silence_after``): no reading received for that long; cleared by the next.

Each probe's state can be taken out with :meth:`BandEngine.state_of` and put back with
:meth:`BandEngine.restore`, so a gateway restart neither raises an open alarm again nor forgets
it (see :mod:`edge.band_state`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Final, Generic, Protocol, Self, TypeVar

from edge.device_clock import Arrival, DeviceClock, place
from firmware_bridge.records import Alarm, Measurement, MeasurementQuality, Quantity, Severity
from firmware_bridge.wire import format_time

Probe = tuple[str, str]
"""(rule key, device)."""

CATCH_UP_S: Final = 60.0
"""A probe delivering a backlog, or restored after a restart, is taken as caught up (so the
clock times its quiet excursion again) once no reading came for this long."""


@dataclass(frozen=True, slots=True)
class Reading:
    time: datetime
    """The device's own time stamp."""
    at: datetime
    """When it happened on the gateway's clock."""
    value: float
    clock_suspect: bool = False

    def to_evidence(self, value_key: str) -> dict[str, Any]:
        evidence: dict[str, Any] = {
            "time": format_time(self.time),
            "gateway_time": format_time(self.at),
            value_key: self.value,
        }
        if self.clock_suspect:
            evidence["clock_suspect"] = True
        return evidence


@dataclass(slots=True)
class Excursion:
    first: Reading
    last: Reading
    peak: Reading
    peak_deviation: float
    raised: bool = False


@dataclass(slots=True)
class ProbeState:
    heard_at: datetime
    """Gateway time the last reading was received, or when watching (re)began."""
    last: Reading | None = None
    excursion: Excursion | None = None
    silent_since: datetime | None = None
    """Start of the raised silence alarm, None while the probe is heard."""
    clock: DeviceClock = field(default_factory=DeviceClock)
    caught_up: bool = True
    """The last reading arrived live, so the clock may time a quiet excursion further."""

    def timed_until(self, now: datetime) -> datetime | None:
        """Up to when an open excursion is known to last: ``now`` while the probe is caught up
        (a quiet probe is taken to stay out), else its last reading (more may be on the way)."""
        if self.excursion is None:
            return None
        waiting = now - self.heard_at < timedelta(seconds=CATCH_UP_S)
        return self.excursion.last.at if not self.caught_up and waiting else now


class BandRule(Protocol):
    """What the engine needs of a rule; the rule also words its alarms."""

    @property
    def key(self) -> str:
        """Unique among one engine's rules (a zone, ``device/quantity``)."""

    @property
    def devices(self) -> tuple[str, ...]: ...

    @property
    def quantity(self) -> Quantity: ...

    @property
    def tolerance_s(self) -> float: ...

    @property
    def silence_after(self) -> timedelta | None:
        """No reading for this long raises a silence alarm; None: never."""

    @property
    def value_key(self) -> str:
        """The evidence key of a reading's value (``value_c`` for cold-chain temperatures)."""

    def subject(self, device: str) -> str:
        """The subject of the alarms of ``device`` under this rule."""

    def deviation(self, value: float) -> float:
        """How far ``value`` lies outside the band; 0 inside it, edges included."""

    def same_band(self, other: Self) -> bool:
        """Whether ``other`` judges readings exactly as this rule does (devices aside)."""

    def excursion_alarm(
        self,
        device: str,
        excursion: Excursion,
        *,
        ended_at: datetime | None = None,
        extra: dict[str, Any] | None = None,
    ) -> Alarm: ...

    def silence_alarm(
        self,
        device: str,
        state: ProbeState,
        started_at: datetime,
        *,
        ended_at: datetime | None = None,
        extra: dict[str, Any] | None = None,
    ) -> Alarm: ...


R = TypeVar("R", bound=BandRule)


@dataclass(slots=True)
class Counters:
    flagged_readings: int = 0
    """Readings flagged by the edge (outside the profile's valid range), ignored: an
    implausible value is no evidence of the quantity, nor that the probe works."""
    late_readings: int = 0
    """Readings received well after their device time said (a backlog), judged in the past."""
    out_of_order_readings: int = 0
    """Late readings older than the probe's last one, ignored (history is not rewritten)."""
    clock_suspect_readings: int = 0
    """Readings whose device time lay far ahead of the device's learned clock: judged at receive
    time."""
    clocks_relearned: int = 0
    """Times a device's clock was found set to another time and its offset learned again."""

    def as_dict(self) -> dict[str, int]:
        return {
            "flagged_readings": self.flagged_readings,
            "late_readings": self.late_readings,
            "out_of_order_readings": self.out_of_order_readings,
            "clock_suspect_readings": self.clock_suspect_readings,
            "clocks_relearned": self.clocks_relearned,
        }


class BandEngine(Generic[R]):
    def __init__(self, rules: Iterable[R], now: datetime) -> None:
        self._rules: dict[str, R] = {}
        self._states: dict[Probe, ProbeState] = {}
        self._watching: dict[tuple[str, Quantity], list[str]] = {}
        self.counters = Counters()
        self.touched: set[Probe] = set()
        """Probes whose state changed since the caller last cleared this set (to persist it)."""
        self._install(list(rules), now)

    @property
    def rules(self) -> list[R]:
        return list(self._rules.values())

    def active(self) -> list[Alarm]:
        """The alarms raised and not yet cleared, as raised."""
        alarms = []
        for (key, device), state in self._states.items():
            rule = self._rules[key]
            if state.excursion is not None and state.excursion.raised:
                alarms.append(rule.excursion_alarm(device, state.excursion))
            if state.silent_since is not None:
                alarms.append(rule.silence_alarm(device, state, state.silent_since))
        return alarms

    def state_of(self, probe: Probe) -> tuple[R, ProbeState] | None:
        """The rule and state of ``probe``; None when no rule watches it."""
        state = self._states.get(probe)
        return None if state is None else (self._rules[probe[0]], state)

    def probes(self) -> dict[Probe, ProbeState]:
        return dict(self._states)

    def watched(self) -> dict[Probe, tuple[R, ProbeState]]:
        """Every probe with its rule and state."""
        return {probe: (self._rules[probe[0]], state) for probe, state in self._states.items()}

    def restore(self, saved: Mapping[Probe, tuple[R, ProbeState]], now: datetime) -> list[Alarm]:
        """Take back probe states saved before a restart under the rules they were judged by.
        A probe still watched by an unchanged band continues as it was (its raised alarms stay
        raised, nothing is raised again); under a changed band it is re-judged like
        :meth:`update_rules` does; a probe no longer watched has its raised alarms cleared at
        ``now``. Returns those clears; restored and dropped probes are marked touched."""
        alarms: list[Alarm] = []
        for probe, (old, state) in saved.items():
            self.touched.add(probe)
            if old.silence_after is None:
                state.silent_since = None  # a row can only claim what its rule can raise
            rule = self._rules.get(probe[0])
            if probe not in self._states or rule is None:
                alarms.extend(_close_all(old, probe[1], state, now, "rule removed"))
                continue
            if state.silent_since is None and state.heard_at < now:
                # Silence is timed from the last reading or from when watching (re)began:
                # the gateway's own downtime is not the probe's silence.
                state.heard_at = now
            # What happened while the gateway was down may still arrive (a broker's queue).
            state.caught_up = False
            self._states[probe] = state
            if not rule.same_band(old):
                alarms.extend(_rebase(old, rule, probe[1], state, now))
        return alarms

    def observe(self, measurement: Measurement, received_at: datetime) -> list[Alarm]:
        """Feed one measurement received at ``received_at`` (gateway clock); the alarms it
        raises or clears. Quantities and devices no rule watches are ignored, and so are
        readings flagged as not good (counted)."""
        keys = self._watching.get((measurement.device_id, measurement.quantity), ())
        if not keys:
            return []
        if measurement.quality is not MeasurementQuality.GOOD:
            self.counters.flagged_readings += 1
            return []
        alarms: list[Alarm] = []
        for key in keys:
            probe = (key, measurement.device_id)
            self.touched.add(probe)
            alarms.extend(self._observe(self._rules[key], probe, measurement, received_at))
        return alarms

    def tick(self, now: datetime) -> list[Alarm]:
        """Alarms due by the clock: excursions past their tolerance, probes gone silent."""
        alarms: list[Alarm] = []
        for (key, device), state in self._states.items():
            rule = self._rules[key]
            excursion, until = state.excursion, state.timed_until(now)
            if excursion and until and not excursion.raised and _outlasted(rule, excursion, until):
                excursion.raised = True
                self.touched.add((key, device))
                alarms.append(rule.excursion_alarm(device, excursion))
            silence = rule.silence_after
            if (
                silence is not None
                and state.silent_since is None
                and now - state.heard_at >= silence
            ):
                state.silent_since = state.heard_at + silence
                self.touched.add((key, device))
                alarms.append(rule.silence_alarm(device, state, state.silent_since))
        return alarms

    def update_rules(self, rules: Iterable[R], now: datetime) -> list[Alarm]:
        """Replace the rules. Unchanged rules keep their state; a changed rule keeps each
        remaining probe's state re-judged against the new band; alarms of removed rules or
        probes, or no longer out of the new band, are cleared at ``now``."""
        new = {rule.key: rule for rule in rules}
        alarms: list[Alarm] = []
        for (key, device), state in list(self._states.items()):
            old, rule = self._rules[key], new.get(key)
            if rule is None or device not in rule.devices:
                alarms.extend(_close_all(old, device, state, now, "rule removed"))
                del self._states[(key, device)]
                self.touched.add((key, device))
            elif rule != old:
                alarms.extend(_rebase(old, rule, device, state, now))
                self.touched.add((key, device))
        self._rules = {}
        self._watching = {}
        self._install(list(new.values()), now)
        return alarms

    def _install(self, rules: list[R], now: datetime) -> None:
        for rule in rules:
            if rule.key in self._rules:
                raise ValueError(f"{rule.key!r} has two rules")
            self._rules[rule.key] = rule
            for device in dict.fromkeys(rule.devices):
                self._states.setdefault((rule.key, device), ProbeState(heard_at=now))
                self._watching.setdefault((device, rule.quantity), []).append(rule.key)

    def _observe(
        self, rule: R, probe: Probe, measurement: Measurement, received_at: datetime
    ) -> list[Alarm]:
        state = self._states[probe]
        alarms = _heard(rule, probe[1], state, measurement, received_at)
        placement = place(state.clock, measurement.time, received_at)
        self.counters.clocks_relearned += placement.relearned
        arrival = placement.arrival
        if arrival is Arrival.OUT_OF_ORDER or placement.at is None:
            self.counters.out_of_order_readings += 1
            return alarms
        self.counters.late_readings += arrival is Arrival.LATE
        self.counters.clock_suspect_readings += arrival is Arrival.CLOCK_SUSPECT
        state.caught_up = arrival is not Arrival.LATE
        suspect = arrival is Arrival.CLOCK_SUSPECT
        reading = Reading(measurement.time, placement.at, measurement.value, suspect)
        return alarms + _apply_reading(rule, probe[1], state, reading)


def _heard(
    rule: BandRule, device: str, state: ProbeState, measurement: Measurement, received_at: datetime
) -> list[Alarm]:
    """Note the probe heard; the clear of its silence alarm if it was silent."""
    state.heard_at = max(state.heard_at, received_at)
    if state.silent_since is None:
        return []
    resumed = {"time": format_time(measurement.time), "gateway_time": format_time(received_at)}
    extra = {"resumed": {**resumed, rule.value_key: measurement.value}}
    alarm = rule.silence_alarm(device, state, state.silent_since, ended_at=received_at, extra=extra)
    state.silent_since = None
    return [alarm]


def _outlasted(rule: BandRule, excursion: Excursion, until: datetime) -> bool:
    return (until - excursion.first.at).total_seconds() >= rule.tolerance_s


def _apply_reading(rule: R, device: str, state: ProbeState, reading: Reading) -> list[Alarm]:
    state.last = reading
    deviation = rule.deviation(reading.value)
    excursion = state.excursion
    if deviation > 0:
        if excursion is None:
            excursion = state.excursion = Excursion(reading, reading, reading, deviation)
        else:
            excursion.last = reading
            if deviation > excursion.peak_deviation:
                excursion.peak, excursion.peak_deviation = reading, deviation
        if not excursion.raised and _outlasted(rule, excursion, reading.at):
            excursion.raised = True
            return [rule.excursion_alarm(device, excursion)]
        return []
    state.excursion = None
    if excursion is None or not excursion.raised:
        return []
    back = reading.to_evidence(rule.value_key)
    return [
        rule.excursion_alarm(device, excursion, ended_at=reading.at, extra={"back_in_band": back})
    ]


def _rebase(old: R, rule: R, device: str, state: ProbeState, now: datetime) -> list[Alarm]:
    excursion = state.excursion
    if excursion is None:
        return []
    if rule.deviation(excursion.last.value) > 0:
        # Only the old peak is known; it stays the peak unless the last reading is further out.
        peak_dev = rule.deviation(excursion.peak.value)
        last_dev = rule.deviation(excursion.last.value)
        if last_dev > peak_dev:
            excursion.peak, peak_dev = excursion.last, last_dev
        excursion.peak_deviation = peak_dev
        return []
    state.excursion = None
    if not excursion.raised:
        return []
    return [old.excursion_alarm(device, excursion, ended_at=now, extra={"reason": "rule changed"})]


def _close_all(rule: R, device: str, state: ProbeState, now: datetime, reason: str) -> list[Alarm]:
    alarms = []
    if state.excursion is not None and state.excursion.raised:
        alarms.append(
            rule.excursion_alarm(device, state.excursion, ended_at=now, extra={"reason": reason})
        )
    if state.silent_since is not None:
        alarms.append(
            rule.silence_alarm(
                device, state, state.silent_since, ended_at=now, extra={"reason": reason}
            )
        )
    return alarms


def outside_by(value: float, low: float | None, high: float | None) -> float:
    """How far ``value`` lies outside ``[low, high]`` (None: that side open); 0 inside it,
    edges included."""
    if high is not None and value > high:
        return value - high
    if low is not None and value < low:
        return low - value
    return 0.0


def excursion_evidence(value_key: str, excursion: Excursion) -> dict[str, Any]:
    """The first and last out-of-band readings and the peak, each with both clocks' times."""
    return {
        "first_out": excursion.first.to_evidence(value_key),
        "last_out": excursion.last.to_evidence(value_key),
        "peak": excursion.peak.to_evidence(value_key),
    }


def band_alarm(
    name: str,
    subject: str,
    severity: Severity,
    started_at: datetime,
    evidence: dict[str, Any],
    *,
    ended_at: datetime | None = None,
    extra: dict[str, Any] | None = None,
) -> Alarm:
    """An alarm of a band rule: the rule's own ``evidence``, then the engine's ``extra`` (why it
    cleared, the reading back in band)."""
    return Alarm(
        rule=name,
        subject=subject,
        severity=severity,
        started_at=started_at,
        ended_at=ended_at,
        evidence={**evidence, **(extra or {})},
    )


def excursion_band_alarm(
    name: str,
    subject: str,
    severity: Severity,
    excursion: Excursion,
    evidence: dict[str, Any],
    value_key: str,
    *,
    ended_at: datetime | None = None,
    extra: dict[str, Any] | None = None,
) -> Alarm:
    """The :func:`band_alarm` of ``excursion``, started by its first reading: the rule's own
    ``evidence``, then :func:`excursion_evidence`, then ``extra``."""
    return band_alarm(
        name,
        subject,
        severity,
        excursion.first.at,
        {**evidence, **excursion_evidence(value_key, excursion)},
        ended_at=ended_at,
        extra=extra,
    )
