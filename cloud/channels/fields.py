"""Field validators shared by the channel adapters (pure): each takes the value and its dotted
path and returns the clean value or raises :class:`ChannelPayloadError` naming the path."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Final

from cloud.channels.model import ChannelPayloadError

MAX_QUANTITY: Final = 10_000
MAX_LINES: Final = 200
# One million yuan per unit: above any real basket item, and far inside a 32-bit column.
MAX_UNIT_PRICE_CENTS: Final = 100_000_000
# 7-15 digits (E.164 allows 15) after dropping spaces, dashes and brackets, optionally with a
# privacy-number extension as delivery platforms send it: "13800138000_1234" or "...,1234".
_PHONE = re.compile(r"\+?\d{7,15}(?:[_,#]\d{1,6})?")
_PHONE_SEPARATORS = re.compile(r"[\s\-()]")
_EARLIEST: Final = datetime(2000, 1, 1, tzinfo=UTC)
_LATEST: Final = datetime(2100, 1, 1, tzinfo=UTC)


def mapping(value: object, path: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ChannelPayloadError(path, f"expected a JSON object, got {_kind(value)}")
    return value


def sequence(value: object, path: str, *, max_items: int) -> Sequence[Any]:
    if not isinstance(value, list | tuple):
        raise ChannelPayloadError(path, f"expected a JSON array, got {_kind(value)}")
    if not value:
        raise ChannelPayloadError(path, "must hold at least one item")
    if len(value) > max_items:
        raise ChannelPayloadError(path, f"holds {len(value)} items; at most {max_items} allowed")
    return value


def required(payload: Mapping[str, Any], key: str, prefix: str = "") -> Any:
    path = f"{prefix}{key}"
    if key not in payload or payload[key] is None:
        raise ChannelPayloadError(path, "is required")
    return payload[key]


def text(value: object, path: str, *, max_length: int) -> str:
    if not isinstance(value, str):
        raise ChannelPayloadError(path, f"expected a string, got {_kind(value)}")
    clean = value.strip()
    if not clean:
        raise ChannelPayloadError(path, "must not be empty")
    if len(clean) > max_length:
        raise ChannelPayloadError(path, f"is {len(clean)} characters long; at most {max_length}")
    if any(ord(char) < 32 and char not in "\t\n" for char in clean):
        raise ChannelPayloadError(path, "contains control characters")
    return clean


def optional_text(value: object, path: str, *, max_length: int) -> str | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    return text(value, path, max_length=max_length)


def identifier(value: object, path: str, *, max_length: int) -> str:
    """An id that channels send as a string or (delivery platforms, marketplaces) a number."""
    if isinstance(value, int) and not isinstance(value, bool):
        if value < 0:
            raise ChannelPayloadError(path, "must not be negative")
        value = str(value)
    clean = text(value, path, max_length=max_length)
    if any(char.isspace() for char in clean):
        raise ChannelPayloadError(path, "must not contain spaces")
    return clean


def phone(value: object, path: str) -> str:
    raw = text(value, path, max_length=32)
    compact = _PHONE_SEPARATORS.sub("", raw)
    if not _PHONE.fullmatch(compact):
        raise ChannelPayloadError(
            path,
            f"{raw!r} does not look like a phone number: expected 7-15 digits, optionally "
            "with a leading + and an extension after '_' or ','",
        )
    return compact


def integer(value: object, path: str, *, low: int, high: int, digits_ok: bool = False) -> int:
    """An integer in ``low..high``; with ``digits_ok`` also a string of decimal digits."""
    if digits_ok and isinstance(value, str) and value.strip().isascii():
        stripped = value.strip()
        if stripped.isdigit() and len(stripped) <= 18:
            value = int(stripped)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ChannelPayloadError(path, f"expected an integer, got {_kind(value)}")
    if not low <= value <= high:
        raise ChannelPayloadError(path, f"{value} is outside {low}..{high}")
    return value


def quantity(value: object, path: str, *, digits_ok: bool = False) -> int:
    return integer(value, path, low=1, high=MAX_QUANTITY, digits_ok=digits_ok)


def coordinate(value: object, path: str, *, limit: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ChannelPayloadError(path, f"expected a number, got {_kind(value)}")
    number = float(value)
    if not math.isfinite(number) or not -limit <= number <= limit:
        raise ChannelPayloadError(path, f"{value} is outside -{limit:g}..{limit:g}")
    return number


def check_position(lat: float, lon: float, path: str) -> None:
    if lat == 0.0 and lon == 0.0:
        raise ChannelPayloadError(path, "0,0 is not a delivery address; the position is missing")


def cents_from_cents(value: object, path: str) -> int:
    return integer(value, path, low=0, high=MAX_UNIT_PRICE_CENTS)


def cents_from_yuan(value: object, path: str) -> int:
    """Yuan as a decimal string ("12.90") or a JSON number (12.9) to whole fen (cents)."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ChannelPayloadError(path, f"expected an amount in yuan, got {_kind(value)}")
    if isinstance(value, float) and not math.isfinite(value):
        raise ChannelPayloadError(path, f"{value} is not an amount")
    raw = value.strip() if isinstance(value, str) else repr(value)
    if len(raw) > 24:
        raise ChannelPayloadError(path, f"{raw[:24]!r}... is not an amount")
    try:
        amount = Decimal(raw)
    except InvalidOperation:
        raise ChannelPayloadError(path, f"{raw!r} is not a decimal amount in yuan") from None
    if not amount.is_finite():
        raise ChannelPayloadError(path, f"{raw!r} is not an amount")
    if amount < 0:
        raise ChannelPayloadError(path, f"{raw} is negative; prices must be 0 or more")
    cents = amount * 100
    if cents != cents.to_integral_value():
        raise ChannelPayloadError(path, f"{raw} has fractions of a fen (more than 2 decimals)")
    if cents > MAX_UNIT_PRICE_CENTS:
        raise ChannelPayloadError(path, f"{raw} yuan is above the limit of 1,000,000 yuan")
    return int(cents)


def within_years(moment: datetime, path: str) -> datetime:
    """``moment`` (timezone-aware) in UTC, if it lies between the years 2000 and 2100."""
    try:
        inside = _EARLIEST <= moment < _LATEST
    except OverflowError:  # year 1 or 9999 with an offset that leaves the calendar
        inside = False
    if not inside:
        raise ChannelPayloadError(path, f"{moment.isoformat()} is not between 2000 and 2100")
    return moment.astimezone(UTC)


def _kind(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, Mapping):
        return "an object"
    if isinstance(value, list | tuple):
        return "an array"
    return type(value).__name__
