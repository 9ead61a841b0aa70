"""Assemble receiver epochs (the sentences sharing one UTC time of day) into Positions.

An epoch that did not give a usable position becomes a :class:`NoFix`, never a (0, 0) Position.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from firmware_bridge.nmea_sentence import NmeaSentence
from firmware_bridge.records import FixQuality, Position

GGA_QUALITY: dict[int, FixQuality] = {
    1: FixQuality.GPS,
    2: FixQuality.DGPS,
    3: FixQuality.PPS,
    4: FixQuality.RTK_FIXED,
    5: FixQuality.RTK_FLOAT,
    6: FixQuality.ESTIMATED,
    7: FixQuality.MANUAL,
    8: FixQuality.SIMULATED,
}

MODE_QUALITY: dict[str, FixQuality] = {
    "A": FixQuality.GPS,
    "D": FixQuality.DGPS,
    "E": FixQuality.ESTIMATED,
    "F": FixQuality.RTK_FLOAT,
    "R": FixQuality.RTK_FIXED,
    "M": FixQuality.MANUAL,
    "S": FixQuality.SIMULATED,
}

_HALF_DAY = timedelta(hours=12)

TIMED_TYPES = frozenset({"GGA", "RMC"})
"""Sentence types that carry the epoch's time of day."""


@dataclass(frozen=True, slots=True)
class NoFix:
    """A receiver epoch without a usable position, and why."""

    device_id: str
    time: datetime | None
    reason: str


@dataclass
class _Epoch:
    time_of_day: time | None
    received_at: datetime
    sentences: dict[str, NmeaSentence] = field(default_factory=dict)
    emitted: bool = False


def fix_time(time_of_day: time, fix_date: date | None, reference: datetime) -> datetime:
    """Date plus time of day as aware UTC; without a date, the day that puts the fix within
    12 hours of ``reference`` (a fix just before midnight received just after it is yesterday's).
    """
    if fix_date is not None:
        return datetime.combine(fix_date, time_of_day, tzinfo=UTC)
    received = reference.astimezone(UTC)
    candidate = datetime.combine(received.date(), time_of_day, tzinfo=UTC)
    if candidate - received > _HALF_DAY:
        return candidate - timedelta(days=1)
    if received - candidate > _HALF_DAY:
        return candidate + timedelta(days=1)
    return candidate


def _no_fix_reason(sentences: dict[str, NmeaSentence]) -> str | None:
    gga, rmc, gsa = sentences.get("GGA"), sentences.get("RMC"), sentences.get("GSA")
    if gga is not None and gga.quality == 0:
        return "GGA quality 0 (no fix)"
    if rmc is not None and rmc.valid is False:
        return "RMC status V (void)"
    if rmc is not None and gga is None and rmc.mode == "N":
        return "RMC mode N (not valid)"
    if gsa is not None and gsa.fix_type == 1:
        return "GSA fix type 1 (no fix)"
    return None


def _first(name: str, *sentences: NmeaSentence | None) -> float | None:
    """The named float field of the first sentence that has it."""
    for candidate in sentences:
        value: float | None = None if candidate is None else getattr(candidate, name)
        if value is not None:
            return value
    return None


def _fix_quality(gga: NmeaSentence | None, rmc: NmeaSentence | None) -> FixQuality:
    if gga is not None and gga.quality is not None:
        return GGA_QUALITY.get(gga.quality, FixQuality.UNKNOWN)
    if rmc is not None and rmc.mode is not None:
        return MODE_QUALITY.get(rmc.mode, FixQuality.UNKNOWN)
    return FixQuality.UNKNOWN


