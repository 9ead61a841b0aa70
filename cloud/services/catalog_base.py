"""The shape every catalogue kind implements, and the all-or-nothing upsert that uses it."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar, Generic, Literal, TypeVar

from pydantic import BaseModel
from sqlalchemy import ColumnElement, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from cloud.api_error import ApiError
from cloud.catalog_schemas import ImportResult
from cloud.pii import PiiCipher
from cloud.services.catalog_rows import CatalogRejected, Problem, Row, drop_duplicates

M = TypeVar("M", bound=BaseModel)
CHUNK = 500


def chunks(values: Sequence[Any], size: int = CHUNK) -> Iterator[Sequence[Any]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


@dataclass(frozen=True, slots=True)
class Listing:
    """Filters (column == value) and a page window for :meth:`CatalogKind.list`."""

    filters: tuple[ColumnElement[bool], ...]
    limit: int
    offset: int


class CatalogKind(Generic[M]):
    """One kind of catalogue record: how to key, load, check references and write it."""

    name: ClassVar[str]
    model: type[M]
    key_field: ClassVar[str] = "id"

    def __init__(self, cipher: PiiCipher) -> None:
        self.cipher = cipher

    def write_order(self, item: M) -> int:
        """Rows with a lower value are written first (e.g. units before their cases)."""
        return 0

    def key(self, item: M) -> str:
        value: str = getattr(item, self.key_field)
        return value

    async def load(self, session: AsyncSession, keys: Sequence[str]) -> dict[str, M]:
        """Stored records with these keys, as models (personal data decrypted)."""
        raise NotImplementedError

    async def check(self, session: AsyncSession, rows: list[Row[M]]) -> list[Problem]:
        """Problems with references to other records (unknown node, GTIN in use...)."""
        return []

    async def write(
        self, session: AsyncSession, new: list[M], changed: list[M], now: datetime
    ) -> None:
        raise NotImplementedError

    async def keys_page(self, session: AsyncSession, listing: Listing) -> tuple[list[str], int]:
        """Keys of one page of records in key order, and the total matching the filters."""
        raise NotImplementedError

    async def list(self, session: AsyncSession, listing: Listing) -> tuple[list[M], int]:
        keys, total = await self.keys_page(session, listing)
        loaded = await self.load(session, keys)
        return [loaded[key] for key in keys], total

    async def deactivate(self, session: AsyncSession, key: str, now: datetime) -> M:
        raise ApiError(
            405, "not_deactivatable", f"{self.name} are replaced or re-imported, not deactivated"
        )


async def page_of(
    session: AsyncSession,
    key_columns: Sequence[Any],
    listing: Listing,
) -> tuple[list[tuple[Any, ...]], int]:
    """Rows of ``key_columns`` for one page, ordered by them, and the total count."""
    query = select(*key_columns).where(*listing.filters)
    total = await session.scalar(select(func.count()).select_from(query.subquery()))
    rows = await session.execute(
        query.order_by(*key_columns).limit(listing.limit).offset(listing.offset)
    )
    return [tuple(row) for row in rows], int(total or 0)


async def upsert(
    *,
    session: AsyncSession,
    kind: CatalogKind[M],
    rows: list[Row[M]],
    problems: Iterable[Problem] = (),
    now: datetime,
    mode: Literal["upsert", "create"] = "upsert",
    progress: Callable[[int, int], None] | None = None,
) -> ImportResult:
    """Create or replace every row, or nothing: ``CatalogRejected`` lists all problems.

    ``mode="create"`` refuses (409) a key that exists with other content. Flushes, no commit.
    """
    found = list(problems)
    rows, duplicates = drop_duplicates(rows, kind.key, kind.key_field)
    found.extend(duplicates)
    found.extend(await kind.check(session, rows))
    if found:
        raise CatalogRejected(kind.name, sorted(found, key=_problem_order))
    counts = {"created": 0, "updated": 0}
    ordered = sorted((row.item for row in rows), key=kind.write_order)
    done = 0
    for part in chunks(ordered):
        existing = await kind.load(session, [kind.key(item) for item in part])
        new = [item for item in part if kind.key(item) not in existing]
        changed = [
            item for item in part if kind.key(item) in existing and existing[kind.key(item)] != item
        ]
        if mode == "create" and changed:
            raise ApiError(
                409,
                "already_exists",
                f"{kind.key_field}: {kind.key(changed[0])!r} already exists with other "
                "content; PUT it to replace it",
            )
        try:
            await kind.write(session, new, changed, now)
            await session.flush()
        except IntegrityError as exc:
            raise ApiError(
                409, "catalogue_conflict", f"{kind.name}: conflicts with stored data ({exc.orig})"
            ) from None
        counts["created"] += len(new)
        counts["updated"] += len(changed)
        done += len(part)
        if progress is not None:
            progress(done, len(ordered))
    return ImportResult(
        kind=kind.name,
        total=len(rows),
        created=counts["created"],
        updated=counts["updated"],
        unchanged=len(rows) - counts["created"] - counts["updated"],
    )


def _problem_order(problem: Problem) -> tuple[int, str]:
    return (problem.line if problem.line is not None else 0, problem.field)


def reject_single(exc: CatalogRejected) -> ApiError:
    """A refused single-record request as a 422 naming every bad field."""
    message = "; ".join(f"{problem.field}: {problem.message}" for problem in exc.problems)
    return ApiError(422, "validation_failed", message)
