"""NMEA 0183 codec: framing, sentence decoding and fix assembly (pure, no I/O).

Typical use: ``LineFramer.feed(bytes)`` -> lines, ``parse_sentence(line)`` -> :class:`NmeaSentence`
(raising an :class:`NmeaError` subclass the caller may skip and count), then
``FixAssembler.push(sentence, received_at)`` -> :class:`~firmware_bridge.records.Position` or
:class:`NoFix` per receiver epoch.
"""

from firmware_bridge.nmea_errors import (
    ChecksumError,
    MalformedSentence,
    NmeaError,
    UnsupportedSentence,
)
from firmware_bridge.nmea_fix import FixAssembler, NoFix, epoch_result, fix_time
from firmware_bridge.nmea_framing import MAX_LINE_LENGTH, LineFramer
from firmware_bridge.nmea_sentence import NmeaSentence, parse_sentence

__all__ = [
    "MAX_LINE_LENGTH",
    "ChecksumError",
    "FixAssembler",
    "LineFramer",
    "MalformedSentence",
    "NmeaError",
    "NmeaSentence",
    "NoFix",
    "UnsupportedSentence",
    "epoch_result",
    "fix_time",
    "parse_sentence",
]
