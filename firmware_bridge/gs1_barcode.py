"""GS1 barcodes: EAN/UPC GTINs and GS1 element strings (GS1-128, GS1 DataMatrix, GS1 QR).

Text in, typed elements out; errors are :class:`BarcodeError` naming the AI and the problem.
Accepted forms: a bare GTIN-8/12/13/14 or SSCC (18 digits), an element string with an optional
symbology identifier (``]C1``, ``]d2``, ``]Q3``) and GS (0x1D) after variable-length fields, and
the bracketed human-readable form ``(01)09506000134352(17)201225(10)ABC123``.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Final

from firmware_bridge.gs1 import gs1_check_digit

GS: Final = "\x1d"
_CSET82: Final = re.compile(r"[!\"%-/0-9:-?A-Z_a-z]*")
_DIGITS: Final = re.compile(r"[0-9]*")


class Symbology(StrEnum):
    GS1_128 = "]C1"
    GS1_DATAMATRIX = "]d2"
    GS1_QR = "]Q3"
    EAN_UPC = "ean_upc"
    """A bare GTIN (EAN-13, UPC-A, EAN-8, ITF-14) or SSCC with no AIs."""
    BRACKETED = "bracketed"


class Check(StrEnum):
    NONE = "none"
    KEY = "key"
    """The last digit is a GS1 mod-10 check digit (GTIN, SSCC, GLN)."""


class Format(StrEnum):
    NUMERIC = "numeric"
    ALNUM = "alnum"
    DATE = "date"
    """YYMMDD; DD = 00 means the last day of the month."""


class BarcodeError(ValueError):
    """A code that is not a valid GS1 barcode; ``ai`` names the element when one is at fault."""

    def __init__(self, problem: str, ai: str | None = None) -> None:
        super().__init__(problem if ai is None else f"AI ({ai}): {problem}")
        self.ai = ai
        self.problem = problem


@dataclass(frozen=True, slots=True)
class AiSpec:
    title: str
    length: int
    """The exact length when ``fixed``, else the maximum."""
    fixed: bool
    format: Format = Format.NUMERIC
    check: Check = Check.NONE
    decimals: bool = False
    """The AI's last digit is the decimal point position (310n)."""


def _fixed(
    title: str, length: int, fmt: Format = Format.NUMERIC, check: Check = Check.NONE
) -> AiSpec:
    return AiSpec(title, length, True, fmt, check)


def _var(title: str, length: int, fmt: Format = Format.ALNUM) -> AiSpec:
    return AiSpec(title, length, False, fmt)


AI_TABLE: Final[dict[str, AiSpec]] = {
    "00": _fixed("SSCC", 18, check=Check.KEY),
    "01": _fixed("GTIN", 14, check=Check.KEY),
    "02": _fixed("CONTENT", 14, check=Check.KEY),
    "10": _var("BATCH/LOT", 20),
    "11": _fixed("PROD DATE", 6, Format.DATE),
    "13": _fixed("PACK DATE", 6, Format.DATE),
    "15": _fixed("BEST BEFORE", 6, Format.DATE),
    "17": _fixed("USE BY", 6, Format.DATE),
    "20": _fixed("VARIANT", 2),
    "21": _var("SERIAL", 20),
    "22": _var("CPV", 20),
    "30": _var("VAR. COUNT", 8, Format.NUMERIC),
    "37": _var("COUNT", 8, Format.NUMERIC),
    **{f"310{n}": AiSpec("NET WEIGHT (kg)", 6, True, decimals=True) for n in range(6)},
    "400": _var("ORDER NUMBER", 30),
    "401": _var("GINC", 30),
    "402": _fixed("GSIN", 17, check=Check.KEY),
    "410": _fixed("SHIP TO LOC", 13, check=Check.KEY),
    "411": _fixed("BILL TO", 13, check=Check.KEY),
    "412": _fixed("PURCHASE FROM", 13, check=Check.KEY),
    "413": _fixed("SHIP FOR LOC", 13, check=Check.KEY),
    "414": _fixed("LOC No.", 13, check=Check.KEY),
    "420": _var("SHIP TO POST", 20),
    "8004": _var("GIAI", 30),
}
"""Application identifiers by code. Fixed-length AIs need no GS after them."""

