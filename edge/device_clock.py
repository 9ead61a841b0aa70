"""When a device's reading happened, on the gateway's clock (pure).

A device stamps its readings with its own clock, which may be minutes off, be set while running,
or glitch once; rules must be timed on the gateway's clock. Per device, :class:`DeviceClock`
learns the offset ``received - device time`` and :func:`place` puts each reading on the
gateway's clock at ``device time + offset``, never later than it was received:

- The offset is the smallest ``received - device time`` seen: no reading arrives before it was
  taken, so the least delayed one tells the device's clock best. A first offset is confirmed by
  a second reading that agrees with it within :data:`TOLERANCE_S`; until then a disagreeing
  reading replaces it (so a first reading that is a glitch teaches nothing).
- ``live``: received within :data:`TOLERANCE_S` of that time.
- ``late``: received later (a backlog a device flushes after a reconnect): it keeps its place in
  the past, so an excursion in the backlog lasts as long as the device measured it.
- ``clock_suspect``: its device time lies more than :data:`TOLERANCE_S` ahead of the learned
  clock (a glitch): placed at its receive time, the offset unchanged.
- ``out_of_order``: late and placed before the reading placed last (a reading sent twice, a
  backlog arriving after newer readings): not placed, so history is never rewritten.

A device whose readings keep disagreeing with its learned offset alike (within
:data:`TOLERANCE_S` of each other) for :data:`RELEARN_S` of gateway time, two readings at least,
had its clock set: the offset is learned again from them. A backlog arrives in seconds, far faster
than it was sampled, so its readings never agree with each other that long.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Final

TOLERANCE_S: Final = 30.0
"""How far a reading may stray from where its device's clock puts it (network and queueing
delays, small clock corrections) before it counts as late or as clock-suspect."""

RELEARN_S: Final = 60.0
"""How long a device's readings must disagree with its learned clock before it is learned again."""


class Arrival(StrEnum):
    LIVE = "live"
    LATE = "late"
    CLOCK_SUSPECT = "clock_suspect"
    OUT_OF_ORDER = "out_of_order"


@dataclass(frozen=True, slots=True)
class Placement:
    arrival: Arrival
    at: datetime | None
    """When the reading happened on the gateway's clock; None when out of order."""
    relearned: bool = False
    """This reading made the clock learn the device's offset again."""


@dataclass(slots=True)
class DeviceClock:
    offset_s: float | None = None
    """Gateway time minus device time of the least delayed reading; None before any reading."""
    confirmed: bool = False
    """A second reading agreed with the offset."""
    placed_at: datetime | None = None
    """Gateway time of the reading placed last."""
    off_since: datetime | None = None
    """Receive time of the first of the readings now disagreeing with the offset alike."""
    off_sample_s: float = 0.0
    """That reading's ``received - device time``."""


def place(clock: DeviceClock, device_time: datetime, received_at: datetime) -> Placement:
    """Place one reading (updates ``clock``)."""
    if clock.placed_at is not None and received_at < clock.placed_at:
        received_at = clock.placed_at  # the gateway's own clock stepped back
    sample = (received_at - device_time).total_seconds()
    relearned = _learn(clock, sample, received_at)
    assert clock.offset_s is not None  # _learn sets it
    lateness = sample - clock.offset_s
    if lateness < -TOLERANCE_S:
        return _placed(clock, Arrival.CLOCK_SUSPECT, received_at, relearned)
    if lateness < 0:
        clock.offset_s = sample  # the least delayed reading yet
    at = min(received_at, device_time + timedelta(seconds=clock.offset_s))
    arrival = Arrival.LATE if lateness > TOLERANCE_S else Arrival.LIVE
    if clock.placed_at is not None and at < clock.placed_at:
        if arrival is Arrival.LATE:
            return Placement(Arrival.OUT_OF_ORDER, None, relearned)
        at = clock.placed_at  # a live reading within the tolerance of the last one
    return _placed(clock, arrival, at, relearned)


def _placed(clock: DeviceClock, arrival: Arrival, at: datetime, relearned: bool) -> Placement:
    clock.placed_at = at
    return Placement(arrival, at, relearned)


def _learn(clock: DeviceClock, sample: float, received_at: datetime) -> bool:
    """Update the offset from one sample; True when the device's clock was learned again."""
    if clock.offset_s is None:
        clock.offset_s = sample
        return False
    agrees = abs(sample - clock.offset_s) <= TOLERANCE_S
    if not clock.confirmed:
        clock.confirmed = agrees
        clock.offset_s = min(clock.offset_s, sample) if agrees else sample
        return False
    if agrees:
        clock.off_since = None
        return False
    if clock.off_since is None or abs(sample - clock.off_sample_s) > TOLERANCE_S:
        clock.off_since, clock.off_sample_s = received_at, sample
        return False
    if (received_at - clock.off_since).total_seconds() < RELEARN_S:
        return False
    clock.offset_s = min(sample, clock.off_sample_s)
    clock.off_since = None
    return True
