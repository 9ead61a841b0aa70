"""Typed GS1 EPC decode/encode errors; callers choose to raise, or to skip and count."""

from __future__ import annotations


class EpcError(ValueError):
    """Base of every EPC decode or encode error."""


class EpcHexError(EpcError):
    """Not hexadecimal, empty, or the wrong length for the scheme its header names."""


class PartitionError(EpcError):
    """Partition value 7 on the tag, or a company prefix length no partition allows."""


class FieldValueError(EpcError):
    """A numeric field out of range: too many digits for the partition, or too many bits."""


class PaddingError(EpcError):
    """Reserved or padding bits that must be zero are not."""


class SerialCharacterError(EpcError):
    """An alphanumeric (7-bit) serial that is empty, too long, or has a forbidden character."""
