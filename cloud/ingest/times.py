"""Wire times -> canonical UTC text, the form SQLAlchemy's SQLite DATETIME stores (pure).

Rows carry record times as ``"YYYY-MM-DD HH:MM:SS.ffffff"`` (naive UTC): SQLite stores that
text as it is, it orders like the time it names, and PostgreSQL parses it in the INSERT.
:func:`utc_text` accepts exactly what :func:`firmware_bridge.wire.parse_time` accepts and
raises the same errors; the two shapes gateways send (``...SSZ`` and ``...SS.ffffffZ``) skip
the aware datetime, ``astimezone`` and ``isoformat`` round trip.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Final

from firmware_bridge.wire import parse_time

_fromisoformat: Final = datetime.fromisoformat
_EPOCH: Final = datetime(1970, 1, 1)


def canonical_utc(moment: datetime) -> str:
    """``moment`` (timezone-aware) as canonical UTC text."""
    if moment.tzinfo is not UTC:
        moment = moment.astimezone(UTC)
    # "YYYY-MM-DD HH:MM:SS.ffffff+00:00" without the offset.
    return moment.isoformat(" ", "microseconds")[:26]


def utc_text(raw: Any) -> str:
    """Canonical UTC text of wire time ``raw``; raises ValueError like ``parse_time``."""
    if raw.__class__ is str:
        size = len(raw)
        if (
            (size == 27 or size == 20)
            and raw[-1] == "Z"
            and raw[4] == "-"
            and raw[7] == "-"
            and raw[10] == "T"
            and raw[13] == ":"
            and raw[16] == ":"
        ):
            # With the separators fixed, no offset parsed and an all-digit fraction,
            # fromisoformat has read YYYY-MM-DDTHH:MM:SS[.ffffff] with ASCII digits, so the
            # text names a valid time exactly as written. Anything else (and any failure, for
            # parse_time's own message) goes the slow way.
            try:
                if size == 20:
                    if _fromisoformat(raw[:19]).tzinfo is None:
                        return f"{raw[:10]} {raw[11:19]}.000000"
                elif (
                    raw[19] == "."
                    and raw[20:26].isdigit()
                    and _fromisoformat(raw[:26]).tzinfo is None
                ):
                    return f"{raw[:10]} {raw[11:26]}"
            except ValueError:
                pass
    return canonical_utc(parse_time(raw))


def utc_datetime(text: str) -> datetime:
    """The aware UTC datetime canonical text ``text`` names."""
    return _fromisoformat(text).replace(tzinfo=UTC)


def epoch_us(text: str) -> int:
    """Microseconds since 1970-01-01 UTC of canonical text ``text``."""
    delta = _fromisoformat(text) - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
