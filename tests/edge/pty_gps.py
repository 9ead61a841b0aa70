"""A GPS receiver played by the test on a real pseudo-terminal, and what the codec makes of it."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from firmware_bridge.nmea import FixAssembler, LineFramer, parse_sentence
from firmware_bridge.nmea_encode import encode_gga, encode_rmc
from firmware_bridge.records import Position

T0 = datetime(2026, 3, 1, 8, 0, 0, tzinfo=UTC)
NOISE = b"\x00\xffgarbage"


class Pty:
    """A pseudo-terminal whose slave is reachable through a stable symlink, like /dev/gps0."""

    def __init__(self, link: Path) -> None:
        self.master, self.slave = os.openpty()
        link.unlink(missing_ok=True)
        link.symlink_to(os.ttyname(self.slave))

    def write(self, data: bytes) -> None:
        os.write(self.master, data)

    def close(self) -> None:
        os.close(self.master)
        os.close(self.slave)


def epoch(second: int) -> bytes:
    moment = T0 + timedelta(seconds=second)
    lat, lon = 52.1 + second / 10_000, 4.3
    gga = encode_gga(moment, lat, lon, satellites=8)
    rmc = encode_rmc(moment, lat, lon, speed_mps=5.0, course_deg=90.0)
    return (gga + rmc).encode("ascii")


def decoded(stream: bytes, vehicle_id: str = "van-7") -> list[Position]:
    """What the pure codec makes of ``stream``, for comparison with the connector's output."""
    assembler = FixAssembler(vehicle_id)
    out: list[Position] = []
    for line in LineFramer().feed(stream):
        try:
            sentence = parse_sentence(line)
        except ValueError:
            continue
        out += [r for r in assembler.push(sentence, T0) if isinstance(r, Position)]
    out += [r for r in assembler.flush() if isinstance(r, Position)]
    return out


async def until(predicate: Callable[[], bool], within: float = 3.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.01)
