"""The exactly-once check the store-and-forward tests rely on catches each kind of violation."""

from __future__ import annotations

import dataclasses

import pytest

from firmware_bridge.records import Measurement, Record
from firmware_bridge.wire import record_from_wire, record_to_wire
from tests.integration.producer import (
    PATTERN,
    ProducerLog,
    check_delivery,
    make_record,
    record_number,
)


def _log(acked: range, unacked: range = range(0)) -> ProducerLog:
    # seq = n + 1: the gateway's seqs follow production order.
    return ProducerLog(
        acked={n + 1: make_record(n) for n in acked},
        unacked=[make_record(n) for n in unacked],
        accepted_total=len(acked),
    )


def test_records_are_numbered_reversibly_and_survive_the_wire() -> None:
    records = [make_record(n) for n in range(3 * len(PATTERN))]
    assert [record_number(r) for r in records] == list(range(3 * len(PATTERN)))
    assert [record_from_wire(record_to_wire(r)) for r in records] == records
    assert [r.kind for r in records[: len(PATTERN)]] == list(PATTERN)


def test_exact_delivery_with_some_unacknowledged_records_passes() -> None:
    log = _log(range(0, 40), unacked=range(40, 50))
    stored: dict[int, Record] = {n + 1: make_record(n) for n in range(0, 45)}
    delivery = check_delivery(log, stored)
    assert (delivery.stored, delivery.acked, delivery.unacked_stored) == (45, 40, 5)
    assert delivery.missing_acked == []


def test_a_missing_acknowledged_record_fails_unless_allowed() -> None:
    log = _log(range(0, 20))
    stored: dict[int, Record] = {n + 1: make_record(n) for n in range(0, 20) if n != 7}
    with pytest.raises(AssertionError, match="never arrived"):
        check_delivery(log, stored)
    assert check_delivery(log, stored, may_miss=[8]).missing_acked == [8]


def test_a_record_stored_twice_fails() -> None:
    log = _log(range(0, 20), unacked=range(20, 25))
    stored: dict[int, Record] = {n + 1: make_record(n) for n in range(0, 25)}
    stored[26] = make_record(22)
    with pytest.raises(AssertionError, match="more than once"):
        check_delivery(log, stored)


def test_other_values_or_unknown_records_fail() -> None:
    log = _log(range(0, 20))
    stored: dict[int, Record] = {n + 1: make_record(n) for n in range(0, 20)}
    changed = stored[2]
    assert isinstance(changed, Measurement)
    with pytest.raises(AssertionError, match="other values"):
        check_delivery(log, {**stored, 2: dataclasses.replace(changed, value=-1.0)})
    with pytest.raises(AssertionError, match="nobody produced"):
        check_delivery(log, {**stored, 21: make_record(99)})


def test_reordering_within_a_device_or_a_reused_seq_fails() -> None:
    log = _log(range(0, 20))
    stored: dict[int, Record] = {n + 1: make_record(n) for n in range(0, 20)}
    # n = 1 and 11 are both measurements of probe-2 (PATTERN has ten entries).
    swapped = {**stored, 2: stored[12], 12: stored[2]}
    swapped_log = dataclasses.replace(log, acked=dict(swapped))
    with pytest.raises(AssertionError, match="production order"):
        check_delivery(swapped_log, swapped)
    with pytest.raises(AssertionError, match="seq twice"):
        check_delivery(dataclasses.replace(log, accepted_total=21), stored)
