"""Frames of the Impinj-R2000 "0xA0" reader protocol, and an I/O-free stream reassembler.

Packet layout, both directions (UHF RFID Reader Serial Interface Protocol, V3.7, section 1)::

    Head  Len  Address  Cmd  Data[Len-3]  Check
    0xA0  n    0..255   cmd  ...          two's complement of the byte sum of Head..Data

``Len`` counts the bytes after itself (Address, Cmd, Data and Check), so a frame is ``Len + 2``
bytes long and the shortest one (a host command without data) has ``Len == 3``.
"""

from __future__ import annotations

from dataclasses import dataclass

HEAD = 0xA0
MIN_LEN = 3
"""Address, Cmd and Check: a host command without parameters."""
BROADCAST_ADDRESS = 0xFF
"""The public address every reader answers to, whatever its own address (0..254)."""


class RfidError(ValueError):
    """Any problem decoding or building reader protocol bytes."""


class RfidChecksumError(RfidError):
    """The Check byte does not match the frame's contents."""


class RfidLengthError(RfidError):
    """The Len byte is impossible, or disagrees with the bytes present."""


class RfidFrameError(RfidError):
    """A well-framed packet whose contents do not fit the command's documented layout."""


class RfidUnknownCommandError(RfidError):
    """A command code this codec does not implement."""


def checksum(data: bytes) -> int:
    """Two's complement of the 8-bit sum of ``data`` (Head through the last data byte)."""
    return (-sum(data)) & 0xFF


@dataclass(frozen=True, slots=True)
class Frame:
    """One checked packet: the reader (or target) address, the command and its data bytes."""

    address: int
    cmd: int
    data: bytes = b""

    def to_bytes(self) -> bytes:
        return encode_frame(self.address, self.cmd, self.data)


def encode_frame(address: int, cmd: int, data: bytes = b"") -> bytes:
    """Head, Len, Address, Cmd, Data, Check; raises :class:`RfidLengthError` if too long."""
    if not 0 <= address <= 0xFF or not 0 <= cmd <= 0xFF:
        raise RfidFrameError(f"address {address} and command {cmd} must each fit in one byte")
    length = len(data) + MIN_LEN
    if length > 0xFF:
        raise RfidLengthError(f"{len(data)} data bytes do not fit one frame (at most 252)")
    body = bytes((HEAD, length, address, cmd)) + data
    return body + bytes((checksum(body),))


def parse_frame(raw: bytes) -> Frame:
    """Check exactly one whole frame; raises :class:`RfidError` naming what is wrong."""
    if len(raw) < MIN_LEN + 2:
        raise RfidLengthError(f"a frame is at least {MIN_LEN + 2} bytes, got {len(raw)}")
    if raw[0] != HEAD:
        raise RfidFrameError(f"a frame starts with {HEAD:#04x}, got {raw[0]:#04x}")
    length = raw[1]
    if length < MIN_LEN:
        raise RfidLengthError(f"Len {length} is below the minimum {MIN_LEN}")
    if len(raw) != length + 2:
        raise RfidLengthError(f"Len {length} means {length + 2} bytes, got {len(raw)}")
    expected = checksum(raw[:-1])
    if raw[-1] != expected:
        raise RfidChecksumError(f"Check byte {raw[-1]:#04x}, computed {expected:#04x}")
    return Frame(raw[2], raw[3], bytes(raw[4:-1]))


@dataclass(slots=True)
class FramerStats:
    """What the framer accepted and what it threw away, for health counters."""

    frames: int = 0
    bad_checksum: int = 0
    bad_length: int = 0
    noise_bytes: int = 0
    """Bytes skipped while looking for a Head byte (including heads of rejected frames)."""


class R2000Framer:
    """Reassemble frames from a byte stream cut anywhere; never raises on bad input.

    A rejected candidate (impossible Len, wrong Check) costs only its Head byte: the search for
    the next Head resumes one byte later, so a real frame hidden behind noise is still found.
    """

    def __init__(self) -> None:
        self._buffer = bytearray()
        self.stats = FramerStats()

    @property
    def pending(self) -> int:
        """Bytes held back, waiting for the rest of a frame."""
        return len(self._buffer)

    def feed(self, data: bytes) -> list[Frame]:
        self._buffer += data
        frames: list[Frame] = []
        while True:
            frame = self._next_frame()
            if frame is None:
                return frames
            frames.append(frame)

    def reset(self) -> int:
        """Drop a partial frame (the port went away mid-frame); returns the bytes dropped."""
        dropped = len(self._buffer)
        self.stats.noise_bytes += dropped
        self._buffer.clear()
        return dropped

    def _next_frame(self) -> Frame | None:
        buffer = self._buffer
        while True:
            start = buffer.find(HEAD)
            if start < 0:
                self.stats.noise_bytes += len(buffer)
                buffer.clear()
                return None
            if start:
                self.stats.noise_bytes += start
                del buffer[:start]
            if len(buffer) < 2:
                return None
            length = buffer[1]
            if length < MIN_LEN:
                self._reject_head()
                self.stats.bad_length += 1
                continue
            if len(buffer) < length + 2:
                return None
            raw = bytes(buffer[: length + 2])
            if raw[-1] != checksum(raw[:-1]):
                self._reject_head()
                self.stats.bad_checksum += 1
                continue
            del buffer[: length + 2]
            self.stats.frames += 1
            return Frame(raw[2], raw[3], raw[4:-1])

    def _reject_head(self) -> None:
        self.stats.noise_bytes += 1
        del self._buffer[0]
