"""A producer writing into a gateway's local API, and the exactly-once check against the cloud.

Every record the producer makes carries a unique number ``n`` (its time is ``BASE + n`` ms), so
a record is identifiable wherever it lands, and ``n`` grows in production order for every device.
A request that fails in transit is never retried: its records are "unacknowledged" and may or
may not arrive, but a retry would legitimately duplicate them and hide a real duplicate.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Final

import httpx

from edge.buffer import record_source
from firmware_bridge.records import (
    BUSINESS_KINDS,
    Alarm,
    FixQuality,
    Measurement,
    Position,
    Quantity,
    Record,
    RecordKind,
    Scan,
    ScanOperation,
    Severity,
    Unit,
)
from firmware_bridge.wire import record_to_wire

BASE: Final = datetime(2024, 6, 1, tzinfo=UTC)
VEHICLES: Final = ("veh-1", "veh-2", "veh-3")
PROBES: Final = ("probe-1", "probe-2")
SCANNERS: Final = ("hh-1", "hh-2")
# Eight telemetry records for every two business ones.
PATTERN: Final = (
    RecordKind.POSITION,
    RecordKind.MEASUREMENT,
    RecordKind.POSITION,
    RecordKind.MEASUREMENT,
    RecordKind.SCAN,
    RecordKind.POSITION,
    RecordKind.MEASUREMENT,
    RecordKind.POSITION,
    RecordKind.MEASUREMENT,
    RecordKind.ALARM,
)
RECORDS_PATH: Final = "/api/v1/records"


def make_record(n: int, prefix: str = "") -> Record:
    """The ``n``-th record of the stream: kind, device and every value follow from ``n``;
    ``prefix`` names the devices of one producer apart from another's."""
    kind = PATTERN[n % len(PATTERN)]
    moment = BASE + timedelta(milliseconds=n)
    if kind is RecordKind.POSITION:
        return Position(
            device_id=prefix + VEHICLES[n % len(VEHICLES)],
            time=moment,
            lat=45.0 + (n % 10_000) * 1e-5,
            lon=7.0 + (n % 7_000) * 1e-5,
            speed_mps=float(n % 30),
            course_deg=float(n % 360),
            fix_quality=FixQuality.GPS,
            satellites=4 + n % 8,
            hdop=0.5 + (n % 10) / 10,
        )
    if kind is RecordKind.MEASUREMENT:
        return Measurement(
            device_id=prefix + PROBES[n % len(PROBES)],
            time=moment,
            quantity=Quantity.TEMPERATURE,
            value=n * 0.25,
            unit=Unit.CELSIUS,
        )
    if kind is RecordKind.SCAN:
        return Scan(
            scanner_id=prefix + SCANNERS[n % len(SCANNERS)],
            operator="op-7",
            operation=ScanOperation.PICK,
            code=f"0{n:013d}",
            quantity=1 + n % 5,
            location=f"A-{n % 40:02d}",
            time=moment,
        )
    return Alarm(
        rule="temperature_high",
        subject=prefix + PROBES[n % len(PROBES)],
        severity=Severity.WARNING,
        started_at=moment,
        evidence={"n": n, "value": n * 0.25},
    )


def record_number(record: Record) -> int:
    """The ``n`` a record was made from (inverse of :func:`make_record`)."""
    moment = record.started_at if isinstance(record, Alarm) else record.time
    return round((moment - BASE) / timedelta(milliseconds=1))


def is_business(record: Record) -> bool:
    return record.kind in BUSINESS_KINDS


@dataclass
class ProducerLog:
    acked: dict[int, Record] = field(default_factory=dict)
    """seq -> record, for every record a 200 acknowledged."""
    unacked: list[Record] = field(default_factory=list)
    """Records of requests that failed in transit: may or may not have been stored."""
    refused: list[Record] = field(default_factory=list)
    """Records of requests answered 503 buffer_full: nothing of those was accepted."""
    transport_errors: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    accepted_total: int = 0
    """Sum of ``accepted`` over all 200 answers (a reused seq would make it exceed acked)."""


