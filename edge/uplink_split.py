"""Isolate the record a cloud refuses as malformed: bisection over the oldest buffered records.

When a batch comes back 400/422, the records with seq <= the batch's last seq hold at least one
the cloud cannot take. Sending the older half of that prefix tells which half holds it: accepted
means the rest does, refused means the half does. After about log2(n) requests one record is
left, and it is quarantined. Probes are always a prefix of the outbox, so order is kept and the
cloud's contiguous ack never skips a record that is still to come.
"""

from __future__ import annotations

from collections.abc import Sequence

from edge.buffer import BufferedRecord


def suspects(oldest: Sequence[BufferedRecord], upto_seq: int) -> list[BufferedRecord]:
    """The buffered records (oldest first) still under suspicion."""
    return [record for record in oldest if record.seq <= upto_seq]


def probe(candidates: Sequence[BufferedRecord]) -> list[BufferedRecord]:
    """The next records to send: the older half (the smaller one when odd), or the last one."""
    return list(candidates[: max(1, len(candidates) // 2)])
