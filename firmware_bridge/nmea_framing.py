"""Reassemble NMEA 0183 sentence lines from a raw serial byte stream, without doing any I/O.

A line starts at ``$`` and ends at CR or LF. Everything else is accounted for:
``discarded_bytes`` counts noise outside lines and the bytes of lines abandoned because a new ``$``
restarted them or because they held a byte that cannot occur in NMEA (control or non-ASCII);
``overlong_lines`` counts lines dropped for exceeding :data:`MAX_LINE_LENGTH` (their bytes are not
also counted as discarded). Line terminators are never counted.
"""

from __future__ import annotations

import re

MAX_LINE_LENGTH = 120
"""NMEA allows 82 characters; receivers overrun that a little, garbage overruns it a lot."""

_SPECIAL = re.compile(rb"[$\r\n]")
_NOT_PRINTABLE = re.compile(rb"[^\x20-\x7e]")


class LineFramer:
    """Feed raw serial bytes, get complete sentence lines back (``$`` included, CR/LF stripped)."""

    def __init__(self) -> None:
        self.discarded_bytes = 0
        self.overlong_lines = 0
        self._line = bytearray()
        self._in_line = False
        self._skipping_overlong = False

    def feed(self, data: bytes) -> list[str]:
        lines: list[str] = []
        pos = 0
        for match in _SPECIAL.finditer(data):
            self._take(data[pos : match.start()])
            special = match.group()
            if special == b"$":
                self._start_line()
            else:
                line = self._end_line()
                if line is not None:
                    lines.append(line)
            pos = match.end()
        self._take(data[pos:])
        return lines

    def _start_line(self) -> None:
        if self._in_line:
            self.discarded_bytes += len(self._line)
        self._line = bytearray(b"$")
        self._in_line = True
        self._skipping_overlong = False

    def _end_line(self) -> str | None:
        self._skipping_overlong = False
        if not self._in_line:
            return None
        self._in_line = False
        line = self._line.decode("ascii")
        self._line = bytearray()
        return line

    def _take(self, segment: bytes) -> None:
        """Append bytes that hold no ``$``, CR or LF to the line in progress, or drop them."""
        if not segment or self._skipping_overlong:
            return
        if not self._in_line:
            self.discarded_bytes += len(segment)
            return
        bad = _NOT_PRINTABLE.search(segment)
        if bad is not None:
            # The line is corrupt; what follows the bad byte is noise until the next '$'.
            self.discarded_bytes += len(self._line) + len(segment)
            self._line = bytearray()
            self._in_line = False
            return
        self._line += segment
        if len(self._line) > MAX_LINE_LENGTH:
            self.overlong_lines += 1
            self._line = bytearray()
            self._in_line = False
            self._skipping_overlong = True
