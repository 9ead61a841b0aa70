"""Bit fields, 7-bit GS1 strings and URI escaping shared by the EPC decoder and encoder."""

from __future__ import annotations

import string

from firmware_bridge.epc_errors import FieldValueError, PaddingError, SerialCharacterError

# GS1 AI encodable character set 82: the only characters a 7-bit EPC serial may hold.
GS1_CHARSET_82 = frozenset(string.ascii_letters + string.digits + "!\"%&'()*+,-./:;<=>?_")
# Characters the TDS requires to be %-escaped in EPC URIs.
_URI_ESCAPES = {c: f"%{ord(c):02X}" for c in '"%&/<>?'}
CHAR_BITS = 7


class BitReader:
    """Reads successive fields, most significant bit first, from an integer of known width."""

    def __init__(self, value: int, total_bits: int) -> None:
        self._value = value
        self._remaining = total_bits

    @property
    def remaining(self) -> int:
        return self._remaining

    def read(self, width: int) -> int:
        if width > self._remaining:
            raise ValueError(f"read of {width} bits with only {self._remaining} left")
        self._remaining -= width
        return (self._value >> self._remaining) & ((1 << width) - 1)

    def require_zero(self, width: int, what: str) -> None:
        value = self.read(width)
        if value:
            raise PaddingError(f"{what}: {width} bits must be zero, got {value:#x}")


class BitWriter:
    """Appends fields, most significant bit first; renders them as upper-case hex."""

    def __init__(self) -> None:
        self._value = 0
        self._bits = 0

    def write(self, value: int, width: int) -> None:
        if not 0 <= value < (1 << width):
            raise FieldValueError(f"{value} does not fit in {width} bits")
        self._value = (self._value << width) | value
        self._bits += width

    def to_hex(self, hex_length: int) -> str:
        """The fields, zero-padded on the right to ``hex_length`` hex digits."""
        total = hex_length * 4
        if self._bits > total:
            raise ValueError(f"{self._bits} bits do not fit in {hex_length} hex digits")
        return f"{self._value << (total - self._bits):0{hex_length}X}"


def decode_string7(reader: BitReader, max_chars: int, what: str) -> str:
    """A zero-terminated string of 7-bit characters; every bit after the terminator must be 0."""
    chars: list[str] = []
    for index in range(max_chars):
        code = reader.read(CHAR_BITS)
        if code == 0:
            reader.require_zero(CHAR_BITS * (max_chars - index - 1), f"{what} after its end")
            break
        char = chr(code)
        if char not in GS1_CHARSET_82:
            raise SerialCharacterError(f"{what}: character {code:#04x} is not in GS1 set 82")
        chars.append(char)
    text = "".join(chars)
    if not text:
        raise SerialCharacterError(f"{what} is empty")
    return text


def check_string7(text: str, max_chars: int, what: str) -> None:
    if not 1 <= len(text) <= max_chars:
        raise SerialCharacterError(f"{what} must have 1 to {max_chars} characters: {text!r}")
    bad = sorted({c for c in text if c not in GS1_CHARSET_82})
    if bad:
        raise SerialCharacterError(f"{what} has characters outside GS1 set 82: {bad!r}")


def encode_string7(writer: BitWriter, text: str, max_chars: int, what: str) -> None:
    check_string7(text, max_chars, what)
    for char in text:
        writer.write(ord(char), CHAR_BITS)
    writer.write(0, CHAR_BITS * (max_chars - len(text)))


def escape_uri_component(text: str) -> str:
    """Escape the characters TDS reserves in URIs (``"%&/<>?``) as ``%HH``."""
    return "".join(_URI_ESCAPES.get(c, c) for c in text)
