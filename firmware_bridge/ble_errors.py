"""Typed BLE advertisement decode errors; callers choose to raise, or to skip and count."""

from __future__ import annotations


class BleDecodeError(ValueError):
    """Base of every BLE advertisement decode error."""


class AdvertFormatError(BleDecodeError):
    """An advertisement record (JSON shape) that is not of the expected form."""


class MissingPayload(BleDecodeError):
    """The advertisement does not carry the manufacturer or service data the format needs."""


class PayloadLengthError(BleDecodeError):
    """A payload truncated, or longer than its format allows."""


class UnsupportedFormat(BleDecodeError):
    """Data of the right source but of another format or version (e.g. Ruuvi format 3)."""


class DecryptionError(BleDecodeError):
    """An encrypted payload without a bind key, with the wrong one, or tampered with."""