def epoch_result(
    device_id: str, time_of_day: time, sentences: dict[str, NmeaSentence], reference: datetime
) -> Position | NoFix:
    """The Position (or NoFix) that one epoch's sentences, keyed by type, describe.

    ``reference`` dates an epoch without an RMC date (see :func:`fix_time`)."""
    gga, rmc = sentences.get("GGA"), sentences.get("RMC")
    vtg, gsa = sentences.get("VTG"), sentences.get("GSA")
    when = fix_time(time_of_day, rmc.date if rmc is not None else None, reference)
    reason = _no_fix_reason(sentences)
    if reason is not None:
        return NoFix(device_id, when, reason)
    source = gga if gga is not None and gga.lat is not None and gga.lon is not None else rmc
    if source is None or source.lat is None or source.lon is None:
        return NoFix(device_id, when, "empty latitude/longitude")
    return Position(
        device_id=device_id,
        time=when,
        lat=source.lat,
        lon=source.lon,
        speed_mps=_first("speed_mps", rmc, vtg),
        course_deg=_first("course_deg", rmc, vtg),
        fix_quality=_fix_quality(gga, rmc),
        satellites=gga.satellites if gga is not None else None,
        hdop=_first("hdop", gga, gsa),
        altitude_m=gga.altitude_m if gga is not None else None,
    )


class FixAssembler:
    """Group one receiver's sentences into epochs and turn each epoch into a Position or NoFix.

    An epoch is emitted as soon as it holds every sentence type the previous complete epoch held,
    when a sentence with another time of day arrives, or on :meth:`flush`. Sentences without a
    time (VTG, GSA) join the epoch in progress; after an early emission they open the next one.
    An epoch without an RMC date is dated from the receiver's last RMC (plus the gateway time
    elapsed since), or from ``received_at`` when the receiver never sent one (GGA-only).
    """

    def __init__(self, device_id: str) -> None:
        self.device_id = device_id
        self.fixes = 0
        self.no_fixes = 0
        self._epoch: _Epoch | None = None
        self._expected: frozenset[str] | None = None
        self._dated: tuple[datetime, datetime] | None = None

    def push(self, sentence: NmeaSentence, received_at: datetime) -> list[Position | NoFix]:
        if received_at.tzinfo is None:
            raise ValueError("received_at must be timezone-aware")
        stamp = sentence.time_of_day
        if stamp is None and sentence.sentence_type in TIMED_TYPES:
            # A GGA/RMC with an empty time field (cold start) cannot join any epoch.
            self.no_fixes += 1
            reason = _no_fix_reason({sentence.sentence_type: sentence}) or "empty time of day"
            return [NoFix(self.device_id, None, reason)]
        out: list[Position | NoFix] = []
        epoch = self._epoch
        if epoch is None:
            epoch = _Epoch(stamp, received_at)
        elif stamp is not None and epoch.time_of_day is None:
            epoch.time_of_day = stamp
        elif stamp is not None and epoch.time_of_day != stamp:
            self._expected = frozenset(epoch.sentences)
            out.extend(self._emit(epoch))
            epoch = _Epoch(stamp, received_at)
        elif stamp is None and epoch.emitted:
            epoch = _Epoch(None, received_at)
        epoch.sentences.setdefault(sentence.sentence_type, sentence)
        self._epoch = epoch
        if self._expected is not None and self._expected <= epoch.sentences.keys():
            out.extend(self._emit(epoch))
        return out

    def flush(self) -> list[Position | NoFix]:
        """Emit the epoch in progress (an epoch that never got a time of day yields nothing)."""
        epoch, self._epoch = self._epoch, None
        return [] if epoch is None else self._emit(epoch)

    def _emit(self, epoch: _Epoch) -> list[Position | NoFix]:
        if epoch.emitted or epoch.time_of_day is None:
            return []
        epoch.emitted = True
        reference = epoch.received_at
        if self._dated is not None:
            # Receiver clock estimate: the last RMC's fix time plus the gateway time elapsed since.
            dated_fix, dated_received = self._dated
            reference = dated_fix + (epoch.received_at - dated_received)
        result = epoch_result(self.device_id, epoch.time_of_day, epoch.sentences, reference)
        rmc = epoch.sentences.get("RMC")
        if rmc is not None and rmc.date is not None:
            self._dated = (result.time or reference, epoch.received_at)
        if isinstance(result, Position):
            self.fixes += 1
        else:
            self.no_fixes += 1
        return [result]
