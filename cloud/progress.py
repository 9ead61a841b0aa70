"""Text progress bars for long CLI operations (catalogue import, key rotation, benchmarks)."""

from __future__ import annotations


def text_bar(done: int, total: int, width: int = 20) -> str:
    """``[########------------]`` for ``done`` of ``total``."""
    filled = width if total <= 0 else max(0, min(width, done * width // total))
    return "[" + "#" * filled + "-" * (width - filled) + "]"
