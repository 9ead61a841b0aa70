"""Checking a handheld scan, whichever way it came (the local API's ``POST /api/v1/scans`` or an
MQTT ``.../scan`` message), and the answer the scanner gets.

Pure: a scan's fields in, the Scan as it is stored (the code in canonical form, the location as
the catalogue spells it) and what the scanner is told out, or :class:`ScanFieldError` naming the
field and the error code. The barcode is parsed as GS1 (:mod:`firmware_bridge.gs1_barcode`) or EPC
hex (:mod:`firmware_bridge.epc`). The catalogue check: the location must be one of the node's, a
GTIN (each case GTIN is a SKU of its own) must be an active SKU, an SSCC must have a manifest when
the catalogue carries manifests. Until a catalogue was ever fetched (a gateway's first start
offline) scans are accepted unchecked, with a warning.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Final

from edge.bounded_json import storable_text
from edge.catalogue_cache import Catalogue
from firmware_bridge.epc import decode_epc
from firmware_bridge.epc_errors import EpcError
from firmware_bridge.epc_tables import EpcKind
from firmware_bridge.gs1_barcode import AI_TABLE, Barcode, BarcodeError, parse_barcode, to_bracketed
from firmware_bridge.records import Scan, ScanOperation

CatalogueSource = Callable[[], Catalogue | None]
"""The catalogue cached from the cloud, or None when none was ever fetched."""

MAX_QUANTITY: Final = 1_000_000
MAX_TEXT: Final = 200

NO_CATALOGUE_WARNING: Final = (
    "no catalogue has been fetched from the cloud yet: code and location were not checked"
)


class ScanFieldError(ValueError):
    """A scan the gateway refuses; ``code`` is ``invalid_scan``, ``unknown_location`` or
    ``unknown_product``."""

    def __init__(self, field: str, problem: str, code: str = "invalid_scan") -> None:
        super().__init__(f"{field}: {problem}")
        self.field = field
        self.code = code


@dataclass(frozen=True, slots=True)
class ParsedCode:
    """A scanned code in canonical form: bracketed GS1 element string, or upper-case EPC hex."""

    code: str
    gtin: str | None
    sscc: str | None
    epc_uri: str | None
    elements: list[dict[str, Any]]
    quantity: int | None
    """The count the code carries: AI 37 or AI 30."""
    net_weight_kg: Decimal | None = None
    """A variable-measure item's weight (AI 310n): one item of this weight, not a count."""


@dataclass(frozen=True, slots=True)
class CheckedScan:
    scan: Scan
    """As stored: the canonical code, the catalogue's spelling of the location."""
    parsed: ParsedCode
    known: dict[str, Any]
    """What the catalogue says: ``product``, ``pallet``, ``location_zone``,
    ``catalogue_checked``, ``warning``."""


def _json_value(value: str | int | Decimal | date) -> str | int:
    if isinstance(value, Decimal | date):
        return str(value) if isinstance(value, Decimal) else value.isoformat()
    return value


def _from_barcode(barcode: Barcode) -> ParsedCode:
    elements = [
        {"ai": e.ai, "title": AI_TABLE[e.ai].title, "data": e.data, "value": _json_value(e.value)}
        for e in barcode.elements
    ]
    return ParsedCode(
        to_bracketed(barcode.elements),
        barcode.gtin,
        barcode.sscc,
        None,
        elements,
        barcode.quantity,
        barcode.net_weight_kg,
    )


def _looks_like_epc(code: str) -> bool:
    hexdigits = "0123456789abcdefABCDEF"
    return len(code) >= 24 and len(code) % 2 == 0 and all(c in hexdigits for c in code)


def parse_code(raw: str) -> ParsedCode:
    """The canonical form of a scanned code; raises :class:`ScanFieldError` naming ``code``."""
    code = raw.strip()
    if not code:
        raise ScanFieldError("code", "must not be empty")
    try:
        return _from_barcode(parse_barcode(code))
    except BarcodeError as exc:
        if not _looks_like_epc(code):
            raise ScanFieldError("code", str(exc)) from None
    try:
        identity = decode_epc(code)
    except EpcError as exc:
        raise ScanFieldError("code", f"EPC: {exc}") from None
    if identity.kind is EpcKind.UNKNOWN:
        raise ScanFieldError("code", f"EPC: {identity.reason}")
    return ParsedCode(identity.raw_hex, identity.gtin, identity.sscc, identity.pure_uri, [], None)


def _text(body: dict[str, Any], field: str) -> str:
    value = body.get(field)
    if not isinstance(value, str) or not value.strip():
        raise ScanFieldError(field, "must be a non-empty string")
    if len(value) > MAX_TEXT:
        raise ScanFieldError(field, f"at most {MAX_TEXT} characters")
    if not storable_text(value):
        raise ScanFieldError(field, "NUL characters and lone surrogates are not text")
    return value.strip()


