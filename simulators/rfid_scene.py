"""What a dock-door portal sees: pallets and cases carried through the door, in or out.

Pure and seeded. Antenna 1 hangs on the outside of the door, antenna 2 on the inside, both
``ANTENNA_OFFSET_M`` from the door plane along the travel axis; a load moves along that axis at
constant speed, so a load moving in is read first on antenna 1 and last on antenna 2. RSSI
follows a log-distance path loss; a tag is read in a round with a probability that grows with
its margin over the reader's sensitivity.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from enum import StrEnum

from firmware_bridge.epc import decode_epc
from firmware_bridge.epc_encode import encode_sgtin96, encode_sscc96

ANTENNA_OFFSET_M = 1.5
ANTENNA_X_M: dict[int, float] = {1: -ANTENNA_OFFSET_M, 2: ANTENNA_OFFSET_M}
PATH_HALF_LENGTH_M = 6.0
REFERENCE_RSSI_DBM = -45.0
"""RSSI of a pallet label 1 m from an antenna."""
PATH_LOSS_EXPONENT = 4.0
SENSITIVITY_DBM = -68.0
MARGIN_FOR_CERTAIN_READ_DB = 6.0
MAX_READ_PROBABILITY = 0.97
RSSI_NOISE_DB = 1.5
COMPANY_PREFIX = "0614141"
"""GS1's own example company prefix."""
SSCC_UNIT_LOAD_FILTER = 6
SGTIN_FULL_CASE_FILTER = 2


class Direction(StrEnum):
    IN = "in"
    OUT = "out"


class TagKind(StrEnum):
    PALLET = "pallet"
    CASE = "case"


@dataclass(frozen=True, slots=True)
class SceneTag:
    epc_hex: str
    epc_uri: str
    kind: TagKind
    offset_db: float
    """Extra loss of this label (cases sit deeper in the load than the pallet label)."""
    lateral_m: float
    """Distance from the antennas' line of travel."""


@dataclass(frozen=True, slots=True)
class Pass:
    index: int
    direction: Direction
    start_s: float
    speed_mps: float
    tags: tuple[SceneTag, ...]

    @property
    def end_s(self) -> float:
        return self.start_s + 2 * PATH_HALF_LENGTH_M / self.speed_mps

    @property
    def crossing_s(self) -> float:
        """When the load crosses the door plane."""
        return self.start_s + PATH_HALF_LENGTH_M / self.speed_mps

    def x_at(self, t_s: float) -> float | None:
        """Position along the axis (negative outside), or None before and after the pass."""
        if not self.start_s <= t_s <= self.end_s:
            return None
        travelled = (t_s - self.start_s) * self.speed_mps
        sign = 1.0 if self.direction is Direction.IN else -1.0
        return sign * (travelled - PATH_HALF_LENGTH_M)


@dataclass(frozen=True, slots=True)
class Scene:
    passes: tuple[Pass, ...]
    antennas: tuple[int, ...] = (1, 2)

    def tags_near(self, t_s: float) -> list[tuple[SceneTag, float]]:
        """Every tag inside the portal's path at ``t_s`` with its axis position."""
        found: list[tuple[SceneTag, float]] = []
        for load in self.passes:
            x = load.x_at(t_s)
            if x is not None:
                found.extend((tag, x) for tag in load.tags)
        return found


def mean_rssi_dbm(tag: SceneTag, x_m: float, antenna: int) -> float:
    distance = math.hypot(x_m - ANTENNA_X_M[antenna], tag.lateral_m)
    return REFERENCE_RSSI_DBM - 10 * PATH_LOSS_EXPONENT * math.log10(distance) + tag.offset_db


def read_probability(rssi_dbm: float) -> float:
    margin = rssi_dbm - SENSITIVITY_DBM
    return max(0.0, min(MAX_READ_PROBABILITY, margin / MARGIN_FOR_CERTAIN_READ_DB))


def build_scene(
    seed: int,
    passes: int,
    *,
    speed_mps: float = 1.5,
    first_start_s: float = 0.5,
    gap_s: float = 1.0,
    cases_per_pallet: tuple[int, int] = (2, 5),
) -> Scene:
    """``passes`` loads one after another (never two at once), directions drawn from ``seed``."""
    rng = random.Random(seed)
    loads = []
    start = first_start_s
    for index in range(passes):
        direction = rng.choice((Direction.IN, Direction.OUT))
        tags = [_pallet_tag(rng)]
        tags.extend(_case_tag(rng) for _ in range(rng.randint(*cases_per_pallet)))
        load = Pass(index, direction, start, speed_mps, tuple(tags))
        loads.append(load)
        start = load.end_s + gap_s
    return Scene(tuple(loads))


def _uri(epc_hex: str) -> str:
    uri = decode_epc(epc_hex).pure_uri
    if uri is None:
        raise AssertionError(f"encoder produced an undecodable EPC {epc_hex}")
    return uri


def _pallet_tag(rng: random.Random) -> SceneTag:
    serial_reference = f"{rng.randint(0, 9)}{rng.randint(0, 10**9 - 1):09d}"
    epc = encode_sscc96(COMPANY_PREFIX, serial_reference, SSCC_UNIT_LOAD_FILTER)
    return SceneTag(epc, _uri(epc), TagKind.PALLET, 0.0, rng.uniform(0.8, 1.2))


def _case_tag(rng: random.Random) -> SceneTag:
    item_reference = f"1{rng.randint(0, 99999):05d}"
    serial = rng.randint(1, 2**38 - 1)
    epc = encode_sgtin96(COMPANY_PREFIX, item_reference, serial, SGTIN_FULL_CASE_FILTER)
    return SceneTag(epc, _uri(epc), TagKind.CASE, -rng.uniform(1.0, 6.0), rng.uniform(0.6, 1.6))
