"""JSON text from devices, parsed within limits on nesting depth and integer length.

Python's json module recurses once per level of nesting (``[[[[...`` raises RecursionError,
not a ValueError), turns an integer of more than 4,300 digits into a ValueError of its own and
one of 400 digits into an int that no float can hold (OverflowError wherever it meets a float).
:func:`loads_bounded` refuses such input with :class:`JsonLimitError` before parsing (depth) or
while parsing (integers), so a caller catching ValueError sees every bad input.
:func:`storable_text` tells the strings JSON can spell that no database takes. Pure.
"""

from __future__ import annotations

import json
import re
from itertools import accumulate
from typing import Any, Final

MAX_DEPTH: Final = 16
"""Nesting levels of arrays and objects; device payloads need 3."""
MAX_INT_DIGITS: Final = 20
"""Digits of one integer literal: every 64-bit integer fits."""

# A JSON string, escapes included; an unterminated one runs to the end of the text (never a
# failed match: retrying one from every later quote would take quadratic time).
_STRING: Final = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"?', re.DOTALL)
_NOT_BRACKETS: Final = re.compile(r"[^\[\]{}]+")
_STEP: Final = {"[": 1, "{": 1, "]": -1, "}": -1}


class JsonLimitError(ValueError):
    """JSON text beyond a limit; the message says which."""


def nesting_depth(text: str) -> int:
    """The deepest nesting of arrays and objects in ``text`` outside strings. Linear, in C-speed
    loops: a 64 KiB payload takes milliseconds whatever it holds."""
    brackets = _NOT_BRACKETS.sub("", _STRING.sub("", text))
    return max(accumulate(map(_STEP.__getitem__, brackets)), default=0)


def loads_bounded(
    text: str, *, max_depth: int = MAX_DEPTH, max_int_digits: int = MAX_INT_DIGITS
) -> Any:
    """``json.loads(text)`` refusing nesting deeper than ``max_depth`` and integers of more than
    ``max_int_digits`` digits with :class:`JsonLimitError`; malformed text raises
    ``json.JSONDecodeError`` as usual (both are ValueErrors)."""
    if nesting_depth(text) > max_depth:
        raise JsonLimitError(f"nested deeper than {max_depth} levels")

    def bounded_int(literal: str) -> int:
        digits = len(literal) - literal.startswith("-")
        if digits > max_int_digits:
            raise JsonLimitError(f"an integer of {digits} digits (at most {max_int_digits})")
        return int(literal)

    return json.loads(text, parse_int=bounded_int)


def storable_text(text: str) -> bool:
    """False for a string no database or UTF-8 encoder takes, which JSON can still spell:
    a NUL character (``\\u0000``) or a lone surrogate (``\\ud800``)."""
    if "\x00" in text:
        return False
    if text.isascii():
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
