"""Catalogue operations shared by the API and the CLI: import, save one, read, list."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, Literal, TypeVar

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from cloud.api_error import ApiError
from cloud.catalog_files import FileFormat, FileRejected, json_items, parse_file
from cloud.catalog_schemas import ImportResult, Page
from cloud.pii import PiiCipher
from cloud.services.catalog_base import CatalogKind, Listing, reject_single, upsert
from cloud.services.catalog_goods import ManifestKind, SkuKind
from cloud.services.catalog_network import LocationKind, NodeKind, ZoneKind
from cloud.services.catalog_parties import ChannelKind, MemberKind
from cloud.services.catalog_rows import CatalogRejected, Row, validate_rows

M = TypeVar("M", bound=BaseModel)
P = TypeVar("P", bound=BaseModel)

_KINDS: dict[str, type[CatalogKind[Any]]] = {
    kind.name: kind
    for kind in (NodeKind, ZoneKind, LocationKind, SkuKind, ManifestKind, MemberKind, ChannelKind)
}


def catalog_kind(name: str, cipher: PiiCipher) -> CatalogKind[Any]:
    kind = _KINDS.get(name)
    if kind is None:
        raise ApiError(422, "validation_failed", f"kind: use one of: {', '.join(_KINDS)}")
    return kind(cipher)


async def import_file(
    *,
    session: AsyncSession,
    kind: str,
    data: bytes,
    file_format: FileFormat,
    cipher: PiiCipher,
    now: datetime,
    progress: Callable[[str, int, int], None] | None = None,
) -> ImportResult:
    """Load a CSV/JSON file of one kind, all or nothing (CatalogRejected lists every problem)."""
    handler = catalog_kind(kind, cipher)
    try:
        raw, problems = parse_file(kind, data, file_format)
    except FileRejected as exc:
        found = sorted(exc.problems, key=lambda p: (p.line or 0, p.field))
        raise CatalogRejected(kind, found) from None
    return await _import(session, handler, raw, problems, now, progress)


async def import_items(
    *, session: AsyncSession, kind: str, items: Any, cipher: PiiCipher, now: datetime
) -> ImportResult:
    """Like :func:`import_file` for records already parsed from a JSON request body."""
    return await _import(session, catalog_kind(kind, cipher), json_items(items), [], now, None)


async def _import(
    session: AsyncSession,
    handler: CatalogKind[Any],
    raw: list[tuple[int | None, Any]],
    problems: list[Any],
    now: datetime,
    progress: Callable[[str, int, int], None] | None,
) -> ImportResult:
    rows, invalid = validate_rows(handler.model, raw)
    if progress is not None:
        progress("validated", len(raw), len(raw))
    return await upsert(
        session=session,
        kind=handler,
        rows=rows,
        problems=[*problems, *invalid],
        now=now,
        progress=None if progress is None else lambda done, total: progress("written", done, total),
    )


async def save_one(
    *,
    session: AsyncSession,
    kind: CatalogKind[M],
    item: M,
    now: datetime,
    mode: Literal["upsert", "create"],
) -> tuple[M, bool]:
    """Create or replace one record; returns it as stored and whether it was created."""
    try:
        result = await upsert(
            session=session, kind=kind, rows=[Row(None, item)], now=now, mode=mode
        )
    except CatalogRejected as exc:
        raise reject_single(exc) from None
    return await get_one(session=session, kind=kind, key=kind.key(item)), result.created == 1


def check_path_key(kind: CatalogKind[M], item: M, key: str) -> None:
    if kind.key(item) != key:
        raise ApiError(
            422,
            "validation_failed",
            f"{kind.key_field}: {kind.key(item)!r} in the body differs from {key!r} in the path",
        )


async def get_one(*, session: AsyncSession, kind: CatalogKind[M], key: str) -> M:
    found = (await kind.load(session, [key])).get(key)
    if found is None:
        singular = kind.name.removesuffix("s")
        raise ApiError(404, f"{singular}_not_found", f"{kind.key_field}: no {singular} {key!r}")
    return found


async def list_page(
    *,
    session: AsyncSession,
    kind: CatalogKind[M],
    listing: Listing,
    public: Callable[[M], P],
) -> Page[P]:
    items, total = await kind.list(session, listing)
    end = listing.offset + len(items)
    return Page[P](
        items=[public(item) for item in items],
        total=total,
        next_offset=end if end < total else None,
    )
