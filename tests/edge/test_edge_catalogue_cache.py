"""The cached catalogue (pure index) and the downlink cache files."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from edge.catalogue_cache import (
    CachedDocument,
    Catalogue,
    CatalogueError,
    Location,
    Product,
    load_cached,
    save_cached,
)
from tests.edge.downlink_docs import (
    KNOWN_SSCC,
    MILK_CASE_GTIN,
    MILK_GTIN,
    SNAPSHOT,
    WITH_MANIFESTS,
)


def test_snapshot_is_indexed_by_code_and_gtin() -> None:
    catalogue = Catalogue.from_snapshot(SNAPSHOT, '"abc"')
    assert (catalogue.etag, catalogue.node_id, catalogue.node_name) == (
        '"abc"',
        "fw-pudong",
        "Pudong front warehouse",
    )
    assert catalogue.location("DOCK-1") == Location("DOCK-1", "fw-pudong-ambient")
    assert catalogue.location("a-01-01") == Location("A-01-01", "fw-pudong-chilled")
    assert catalogue.location("B-09") is None
    case = Product(
        "milk-1l-x12", MILK_CASE_GTIN, "Fresh milk 1 L, case of 12", "chilled", "milk-1l", 12
    )
    assert catalogue.product(MILK_CASE_GTIN) == case
    assert catalogue.product(MILK_GTIN[1:]) == catalogue.sku("milk-1l")  # GTIN-13 is padded
    assert catalogue.product("00000000000000") is None
    assert case.to_json(catalogue)["contains"] == {
        "sku_id": "milk-1l",
        "name": "Fresh milk 1 L",
        "quantity": 12,
    }
    assert catalogue.pallets is None
    assert catalogue.summary() == {
        "etag": '"abc"',
        "node_id": "fw-pudong",
        "locations": 2,
        "skus": 3,
        "pallets": None,
    }
    with_manifests = Catalogue.from_snapshot(WITH_MANIFESTS, "x")
    assert with_manifests.pallets == {KNOWN_SSCC: [{"sku_id": "milk-1l-x12", "quantity": 40}]}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ([], "snapshot: expected a JSON object"),
        ({**SNAPSHOT, "locations": None}, "locations: expected a list"),
        ({**SNAPSHOT, "skus": [1]}, r"skus\[0\]: expected an object"),
        ({**SNAPSHOT, "locations": [{"zone_id": "z"}]}, r"locations\[0\].code: expected a non-e"),
        (
            {**SNAPSHOT, "skus": [{"id": "a", "gtin": "12ab", "name": "n"}]},
            r"skus\[0\].gtin: '12ab'",
        ),
        (
            {**SNAPSHOT, "skus": [{"id": "a", "gtin": "1", "name": "n", "pack_quantity": 0}]},
            r"skus\[0\].pack_quantity: expected an integer >= 1",
        ),
        ({**SNAPSHOT, "node": "fw"}, "node: expected an object"),
        ({**SNAPSHOT, "manifests": [{"sscc": "1"}]}, r"manifests\[0\].lines: expected a list"),
    ],
)
def test_bad_snapshots_name_the_field(body: Any, message: str) -> None:
    with pytest.raises(CatalogueError, match=message):
        Catalogue.from_snapshot(body, "x")


def test_cache_file_round_trips_and_replaces_atomically(tmp_path: Path) -> None:
    path = tmp_path / "catalogue.json"
    assert load_cached(path) is None
    first = CachedDocument('"1"', datetime(2026, 3, 1, 8, 0, tzinfo=UTC), SNAPSHOT)
    save_cached(path, first)
    assert load_cached(path) == first
    second = CachedDocument('"2"', datetime(2026, 3, 1, 9, 0, 0, 500_000, tzinfo=UTC), {"a": [1]})
    save_cached(path, second)
    assert load_cached(path) == second
    assert sorted(p.name for p in tmp_path.iterdir()) == ["catalogue.json"]  # no temp left


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{not json", "corrupt cache file"),
        ('{"format": 99, "etag": "x"}', "not a cache file of format 1"),
        ('{"format": 1, "etag": 5, "fetched_at": "2026-03-01T08:00:00Z", "body": {}}', "etag"),
        ('{"format": 1, "etag": "x", "body": {}}', "corrupt cache file: 'fetched_at'"),
    ],
)
def test_corrupt_cache_files_are_reported(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "catalogue.json"
    path.write_text(text)
    with pytest.raises(CatalogueError, match=message):
        load_cached(path)