_SYMBOLOGY_IDS: Final = {
    s.value: s for s in (Symbology.GS1_128, Symbology.GS1_DATAMATRIX, Symbology.GS1_QR)
}
_BARE_ELEMENT_STARTS: Final = frozenset({"00", "01", "02"})
_BRACKETED: Final = re.compile(r"\((\d{2,4})\)([^()]*)")


@dataclass(frozen=True, slots=True)
class Element:
    """One AI and its data; ``value`` is typed: ``str`` for keys and text, ``int`` for counts,
    ``Decimal`` for measures, ``date`` for dates."""

    ai: str
    data: str
    value: str | int | Decimal | date


@dataclass(frozen=True, slots=True)
class Barcode:
    symbology: Symbology
    elements: tuple[Element, ...]

    def get(self, ai: str) -> Element | None:
        return next((e for e in self.elements if e.ai == ai), None)

    @property
    def gtin(self) -> str | None:
        """The GTIN-14 (AI 01 or the bare EAN/UPC code, zero-padded)."""
        element = self.get("01")
        return None if element is None else element.data

    @property
    def sscc(self) -> str | None:
        element = self.get("00")
        return None if element is None else element.data

    @property
    def quantity(self) -> int | None:
        """The count of items the code stands for, when it carries one: AI 37 (items in a
        logistic unit), else AI 30 (a variable count). A weight is no count: see
        :attr:`net_weight_kg`."""
        count = self.get("37") or self.get("30")
        if count is None:
            return None
        assert isinstance(count.value, int)
        return count.value

    @property
    def net_weight_kg(self) -> Decimal | None:
        """The net weight (AI 310n, n decimals) of a variable-measure item: one item that weighs
        this much, not that many units."""
        weight = next((e for e in self.elements if e.ai.startswith("310")), None)
        if weight is None:
            return None
        assert isinstance(weight.value, Decimal)
        return weight.value


def _spec(ai: str) -> AiSpec:
    spec = AI_TABLE.get(ai)
    if spec is None:
        raise BarcodeError("unknown or unsupported application identifier", ai)
    return spec


def _match_ai(data: str, pos: int) -> str:
    for size in (2, 3, 4):
        candidate = data[pos : pos + size]
        if len(candidate) == size and candidate in AI_TABLE:
            return candidate
    raise BarcodeError(f"unknown application identifier at position {pos}: {data[pos : pos + 4]!r}")


def parse_date(ai: str, data: str) -> date:
    """YYMMDD as a date in 2000-2099; DD = 00 is the last day of the month."""
    year, month, day = 2000 + int(data[:2]), int(data[2:4]), int(data[4:6])
    if not 1 <= month <= 12:
        raise BarcodeError(f"month {data[2:4]} out of range in date {data}", ai)
    last = calendar.monthrange(year, month)[1]
    if day == 0:
        day = last
    if day > last:
        raise BarcodeError(f"day {data[4:6]} out of range in date {data}", ai)
    return date(year, month, day)


