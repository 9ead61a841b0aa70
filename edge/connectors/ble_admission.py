"""Which adverts of a known BLE sensor become readings (pure: times are passed in).

A sensor repeats each advert many times a second. Per sensor:

- a reading is taken at most once per ``min_interval_s``: the same payload inside the interval
  is a ``duplicate``, new bytes are ``throttled``;
- an event advert (a BTHome door opening, a button press) is taken whatever the interval, once
  per packet (the same packet again is a duplicate), so a door opened and closed within the
  interval keeps both changes;
- an encrypted BTHome advert must carry a counter newer than the last one heard: the same
  counter is the same advert repeated (``duplicate``), an older one is ``replayed``, unless the
  sensor was not heard for ``reset_after_s``, when it is taken as a restarted sensor
  (``counter_reset``). Newer is judged by serial-number arithmetic (RFC 1982) on 32 bits, so
  the counter may wrap.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

Verdict = Literal["take", "event", "duplicate", "throttled", "replayed", "counter_reset"]
COUNTER_BITS = 32


@dataclass(slots=True)
class AdmissionMemory:
    """What one sensor's admission remembers between adverts."""

    last_taken: datetime | None = None
    last_payload: bytes | None = None
    last_event: Hashable | None = None
    last_counter: int | None = None
    last_counter_at: datetime | None = None
    """When an advert carrying ``last_counter`` was last heard."""


@dataclass(frozen=True, slots=True)
class Heard:
    """One decoded advert, as far as admission cares."""

    payload: bytes
    when: datetime
    event: Hashable | None = None
    """The packet's identity (packet id, counter or payload) when it carries an event."""
    counter: int | None = None
    """The authenticated counter of an encrypted advert."""


def counter_is_newer(counter: int, last: int, bits: int = COUNTER_BITS) -> bool:
    """Ahead of ``last`` by less than half the counter space (so 0 follows 2**32 - 1)."""
    ahead = (counter - last) % (1 << bits)
    return 0 < ahead < 1 << (bits - 1)


def _by_counter(memory: AdmissionMemory, heard: Heard, reset_after_s: float) -> Verdict | None:
    """``None`` when the counter lets the advert on to the other checks."""
    counter, last = heard.counter, memory.last_counter
    if counter is None or last is None:
        return None
    if counter == last:
        memory.last_counter_at = heard.when
        return "duplicate"
    if counter_is_newer(counter, last):
        return None
    since = memory.last_counter_at
    if since is not None and (heard.when - since).total_seconds() >= reset_after_s:
        return "counter_reset"
    return "replayed"


def _by_interval(memory: AdmissionMemory, heard: Heard, min_interval_s: float) -> Verdict:
    if memory.last_taken is not None:
        age = (heard.when - memory.last_taken).total_seconds()
        if 0 <= age < min_interval_s:
            return "duplicate" if heard.payload == memory.last_payload else "throttled"
    return "take"


def admit(
    memory: AdmissionMemory, heard: Heard, *, min_interval_s: float, reset_after_s: float
) -> Verdict:
    """The verdict on ``heard``; ``take``, ``event`` and ``counter_reset`` mean a reading is
    taken (and remembered)."""
    verdict = _by_counter(memory, heard, reset_after_s)
    if verdict in ("duplicate", "replayed"):
        return verdict
    if verdict is None:
        if heard.event is not None and heard.event != memory.last_event:
            verdict = "event"
        else:
            verdict = _by_interval(memory, heard, min_interval_s)
    if heard.counter is not None:
        # Any authentic newer counter moves on, taken or throttled: it must not come back.
        memory.last_counter, memory.last_counter_at = heard.counter, heard.when
    if verdict in ("take", "event", "counter_reset"):
        memory.last_taken, memory.last_payload = heard.when, heard.payload
        if heard.event is not None:
            memory.last_event = heard.event
    return verdict
