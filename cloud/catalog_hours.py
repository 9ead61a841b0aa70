"""Opening hours: the compact text form (CSV) and the JSON form, validated (pure).

JSON: ``{"mon": [["08:00", "22:00"]], "sat": [["09:00", "12:00"], ["14:00", "18:00"]]}``.
Text: ``mon-fri 08:00-22:00; sat 09:00-12:00,14:00-18:00``. Days left out are closed;
``null`` / empty text / ``24h`` mean open around the clock. ``24:00`` closes at midnight.
"""

from __future__ import annotations

import re
from typing import Any

DAYS: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_TIME = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$|^24:00$")


def _minutes(text: str) -> int:
    if not _TIME.match(text):
        raise ValueError(f"time {text!r}: use HH:MM between 00:00 and 24:00")
    hours, minutes = text.split(":")
    return int(hours) * 60 + int(minutes)


def _days(text: str) -> list[str]:
    days: list[str] = []
    for part in text.split(","):
        part = part.strip().lower()
        if "-" in part:
            first, _, last = part.partition("-")
            if first not in DAYS or last not in DAYS:
                raise ValueError(f"day range {part!r}: use mon, tue, ... sun")
            start, end = DAYS.index(first), DAYS.index(last)
            if start > end:
                raise ValueError(f"day range {part!r} runs backwards")
            days.extend(DAYS[start : end + 1])
        elif part in DAYS:
            days.append(part)
        else:
            raise ValueError(f"day {part!r}: use mon, tue, ... sun")
    return days


def _parse_text(text: str) -> dict[str, list[list[str]]]:
    hours: dict[str, list[list[str]]] = {}
    for segment in text.split(";"):
        segment = segment.strip()
        if not segment:
            continue
        days_text, _, spans_text = segment.partition(" ")
        if not spans_text.strip():
            raise ValueError(f"{segment!r}: write days then spans, e.g. 'mon-fri 08:00-22:00'")
        spans = []
        for span in spans_text.split(","):
            opens, sep, closes = span.strip().partition("-")
            if not sep:
                raise ValueError(f"span {span.strip()!r}: write HH:MM-HH:MM")
            spans.append([opens.strip(), closes.strip()])
        for day in _days(days_text):
            if day in hours:
                raise ValueError(f"day {day!r} is given twice")
            hours[day] = spans
    return hours


def parse_opening_hours(value: Any) -> dict[str, list[tuple[str, str]]] | None:
    """The canonical JSON form of ``value`` (text or JSON form); ValueError on bad input."""
    if value is None:
        return None
    if isinstance(value, str):
        text = value.strip()
        if text.lower() in ("", "24h", "24/7"):
            return None
        value = _parse_text(text)
    if not isinstance(value, dict):
        raise ValueError("give a {day: [[open, close], ...]} object or 'mon-fri 08:00-22:00'")
    result: dict[str, list[tuple[str, str]]] = {}
    for day in DAYS:
        spans = value.get(day)
        if spans is None:
            continue
        checked: list[tuple[str, str]] = []
        previous_close = -1
        for span in spans:
            if not isinstance(span, list | tuple) or len(span) != 2:
                raise ValueError(f"{day}: each span is [open, close]")
            opens, closes = str(span[0]), str(span[1])
            start, end = _minutes(opens), _minutes(closes)
            if start >= end:
                raise ValueError(f"{day}: {opens}-{closes} closes before it opens")
            if start < previous_close:
                raise ValueError(f"{day}: spans overlap or are out of order")
            previous_close = end
            checked.append((opens, closes))
        result[day] = checked
    unknown = sorted(set(value) - set(DAYS))
    if unknown:
        raise ValueError(f"unknown day {unknown[0]!r}: use mon, tue, ... sun")
    return result
