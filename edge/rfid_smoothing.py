"""TagReads -> TagEvents: arrivals in and departures from a reader's zone, passes through a door.

Pure: every time comes in with a read or a :meth:`TagSmoother.tick`. A tag *arrives* once it has
been read ``confirm_reads`` times (2) within ``hold_s`` of each other, the event dated at its first
read: the R2000's one-byte checksum lets about one corrupted frame in 256 through, and such a
frame is a single read of a tag that is not there. A tag *departs* once it has not been read for
``hold_s`` (the event is dated
``last_seen + hold_s``, whatever the tick cadence). At a dock door (outside and inside antennas
configured) a departing tag read on both antennas also *passed* the door: ``in`` when its reads
on the outside antenna came earlier on average than those on the inside antenna, else ``out``;
the pass is dated midway between the two mean read times. The state survives a restart through
:meth:`TagSmoother.to_json` / :meth:`TagSmoother.from_json`.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from firmware_bridge.records import TagDirection, TagEvent, TagEventType, TagRead
from firmware_bridge.wire import format_time, parse_time

STATE_VERSION = 1


@dataclass(frozen=True, slots=True)
class SmoothingSettings:
    reader_id: str
    zone: str
    hold_s: float
    outside_antenna: int | None = None
    inside_antenna: int | None = None
    confirm_reads: int = 2

    @property
    def is_door(self) -> bool:
        return self.outside_antenna is not None and self.inside_antenna is not None


@dataclass(slots=True)
class _Seen:
    epc_hex: str
    epc_uri: str | None
    first_seen: datetime
    last_seen: datetime
    read_count: int = 0
    peak_rssi_dbm: float | None = None
    antennas: dict[int, list[float]] = field(default_factory=dict)
    """Per antenna: [sum of read offsets from first_seen in seconds, number of reads]."""

    def add(self, read: TagRead) -> None:
        self.read_count += 1
        self.last_seen = max(self.last_seen, read.time)
        if read.epc_uri is not None:
            self.epc_uri = read.epc_uri
        if read.rssi_dbm is not None and (
            self.peak_rssi_dbm is None or read.rssi_dbm > self.peak_rssi_dbm
        ):
            self.peak_rssi_dbm = read.rssi_dbm
        totals = self.antennas.setdefault(read.antenna, [0.0, 0])
        totals[0] += (read.time - self.first_seen).total_seconds()
        totals[1] += 1

    def mean_offset_s(self, antenna: int | None) -> float | None:
        totals = None if antenna is None else self.antennas.get(antenna)
        return None if not totals else totals[0] / totals[1]


class TagSmoother:
    def __init__(self, settings: SmoothingSettings) -> None:
        self.settings = settings
        self._tags: dict[str, _Seen] = {}
        self._candidates: dict[str, _Seen] = {}
        """Tags read fewer than ``confirm_reads`` times so far: not in the zone yet."""
        self.counts: Counter[str] = Counter()

    @property
    def present(self) -> int:
        """Tags currently in the zone."""
        return len(self._tags)

    def push(self, read: TagRead) -> list[TagEvent]:
        """Take one read; an ``arrived`` event when the tag was not in the zone."""
        seen = self._tags.get(read.epc_hex)
        if seen is not None:
            seen.add(read)
            return []
        seen = self._candidates.get(read.epc_hex)
        if seen is None or read.time - seen.last_seen >= timedelta(seconds=self.settings.hold_s):
            if seen is not None:
                self.counts["unconfirmed"] += 1
            seen = self._candidates[read.epc_hex] = _Seen(
                read.epc_hex, read.epc_uri, read.time, read.time
            )
        seen.add(read)
        if seen.read_count < self.settings.confirm_reads:
            return []
        del self._candidates[read.epc_hex]
        self._tags[read.epc_hex] = seen
        return [self._event(seen, TagEventType.ARRIVED, seen.first_seen)]

    def tick(self, now: datetime) -> list[TagEvent]:
        """Events of every tag not read for ``hold_s`` by ``now``, oldest departure first."""
        hold = timedelta(seconds=self.settings.hold_s)
        for epc_hex in [e for e, c in self._candidates.items() if now - c.last_seen >= hold]:
            del self._candidates[epc_hex]
            self.counts["unconfirmed"] += 1
        gone = sorted(
            (seen for seen in self._tags.values() if now - seen.last_seen >= hold),
            key=lambda seen: (seen.last_seen, seen.epc_hex),
        )
        events: list[TagEvent] = []
        for seen in gone:
            del self._tags[seen.epc_hex]
            passed = self._pass(seen)
            if passed is not None:
                events.append(passed)
            events.append(self._event(seen, TagEventType.DEPARTED, seen.last_seen + hold))
        return events

    def _pass(self, seen: _Seen) -> TagEvent | None:
        if not self.settings.is_door:
            return None
        outside = seen.mean_offset_s(self.settings.outside_antenna)
        inside = seen.mean_offset_s(self.settings.inside_antenna)
        if outside is None or inside is None or outside == inside:
            self.counts["direction_unknown"] += 1
            return None
        direction = TagDirection.IN if outside < inside else TagDirection.OUT
        crossing = seen.first_seen + timedelta(seconds=(outside + inside) / 2)
        return self._event(seen, TagEventType.PASSED, crossing, direction)

    def _event(
        self,
        seen: _Seen,
        kind: TagEventType,
        time: datetime,
        direction: TagDirection | None = None,
    ) -> TagEvent:
        self.counts[kind.value] += 1
        return TagEvent(
            reader_id=self.settings.reader_id,
            zone=self.settings.zone,
            epc_hex=seen.epc_hex,
            event=kind,
            time=time,
            first_seen=seen.first_seen,
            last_seen=seen.last_seen,
            read_count=seen.read_count,
            epc_uri=seen.epc_uri,
            direction=direction,
            peak_rssi_dbm=seen.peak_rssi_dbm,
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "version": STATE_VERSION,
            "reader_id": self.settings.reader_id,
            "zone": self.settings.zone,
            "tags": [
                {
                    "epc_hex": seen.epc_hex,
                    "epc_uri": seen.epc_uri,
                    "first_seen": format_time(seen.first_seen),
                    "last_seen": format_time(seen.last_seen),
                    "read_count": seen.read_count,
                    "peak_rssi_dbm": seen.peak_rssi_dbm,
                    "antennas": {str(a): list(totals) for a, totals in seen.antennas.items()},
                }
                for seen in self._tags.values()
            ],
        }

    @classmethod
    def from_json(cls, settings: SmoothingSettings, data: Any) -> TagSmoother:
        """Restore a snapshot; ValueError when it is not one (or belongs to another zone)."""
        smoother = cls(settings)
        try:
            if data["version"] != STATE_VERSION:
                raise ValueError(f"state version {data['version']!r}, expected {STATE_VERSION}")
            if (data["reader_id"], data["zone"]) != (settings.reader_id, settings.zone):
                raise ValueError(f"state of {data['reader_id']}/{data['zone']}, not this reader")
            for item in data["tags"]:
                seen = _Seen(
                    epc_hex=str(item["epc_hex"]),
                    epc_uri=None if item["epc_uri"] is None else str(item["epc_uri"]),
                    first_seen=parse_time(item["first_seen"]),
                    last_seen=parse_time(item["last_seen"]),
                    read_count=int(item["read_count"]),
                    peak_rssi_dbm=(
                        None if item["peak_rssi_dbm"] is None else float(item["peak_rssi_dbm"])
                    ),
                    antennas={
                        int(a): [float(t[0]), int(t[1])] for a, t in item["antennas"].items()
                    },
                )
                smoother._tags[seen.epc_hex] = seen
        except (KeyError, TypeError, IndexError, AttributeError) as exc:
            raise ValueError(f"not a smoothing state: {exc!r}") from exc
        return smoother


class RawSampler:
    """Let through at most one raw read per tag and antenna every ``every_s`` seconds."""

    def __init__(self, every_s: float) -> None:
        self.every = timedelta(seconds=every_s)
        self._last: dict[tuple[str, int], datetime] = {}

    def take(self, read: TagRead) -> bool:
        key = (read.epc_hex, read.antenna)
        last = self._last.get(key)
        if last is not None and read.time - last < self.every:
            return False
        self._last[key] = read.time
        return True

    def forget_before(self, moment: datetime) -> None:
        """Drop keys last sampled before ``moment`` (bounds memory on a busy reader)."""
        self._last = {key: t for key, t in self._last.items() if t >= moment}
