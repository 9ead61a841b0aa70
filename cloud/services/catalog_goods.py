"""Catalogue kinds of goods: SKUs (with case packs) and SSCC pallet manifests."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from cloud.api_error import ApiError
from cloud.catalog_models import PalletManifest, Sku
from cloud.catalog_schemas import ManifestIn, ManifestLine, SkuIn
from cloud.services.catalog_base import CatalogKind, Listing, chunks, page_of
from cloud.services.catalog_rows import Problem, Row


def _sku_model(sku: Sku) -> SkuIn:
    return SkuIn(
        id=sku.id,
        gtin=sku.gtin,
        name=sku.name,
        category=sku.category,
        temperature_class=sku.temperature_class,
        weight_g=sku.weight_g,
        volume_cm3=sku.volume_cm3,
        pack_of=sku.pack_of,
        pack_quantity=sku.pack_quantity,
        active=sku.active,
    )


async def existing_sku_ids(session: AsyncSession, sku_ids: Sequence[str]) -> set[str]:
    found: set[str] = set()
    for part in chunks(sorted(set(sku_ids))):
        found.update(await session.scalars(select(Sku.id).where(Sku.id.in_(part))))
    return found


class SkuKind(CatalogKind[SkuIn]):
    name = "skus"
    model = SkuIn

    def write_order(self, item: SkuIn) -> int:
        return 0 if item.pack_of is None else 1

    async def load(self, session: AsyncSession, keys: Sequence[str]) -> dict[str, SkuIn]:
        skus = await session.scalars(select(Sku).where(Sku.id.in_(keys)))
        return {sku.id: _sku_model(sku) for sku in skus}

    async def check(self, session: AsyncSession, rows: list[Row[SkuIn]]) -> list[Problem]:
        problems: list[Problem] = []
        gtin_owner: dict[str, str] = {}
        for part in chunks(sorted({row.item.gtin for row in rows})):
            stored = await session.execute(select(Sku.gtin, Sku.id).where(Sku.gtin.in_(part)))
            gtin_owner.update({gtin: sku_id for gtin, sku_id in stored})
        ids_here = {row.item.id for row in rows}
        # A stored SKU whose GTIN this file gives to another id keeps it unless re-imported.
        gtin_owner = {g: s for g, s in gtin_owner.items() if s not in ids_here}
        packs_here = {row.item.id: row.item.pack_of for row in rows}
        targets = sorted({p for p in packs_here.values() if p is not None} - ids_here)
        stored_packs: dict[str, str | None] = {}
        for part in chunks(targets):
            stored = await session.execute(select(Sku.id, Sku.pack_of).where(Sku.id.in_(part)))
            stored_packs.update({sku_id: pack_of for sku_id, pack_of in stored})
        for row in rows:
            item = row.item
            owner = gtin_owner.setdefault(item.gtin, item.id)
            if owner != item.id:
                problems.append(
                    Problem(row.line, "gtin", f"GTIN {item.gtin} already belongs to SKU {owner!r}")
                )
            if item.pack_of is None:
                continue
            if item.pack_of in packs_here:
                unit_pack = packs_here[item.pack_of]
            elif item.pack_of in stored_packs:
                unit_pack = stored_packs[item.pack_of]
            else:
                problems.append(
                    Problem(row.line, "pack_of", f"no SKU {item.pack_of!r}; create the unit first")
                )
                continue
            if unit_pack is not None:
                problems.append(
                    Problem(
                        row.line,
                        "pack_of",
                        f"{item.pack_of!r} is itself a pack; name the unit SKU",
                    )
                )
        return problems

    async def write(
        self, session: AsyncSession, new: list[SkuIn], changed: list[SkuIn], now: datetime
    ) -> None:
        # Units first: a case's pack_of must exist when its row goes in.
        for cases in (False, True):
            batch = [item for item in new if (item.pack_of is not None) == cases]
            if batch:
                await session.execute(
                    insert(Sku),
                    [{**i.model_dump(), "created_at": now, "updated_at": now} for i in batch],
                )
        if changed:
            await session.execute(
                update(Sku), [{**item.model_dump(), "updated_at": now} for item in changed]
            )

    async def keys_page(self, session: AsyncSession, listing: Listing) -> tuple[list[str], int]:
        rows, total = await page_of(session, [Sku.id], listing)
        return [row[0] for row in rows], total

    async def deactivate(self, session: AsyncSession, key: str, now: datetime) -> SkuIn:
        result = await session.execute(
            update(Sku).where(Sku.id == key).values(active=False, updated_at=now)
        )
        if result.rowcount == 0:  # type: ignore[attr-defined]
            raise ApiError(404, "sku_not_found", f"sku_id: no SKU {key!r}")
        return (await self.load(session, [key]))[key]


class ManifestKind(CatalogKind[ManifestIn]):
    name = "manifests"
    model = ManifestIn
    key_field = "sscc"

    async def load(self, session: AsyncSession, keys: Sequence[str]) -> dict[str, ManifestIn]:
        manifests = await session.scalars(
            select(PalletManifest).where(PalletManifest.sscc.in_(keys))
        )
        return {
            m.sscc: ManifestIn(
                sscc=m.sscc, lines=[ManifestLine.model_validate(line) for line in m.lines]
            )
            for m in manifests
        }

    async def check(self, session: AsyncSession, rows: list[Row[ManifestIn]]) -> list[Problem]:
        known = await existing_sku_ids(
            session, [line.sku_id for row in rows for line in row.item.lines]
        )
        return [
            Problem(row.line, f"lines.{index}.sku_id", f"no SKU {line.sku_id!r}")
            for row in rows
            for index, line in enumerate(row.item.lines)
            if line.sku_id not in known
        ]

    async def write(
        self,
        session: AsyncSession,
        new: list[ManifestIn],
        changed: list[ManifestIn],
        now: datetime,
    ) -> None:
        if new:
            await session.execute(
                insert(PalletManifest),
                [{**item.model_dump(), "created_at": now} for item in new],
            )
        if changed:
            await session.execute(update(PalletManifest), [item.model_dump() for item in changed])

    async def keys_page(self, session: AsyncSession, listing: Listing) -> tuple[list[str], int]:
        rows, total = await page_of(session, [PalletManifest.sscc], listing)
        return [row[0] for row in rows], total
