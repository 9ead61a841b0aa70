"""Wire record -> table row tuple, validated exactly like ``record_from_wire`` but faster.

``record_from_wire`` builds a frozen dataclass per record and dispatches on every field name;
on the ingest hot path (5,000 records per batch) that dominated the request. Here each kind
gets a validator generated once from its dataclass fields (the way :mod:`dataclasses` writes
``__init__``): one inline type-and-range test per field for the values gateways send, and the
field's full converter for anything else, so a record becomes a plain tuple
``(gateway_id, seq, *fields)`` in :data:`COLUMNS` order with no per-field dispatch. The checks,
their order (dataclass field order, first failure wins) and the error messages are the same as
:mod:`firmware_bridge.wire`'s, which a Hypothesis test holds us to. Times become canonical UTC
text (:mod:`cloud.ingest.times`).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final

from cloud.ingest.times import utc_text
from firmware_bridge.records import (
    RecordKind,
)
from firmware_bridge.wire import (
    ENUM_FIELDS,
    FIELD_RANGES,
    FLOAT_FIELDS,
    INT_FIELDS,
    RECORD_CLASSES,
    TIME_FIELDS,
    RecordFormatError,
)

Converter = Callable[[Any], Any]
Row = tuple[Any, ...]

# The same field tables as the reference decoder, so both always check the same things.
_CLASSES = RECORD_CLASSES
_ENUMS = ENUM_FIELDS
_TIME_FIELDS = TIME_FIELDS
_FLOAT_FIELDS = FLOAT_FIELDS
_INT_FIELDS = INT_FIELDS
_RANGES = FIELD_RANGES


def _integer(raw: Any) -> int:
    if isinstance(raw, bool) or not isinstance(raw, int):
        raise ValueError("expected an integer")
    return raw


def _text(raw: Any) -> str:
    if not isinstance(raw, str) or not raw:
        raise ValueError("expected a non-empty string")
    return raw


def _object(raw: Any) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise ValueError("expected an object")
    return raw


def _enum(enum: type[StrEnum]) -> Converter:
    values = {member.value: member.value for member in enum}

    def convert(raw: Any) -> str:
        if raw.__class__ is str:
            found = values.get(raw)
            if found is not None:
                return found
        # The enum itself raises the exact error record_from_wire would.
        return enum(raw).value

    return convert


def _number(name: str) -> Converter:
    low, high = _RANGES.get(name, (-math.inf, math.inf))
    isfinite = math.isfinite

    def convert(raw: Any) -> float:
        if isinstance(raw, bool) or not isinstance(raw, int | float):
            raise ValueError("expected a number")
        try:
            value = float(raw)
        except OverflowError:
            raise ValueError("is too large for a number") from None
        if not isfinite(value):
            raise ValueError("must be finite")
        if not low <= value <= high:
            raise ValueError(f"{value} is outside {low}..{high}")
        return value

    return convert


def _converter(kind: RecordKind, name: str) -> Converter:
    """The same dispatch order as ``firmware_bridge.wire._parse_field``."""
    if name in _TIME_FIELDS:
        return utc_text
    if name in _INT_FIELDS or (name == "quantity" and kind is RecordKind.SCAN):
        return _integer
    if name in _ENUMS:
        return _enum(_ENUMS[name])
    if name in _FLOAT_FIELDS:
        return _number(name)
    if name == "evidence":
        return _object
    return _text


@dataclass(frozen=True, slots=True)
class _Field:
    name: str
    convert: Converter
    required: bool
    default: Any
    default_factory: Callable[[], Any] | None
    fast_test: str
    """A Python expression over ``v`` true when ``v`` is already the converted value."""


def _fast_test(kind: RecordKind, name: str, index: int, constants: dict[str, Any]) -> str:
    if name in _TIME_FIELDS:
        return "False"
    if name in _INT_FIELDS or (name == "quantity" and kind is RecordKind.SCAN):
        return "v.__class__ is int"
    if name in _ENUMS:
        constants[f"values_{index}"] = frozenset(member.value for member in _ENUMS[name])
        return f"v.__class__ is str and v in values_{index}"
    if name in _FLOAT_FIELDS:
        # Comparisons with NaN are false, so these also test finiteness.
        low, high = _RANGES.get(name, (-math.inf, math.inf))
        constants[f"low_{index}"], constants[f"high_{index}"] = low, high
        less = "<" if math.isinf(low) else "<="
        more = "<" if math.isinf(high) else "<="
        return f"v.__class__ is float and low_{index} {less} v {more} high_{index}"
    if name == "evidence":
        return "v.__class__ is dict"
    return "v.__class__ is str and v != ''"


def _fields(kind: RecordKind, constants: dict[str, Any]) -> tuple[_Field, ...]:
    out: list[_Field] = []
    for item in dataclasses.fields(_CLASSES[kind]):
        if not item.init:
            continue
        factory = None if item.default_factory is dataclasses.MISSING else item.default_factory
        default = None if item.default is dataclasses.MISSING else item.default
        if isinstance(default, StrEnum):
            default = default.value
        required = item.default is dataclasses.MISSING and factory is None
        fast = _fast_test(kind, item.name, len(out), constants)
        out.append(_Field(item.name, _converter(kind, item.name), required, default, factory, fast))
    return tuple(out)


def _slow(kind: RecordKind, field: _Field) -> Converter:
    """The whole check of one field: missing, default, conversion and its error."""
    name, convert, required = field.name, field.convert, field.required
    default, factory = field.default, field.default_factory

    def check(raw: Any) -> Any:
        if raw is None:
            if required:
                raise RecordFormatError(f"{name}: required for {kind.value} records")
            return default if factory is None else factory()
        try:
            return convert(raw)
        except ValueError as exc:
            raise RecordFormatError(f"{name}: {exc}") from None

    return check


RowMaker = Callable[[dict[str, Any], str, int], tuple[RecordKind, "Row"]]


def _row_maker(kind: RecordKind) -> tuple[RowMaker, tuple[str, ...]]:
    constants: dict[str, Any] = {"KIND": kind, "RecordFormatError": RecordFormatError}
    fields = _fields(kind, constants)
    lines = ["def make_row(data, gateway_id, seq):", "    get = data.get"]
    for index, field in enumerate(fields):
        constants[f"slow_{index}"] = _slow(kind, field)
        lines.append(f"    v = get({field.name!r})")
        if field.name in _TIME_FIELDS:
            constants[f"time_{index}"] = field.convert
            lines += [
                "    if v is None:",
                f"        a{index} = slow_{index}(v)",
                "    else:",
                "        try:",
                f"            a{index} = time_{index}(v)",
                "        except ValueError as exc:",
                f"            raise RecordFormatError(f'{field.name}: {{exc}}') from None",
            ]
        elif not field.required and field.default_factory is None:
            # Absent optional fields (a measurement's quality while good) skip the slow call.
            constants[f"default_{index}"] = field.default
            lines.append(
                f"    a{index} = default_{index} if v is None else "
                f"(v if {field.fast_test} else slow_{index}(v))"
            )
        else:
            lines.append(f"    a{index} = v if {field.fast_test} else slow_{index}(v)")
    values = "".join(f", a{index}" for index in range(len(fields)))
    lines.append(f"    return KIND, (gateway_id, seq{values})")
    exec("\n".join(lines), constants)
    return constants["make_row"], ("gateway_id", "seq", *(f.name for f in fields))


# Only the kinds the cloud has tables for; any other kind is rejected as unknown (and kept in
# ingest_rejects), never acknowledged and dropped.
_MAKERS: Final = {kind: _row_maker(kind) for kind in _CLASSES}
_ROW_MAKERS: Final[dict[str, RowMaker]] = {
    kind.value: maker for kind, (maker, _) in _MAKERS.items()
}

COLUMNS: Final[dict[RecordKind, tuple[str, ...]]] = {
    kind: columns for kind, (_, columns) in _MAKERS.items()
}
"""Column names of each kind's row tuple, in order."""

TIME_COLUMNS: Final[dict[RecordKind, tuple[int, ...]]] = {
    kind: tuple(i for i, name in enumerate(COLUMNS[kind]) if name in _TIME_FIELDS)
    for kind in _MAKERS
}
"""Indexes of the time values (canonical UTC text) in each kind's row tuple."""


def wire_row(data: Any, gateway_id: str, seq: int) -> tuple[RecordKind, Row]:
    """The kind and row tuple of wire record ``data``; raises :class:`RecordFormatError`."""
    if not isinstance(data, dict):
        raise RecordFormatError("record must be a JSON object")
    raw_kind = data.get("kind")
    maker = _ROW_MAKERS.get(raw_kind if raw_kind.__class__ is str else str(raw_kind))
    if maker is None:
        raise RecordFormatError(f"kind: unknown record kind {raw_kind!r}")
    return maker(data, gateway_id, seq)


def row_dict(kind: RecordKind, row: Row) -> dict[str, Any]:
    """``row`` as a column-name mapping."""
    return dict(zip(COLUMNS[kind], row, strict=True))
