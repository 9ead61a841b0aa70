"""Re-encrypt every stored personal-data column with the newest PII key, in batches."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Column, Table, bindparam, func, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cloud.catalog_models import Member, MemberAddress
from cloud.order_models import Order
from cloud.pii import PiiCipher

BATCH = 500


@dataclass(frozen=True, slots=True)
class EncryptedColumns:
    table: Table
    keys: tuple[str, ...]
    columns: tuple[str, ...]


ENCRYPTED: tuple[EncryptedColumns, ...] = (
    EncryptedColumns(Member.__table__, ("id",), ("name_enc", "phone_enc")),  # type: ignore[arg-type]
    EncryptedColumns(MemberAddress.__table__, ("member_id", "label"), ("address_enc",)),  # type: ignore[arg-type]
    EncryptedColumns(
        Order.__table__,  # type: ignore[arg-type]
        ("id",),
        ("address_enc", "recipient_name_enc", "recipient_phone_enc"),
    ),
)


async def rotate_all(
    *,
    sessions: async_sessionmaker[AsyncSession],
    cipher: PiiCipher,
    progress: Callable[[str, int, int], None] | None = None,
    batch: int = BATCH,
) -> dict[str, int]:
    """Rows re-encrypted per table. Each batch commits on its own: re-running after a crash
    is safe (rotating a token already under the newest key leaves it readable)."""
    done: dict[str, int] = {}
    for spec in ENCRYPTED:
        done[spec.table.name] = await _rotate_table(sessions, cipher, spec, progress, batch)
    return done


async def _rotate_table(
    sessions: async_sessionmaker[AsyncSession],
    cipher: PiiCipher,
    spec: EncryptedColumns,
    progress: Callable[[str, int, int], None] | None,
    batch: int,
) -> int:
    keys: list[Column[str]] = [spec.table.c[name] for name in spec.keys]
    columns = [spec.table.c[name] for name in spec.columns]
    async with sessions() as session:
        total = int(await session.scalar(select(func.count()).select_from(spec.table)) or 0)
    statement = (
        update(spec.table)
        .where(*(key == bindparam(f"k_{key.name}") for key in keys))
        .values({column.name: bindparam(f"v_{column.name}") for column in columns})
    )
    last: tuple[str, ...] | None = None
    done = 0
    while True:
        query = select(*keys, *columns).order_by(*keys).limit(batch)
        if last is not None:
            query = query.where(tuple_(*keys) > tuple_(*last))
        async with sessions.begin() as session:
            rows = (await session.execute(query)).all()
            if not rows:
                break
            params = []
            for row in rows:
                values = {f"k_{key.name}": row[i] for i, key in enumerate(keys)}
                for j, column in enumerate(columns):
                    values[f"v_{column.name}"] = cipher.rotate(row[len(keys) + j])
                params.append(values)
            await session.execute(statement, params)
        last = tuple(rows[-1][: len(keys)])
        done += len(rows)
        if progress is not None:
            progress(spec.table.name, done, total)
    return done
