"""Catalogue files: CSV columns per kind and JSON / JSON Lines, into ``(line, dict)`` rows
ready for validation (pure). CSV lists use ``|`` between values (``ambient|chilled``)."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from typing import Any, Literal

from cloud.services.catalog_rows import Problem

FileFormat = Literal["csv", "json", "jsonl"]
RawRow = tuple[int | None, Any]


@dataclass(frozen=True, slots=True)
class CsvLayout:
    required: tuple[str, ...]
    optional: tuple[str, ...] = ()
    lists: tuple[str, ...] = ()
    # Rows sharing the first column's value are merged into one record (see _group).
    group: Literal["members", "manifests"] | None = None


CSV_LAYOUTS: dict[str, CsvLayout] = {
    "nodes": CsvLayout(
        required=("id", "name", "kind", "lat", "lon", "capabilities", "delivery_radius_km"),
        optional=("address", "timezone", "opening_hours", "gateways", "active"),
        lists=("capabilities", "gateways"),
    ),
    "zones": CsvLayout(
        required=("id", "node_id", "name", "temperature_class"),
        optional=("alarm_subjects",),
        lists=("alarm_subjects",),
    ),
    "locations": CsvLayout(required=("node_id", "code"), optional=("zone_id",)),
    "skus": CsvLayout(
        required=("id", "gtin", "name", "category", "temperature_class", "weight_g", "volume_cm3"),
        optional=("pack_of", "pack_quantity", "active"),
    ),
    "manifests": CsvLayout(required=("sscc", "sku_id", "quantity"), group="manifests"),
    "members": CsvLayout(
        required=("id", "tier", "name", "phone"),
        optional=("tags", "active", "address_label", "address", "lat", "lon"),
        lists=("tags",),
        group="members",
    ),
    "channels": CsvLayout(
        required=("id", "kind"), optional=("webhook_url", "webhook_secret", "active")
    ),
}
KINDS: tuple[str, ...] = tuple(CSV_LAYOUTS)
_ADDRESS_COLUMNS = ("address_label", "address", "lat", "lon")


class FileRejected(Exception):
    """The file cannot be read as rows at all (bad encoding, header or JSON)."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("; ".join(problem.describe() for problem in problems))
        self.problems = problems


def detect_format(filename: str | None, content_type: str | None) -> FileFormat:
    name = (filename or "").lower()
    kind = (content_type or "").lower()
    if name.endswith((".jsonl", ".ndjson")) or "ndjson" in kind or "jsonl" in kind:
        return "jsonl"
    if name.endswith(".json") or "json" in kind:
        return "json"
    return "csv"


def parse_file(
    kind: str, data: bytes, file_format: FileFormat
) -> tuple[list[RawRow], list[Problem]]:
    """``(line, record)`` pairs of a catalogue file and the problems found merging CSV rows;
    FileRejected when the file is unreadable."""
    if kind not in CSV_LAYOUTS:
        raise FileRejected([Problem(None, "kind", f"use one of: {', '.join(KINDS)}")])
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise FileRejected([Problem(None, "file", f"not UTF-8 ({exc.reason})")]) from None
    if file_format == "csv":
        return parse_csv(kind, text)
    if file_format == "jsonl":
        return _parse_jsonl(text), []
    return json_items(_load_json(text)), []


def _load_json(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise FileRejected([Problem(exc.lineno, "file", f"invalid JSON: {exc.msg}")]) from None


def json_items(document: Any) -> list[RawRow]:
    """Items of a JSON array (or ``{"items": [...]}``), numbered from 1."""
    if isinstance(document, dict) and isinstance(document.get("items"), list):
        document = document["items"]
    if not isinstance(document, list):
        raise FileRejected(
            [Problem(None, "file", 'give a JSON array of records or {"items": [...]}')]
        )
    return [(number, item) for number, item in enumerate(document, start=1)]


def _parse_jsonl(text: str) -> list[RawRow]:
    rows: list[RawRow] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if line.strip():
            try:
                rows.append((number, json.loads(line)))
            except json.JSONDecodeError as exc:
                raise FileRejected([Problem(number, "file", f"invalid JSON: {exc.msg}")]) from None
    return rows


def parse_csv(kind: str, text: str) -> tuple[list[RawRow], list[Problem]]:
    layout = CSV_LAYOUTS[kind]
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = [name.strip() for name in reader.fieldnames or []]
    reader.fieldnames = header
    problems = [
        Problem(1, column, "missing column") for column in layout.required if column not in header
    ]
    known = set(layout.required) | set(layout.optional)
    problems += [
        Problem(1, column, f"unknown column; {kind} take: {', '.join(sorted(known))}")
        for column in header
        if column not in known
    ]
    if problems:
        raise FileRejected(problems)
    rows: list[tuple[int, dict[str, str]]] = []
    line = reader.line_num + 1
    for record in reader:
        if None in record:
            raise FileRejected([Problem(line, "(row)", "more values than header columns")])
        if any((value or "").strip() for value in record.values()):
            rows.append((line, {k: (v or "").strip() for k, v in record.items()}))
        line = reader.line_num + 1
    converted = [(number, _convert(layout, record)) for number, record in rows]
    if layout.group == "members":
        return _group_members(converted)
    if layout.group == "manifests":
        return _group_manifests(converted), []
    return list(converted), []


def _convert(layout: CsvLayout, record: dict[str, str]) -> dict[str, Any]:
    """Empty optional cells are left out (defaults apply); list cells are split on ``|``."""
    out: dict[str, Any] = {}
    for column, value in record.items():
        if column in layout.lists:
            out[column] = [part.strip() for part in value.split("|") if part.strip()]
        elif value or column in layout.required:
            out[column] = value
        elif column == "zone_id":
            out[column] = None
    return out


def _group_members(
    rows: list[tuple[int, dict[str, Any]]],
) -> tuple[list[RawRow], list[Problem]]:
    members: dict[str, tuple[int, dict[str, Any]]] = {}
    order: list[str] = []
    problems: list[Problem] = []
    for line, record in rows:
        address = {c: record.pop(c) for c in _ADDRESS_COLUMNS if c in record}
        member_id = str(record.get("id", ""))
        seen = members.get(member_id)
        if seen is None:
            record["addresses"] = []
            members[member_id] = (line, record)
            order.append(member_id)
            seen = members[member_id]
        else:
            for column in sorted((set(record) | set(seen[1])) - {"addresses"}):
                if record.get(column) != seen[1].get(column):
                    problems.append(
                        Problem(
                            line,
                            column,
                            f"member {member_id!r} is on line {seen[0]} with another {column}",
                        )
                    )
        if address:
            seen[1]["addresses"].append(
                {
                    "label": address.get("address_label", ""),
                    "address": address.get("address", ""),
                    "lat": address.get("lat", ""),
                    "lon": address.get("lon", ""),
                }
            )
    return [members[member_id] for member_id in order], problems


def _group_manifests(rows: list[tuple[int, dict[str, Any]]]) -> list[RawRow]:
    manifests: dict[str, tuple[int, dict[str, Any]]] = {}
    for line, record in rows:
        sscc = str(record.get("sscc", ""))
        entry = manifests.setdefault(sscc, (line, {"sscc": sscc, "lines": []}))
        entry[1]["lines"].append(
            {"sku_id": record.get("sku_id"), "quantity": record.get("quantity")}
        )
    return list(manifests.values())
