"""The product and location catalogue a gateway caches from the cloud, and the small JSON files
downlink documents are cached in.

:class:`Catalogue` is pure: it indexes the cloud's ``GET /api/v1/catalogue/snapshot`` body (the
gateway's node, that node's locations, the active SKUs) and answers lookups by location code,
GTIN-14 (a case GTIN is a SKU of its own with ``pack_of``/``pack_quantity``) and SSCC (known when
the snapshot carries pallet manifests). :func:`save_cached` / :func:`load_cached` keep a
document with its ETag on disk, written atomically, so a restarted gateway works offline.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Final

from firmware_bridge.wire import format_time, parse_time

CACHE_FORMAT: Final = 1


class CatalogueError(ValueError):
    """A snapshot the gateway cannot use; the message names the field."""


@dataclass(frozen=True, slots=True)
class Product:
    sku_id: str
    gtin: str
    name: str
    temperature_class: str | None
    pack_of: str | None
    pack_quantity: int

    def to_json(self, catalogue: Catalogue) -> dict[str, Any]:
        """The scanner API's view; a case also names what it contains."""
        inner = None if self.pack_of is None else catalogue.sku(self.pack_of)
        return {
            "sku_id": self.sku_id,
            "gtin": self.gtin,
            "name": self.name,
            "temperature_class": self.temperature_class,
            "pack_of": self.pack_of,
            "pack_quantity": self.pack_quantity,
            "contains": None
            if self.pack_of is None
            else {
                "sku_id": self.pack_of,
                "name": None if inner is None else inner.name,
                "quantity": self.pack_quantity,
            },
        }


@dataclass(frozen=True, slots=True)
class Location:
    code: str
    zone: str | None


@dataclass(frozen=True, slots=True)
class Catalogue:
    etag: str
    node_id: str | None
    node_name: str | None
    locations: Mapping[str, Location]
    """By exact code."""
    products: Mapping[str, Product]
    """By GTIN-14."""
    pallets: Mapping[str, list[dict[str, Any]]] | None
    """SSCC -> manifest lines, or None when the snapshot carries no manifests."""

    @classmethod
    def from_snapshot(cls, body: Any, etag: str) -> Catalogue:
        """Index a snapshot body; raises :class:`CatalogueError` naming the bad field."""
        if not isinstance(body, dict):
            raise CatalogueError("snapshot: expected a JSON object")
        node = body.get("node")
        if node is not None and not isinstance(node, dict):
            raise CatalogueError("node: expected an object")
        locations = {loc.code: loc for loc in _items(body, "locations", _location)}
        products = {p.gtin: p for p in _items(body, "skus", _product)}
        pallets = None
        if body.get("manifests") is not None:
            pallets = dict(_items(body, "manifests", _manifest))
        return cls(
            etag=etag,
            node_id=_opt_text(node or {}, "node.id", "id"),
            node_name=_opt_text(node or {}, "node.name", "name"),
            locations=locations,
            products=products,
            pallets=pallets,
        )

    def location(self, code: str) -> Location | None:
        """The location with ``code``; case-insensitive when no exact match exists."""
        found = self.locations.get(code)
        if found is not None:
            return found
        folded = code.casefold()
        return next((loc for c, loc in self.locations.items() if c.casefold() == folded), None)

    def product(self, gtin: str) -> Product | None:
        return self.products.get(gtin.rjust(14, "0"))

    def sku(self, sku_id: str) -> Product | None:
        return next((p for p in self.products.values() if p.sku_id == sku_id), None)

    def summary(self) -> dict[str, Any]:
        return {
            "etag": self.etag,
            "node_id": self.node_id,
            "locations": len(self.locations),
            "skus": len(self.products),
            "pallets": None if self.pallets is None else len(self.pallets),
        }


def _items(body: dict[str, Any], key: str, parse: Any) -> list[Any]:
    raw = body.get(key)
    if not isinstance(raw, list):
        raise CatalogueError(f"{key}: expected a list")
    out = []
    for index, item in enumerate(raw):
        where = f"{key}[{index}]"
        if not isinstance(item, dict):
            raise CatalogueError(f"{where}: expected an object")
        out.append(parse(item, where))
    return out


def _text(item: Mapping[str, Any], where: str, key: str) -> str:
    value = item.get(key)
    if not isinstance(value, str) or not value:
        raise CatalogueError(f"{where}.{key}: expected a non-empty string")
    return value


def _opt_text(item: Mapping[str, Any], where: str, key: str) -> str | None:
    value = item.get(key)
    if value is not None and not isinstance(value, str):
        raise CatalogueError(f"{where}: expected a string")
    return value


def _location(item: dict[str, Any], where: str) -> Location:
    zone_key = "zone_id" if "zone_id" in item else "zone"
    return Location(_text(item, where, "code"), _opt_text(item, f"{where}.{zone_key}", zone_key))


def _product(item: dict[str, Any], where: str) -> Product:
    gtin = _text(item, where, "gtin")
    if not gtin.isascii() or not gtin.isdigit() or len(gtin) > 14:
        raise CatalogueError(f"{where}.gtin: {gtin!r} is not a GTIN")
    quantity = item.get("pack_quantity", 1)
    if not isinstance(quantity, int) or isinstance(quantity, bool) or quantity < 1:
        raise CatalogueError(f"{where}.pack_quantity: expected an integer >= 1")
    return Product(
        sku_id=_text(item, where, "id"),
        gtin=gtin.rjust(14, "0"),
        name=_text(item, where, "name"),
        temperature_class=_opt_text(item, f"{where}.temperature_class", "temperature_class"),
        pack_of=_opt_text(item, f"{where}.pack_of", "pack_of"),
        pack_quantity=quantity,
    )


def _manifest(item: dict[str, Any], where: str) -> tuple[str, list[dict[str, Any]]]:
    lines = item.get("lines")
    if not isinstance(lines, list):
        raise CatalogueError(f"{where}.lines: expected a list")
    return _text(item, where, "sscc"), lines


# -- the on-disk cache of downlink documents --


@dataclass(frozen=True, slots=True)
class CachedDocument:
    etag: str
    fetched_at: datetime
    body: Any


def save_cached(path: Path, document: CachedDocument) -> None:
    """Replace ``path`` atomically and durably (fsync before the rename), so a crash leaves
    the old or the new document, never half of one."""
    payload = {
        "format": CACHE_FORMAT,
        "etag": document.etag,
        "fetched_at": format_time(document.fetched_at),
        "body": document.body,
    }
    tmp = path.with_name(f".{path.name}.tmp")
    with tmp.open("w", encoding="utf-8") as handle:
        json.dump(payload, handle, separators=(",", ":"))
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


def load_cached(path: Path) -> CachedDocument | None:
    """The cached document, or None when the file is absent. A corrupt file raises
    :class:`CatalogueError` (the caller logs it and starts without the cache)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise CatalogueError(f"{path}: cannot read: {exc.strerror}") from None
    try:
        data = json.loads(text)
        if not isinstance(data, dict) or data.get("format") != CACHE_FORMAT:
            raise CatalogueError(f"{path}: not a cache file of format {CACHE_FORMAT}")
        etag = data["etag"]
        if not isinstance(etag, str):
            raise CatalogueError(f"{path}: etag: expected a string")
        return CachedDocument(etag, parse_time(data["fetched_at"]), data["body"])
    except (ValueError, KeyError, TypeError) as exc:
        if isinstance(exc, CatalogueError):
            raise
        raise CatalogueError(f"{path}: corrupt cache file: {exc}") from None
