"""A pseudo-terminal standing in for a GPS receiver's serial port.

The simulator writes to the master side; a gateway opens the slave (``/dev/pts/N``, or the symlink
given as ``link_path``) exactly as it would open ``/dev/ttyUSB0``. The slave is put in raw mode, so
the line discipline neither echoes nor translates CR/LF; the baud rate a reader sets is accepted and
ignored, as a pty has no line speed.

Kernel behaviour this class works around (Linux): while nobody has the slave open the master stays
writable for about 20 KB and then blocks, and whatever was queued is handed to the next reader. So
:meth:`PtyPort.write` refuses with :class:`NoReaderError` while the slave is closed, and when a
reader goes away the bytes it left unread are flushed. A reader therefore gets exactly what is
written after it opened, unless a previous reader left bytes unread and the new one opened before
the next write noticed the hang-up: the kernel then hands it those stale bytes first.
Each write is all-or-error: a partial write while the reader disappears raises
:class:`NoReaderError` too. Closing the master discards whatever the reader has not read yet, so
await :meth:`PtyPort.drain` before :meth:`PtyPort.close`.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import fcntl
import os
import select
import struct
import termios
import tty
from pathlib import Path
from types import TracebackType

_SETTLE_S = 0.05


class NoReaderError(OSError):
    """Nobody has the slave side open (or it closed during the write); the bytes were not sent."""


class PtyPort:
    """The master side of a raw pseudo-terminal; use :meth:`open`, then ``close`` or ``with``."""

    def __init__(self, master_fd: int, slave_path: str, link_path: Path | None) -> None:
        self._master = master_fd
        self.slave_path = slave_path
        self.link_path = link_path
        self._had_reader = False
        self._closed = False

    @classmethod
    def open(cls, link_path: Path | None = None) -> PtyPort:
        """Create the pty; symlink ``link_path`` to its slave, replacing an existing symlink."""
        master, slave = os.openpty()
        try:
            tty.setraw(slave)
            slave_path = os.ttyname(slave)
        except BaseException:
            os.close(master)
            raise
        finally:
            # Keeping the slave open ourselves would queue every byte for a future reader.
            os.close(slave)
        os.set_blocking(master, False)
        port = cls(master, slave_path, link_path)
        if link_path is not None:
            try:
                _replace_symlink(link_path, slave_path)
            except BaseException:
                port.close()
                raise
        return port

    @property
    def device_path(self) -> str:
        """What a reader should open: the symlink when there is one, else the slave."""
        return str(self.link_path) if self.link_path is not None else self.slave_path

    @property
    def closed(self) -> bool:
        return self._closed

    def has_reader(self) -> bool:
        """Whether some process has the slave open right now."""
        self._check_open()
        poller = select.poll()
        poller.register(self._master, select.POLLOUT)
        events = poller.poll(0)
        hung_up = any(mask & select.POLLHUP for _, mask in events)
        if hung_up and self._had_reader:
            self._flush_abandoned()
        self._had_reader = not hung_up
        return not hung_up

    async def write(self, data: bytes) -> None:
        """Write all of ``data`` without blocking the loop, or raise :class:`NoReaderError`."""
        view = memoryview(data)
        while view:
            if not self.has_reader():
                raise NoReaderError(errno.EIO, f"no reader on {self.slave_path}")
            try:
                view = view[os.write(self._master, view) :]
            except BlockingIOError:
                # The reader is slow; poll rather than add_writer, since a hung-up pty would wake
                # the selector in a busy loop.
                await asyncio.sleep(0.005)
            except OSError as exc:
                if exc.errno == errno.EIO:
                    raise NoReaderError(errno.EIO, f"no reader on {self.slave_path}") from exc
                raise

    async def drain(self, timeout_s: float = 2.0) -> bool:
        """Wait until the reader has read everything written; False on timeout or no reader.

        Call it before :meth:`close`: closing the master discards what the slave has not read.
        """
        if not self.has_reader():
            return False
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        probe = os.open(self.slave_path, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
        try:
            # The kernel moves written bytes to the slave's queue from a work queue, so a queue
            # that reads empty right after a write may still be filling.
            await asyncio.sleep(_SETTLE_S)
            while _unread(probe) > 0:
                if loop.time() >= deadline:
                    return False
                await asyncio.sleep(0.01)
            return True
        finally:
            os.close(probe)

    def close(self) -> None:
        """Close the master (readers see a hang-up) and remove the symlink if it is still ours."""
        if self._closed:
            return
        self._closed = True
        os.close(self._master)
        if self.link_path is not None and _points_to(self.link_path, self.slave_path):
            self.link_path.unlink()

    def __enter__(self) -> PtyPort:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def _check_open(self) -> None:
        if self._closed:
            raise ValueError("the pty port is closed")

    def _flush_abandoned(self) -> None:
        """Drop what the last reader left unread, so the next reader does not see stale data."""
        with contextlib.suppress(OSError):
            fd = os.open(self.slave_path, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
            try:
                termios.tcflush(fd, termios.TCIFLUSH)
            finally:
                os.close(fd)


def _unread(slave_fd: int) -> int:
    """Bytes waiting in the slave's input queue (shared by every descriptor of the slave)."""
    raw = fcntl.ioctl(slave_fd, termios.TIOCINQ, b"\0\0\0\0")
    return int(struct.unpack("i", raw)[0])


def _points_to(link: Path, target: str) -> bool:
    return link.is_symlink() and os.readlink(link) == target


def _replace_symlink(link: Path, target: str) -> None:
    if link.exists() and not link.is_symlink():
        raise FileExistsError(f"{link} exists and is not a symlink; refusing to replace it")
    temporary = link.with_name(f".{link.name}.{os.getpid()}.tmp")
    with contextlib.suppress(FileNotFoundError):
        temporary.unlink()
    temporary.symlink_to(target)
    temporary.replace(link)
