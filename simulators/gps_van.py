"""A delivery van's GNSS receiver: one NMEA epoch per tick, plus the Position it must decode to.

The expected Position is obtained by decoding the simulator's own sentences with
:mod:`firmware_bridge.nmea`, so it is exactly the wire truth (time to centiseconds, lat/lon to
1e-5 minutes, speed to 1e-3 knots, course to 0.01 degrees) rather than the unquantised route state.

Faults, when enabled, are separate bytes sent after an epoch's sentences; none of them is a fix:
``noise`` is binary garbage without ``$`` or line ends; ``bad_checksum`` is a complete epoch at
another time of day (half an epoch later) whose checksums are wrong, so a decoder that accepted it
would report an extra fix; ``truncated`` is such a sentence cut off before its ``*`` and left
unterminated, as when a receiver resets mid-sentence (the next ``$`` abandons it).
"""

from __future__ import annotations

import math
import random
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Final

from firmware_bridge.nmea import FixAssembler, NmeaError, parse_sentence
from firmware_bridge.nmea_encode import encode_gga, encode_rmc, encode_vtg
from firmware_bridge.records import Position
from simulators.routes import Route
from simulators.walker import RouteWalker, VanState

MIN_RATE_HZ: Final = 1.0
MAX_RATE_HZ: Final = 10.0
SENTENCE_TYPES: Final = frozenset({"GGA", "RMC", "VTG"})
DEFAULT_SPEED_MPS: Final = 30.0 / 3.6
DEFAULT_FAULT_PROBABILITY: Final = 0.1


class FaultKind(StrEnum):
    NOISE = "noise"
    BAD_CHECKSUM = "bad_checksum"
    TRUNCATED = "truncated"


@dataclass
class RunStats:
    """Counters of one run; fixes and faults are counted apart, faults never as fixes."""

    fixes_emitted: int = 0
    dropped_no_reader: int = 0
    skipped_late: int = 0
    bytes_written: int = 0
    faults: Counter[FaultKind] = field(default_factory=Counter)
    last_fix: Position | None = None

    @property
    def faults_injected(self) -> int:
        return sum(self.faults.values())


@dataclass(frozen=True, slots=True)
class Epoch:
    """What the receiver sends at one tick: ``data`` first, then ``fault_data`` (maybe empty)."""

    index: int
    time: datetime
    state: VanState
    data: bytes
    expected: Position
    fault: FaultKind | None = None
    fault_data: bytes = b""


def quantise_time(moment: datetime) -> datetime:
    """Round to the centisecond an NMEA time of day carries."""
    centis = round(moment.microsecond / 10_000)
    return moment.replace(microsecond=0) + timedelta(milliseconds=10 * centis)


