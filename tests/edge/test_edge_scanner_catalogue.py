"""Scans checked against the catalogue the gateway caches from the cloud."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import httpx
import pytest

from edge.catalogue_cache import Catalogue
from edge.local_api import create_app
from edge.scanner_api import (
    NO_CATALOGUE_WARNING,
    ParsedCode,
    ScanFieldError,
    check_scan,
    parse_code,
)
from firmware_bridge.records import Record, Scan
from tests.edge.downlink_docs import (
    EPC_GTIN,
    KNOWN_SSCC,
    MILK_CASE_GTIN,
    MILK_GTIN,
    SNAPSHOT,
    UNKNOWN_SSCC,
    WITH_MANIFESTS,
    YOGURT_GTIN,
)

CATALOGUE = Catalogue.from_snapshot(SNAPSHOT, '"s1"')
MANIFESTS = Catalogue.from_snapshot(WITH_MANIFESTS, '"s2"')
MILK = {
    "sku_id": "milk-1l",
    "gtin": MILK_GTIN,
    "name": "Fresh milk 1 L",
    "temperature_class": "chilled",
    "pack_of": None,
    "pack_quantity": 1,
    "contains": None,
}


def checked(product: Any = None, pallet: Any = None, zone: str = "fw-pudong-chilled") -> Any:
    return {
        "product": product,
        "pallet": pallet,
        "location_zone": zone,
        "catalogue_checked": True,
        "warning": None,
    }


def test_known_gtin_at_a_known_location_names_the_product() -> None:
    assert check_scan(CATALOGUE, parse_code(MILK_GTIN), "A-01-01") == ("A-01-01", checked(MILK))
    # The location is answered (and stored) as the catalogue spells it.
    assert check_scan(CATALOGUE, parse_code(MILK_GTIN[1:]), "a-01-01")[0] == "A-01-01"


def test_case_gtin_names_the_case_and_what_it_holds() -> None:
    _, answer = check_scan(CATALOGUE, parse_code(f"(01){MILK_CASE_GTIN}(37)2"), "DOCK-1")
    assert answer["product"] == {
        "sku_id": "milk-1l-x12",
        "gtin": MILK_CASE_GTIN,
        "name": "Fresh milk 1 L, case of 12",
        "temperature_class": "chilled",
        "pack_of": "milk-1l",
        "pack_quantity": 12,
        "contains": {"sku_id": "milk-1l", "name": "Fresh milk 1 L", "quantity": 12},
    }
    assert answer["location_zone"] == "fw-pudong-ambient"


def test_sgtin_epc_is_looked_up_by_its_gtin() -> None:
    _, answer = check_scan(CATALOGUE, parse_code("3034257BF7194E4000001A85"), "DOCK-1")
    assert answer["product"]["gtin"] == EPC_GTIN
    assert answer["product"]["name"] == "Kettle (RFID tagged)"


def test_sscc_is_checked_only_against_manifests_the_snapshot_carries() -> None:
    code = parse_code(f"(00){UNKNOWN_SSCC}")
    no_manifests = check_scan(CATALOGUE, code, "DOCK-1")[1]
    assert no_manifests == checked(
        pallet={"sscc": UNKNOWN_SSCC, "lines": None}, zone="fw-pudong-ambient"
    )
    known = check_scan(MANIFESTS, parse_code(f"(00){KNOWN_SSCC}"), "DOCK-1")[1]
    assert known["pallet"] == {
        "sscc": KNOWN_SSCC,
        "lines": [{"sku_id": "milk-1l-x12", "quantity": 40}],
    }
    with pytest.raises(ScanFieldError) as caught:
        check_scan(MANIFESTS, code, "DOCK-1")
    assert (caught.value.field, caught.value.code, str(caught.value)) == (
        "code",
        "unknown_product",
        f"code: SSCC {UNKNOWN_SSCC} has no manifest in the catalogue",
    )


@pytest.mark.parametrize(
    ("code", "location", "field", "error", "message"),
    [
        (
            parse_code(MILK_GTIN),
            "B-09",
            "location",
            "unknown_location",
            "location: 'B-09' is not a location of node fw-pudong in the catalogue",
        ),
        (
            parse_code(YOGURT_GTIN),
            "DOCK-1",
            "code",
            "unknown_product",
            f"code: GTIN {YOGURT_GTIN} is not an active SKU in the catalogue",
        ),
        (
            ParsedCode("urn-grai", None, None, "urn:epc:id:grai:0614141.12345.400", [], None),
            "DOCK-1",
            "code",
            "unknown_product",
            "code: names no product (GTIN) or pallet (SSCC) of the catalogue",
        ),
    ],
)
def test_unknown_codes_and_locations_are_refused(
    code: ParsedCode, location: str, field: str, error: str, message: str
) -> None:
    with pytest.raises(ScanFieldError) as caught:
        check_scan(CATALOGUE, code, location)
    assert (caught.value.field, caught.value.code, str(caught.value)) == (field, error, message)


def test_without_a_catalogue_scans_are_accepted_with_a_warning() -> None:
    assert check_scan(None, parse_code(YOGURT_GTIN), "anywhere") == (
        "anywhere",
        {
            "product": None,
            "pallet": None,
            "location_zone": None,
            "catalogue_checked": False,
            "warning": NO_CATALOGUE_WARNING,
        },
    )


async def test_scan_api_answers_from_the_current_catalogue() -> None:
    stored: list[Record] = []
    current: list[Catalogue | None] = [None]

    async def put(records: Sequence[Record]) -> list[int]:
        stored.extend(records)
        return list(range(len(stored) - len(records) + 1, len(stored) + 1))

    app = create_app(put=put, health=dict, catalogue=lambda: current[0])
    transport = httpx.ASGITransport(app=app)
    scan = {"scanner_id": "hh-1", "operator": "ann", "operation": "put_away", "quantity": 3}
    async with httpx.AsyncClient(transport=transport, base_url="http://gw") as http:
        offline = await http.post(
            "/api/v1/scans", json={**scan, "code": YOGURT_GTIN, "location": "x"}
        )
        assert offline.status_code == 200
        assert (offline.json()["catalogue_checked"], offline.json()["warning"]) == (
            False,
            NO_CATALOGUE_WARNING,
        )
        current[0] = CATALOGUE  # the downlink fetched one: from now on scans are checked
        unknown = await http.post(
            "/api/v1/scans", json={**scan, "code": YOGURT_GTIN, "location": "a-01-01"}
        )
        assert unknown.status_code == 422
        assert unknown.json() == {
            "error": {
                "code": "unknown_product",
                "message": f"code: GTIN {YOGURT_GTIN} is not an active SKU in the catalogue",
                "field": "code",
            }
        }
        known = await http.post(
            "/api/v1/scans", json={**scan, "code": MILK_GTIN, "location": "a-01-01"}
        )
    assert known.status_code == 200
    answer = known.json()
    assert (answer["seq"], answer["location"], answer["product"], answer["pending_sync"]) == (
        2,
        "A-01-01",
        MILK,
        True,
    )
    assert [(s.code, s.location) for s in stored if isinstance(s, Scan)] == [
        (f"(01){YOGURT_GTIN}", "x"),
        (f"(01){MILK_GTIN}", "A-01-01"),
    ]