def element(ai: str, data: str) -> Element:
    """The validated, typed element ``(ai) data``."""
    spec = _spec(ai)
    if spec.fixed and len(data) != spec.length:
        raise BarcodeError(f"needs exactly {spec.length} characters, got {len(data)}", ai)
    if not spec.fixed and not 1 <= len(data) <= spec.length:
        raise BarcodeError(f"needs 1 to {spec.length} characters, got {len(data)}", ai)
    pattern = _CSET82 if spec.format is Format.ALNUM else _DIGITS
    if not pattern.fullmatch(data):
        allowed = "GS1 character set 82" if spec.format is Format.ALNUM else "digits only"
        raise BarcodeError(f"invalid character in {data!r} ({allowed})", ai)
    if spec.check is Check.KEY and gs1_check_digit(data[:-1]) != int(data[-1]):
        expected = gs1_check_digit(data[:-1])
        raise BarcodeError(f"check digit of {data} is {data[-1]}, expected {expected}", ai)
    value: str | int | Decimal | date = data
    if spec.format is Format.DATE:
        value = parse_date(ai, data)
    elif spec.decimals:
        value = Decimal(int(data)).scaleb(-int(ai[-1]))
    elif spec.format is Format.NUMERIC and spec.check is Check.NONE and not spec.fixed:
        value = int(data)
    return Element(ai, data, value)


def parse_element_string(data: str) -> tuple[Element, ...]:
    """The elements of an element string without symbology identifier (GS after variable AIs)."""
    if not data:
        raise BarcodeError("empty element string")
    elements: list[Element] = []
    pos = 0
    while pos < len(data):
        if data[pos] == GS:
            raise BarcodeError(f"unexpected GS at position {pos}")
        ai = _match_ai(data, pos)
        spec = AI_TABLE[ai]
        start = pos + len(ai)
        if spec.fixed:
            end = start + spec.length
            if end > len(data):
                raise BarcodeError(f"truncated: needs {spec.length} characters", ai)
            pos = end + 1 if data[end : end + 1] == GS else end
        else:
            gs = data.find(GS, start)
            end = len(data) if gs < 0 else gs
            pos = end + 1 if gs >= 0 else end
            if gs >= 0 and pos == len(data):
                raise BarcodeError("GS at end of data", ai)
        elements.append(element(ai, data[start:end]))
    return tuple(elements)


def parse_bracketed(text: str) -> tuple[Element, ...]:
    """The elements of ``(01)09506000134352(10)ABC123``."""
    pos = 0
    elements: list[Element] = []
    for match in _BRACKETED.finditer(text):
        if match.start() != pos:
            break
        elements.append(element(match.group(1), match.group(2)))
        pos = match.end()
    if not elements or pos != len(text):
        raise BarcodeError(f"malformed bracketed element string at position {pos}: {text!r}")
    return tuple(elements)


def parse_barcode(text: str) -> Barcode:
    """Any supported GS1 barcode text; raises :class:`BarcodeError`."""
    code = text.strip(" \r\n\t")
    prefix = code[:3]
    if prefix in _SYMBOLOGY_IDS:
        return Barcode(_SYMBOLOGY_IDS[prefix], parse_element_string(code[3:]))
    if code.startswith("("):
        return Barcode(Symbology.BRACKETED, parse_bracketed(code))
    if code.isascii() and code.isdigit():
        if len(code) in (8, 12, 13, 14):
            return Barcode(Symbology.EAN_UPC, (element("01", code.rjust(14, "0")),))
        if len(code) == 18:
            return Barcode(Symbology.EAN_UPC, (element("00", code),))
    if GS in code or code[:2] in _BARE_ELEMENT_STARTS:
        # Scanners configured without symbology identifiers send the element string alone.
        return Barcode(Symbology.GS1_128, parse_element_string(code))
    raise BarcodeError(
        f"not a GTIN, SSCC or GS1 element string: {text!r} (a bare code needs 8, 12, 13, 14 "
        "or 18 digits; an element string needs ]C1, ]d2, ]Q3 or brackets)"
    )


def encode_element_string(
    elements: tuple[Element, ...] | list[Element], symbology: str = "]C1"
) -> str:
    """The element string with a GS after every variable-length field but the last."""
    parts: list[str] = []
    for index, item in enumerate(elements):
        parts.append(item.ai + item.data)
        if not _spec(item.ai).fixed and index < len(elements) - 1:
            parts.append(GS)
    return symbology + "".join(parts)


def to_bracketed(elements: tuple[Element, ...] | list[Element]) -> str:
    return "".join(f"({e.ai}){e.data}" for e in elements)
