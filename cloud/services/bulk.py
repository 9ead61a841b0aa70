"""Bulk INSERT ... ON CONFLICT DO NOTHING of row tuples through the session's own driver connection.

SQLAlchemy Core spent more time per row (dict binding, a type processor per datetime) than the
database did. These statements run on the driver connection under the session's open
transaction, so they commit or roll back with everything else the request wrote:
SQLite gets one ``executemany`` of the row tuples as they are (times already in the canonical
UTC text SQLAlchemy's SQLite DATETIME stores, see :mod:`cloud.ingest.times`); PostgreSQL gets
one ``INSERT ... SELECT FROM unnest($1::type[], ...)`` statement, one array per column, instead
of a statement per row, and parses the time text itself (``AT TIME ZONE 'UTC'``).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from functools import cache
from typing import Any

from sqlalchemy import JSON, Table
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncSession

from cloud.models import UTCDateTime

Row = tuple[Any, ...]


def _quote(name: str) -> str:
    return f'"{name}"'


@cache
def _sqlite_insert(table: Table, columns: tuple[str, ...]) -> str:
    names = ", ".join(map(_quote, columns))
    marks = ", ".join("?" for _ in columns)
    return (
        f"INSERT INTO {_quote(table.name)} ({names}) VALUES ({marks}) "
        f"ON CONFLICT ({_key(table)}) DO NOTHING"
    )


def _key(table: Table) -> str:
    return ", ".join(_quote(column.name) for column in table.primary_key.columns)


def _is_json(table: Table, name: str) -> bool:
    column_type = table.c[name].type
    return isinstance(column_type, JSON) or any(
        isinstance(variant, JSON)
        for variant in getattr(column_type, "_variant_mapping", {}).values()
    )


@cache
def _postgres_insert(table: Table, columns: tuple[str, ...]) -> str:
    dialect = postgresql.dialect()  # type: ignore[no-untyped-call]
    arrays: list[str] = []
    selected: list[str] = []
    for index, name in enumerate(columns, start=1):
        if _is_json(table, name):
            arrays.append(f"${index}::text[]")
            selected.append(f"{_quote(name)}::jsonb")
        elif isinstance(table.c[name].type, UTCDateTime):
            arrays.append(f"${index}::text[]")
            selected.append(f"{_quote(name)}::timestamp AT TIME ZONE 'UTC'")
        else:
            arrays.append(f"${index}::{table.c[name].type.compile(dialect=dialect)}[]")
            selected.append(_quote(name))
    names = ", ".join(map(_quote, columns))
    return (
        f"INSERT INTO {_quote(table.name)} ({names}) SELECT {', '.join(selected)} "
        f"FROM unnest({', '.join(arrays)}) AS u({names}) ON CONFLICT ({_key(table)}) DO NOTHING"
    )


def _json_text(value: Any) -> str:
    return json.dumps(value)


@cache
def _json_indexes(table: Table, columns: tuple[str, ...]) -> tuple[int, ...]:
    return tuple(index for index, name in enumerate(columns) if _is_json(table, name))


def _sqlite_rows(table: Table, columns: tuple[str, ...], rows: Sequence[Row]) -> Sequence[Row]:
    indexes = _json_indexes(table, columns)
    if not indexes:
        return rows
    out: list[Row] = []
    for row in rows:
        values = list(row)
        for index in indexes:
            if values[index] is not None:
                values[index] = _json_text(values[index])
        out.append(tuple(values))
    return out


def _postgres_columns(table: Table, columns: tuple[str, ...], rows: Sequence[Row]) -> list[Any]:
    arrays: list[Any] = [list(values) for values in zip(*rows, strict=True)]
    for index in _json_indexes(table, columns):
        arrays[index] = [None if v is None else _json_text(v) for v in arrays[index]]
    return arrays


async def insert_rows(
    session: AsyncSession, table: Table, columns: tuple[str, ...], rows: Sequence[Row]
) -> None:
    """Insert ``rows`` (tuples in ``columns`` order) into ``table``; existing keys are kept."""
    if not rows:
        return
    connection = await session.connection()
    raw = await connection.get_raw_connection()
    driver: Any = raw.driver_connection
    if connection.dialect.name == "postgresql":
        await driver.execute(
            _postgres_insert(table, columns), *_postgres_columns(table, columns, rows)
        )
        return
    cursor = await driver.executemany(
        _sqlite_insert(table, columns), _sqlite_rows(table, columns, rows)
    )
    await cursor.close()


@cache
def _sqlite_upsert(table: Table, columns: tuple[str, ...], newer: str) -> str:
    updates = ", ".join(f"{_quote(n)} = excluded.{_quote(n)}" for n in columns)
    return (
        f"{_sqlite_insert(table, columns).rsplit(' ON CONFLICT', 1)[0]} "
        f"ON CONFLICT ({_key(table)}) DO UPDATE SET {updates} "
        f"WHERE excluded.{_quote(newer)} >= {_quote(table.name)}.{_quote(newer)}"
    )


@cache
def _postgres_upsert(table: Table, columns: tuple[str, ...], newer: str) -> str:
    updates = ", ".join(f"{_quote(n)} = excluded.{_quote(n)}" for n in columns)
    return (
        f"{_postgres_insert(table, columns).rsplit(' ON CONFLICT', 1)[0]} "
        f"ON CONFLICT ({_key(table)}) DO UPDATE SET {updates} "
        f"WHERE excluded.{_quote(newer)} >= {_quote(table.name)}.{_quote(newer)}"
    )


async def upsert_newer_rows(
    session: AsyncSession, table: Table, columns: tuple[str, ...], rows: Sequence[Row], newer: str
) -> None:
    """Insert ``rows``; a row whose key exists replaces it when its ``newer`` column is not
    older. Keys must be unique within ``rows`` (PostgreSQL refuses to update a row twice)."""
    if not rows:
        return
    connection = await session.connection()
    raw = await connection.get_raw_connection()
    driver: Any = raw.driver_connection
    if connection.dialect.name == "postgresql":
        await driver.execute(
            _postgres_upsert(table, columns, newer), *_postgres_columns(table, columns, rows)
        )
        return
    cursor = await driver.executemany(
        _sqlite_upsert(table, columns, newer), _sqlite_rows(table, columns, rows)
    )
    await cursor.close()
