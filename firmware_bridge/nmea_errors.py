"""Typed NMEA 0183 decode errors; callers choose to raise, or to skip and count."""

from __future__ import annotations


class NmeaError(ValueError):
    """Base of every NMEA decode error."""


class ChecksumError(NmeaError):
    """The checksum is present and does not match the sentence."""


class MalformedSentence(NmeaError):
    """Not NMEA, truncated, missing its checksum, or a field that does not parse."""


class UnsupportedSentence(NmeaError):
    """Valid NMEA, but a sentence type we do not use (GSV, GLL, proprietary ``$P...``)."""
