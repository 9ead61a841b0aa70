"""A real pseudo-terminal read through pyserial, as the gateway will read it."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import serial

from firmware_bridge.nmea import FixAssembler, LineFramer, NmeaError, parse_sentence
from firmware_bridge.records import Position
from firmware_bridge.wire import record_from_wire
from simulators.gps_van import FaultKind, GpsVanSimulator
from simulators.pty_port import NoReaderError, PtyPort
from simulators.routes import SHANGHAI
from simulators.run_gps import run_gps_van

pytestmark = pytest.mark.integration


@pytest.fixture
def port(tmp_path: Path) -> Iterator[PtyPort]:
    with PtyPort.open(tmp_path / "van-gps") as opened:
        yield opened


async def read_for(reader: serial.Serial, seconds: float) -> bytes:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    chunks = []
    while loop.time() < deadline:
        chunks.append(await asyncio.to_thread(reader.read, 4096))
    return b"".join(chunks)


def test_open_links_the_slave_and_close_removes_the_link(tmp_path: Path) -> None:
    link = tmp_path / "van-gps"
    link.symlink_to("/dev/pts/does-not-exist")  # stale, from a crashed run
    port = PtyPort.open(link)
    assert port.slave_path.startswith("/dev/pts/")
    assert os.readlink(link) == port.slave_path
    assert port.device_path == str(link)
    port.close()
    assert not link.is_symlink()
    assert port.closed
    port.close()  # idempotent


def test_open_refuses_to_replace_a_regular_file(tmp_path: Path) -> None:
    path = tmp_path / "not-a-link"
    path.write_text("keep me")
    with pytest.raises(FileExistsError, match="not a symlink"):
        PtyPort.open(path)
    assert path.read_text() == "keep me"


async def test_write_without_reader_raises_and_reader_gets_only_later_bytes(
    port: PtyPort,
) -> None:
    assert not port.has_reader()
    with pytest.raises(NoReaderError):
        await port.write(b"$lost\r\n")
    with serial.Serial(port.device_path, 115200, timeout=0.05) as reader:
        assert port.has_reader()
        payload = b"$GPGGA,raw\r\n\x00\xff\n\r"
        await port.write(payload)
        assert await read_for(reader, 0.2) == payload  # raw: no echo, no CR/LF translation
        await port.write(b"unread by the first reader")
    assert not port.has_reader()  # flushes what the first reader left
    with serial.Serial(port.device_path, 9600, timeout=0.05) as reader:
        await port.write(b"second")
        assert await read_for(reader, 0.2) == b"second"


async def test_write_does_not_block_the_loop_when_the_reader_is_slow(port: PtyPort) -> None:
    with serial.Serial(port.device_path, 115200, timeout=0.05) as reader:
        big = bytes(range(256)) * 400  # 100 KB, more than the pty buffers
        ticks = 0

        async def ticker() -> None:
            nonlocal ticks
            while True:
                await asyncio.sleep(0.01)
                ticks += 1

        tick_task = asyncio.create_task(ticker())
        write_task = asyncio.create_task(port.write(big))
        await asyncio.sleep(0.2)
        assert not write_task.done()
        assert ticks >= 5  # the loop kept running
        received = await read_for(reader, 0.5)
        await write_task
        received += await read_for(reader, 0.2)
        tick_task.cancel()
        assert received == big


@pytest.mark.parametrize("baud", [9600, 115200])
async def test_simulator_over_pty_decodes_to_the_emit_log(
    port: PtyPort, tmp_path: Path, baud: int
) -> None:
    sim = GpsVanSimulator(SHANGHAI, 5, "van-01", seed=4, faults=True, fault_probability=0.4)
    log = tmp_path / "emit.jsonl"
    with serial.Serial(port.device_path, baud, timeout=0.05) as reader:
        reading = asyncio.create_task(read_for(reader, 2.4))
        stats = await run_gps_van(sim, port, 2.0, emit_log=log)
        data = await reading
    framer, assembler = LineFramer(), FixAssembler("van-01")
    decoded: list[object] = []
    errors: list[str] = []
    for line in framer.feed(data):
        try:
            sentence = parse_sentence(line)
        except NmeaError as exc:
            errors.append(type(exc).__name__)
            continue
        decoded.extend(assembler.push(sentence, datetime.now(UTC)))
    decoded.extend(assembler.flush())
    logged = [record_from_wire(json.loads(line)) for line in log.read_text().splitlines()]
    assert stats.fixes_emitted == 10
    assert (stats.dropped_no_reader, stats.skipped_late) == (0, 0)
    assert all(isinstance(fix, Position) for fix in decoded)
    assert decoded == logged
    assert len(logged) == 10
    assert stats.faults_injected > 0
    assert errors == ["ChecksumError"] * (2 * stats.faults[FaultKind.BAD_CHECKSUM])


async def test_drain_waits_until_the_reader_has_read_everything(port: PtyPort) -> None:
    assert await port.drain(0.1) is False  # nobody to drain to
    with serial.Serial(port.device_path, 115200, timeout=0.05) as reader:
        await port.write(b"x" * 3000)
        assert await port.drain(0.1) is False  # nobody reads it
        draining = asyncio.create_task(port.drain(2.0))
        received = await read_for(reader, 0.3)
        assert await draining is True
        assert received == b"x" * 3000