class Producer:
    """Posts batches of :func:`make_record` records from a thread until :meth:`stop`.

    ``url`` returns the gateway's local API base URL (or None while unknown); it is asked again
    after every transport error, so a restarted gateway on a new port is found. ``rate`` is in
    records per second; None means as fast as the gateway answers.
    """

    def __init__(
        self,
        url: Callable[[], str | None],
        *,
        batch_size: int = 25,
        rate: float | None = None,
        start_n: int = 0,
        prefix: str = "",
        request_timeout_s: float = 10.0,
    ) -> None:
        self._url = url
        self._prefix = prefix
        self._batch_size = batch_size
        self._rate = rate
        self._next_n = start_n
        self._timeout = request_timeout_s
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._log = ProducerLog()
        self._thread = threading.Thread(target=self._run, daemon=True, name="producer")
        self._failure: BaseException | None = None

    def start(self) -> Producer:
        self._thread.start()
        return self

    def stop(self) -> ProducerLog:
        """Stop after the request in flight and return what happened; re-raises a crash."""
        self._stop.set()
        self._thread.join(timeout=self._timeout + 5)
        assert not self._thread.is_alive(), "producer did not stop"
        if self._failure is not None:
            raise AssertionError("producer failed") from self._failure
        return self.log()

    def log(self) -> ProducerLog:
        with self._lock:
            return ProducerLog(
                dict(self._log.acked),
                list(self._log.unacked),
                list(self._log.refused),
                self._log.transport_errors,
                Counter(self._log.statuses),
                self._log.accepted_total,
            )

    def acked_count(self) -> int:
        with self._lock:
            return len(self._log.acked)

    def wait_acked(self, count: int, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while self.acked_count() < count:
            if self._failure is not None:
                raise AssertionError("producer failed") from self._failure
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"producer got {self.acked_count()} of {count} records acknowledged in "
                    f"{timeout_s} s: {self.log().statuses}, {self.log().transport_errors} errors"
                )
            time.sleep(0.05)

    def _run(self) -> None:
        try:
            with httpx.Client(timeout=self._timeout) as client:
                self._produce(client)
        except BaseException as exc:
            self._failure = exc

    def _produce(self, client: httpx.Client) -> None:
        base: str | None = None
        started = time.monotonic()
        sent = 0
        while not self._stop.is_set():
            if self._rate is not None:
                due = started + sent / self._rate
                if (wait := due - time.monotonic()) > 0:
                    self._stop.wait(wait)
                    continue
            base = base or self._url()
            if base is None:
                self._stop.wait(0.05)
                continue
            numbers = range(self._next_n, self._next_n + self._batch_size)
            batch = [make_record(n, self._prefix) for n in numbers]
            self._next_n += self._batch_size
            sent += len(batch)
            if not self._post(client, base, batch):
                base = None
                self._stop.wait(0.05)

    def _post(self, client: httpx.Client, base: str, batch: list[Record]) -> bool:
        """One request; False when the gateway could not be reached (ask for its URL again)."""
        body = {"records": [record_to_wire(r) for r in batch]}
        try:
            response = client.post(base + RECORDS_PATH, json=body)
        except httpx.TransportError:
            with self._lock:
                self._log.transport_errors += 1
                self._log.unacked.extend(batch)
            return False
        with self._lock:
            self._log.statuses[response.status_code] += 1
        if response.status_code == 503:
            with self._lock:
                self._log.refused.extend(batch)
            self._stop.wait(min(0.2, float(response.headers.get("retry-after", "0.2"))))
            return True
        if response.status_code != 200:
            raise AssertionError(f"local API answered {response.status_code}: {response.text}")
        answer = response.json()
        first, last = answer["first_seq"], answer["last_seq"]
        assert answer["accepted"] == len(batch) == last - first + 1, answer
        with self._lock:
            self._log.accepted_total += len(batch)
            for offset, record in enumerate(batch):
                self._log.acked[first + offset] = record
        return True


@dataclass(frozen=True)
class Delivery:
    stored: int
    acked: int
    unacked_stored: int
    missing_acked: list[int]
    """Acknowledged seqs the cloud does not hold."""


def merge_logs(logs: Sequence[ProducerLog]) -> ProducerLog:
    """One log for several producers writing into the same gateway at once (distinct ``n`` and
    device prefixes), after checking each producer got its own seqs in production order."""
    merged = ProducerLog()
    for log in logs:
        assert len(log.acked) == log.accepted_total, "the gateway handed out a seq twice"
        numbers = [record_number(log.acked[seq]) for seq in sorted(log.acked)]
        reordered = [(a, b) for a, b in itertools.pairwise(numbers) if b <= a]
        assert not reordered, f"seqs handed out are not in production order: {reordered[:5]}"
        shared = merged.acked.keys() & log.acked.keys()
        assert not shared, f"two producers were given the same seqs: {sorted(shared)[:5]}"
        merged.acked.update(log.acked)
        merged.unacked.extend(log.unacked)
        merged.refused.extend(log.refused)
        merged.transport_errors += log.transport_errors
        merged.statuses.update(log.statuses)
        merged.accepted_total += log.accepted_total
    return merged


def check_delivery(
    logs: ProducerLog | Sequence[ProducerLog],
    stored: Mapping[int, Record],
    *,
    may_miss: Iterable[int] = (),
) -> Delivery:
    """Assert the exactly-once contract between what the producers were told and what the cloud
    holds (by seq), except for the acknowledged seqs in ``may_miss`` (evicted telemetry), which
    the caller accounts for."""
    log = merge_logs([logs] if isinstance(logs, ProducerLog) else logs)
    allowed_missing = set(may_miss)
    missing = sorted(seq for seq in log.acked if seq not in stored)
    unexpected_missing = [seq for seq in missing if seq not in allowed_missing]
    assert not unexpected_missing, (
        f"{len(unexpected_missing)} acknowledged records never arrived, e.g. seqs "
        f"{unexpected_missing[:10]}"
    )
    wrong = {
        seq: (log.acked[seq], record)
        for seq, record in stored.items()
        if seq in log.acked and log.acked[seq] != record
    }
    assert not wrong, f"records stored with other values than produced: {list(wrong.items())[:3]}"

    unacked = {record_number(r): r for r in log.unacked}
    extra = {
        seq: record
        for seq, record in stored.items()
        if seq not in log.acked and unacked.get(record_number(record)) != record
    }
    assert not extra, f"the cloud holds records nobody produced: {list(extra.items())[:3]}"

    copies = Counter(record_number(r) for r in stored.values())
    duplicated = sorted(n for n, count in copies.items() if count > 1)
    assert not duplicated, f"records stored more than once: n = {duplicated[:10]}"

    assert_device_order(stored)
    return Delivery(
        stored=len(stored),
        acked=len(log.acked),
        unacked_stored=len(stored) - (len(log.acked) - len(missing)),
        missing_acked=missing,
    )


def assert_device_order(stored: Mapping[int, Record]) -> None:
    """Per device, seq order is production order (``n`` strictly increasing)."""
    by_device: dict[tuple[str, str], list[int]] = defaultdict(list)
    for seq in sorted(stored):
        record = stored[seq]
        by_device[(record.kind.value, record_source(record))].append(record_number(record))
    for device, numbers in by_device.items():
        out_of_order = [(a, b) for a, b in itertools.pairwise(numbers) if b <= a]
        assert not out_of_order, f"{device}: seq order is not production order: {out_of_order[:5]}"
