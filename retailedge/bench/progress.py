"""The benchmarks' progress on stderr: ``[bench]`` lines, and bars for the measured loops that
cost one clock read per update and draw at most a few times a second."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import Protocol, TextIO

from cloud.progress import text_bar

TERMINAL_EVERY_S = 0.25
"""A bar on a terminal redraws its one line at most this often."""
LOG_EVERY_S = 2.0
"""Elsewhere (a log file, CI) each drawing is a line of its own: fewer of them."""


class Progress(Protocol):
    """Where a benchmark reports: ``progress(message)`` for a line, ``bar`` for a bar."""

    bar_every_s: float

    def __call__(self, message: str) -> None: ...

    def bar(self, message: str, *, final: bool) -> None: ...


def bar_text(label: str, done: int, total: int, unit: str) -> str:
    """``label [#######-------------] 1,500/5,000 unit``."""
    return f"{label} {text_bar(done, total)} {done:,}/{total:,} {unit}"


class ProgressBar:
    """Draws ``label``'s bar through ``progress.bar`` at most every ``progress.bar_every_s``
    seconds, and once more, complete or not, at :meth:`finish`."""

    def __init__(
        self,
        progress: Progress,
        label: str,
        total: int,
        unit: str,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._progress = progress
        self._label, self._total, self._unit = label, total, unit
        self._clock = clock
        self._every_s = progress.bar_every_s
        self._next_at = clock() + self._every_s
        self._done = 0

    def update(self, done: int) -> None:
        self._done = done
        now = self._clock()
        if now >= self._next_at:
            self._next_at = now + self._every_s
            self._progress.bar(self._text(), final=False)

    def finish(self) -> None:
        self._progress.bar(self._text(), final=True)

    def _text(self) -> str:
        return bar_text(self._label, self._done, self._total, self._unit)


class StderrProgress:
    """``[bench] message`` lines on ``stream`` (stderr). On a terminal a bar rewrites one line in
    place until it is final; elsewhere every drawing is a line."""

    def __init__(self, quiet: bool = False, stream: TextIO | None = None) -> None:
        self._stream = stream or sys.stderr
        self._quiet = quiet
        self._terminal = self._stream.isatty()
        self._open_line = False
        self.bar_every_s = TERMINAL_EVERY_S if self._terminal else LOG_EVERY_S

    def __call__(self, message: str) -> None:
        if self._quiet:
            return
        self._close_line()
        self._write(f"[bench] {message}\n")

    def bar(self, message: str, *, final: bool) -> None:
        if self._quiet:
            return
        if not self._terminal:
            self._write(f"[bench] {message}\n")
            return
        # \r back to the line's start, \x1b[K clears what a longer drawing left behind.
        self._write(f"\r[bench] {message}\x1b[K" + ("\n" if final else ""))
        self._open_line = not final

    def _close_line(self) -> None:
        if self._open_line:
            self._write("\n")
            self._open_line = False

    def _write(self, text: str) -> None:
        self._stream.write(text)
        self._stream.flush()