class GpsVanSimulator:
    """The NMEA a van's receiver sends while it drives ``route``; pure, no I/O, no clock.

    Epoch ``index`` happens ``index / rate_hz`` seconds into the drive. Its UTC time is
    ``start_time`` plus that offset, or the ``time`` passed to :meth:`epoch` (the real-time runner
    passes the wall clock). Everything random derives from ``seed``.
    """

    def __init__(
        self,
        route: Route,
        rate_hz: float,
        vehicle_id: str,
        start_time: datetime | None = None,
        seed: int = 0,
        sentences: Sequence[str] = ("GGA", "RMC"),
        talker: str = "GP",
        *,
        speed_mps: float = DEFAULT_SPEED_MPS,
        faults: bool = False,
        fault_probability: float = DEFAULT_FAULT_PROBABILITY,
        traffic: bool = True,
        altitude_m: float = 12.0,
    ) -> None:
        if not (math.isfinite(rate_hz) and MIN_RATE_HZ <= rate_hz <= MAX_RATE_HZ):
            raise ValueError(
                f"rate_hz must be within {MIN_RATE_HZ:g}..{MAX_RATE_HZ:g}, got {rate_hz}"
            )
        unknown = [name for name in sentences if name not in SENTENCE_TYPES]
        if unknown or not {"GGA", "RMC"} & set(sentences) or len(set(sentences)) != len(sentences):
            raise ValueError(
                f"sentences must be distinct names from GGA, RMC, VTG including GGA or RMC, "
                f"got {list(sentences)}"
            )
        if len(talker) != 2 or not talker.isalpha() or not talker.isupper():
            raise ValueError(f"talker must be two capital letters, got {talker!r}")
        if not vehicle_id:
            raise ValueError("vehicle_id must not be empty")
        if start_time is not None and start_time.tzinfo is None:
            raise ValueError("start_time must be timezone-aware")
        if not 0.0 <= fault_probability <= 1.0:
            raise ValueError("fault_probability must be within 0..1")
        self.route = route
        self.rate_hz = rate_hz
        self.vehicle_id = vehicle_id
        self.start_time = None if start_time is None else quantise_time(start_time)
        self.seed = seed
        self.sentences = tuple(sentences)
        self.talker = talker
        self.speed_mps = speed_mps
        self.faults = faults
        self.fault_probability = fault_probability
        self.altitude_m = altitude_m
        self.walker = RouteWalker(route.points, speed_mps, seed=seed, traffic=traffic)
        self.stats = RunStats()
        """Counters of the real-time run driving this simulator (see ``run_gps_van``)."""

    @property
    def fixes_emitted(self) -> int:
        return self.stats.fixes_emitted

    @property
    def faults_injected(self) -> int:
        return self.stats.faults_injected

    @property
    def period_s(self) -> float:
        return 1.0 / self.rate_hz

    def elapsed_s(self, index: int) -> float:
        return index / self.rate_hz

    def epoch(self, index: int, time: datetime | None = None) -> Epoch:
        """Epoch ``index``, at ``time`` (quantised) or on the ``start_time`` timeline."""
        if index < 0:
            raise ValueError("epoch index must not be negative")
        if time is None:
            if self.start_time is None:
                raise ValueError("no start_time: pass the epoch's time")
            time = self.start_time + timedelta(seconds=self.elapsed_s(index))
        elif time.tzinfo is None:
            raise ValueError("epoch time must be timezone-aware")
        moment = quantise_time(time)
        elapsed = self.elapsed_s(index)
        state = self.walker.at(elapsed)
        lines = self._encode(moment, state, elapsed)
        data = "".join(lines).encode("ascii")
        expected = self._decode(lines, moment)
        fault = self._fault_kind(index)
        fault_data = b"" if fault is None else self._fault_bytes(fault, index, moment)
        return Epoch(index, moment, state, data, expected, fault, fault_data)

    def _satellites(self, elapsed: float) -> int:
        # A slow, deterministic drift between 7 and 11, as buildings come and go.
        return 9 + round(2 * math.sin(elapsed / 47.0 + self.seed))

    def _encode(self, moment: datetime, state: VanState, elapsed: float) -> list[str]:
        lines: list[str] = []
        for name in self.sentences:
            if name == "GGA":
                lines.append(
                    encode_gga(
                        moment,
                        state.lat,
                        state.lon,
                        satellites=self._satellites(elapsed),
                        altitude_m=self.altitude_m,
                        talker=self.talker,
                    )
                )
            elif name == "RMC":
                lines.append(
                    encode_rmc(
                        moment,
                        state.lat,
                        state.lon,
                        speed_mps=state.speed_mps,
                        course_deg=state.course_deg,
                        talker=self.talker,
                    )
                )
            else:
                lines.append(encode_vtg(state.course_deg, state.speed_mps, talker=self.talker))
        return lines

    def _decode(self, lines: list[str], moment: datetime) -> Position:
        assembler = FixAssembler(self.vehicle_id)
        results = []
        for line in lines:
            results.extend(assembler.push(parse_sentence(line), moment))
        results.extend(assembler.flush())
        if len(results) != 1 or not isinstance(results[0], Position):
            raise AssertionError(f"own epoch did not decode to one Position: {results}")
        return results[0]

    def _fault_kind(self, index: int) -> FaultKind | None:
        if not self.faults:
            return None
        rng = random.Random(f"{self.seed}:fault:{index}")
        if rng.random() >= self.fault_probability:
            return None
        return rng.choice(list(FaultKind))

    def _fault_bytes(self, fault: FaultKind, index: int, moment: datetime) -> bytes:
        rng = random.Random(f"{self.seed}:fault-bytes:{index}")
        if fault is FaultKind.NOISE:
            alphabet = [b for b in range(256) if b not in b"$\r\n"]
            return bytes(rng.choice(alphabet) for _ in range(rng.randint(8, 40)))
        # Half an epoch later: a time of day no genuine epoch has.
        elapsed = self.elapsed_s(index) + self.period_s / 2
        ghost_time = quantise_time(moment + timedelta(seconds=self.period_s / 2))
        lines = self._encode(ghost_time, self.walker.at(elapsed), elapsed)
        if fault is FaultKind.BAD_CHECKSUM:
            return "".join(_corrupt_checksum(line) for line in lines).encode("ascii")
        line = next(text for text in lines if text[3:6] != "VTG")
        cut = rng.randint(7, line.index("*") - 1)
        return line[:cut].encode("ascii")


def _corrupt_checksum(line: str) -> str:
    star = line.index("*")
    wrong = int(line[star + 1 : star + 3], 16) ^ 0x5A
    corrupted = f"{line[: star + 1]}{wrong:02X}\r\n"
    try:
        parse_sentence(corrupted)
    except NmeaError:
        return corrupted
    raise AssertionError(f"corrupted sentence still parses: {corrupted!r}")
