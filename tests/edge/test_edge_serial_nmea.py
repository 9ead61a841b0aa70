"""The serial NMEA connector against a real pseudo-terminal (the test plays the GPS receiver)."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import pytest
import serial

from edge.config import NmeaGpsDevice
from edge.connectors.serial_nmea import ConnectorStatus, SerialNmeaConnector, open_serial
from firmware_bridge.nmea_encode import encode_gga, sentence
from firmware_bridge.records import Position, Record
from tests.edge.pty_gps import NOISE, T0, Pty, decoded, epoch, until


@pytest.fixture
def link(tmp_path: Path) -> Path:
    return tmp_path / "gps0"


def device(link: Path) -> NmeaGpsDevice:
    return NmeaGpsDevice(
        id="gps-1",
        type="nmea_gps",
        port=str(link),
        vehicle_id="van-7",
        reopen_initial_s=0.05,
        reopen_max_s=0.2,
    )


async def test_positions_noise_bad_checksums_and_a_port_that_vanishes(link: Path) -> None:
    pty = Pty(link)
    records: list[Record] = []
    fds: list[int] = []

    def opener(dev: NmeaGpsDevice) -> serial.Serial:
        port = open_serial(dev)
        fds.append(port.fileno())
        return port

    connector = SerialNmeaConnector(
        device(link), records.extend, silence_flush_s=0.2, open_port=opener
    )
    task = asyncio.create_task(connector.run())
    try:
        await until(lambda: connector.status is ConnectorStatus.CONNECTED)
        bad = encode_gga(T0, 1.0, 1.0).replace("*", "0*", 1).encode()  # body changed, sum kept
        first = NOISE + epoch(0) + bad + epoch(1)
        pty.write(first[:50])  # split mid-sentence: the framer must reassemble
        await asyncio.sleep(0.02)
        pty.write(first[50:])
        await until(lambda: len(records) == 2)  # the second epoch closes after 0.2 s of silence
        assert records == decoded(first)
        assert [(r.device_id, r.time) for r in records if isinstance(r, Position)] == [
            ("van-7", T0),
            ("van-7", T0 + timedelta(seconds=1)),
        ]
        assert connector.counters == {
            "positions": 2,
            "checksum": 1,
            "malformed": 0,
            "unsupported": 0,
            "no_fix": 0,
            "discarded_bytes": len(NOISE),
            "overlong": 0,
            "disconnects": 0,
        }

        pty.close()
        await until(lambda: connector.status is ConnectorStatus.DISCONNECTED)
        assert connector.counters["disconnects"] == 1
        await asyncio.sleep(0.3)  # several reopen attempts against a dangling symlink
        assert connector.status is ConnectorStatus.DISCONNECTED
        assert "cannot open" in (connector.last_error or "")

        pty = Pty(link)
        await until(lambda: connector.status is ConnectorStatus.CONNECTED)
        pty.write(epoch(5))
        await until(lambda: len(records) == 3)
        assert records[2:] == decoded(epoch(5))
    finally:
        connector.stop()
        await asyncio.wait_for(task, 2)
        pty.close()
    assert connector.snapshot()["status"] == "stopped"
    loop = asyncio.get_running_loop()
    assert len(fds) == 2
    assert [loop.remove_reader(fd) for fd in fds] == [False, False]


async def test_stop_flushes_the_epoch_in_progress(link: Path) -> None:
    pty = Pty(link)
    records: list[Record] = []
    connector = SerialNmeaConnector(device(link), records.extend, silence_flush_s=30)
    task = asyncio.create_task(connector.run())
    try:
        await until(lambda: connector.status is ConnectorStatus.CONNECTED)
        pty.write(epoch(0) + sentence("GPXXX,1,2").encode())
        await until(lambda: connector.counters["unsupported"] == 1)
        assert records == []
        connector.stop()
        await asyncio.wait_for(task, 2)
    finally:
        pty.close()
    assert records == decoded(epoch(0))


async def test_missing_port_is_retried_until_it_appears(link: Path) -> None:
    records: list[Record] = []
    connector = SerialNmeaConnector(device(link), records.extend, silence_flush_s=0.1)
    task = asyncio.create_task(connector.run())
    pty: Pty | None = None
    try:
        await until(lambda: connector.status is ConnectorStatus.DISCONNECTED)
        assert connector.last_error is not None
        assert connector.last_error.startswith(f"cannot open {link}")
        pty = Pty(link)
        await until(lambda: connector.status is ConnectorStatus.CONNECTED)
        pty.write(epoch(3))
        await until(lambda: len(records) == 1)
        assert records == decoded(epoch(3))
        assert connector.snapshot()["status"] == "connected"
    finally:
        connector.stop()
        await asyncio.wait_for(task, 2)
        if pty is not None:
            pty.close()


async def test_what_the_receiver_sent_before_a_stop_is_read_not_dropped(
    link: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A busy gateway asked to stop before its reader ran: the bytes the OS holds are read at
    stop and their fix is emitted, instead of being discarded with the port."""
    pty = Pty(link)
    records: list[Record] = []
    connector = SerialNmeaConnector(device(link), records.extend, silence_flush_s=5.0)
    # the reader never gets its turn: only the read at stop can see these bytes
    monkeypatch.setattr(connector, "_on_readable", lambda *_: None)
    task = asyncio.create_task(connector.run())
    try:
        await until(lambda: connector.status is ConnectorStatus.CONNECTED)
        data = epoch(0) + epoch(1)
        pty.write(data)
        await asyncio.sleep(0.05)
        assert records == []
        connector.stop()
        await asyncio.wait_for(task, 5)
        assert records == decoded(data) and len(records) == 2
    finally:
        task.cancel()
        pty.close()
