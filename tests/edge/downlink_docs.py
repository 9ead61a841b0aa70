"""Downlink documents shared by the edge tests: a catalogue snapshot and config answers."""

from __future__ import annotations

from typing import Any

from firmware_bridge.gs1 import with_check_digit

MILK_GTIN = "09506000134352"
MILK_CASE_GTIN = with_check_digit("1950600013435")
YOGURT_GTIN = with_check_digit("0950600013436")
EPC_GTIN = "80614141123458"
"""The GTIN of SGTIN-96 EPC 3034257BF7194E4000001A85."""
KNOWN_SSCC = with_check_digit("37601234567890123")
UNKNOWN_SSCC = with_check_digit("37601234567890124")

SNAPSHOT: dict[str, Any] = {
    "node": {"id": "fw-pudong", "name": "Pudong front warehouse"},
    "locations": [
        {"code": "DOCK-1", "zone_id": "fw-pudong-ambient"},
        {"code": "A-01-01", "zone_id": "fw-pudong-chilled"},
    ],
    "skus": [
        {
            "id": "milk-1l",
            "gtin": MILK_GTIN,
            "name": "Fresh milk 1 L",
            "temperature_class": "chilled",
            "pack_of": None,
            "pack_quantity": 1,
        },
        {
            "id": "milk-1l-x12",
            "gtin": MILK_CASE_GTIN,
            "name": "Fresh milk 1 L, case of 12",
            "temperature_class": "chilled",
            "pack_of": "milk-1l",
            "pack_quantity": 12,
        },
        {
            "id": "tagged-kettle",
            "gtin": EPC_GTIN,
            "name": "Kettle (RFID tagged)",
            "temperature_class": "ambient",
            "pack_of": None,
            "pack_quantity": 1,
        },
    ],
}
WITH_MANIFESTS: dict[str, Any] = {
    **SNAPSHOT,
    "manifests": [{"sscc": KNOWN_SSCC, "lines": [{"sku_id": "milk-1l-x12", "quantity": 40}]}],
}


def zone(max_c: float, *, zone_name: str = "chiller-1", tolerance_s: float = 0) -> dict[str, Any]:
    return {
        "zone": zone_name,
        "devices": ["probe-1"],
        "min_c": None,
        "max_c": max_c,
        "tolerance_s": tolerance_s,
        "silence_periods": 3,
        "sample_period_s": 30.0,
    }


def config_answer(version: int, *zones: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """(ETag, body) of ``GET /api/v1/gateway/config``, as the cloud answers it."""
    body = {
        "gateway_id": "store-01",
        "version": version,
        "document": {"coldchain": list(zones)},
        "updated_at": "2026-03-01T08:00:00Z",
        "updated_by": "admin",
    }
    return f'"{version}"', body
