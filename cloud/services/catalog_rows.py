"""Turn raw catalogue rows (from JSON or CSV) into validated models, collecting every
problem with its line and field instead of stopping at the first one (pure)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ValidationError

M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with one row: the CSV line / JSON item number, the field, what to do."""

    line: int | None
    field: str
    message: str

    def describe(self) -> str:
        where = f"line {self.line}: " if self.line is not None else ""
        return f"{where}{self.field}: {self.message}"


@dataclass(frozen=True, slots=True)
class Row(Generic[M]):
    line: int | None
    item: M


class CatalogRejected(Exception):
    """The whole file or request is refused; ``problems`` lists every bad row."""

    def __init__(self, kind: str, problems: list[Problem]) -> None:
        super().__init__(f"{kind}: {len(problems)} problem(s)")
        self.kind = kind
        self.problems = problems


def _field_and_message(error: Any) -> tuple[str, str]:
    field = ".".join(str(part) for part in error["loc"])
    message = str(error["msg"]).removeprefix("Value error, ")
    if not field and ": " in message:
        # Model-level checks name their field at the start of the message.
        field, _, message = message.partition(": ")
    return field or "(row)", message


def validate_rows(
    model: type[M], raw: Iterable[tuple[int | None, Any]]
) -> tuple[list[Row[M]], list[Problem]]:
    """Validate every ``(line, data)``; good rows and all problems of the bad ones."""
    rows: list[Row[M]] = []
    problems: list[Problem] = []
    for line, data in raw:
        if not isinstance(data, dict):
            problems.append(Problem(line, "(row)", "each item must be a JSON object"))
            continue
        try:
            rows.append(Row(line, model.model_validate(data)))
        except ValidationError as exc:
            for error in exc.errors():
                field, message = _field_and_message(error)
                problems.append(Problem(line, field, message))
    return rows, problems


def drop_duplicates(
    rows: list[Row[M]], key_of: Any, key_field: str
) -> tuple[list[Row[M]], list[Problem]]:
    """Rows with a key seen before: identical ones are dropped, different ones are problems."""
    first: dict[str, Row[M]] = {}
    kept: list[Row[M]] = []
    problems: list[Problem] = []
    for row in rows:
        key = key_of(row.item)
        seen = first.get(key)
        if seen is None:
            first[key] = row
            kept.append(row)
        elif seen.item != row.item:
            where = f"line {seen.line}" if seen.line is not None else "an earlier item"
            problems.append(
                Problem(row.line, key_field, f"{key!r} is also on {where} with other content")
            )
    return kept, problems
