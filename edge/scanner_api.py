"""Handheld scanner routes of the gateway's local API.

``POST /api/v1/scans`` parses the barcode (GS1 via :mod:`firmware_bridge.gs1_barcode`, EPC hex via
:mod:`firmware_bridge.epc`), stores a :class:`Scan` durably through the pipeline's ``put`` and
answers with its seq; ``GET /api/v1/scans/pending`` lists stored scans the cloud has not
acknowledged yet; ``GET /scanner`` is a small page for phones and scanner browsers.

Scans are checked against the catalogue the gateway caches from the cloud (:mod:`edge.downlink`):
the location must be one of the node's, a GTIN (each case GTIN is a SKU of its own) must be an
active SKU, an SSCC must have a manifest when the catalogue carries manifests. Until a catalogue
was ever fetched (a gateway's first start offline) scans are accepted unchecked, with a warning.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, Final

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse

from edge.bounded_json import storable_text
from edge.buffer import Buffer, BufferFullError
from edge.catalogue_cache import Catalogue
from edge.pipeline import BufferWriteError, PipelineStoppedError
from firmware_bridge.epc import decode_epc
from firmware_bridge.epc_errors import EpcError
from firmware_bridge.epc_tables import EpcKind
from firmware_bridge.gs1_barcode import AI_TABLE, Barcode, BarcodeError, parse_barcode, to_bracketed
from firmware_bridge.records import Record, RecordKind, Scan, ScanOperation

MAX_QUANTITY: Final = 1_000_000
MAX_TEXT: Final = 200
PENDING_PAGE: Final = 1000
SCANNER_PAGE_PATH: Final = "/scanner"

Put = Callable[[Sequence[Record]], Awaitable[list[int]]]
PendingScans = Callable[[int], Awaitable[list[dict[str, Any]]]]
"""``limit`` -> the oldest unacknowledged scans as wire dicts with their ``seq``."""
CatalogueSource = Callable[[], Catalogue | None]
"""The catalogue cached from the cloud, or None when none was ever fetched."""

NO_CATALOGUE_WARNING: Final = (
    "no catalogue has been fetched from the cloud yet: code and location were not checked"
)


class ScanFieldError(ValueError):
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


def parse_scan(body: Any, now: datetime) -> tuple[Scan, ParsedCode]:
    """The Scan a request body describes; raises :class:`ScanFieldError` naming the field."""
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
    scan = Scan(scanner_id, operator, operation, parsed.code, quantity, location, now)
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


def pending_scans_from(buffer: Buffer) -> PendingScans:
    """Reads unacknowledged scans from ``buffer`` (acked rows are deleted, so all it holds)."""

    async def pending(limit: int) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        after: int | None = None
        while len(found) < limit:
            page = await buffer.peek(PENDING_PAGE, 2**62, after_seq=after)
            if not page:
                break
            for row in page:
                if row.kind == RecordKind.SCAN.value and len(found) < limit:
                    found.append({"seq": row.seq, **json.loads(row.payload)})
            after = page[-1].seq
        return found

    return pending


def _error(status: int, code: str, message: str, **extra: Any) -> JSONResponse:
    headers = {"Retry-After": "5"} if status == 503 else {}
    return JSONResponse(
        {"error": {"code": code, "message": message, **extra}}, status_code=status, headers=headers
    )


async def _store(put: Put, scan: Scan) -> int | JSONResponse:
    try:
        (seq,) = await put([scan])
    except BufferFullError as exc:
        return _error(503, "buffer_full", str(exc))
    except PipelineStoppedError as exc:
        return _error(503, "shutting_down", str(exc))
    except BufferWriteError as exc:
        return _error(503, "buffer_unavailable", f"{exc}; retry later")
    return seq


def scanner_router(
    *, put: Put, pending: PendingScans | None, catalogue: CatalogueSource | None = None
) -> APIRouter:
    """``catalogue`` None: scans are never checked (a gateway without a downlink)."""
    router = APIRouter()

    @router.post("/api/v1/scans")
    async def post_scan(request: Request) -> JSONResponse:
        try:
            body = json.loads(await request.body())
        except ValueError as exc:
            return _error(400, "invalid_json", f"body is not JSON: {exc}")
        try:
            scan, parsed = parse_scan(body, datetime.now(UTC))
            location, known = check_scan(
                None if catalogue is None else catalogue(), parsed, scan.location
            )
        except ScanFieldError as exc:
            return _error(422, exc.code, str(exc), field=exc.field)
        scan = dataclasses.replace(scan, location=location)
        stored = await _store(put, scan)
        if isinstance(stored, JSONResponse):
            return stored
        return JSONResponse(
            {
                "seq": stored,
                "code": parsed.code,
                "gtin": parsed.gtin,
                "sscc": parsed.sscc,
                "epc_uri": parsed.epc_uri,
                "quantity": scan.quantity,
                "net_weight_kg": None
                if parsed.net_weight_kg is None
                else str(parsed.net_weight_kg),
                "elements": parsed.elements,
                "location": scan.location,
                **known,
                "pending_sync": True,
            }
        )

    @router.get("/api/v1/scans/pending")
    async def get_pending(limit: int = 100) -> JSONResponse:
        if pending is None:
            return _error(501, "not_available", "this gateway does not expose its buffer")
        if not 1 <= limit <= 10_000:
            return _error(422, "invalid_query", "limit: must be 1..10000", field="limit")
        scans = await pending(limit)
        return JSONResponse({"count": len(scans), "scans": scans})

    @router.get(SCANNER_PAGE_PATH)
    async def scanner_page() -> HTMLResponse:
        return HTMLResponse(SCANNER_PAGE)

    return router


SCANNER_PAGE: Final = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>RetailEdge scanner</title>
<style>
body{font-family:system-ui,sans-serif;margin:0;padding:1rem;max-width:32rem}
label{display:block;margin:.5rem 0 .2rem}input,select,button{width:100%;font-size:1.2rem;
padding:.5rem;box-sizing:border-box}button{margin-top:1rem}#result{margin-top:1rem;
white-space:pre-wrap}.bad{color:#b00}li{margin:.3rem 0}
</style></head><body>
<h1>Scan</h1>
<form id="scan">
<label for="code">Code</label><input id="code" name="code" autofocus autocomplete="off" required>
<label for="operation">Operation</label><select id="operation" name="operation">
<option>receive</option><option>put_away</option><option>pick</option><option>pack</option>
<option>ship</option><option>count</option></select>
<label for="quantity">Quantity (empty: from code, else 1)</label>
<input id="quantity" name="quantity" type="number" min="0" max="1000000">
<label for="location">Location</label><input id="location" name="location" required>
<label for="operator">Operator</label><input id="operator" name="operator" required>
<label for="scanner_id">Scanner</label><input id="scanner_id" name="scanner_id" required>
<label for="token">Gateway token (if any)</label><input id="token" type="password">
<button type="submit">Send</button></form>
<div id="result"></div>
<h2>Pending sync <span id="count"></span></h2><ul id="pending"></ul>
<script>
const keep = ["operation", "location", "operator", "scanner_id", "token"];
for (const k of keep) { const v = localStorage.getItem("re." + k); if (v) byId(k).value = v; }
function byId(id) { return document.getElementById(id); }
function headers() {
  const h = {"Content-Type": "application/json"}; const t = byId("token").value;
  if (t) h["Authorization"] = "Bearer " + t; return h;
}
async function refresh() {
  const r = await fetch("/api/v1/scans/pending", {headers: headers()});
  if (!r.ok) return;
  const body = await r.json(); const list = byId("pending"); list.textContent = "";
  byId("count").textContent = "(" + body.count + ")";
  for (const s of body.scans) {
    const li = document.createElement("li");
    li.textContent = "#" + s.seq + " " + s.operation + " " + s.quantity + " x " + s.code
      + " @ " + s.location + " (pending sync)";
    list.appendChild(li);
  }
}
byId("scan").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  for (const k of keep) localStorage.setItem("re." + k, byId(k).value);
  const body = {};
  const fields = ["code", "operation", "location", "operator", "scanner_id"];
  for (const k of fields) body[k] = byId(k).value;
  if (byId("quantity").value !== "") body.quantity = Number(byId("quantity").value);
  const out = byId("result");
  try {
    const r = await fetch("/api/v1/scans",
      {method: "POST", headers: headers(), body: JSON.stringify(body)});
    const answer = await r.json();
    out.className = r.ok ? "" : "bad";
    const key = answer.product ? answer.product.name + " (" + answer.product.gtin + ")"
      : answer.gtin || answer.sscc || answer.code;
    out.textContent = r.ok ? "Stored #" + answer.seq + " " + key + " x " + answer.quantity
      + (answer.net_weight_kg ? " (" + answer.net_weight_kg + " kg)" : "")
      + " @ " + answer.location + ", pending sync"
      + (answer.warning ? "\nWarning: " + answer.warning : "") : answer.error.message;
    if (r.ok) { byId("code").value = ""; byId("quantity").value = ""; }
  } catch (e) { out.className = "bad"; out.textContent = "gateway unreachable: " + e; }
  byId("code").focus(); refresh();
});
refresh(); setInterval(refresh, 5000);
</script></body></html>
"""
