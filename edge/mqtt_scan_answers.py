"""Checking a scan that came over MQTT and the gateway's answer to its scanner.

Pure. A decoded MQTT scan is checked by the same rules as one posted to the local API
(:func:`edge.scan_check.checked_scan`, at the time the scanner took it). The answer, published on
``{prefix}/{site}/{device}/scan/answer``, is the local API's answer plus ``msg_id`` and
``accepted``, or ``{"msg_id", "accepted": false, "error": {"code", "message", "field"?}}``.
"""

from __future__ import annotations

import json
from typing import Any, Final

from edge.catalogue_cache import Catalogue
from edge.scan_check import CheckedScan, ScanFieldError, checked_scan, scan_answer, scan_fields
from firmware_bridge.records import Scan

INVALID_SCAN: Final = "invalid_scan"
"""The error code of a payload the gateway cannot decode at all."""


def check_mqtt_scan(scan: Scan, catalogue: Catalogue | None) -> CheckedScan:
    """``scan`` as it is stored; raises :class:`ScanFieldError` for what the gateway refuses."""
    return checked_scan(scan_fields(scan), scan.time, catalogue)


def accepted_answer(
    msg_id: str | None, checked: CheckedScan, seq: int | None, *, replayed: bool
) -> bytes:
    """``replayed``: the scan had been stored before (``seq`` is then the first one's)."""
    answer = {"msg_id": msg_id, "accepted": True, **scan_answer(checked, seq)}
    return _encode({**answer, "replayed": replayed})


def refused_answer(msg_id: str | None, error: ScanFieldError | str) -> bytes:
    """A refusal by the checks (:class:`ScanFieldError`), or of a payload that is no scan (the
    dead-letter reason)."""
    if isinstance(error, ScanFieldError):
        detail: dict[str, Any] = {"code": error.code, "message": str(error), "field": error.field}
    else:
        detail = {"code": INVALID_SCAN, "message": error}
    return _encode({"msg_id": msg_id, "accepted": False, "error": detail})


def _encode(answer: dict[str, Any]) -> bytes:
    # ASCII: a lone surrogate quoted in a reason cannot make the answer unencodable.
    return json.dumps(answer, separators=(",", ":")).encode("ascii")
