"""Handheld scanner routes of the gateway's local API.

``POST /api/v1/scans`` parses and checks the scan (:mod:`edge.scan_check`: GS1 or EPC hex, the
location and product against the catalogue the gateway caches from the cloud), stores a
:class:`Scan` durably through the pipeline's ``put`` and answers with its seq;
``GET /api/v1/scans/pending`` lists stored scans the cloud has not acknowledged yet;
``GET /scanner`` is a small page for phones and scanner browsers.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import Any, Final

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse

from edge.buffer import Buffer, BufferFullError
from edge.pipeline import BufferWriteError, PipelineStoppedError
from edge.scan_check import (
    NO_CATALOGUE_WARNING,
    CatalogueSource,
    ParsedCode,
    ScanFieldError,
    check_scan,
    checked_scan,
    parse_code,
    parse_scan,
    scan_answer,
)
from firmware_bridge.records import Record, RecordKind, Scan

__all__ = [
    "NO_CATALOGUE_WARNING",
    "SCANNER_PAGE_PATH",
    "CatalogueSource",
    "ParsedCode",
    "PendingScans",
    "Put",
    "ScanFieldError",
    "check_scan",
    "parse_code",
    "parse_scan",
    "pending_scans_from",
    "scanner_router",
]

PENDING_PAGE: Final = 1000
SCANNER_PAGE_PATH: Final = "/scanner"

Put = Callable[[Sequence[Record]], Awaitable[list[int]]]
PendingScans = Callable[[int], Awaitable[list[dict[str, Any]]]]
"""``limit`` -> the oldest unacknowledged scans as wire dicts with their ``seq``."""


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
            checked = checked_scan(
                body, datetime.now(UTC), None if catalogue is None else catalogue()
            )
        except ScanFieldError as exc:
            return _error(422, exc.code, str(exc), field=exc.field)
        stored = await _store(put, checked.scan)
        if isinstance(stored, JSONResponse):
            return stored
        return JSONResponse(scan_answer(checked, stored))

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
