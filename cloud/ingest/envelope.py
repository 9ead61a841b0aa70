"""Validate the batch envelope: ids, seq bounds and per-record seqs (records parse later)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cloud.api_error import ApiError
from cloud.ingest.gateway_fields import gateway_id_of, sent_at_of


@dataclass(frozen=True, slots=True)
class Batch:
    gateway_id: str
    first_seq: int
    last_seq: int
    sent_at: datetime
    records: list[tuple[int, dict[str, Any]]]
    health: dict[str, Any] | None


def _invalid(message: str) -> ApiError:
    return ApiError(422, "invalid_batch", message)


def _seq(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise _invalid(f"{where} must be an integer")
    if value < 1:
        raise _invalid(f"{where} must be >= 1 (seqs start at 1)")
    return value


def parse_batch(data: Any) -> Batch:
    """The validated envelope of ``data``; raises ApiError 422 naming the first problem."""
    if not isinstance(data, dict):
        raise _invalid("the batch must be a JSON object")
    gateway_id = gateway_id_of(data, _invalid)
    first_seq = _seq(data.get("first_seq"), "first_seq")
    last_seq = _seq(data.get("last_seq"), "last_seq")
    if last_seq < first_seq:
        raise _invalid(f"last_seq {last_seq} is below first_seq {first_seq}")
    sent_at = sent_at_of(data, _invalid)
    health = data.get("health")
    if health is not None and not isinstance(health, dict):
        raise _invalid("health must be an object when present")
    return Batch(
        gateway_id=gateway_id,
        first_seq=first_seq,
        last_seq=last_seq,
        sent_at=sent_at,
        records=_records(data.get("records"), first_seq, last_seq),
        health=health,
    )


def _records(raw: Any, first_seq: int, last_seq: int) -> list[tuple[int, dict[str, Any]]]:
    if not isinstance(raw, list):
        raise _invalid("records must be a list")
    contiguous = _contiguous(raw, first_seq, last_seq)
    if contiguous is not None:
        return contiguous
    out: list[tuple[int, dict[str, Any]]] = []
    previous = first_seq - 1
    for index, item in enumerate(raw):
        if not isinstance(item, dict):
            raise _invalid(f"records[{index}] must be an object")
        seq = _seq(item.get("seq"), f"records[{index}].seq")
        if not first_seq <= seq <= last_seq:
            raise _invalid(f"records[{index}].seq {seq} is outside {first_seq}..{last_seq}")
        if seq <= previous:
            raise _invalid(f"records[{index}].seq {seq} is not above the previous seq {previous}")
        previous = seq
        out.append((seq, item))
    return out


def _contiguous(
    raw: list[Any], first_seq: int, last_seq: int
) -> list[tuple[int, dict[str, Any]]] | None:
    """The usual batch, checked in bulk: objects whose seqs are exactly ``first_seq``,
    ``first_seq + 1``, ... up to at most ``last_seq``. None when it is anything else, for the
    record-by-record checks to name the problem."""
    if not raw or len(raw) > last_seq - first_seq + 1:
        return None
    try:
        seqs = [item["seq"] for item in raw if item.__class__ is dict]
    except KeyError:
        return None
    # == also holds for True/1 and 2.0/2: the classes are checked too.
    if len(seqs) != len(raw) or seqs != list(range(first_seq, first_seq + len(seqs))):
        return None
    if any(seq.__class__ is not int for seq in seqs):
        return None
    return list(zip(seqs, raw, strict=True))