def _quantity(body: dict[str, Any], operation: ScanOperation, parsed: ParsedCode) -> int:
    given = body.get("quantity")
    if given is not None and (not isinstance(given, int) or isinstance(given, bool)):
        raise ScanFieldError("quantity", "must be an integer")
    if given is not None and parsed.quantity is not None and given != parsed.quantity:
        raise ScanFieldError("quantity", f"{given} contradicts the code's {parsed.quantity}")
    quantity: int = given if given is not None else parsed.quantity or 1
    low = 0 if operation is ScanOperation.COUNT else 1
    if not low <= quantity <= MAX_QUANTITY:
        raise ScanFieldError("quantity", f"must be {low}..{MAX_QUANTITY} for {operation}")
    return quantity


def parse_scan(body: Any, time: datetime) -> tuple[Scan, ParsedCode]:
    """The Scan a request body describes, taken at ``time``; raises :class:`ScanFieldError`
    naming the field."""
    if not isinstance(body, dict):
        raise ScanFieldError("body", "must be a JSON object")
    scanner_id, operator = _text(body, "scanner_id"), _text(body, "operator")
    try:
        operation = ScanOperation(str(body.get("operation")))
    except ValueError:
        choices = "|".join(op.value for op in ScanOperation)
        raise ScanFieldError("operation", f"must be one of {choices}") from None
    raw = body.get("code")
    if not isinstance(raw, str):
        raise ScanFieldError("code", "must be a string")
    parsed = parse_code(raw)
    quantity = _quantity(body, operation, parsed)
    location = _text(body, "location")
    scan = Scan(scanner_id, operator, operation, parsed.code, quantity, location, time)
    return scan, parsed


def check_scan(
    catalogue: Catalogue | None, parsed: ParsedCode, location: str
) -> tuple[str, dict[str, Any]]:
    """The catalogue's spelling of ``location`` and what the scanner is told about the code
    (``product``, ``pallet``, ``location_zone``, ``catalogue_checked``, ``warning``). Raises
    :class:`ScanFieldError` (``unknown_location`` / ``unknown_product``) for what the catalogue
    does not know; accepts unchecked when no catalogue was ever fetched."""
    if catalogue is None:
        return location, {
            "product": None,
            "pallet": None,
            "location_zone": None,
            "catalogue_checked": False,
            "warning": NO_CATALOGUE_WARNING,
        }
    where = f"node {catalogue.node_id}" if catalogue.node_id else "this gateway"
    found = catalogue.location(location)
    if found is None:
        raise ScanFieldError(
            "location",
            f"{location!r} is not a location of {where} in the catalogue",
            "unknown_location",
        )
    if parsed.gtin is None and parsed.sscc is None:
        raise ScanFieldError(
            "code", "names no product (GTIN) or pallet (SSCC) of the catalogue", "unknown_product"
        )
    product = None
    if parsed.gtin is not None:
        item = catalogue.product(parsed.gtin)
        if item is None:
            raise ScanFieldError(
                "code",
                f"GTIN {parsed.gtin} is not an active SKU in the catalogue",
                "unknown_product",
            )
        product = item.to_json(catalogue)
    pallet = None
    if parsed.sscc is not None:
        lines = None if catalogue.pallets is None else catalogue.pallets.get(parsed.sscc)
        if catalogue.pallets is not None and lines is None:
            raise ScanFieldError(
                "code", f"SSCC {parsed.sscc} has no manifest in the catalogue", "unknown_product"
            )
        pallet = {"sscc": parsed.sscc, "lines": lines}
    return found.code, {
        "product": product,
        "pallet": pallet,
        "location_zone": found.zone,
        "catalogue_checked": True,
        "warning": None,
    }


def checked_scan(body: Any, time: datetime, catalogue: Catalogue | None) -> CheckedScan:
    """Parse and check a scan's fields (``scanner_id``, ``operator``, ``operation``, ``code``,
    ``quantity``?, ``location``) against ``catalogue`` (None: none was ever fetched)."""
    scan, parsed = parse_scan(body, time)
    location, known = check_scan(catalogue, parsed, scan.location)
    return CheckedScan(dataclasses.replace(scan, location=location), parsed, known)


def scan_fields(scan: Scan) -> dict[str, Any]:
    """A decoded scan's fields as :func:`checked_scan` takes them."""
    return {
        "scanner_id": scan.scanner_id,
        "operator": scan.operator,
        "operation": scan.operation.value,
        "code": scan.code,
        "quantity": scan.quantity,
        "location": scan.location,
    }


def scan_answer(checked: CheckedScan, seq: int | None) -> dict[str, Any]:
    """What a scanner is told about a stored scan (``seq``: its place in the gateway's buffer)."""
    parsed, scan = checked.parsed, checked.scan
    return {
        "seq": seq,
        "code": parsed.code,
        "gtin": parsed.gtin,
        "sscc": parsed.sscc,
        "epc_uri": parsed.epc_uri,
        "quantity": scan.quantity,
        "net_weight_kg": None if parsed.net_weight_kg is None else str(parsed.net_weight_kg),
        "elements": parsed.elements,
        "location": scan.location,
        **checked.known,
        "pending_sync": True,
    }
