"""What every serial connector needs: open a port non-blocking, read it from the event loop,
notice when it vanishes, and reopen it with backoff. No threads; pyserial only opens and reads.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, TypeVar

import serial

log = logging.getLogger(__name__)

READ_SIZE = 4096
T = TypeVar("T")


class ConnectorStatus(StrEnum):
    STARTING = "starting"
    CONNECTED = "connected"
    DISCONNECTED = "disconnected"
    STOPPED = "stopped"


@dataclass(frozen=True, slots=True)
class SerialSettings:
    port: str
    baudrate: int
    parity: str = "N"
    bytesize: int = 8
    stopbits: int = 1


def open_port(settings: SerialSettings) -> serial.Serial:
    # exclusive: a second reader on the same port would silently steal half of the bytes.
    return serial.Serial(
        settings.port,
        baudrate=settings.baudrate,
        parity=settings.parity,
        bytesize=settings.bytesize,
        stopbits=settings.stopbits,
        timeout=0,
        exclusive=True,
    )


def close_quietly(port: serial.Serial) -> None:
    try:
        port.close()
    except (serial.SerialException, OSError) as exc:
        log.debug("closing a lost port failed: %s", exc)


def resolve(future: asyncio.Future[T], value: T) -> None:
    """Set ``future``'s result unless it is already done (timers and callbacks race)."""
    if not future.done():
        future.set_result(value)


async def stopped_within(stopping: asyncio.Event, seconds: float) -> bool:
    """Wait up to ``seconds`` for ``stopping``; True when it was set."""
    if stopping.is_set():
        return True
    loop = asyncio.get_running_loop()
    done: asyncio.Future[bool] = loop.create_future()
    timer = loop.call_later(seconds, resolve, done, False)
    waiter = asyncio.ensure_future(stopping.wait())
    waiter.add_done_callback(lambda _: resolve(done, True))
    try:
        return await done
    finally:
        timer.cancel()
        waiter.cancel()


class PortReader:
    """Hand every chunk a port yields to ``on_data`` from the loop's reader callback.

    ``lost`` resolves with the reason when the port fails or reaches end of file (a pty whose
    master closed, a USB adapter pulled); reading stops at once so a dead fd does not spin.
    """

    def __init__(self, port: serial.Serial, on_data: Callable[[bytes], None]) -> None:
        self._port = port
        self._on_data = on_data
        self._loop = asyncio.get_running_loop()
        self.lost: asyncio.Future[str] = self._loop.create_future()
        self._fd = port.fileno()
        self._loop.add_reader(self._fd, self._readable)

    def _readable(self) -> None:
        try:
            data = self._port.read(READ_SIZE)
        except (serial.SerialException, OSError) as exc:
            data, reason = b"", str(exc)
        else:
            reason = "end of file"
        if not data:
            self._loop.remove_reader(self._fd)
            if not self.lost.done():
                self.lost.set_result(reason)
            return
        self._on_data(data)

    def write(self, data: bytes) -> None:
        """Write a short frame; a failure resolves ``lost`` instead of raising."""
        try:
            self._port.write(data)
        except (serial.SerialException, OSError) as exc:
            if not self.lost.done():
                self.lost.set_result(f"write failed: {exc}")

    def close(self) -> None:
        self._loop.remove_reader(self._fd)
        if not self.lost.done():
            self.lost.cancel()


class SerialLink:
    """Open/reopen loop and status shared by the serial connectors.

    :meth:`run` opens the port, runs ``session(port)`` until it returns (the reason the port
    was lost, or None when stopping), closes the port and reopens with backoff.
    """

    def __init__(
        self,
        name: str,
        settings: SerialSettings,
        *,
        reopen_initial_s: float,
        reopen_max_s: float,
        opener: Callable[[SerialSettings], serial.Serial] = open_port,
    ) -> None:
        self.name = name
        self.settings = settings
        self.reopen_initial_s = reopen_initial_s
        self.reopen_max_s = reopen_max_s
        self._opener = opener
        self.stopping = asyncio.Event()
        self.status = ConnectorStatus.STARTING
        self.last_error: str | None = None
        self.disconnects = 0

    def snapshot(self) -> dict[str, Any]:
        return {
            "port": self.settings.port,
            "status": self.status.value,
            "last_error": self.last_error,
        }

    async def run(self, session: Callable[[serial.Serial], Awaitable[str | None]]) -> None:
        delay = self.reopen_initial_s
        try:
            while not self.stopping.is_set():
                try:
                    port = self._opener(self.settings)
                except (serial.SerialException, OSError) as exc:
                    self._disconnected(f"cannot open {self.settings.port}: {exc}")
                    if await stopped_within(self.stopping, delay):
                        break
                    delay = min(delay * 2, self.reopen_max_s)
                    continue
                delay = self.reopen_initial_s
                self._connected()
                try:
                    lost = await session(port)
                finally:
                    close_quietly(port)
                if lost is not None:
                    self.disconnects += 1
                    self._disconnected(f"lost {self.settings.port}: {lost}")
                    if await stopped_within(self.stopping, delay):
                        break
        finally:
            self.status = ConnectorStatus.STOPPED
            log.info("%s: stopped", self.name)

    def _connected(self) -> None:
        verb = "reopened" if self.status is ConnectorStatus.DISCONNECTED else "opened"
        log.info(
            "%s: %s %s at %d baud", self.name, verb, self.settings.port, self.settings.baudrate
        )
        self.status = ConnectorStatus.CONNECTED

    def _disconnected(self, error: str) -> None:
        if self.status is not ConnectorStatus.DISCONNECTED or error != self.last_error:
            log.warning(
                "%s: %s; retrying every %.1f-%.1f s - check the cable/adapter and the port name",
                self.name,
                error,
                self.reopen_initial_s,
                self.reopen_max_s,
            )
        self.status = ConnectorStatus.DISCONNECTED
        self.last_error = error


async def first_of(*futures: asyncio.Future[Any]) -> None:
    """Wait until any of ``futures`` is done, cancelling none of them."""
    await asyncio.wait(futures, return_when=asyncio.FIRST_COMPLETED)
