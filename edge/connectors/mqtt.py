"""MQTT field devices, handheld scanners and vehicle trackers: broker messages -> durable
records, then PUBACK.

Messages are taken from the session in batches (whatever has arrived), decoded, and:
- valid telemetry, scans and positions are committed with ``put`` (awaited until durable), one
  put per message with the message's idempotency key (:func:`edge.mqtt_replay.dedupe_key`)
  stored in the same transaction, and then acked. A replay (a message stored before, e.g.
  redelivered because the gateway crashed between the commit and the PUBACK) stores nothing:
  ``put`` answers with the first seqs, and the message is acked and counted as ``replayed``;
- invalid ones are written to the dead-letter table (durable) and then acked, so they are never
  redelivered forever. Whatever a payload holds, decoding it ends in records or a dead letter
  with a reason: an exception other than the decoders' PayloadError is a decoder bug, logged
  with its traceback and dead-lettered too, and never stops the connector (a poison message
  that did would be redelivered at every restart). ``dead_letters`` in :meth:`snapshot` counts
  the connector's dead letters over the table's life, not since start;
- a position that fails its vehicle's plausibility filter (:mod:`edge.gps_filter`: HDOP over
  the limit, a jump faster than the limit, not newer than the last fix) is counted and acked
  without being stored, as on the serial GPS path;
- status messages (``online``; ``offline`` is the devices' Last Will) update ``devices``.
A message that cannot be stored (buffer full, write failure) is retried with backoff and not
acked meanwhile; on stop, what was not acked is redelivered by the broker after the next connect.

Scans are checked like those posted to the local API (:mod:`edge.mqtt_scan_answers`: the same
GS1 parsing and catalogue checks, accepted unchecked with a warning until a catalogue was ever
fetched); a refused scan is dead-lettered with the reason and not stored. Every scan message is
answered on ``.../scan/answer`` once it is durable or dead-lettered (a replay again as accepted,
with the first seq). An answer is published without waiting: while the broker is away paho keeps
it for the next connect, and one it cannot keep is counted (``answers_unsent``) and logged; acks
never wait for answers.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

from edge.buffer import BufferFullError, Replayed
from edge.config import MqttDevice
from edge.connectors.mqtt_session import Inbound, MqttSession, PublishOutcome
from edge.connectors.serial_port import ConnectorStatus, stopped_within
from edge.dead_letters import FILE_NAME, DeadLetter, DeadLetters
from edge.gps_filter import GpsFilter, GpsLimits, Rejection
from edge.mqtt_replay import dedupe_key
from edge.mqtt_scan_answers import accepted_answer, check_mqtt_scan, refused_answer
from edge.mqtt_topics import (
    DeviceStatus,
    MessageKind,
    PayloadError,
    Topic,
    answer_topic,
    decode_envelope,
    decode_status,
    parse_topic,
    peek_msg_id,
    subscriptions,
)
from edge.pipeline import BufferWriteError, PipelineStoppedError, Put
from edge.scan_check import CatalogueSource, CheckedScan, ScanFieldError
from firmware_bridge.records import Position, Record, Scan
from firmware_bridge.wire import format_time

__all__ = ["COUNTER_NAMES", "MqttConnector", "Put", "dead_letters_file"]

log = logging.getLogger(__name__)

MAX_BATCH: Final = 500
STORE_RETRY_INITIAL_S: Final = 0.5
STORE_RETRY_MAX_S: Final = 10.0
MAX_TRACKED_VEHICLES: Final = 10_000
"""Plausibility filters kept (one per vehicle); the longest unheard vehicle is forgotten first."""

COUNTER_NAMES = (
    "messages",
    "measurements",
    "scans",
    "positions",
    "positions_rejected",
    "status",
    "dead_letters",
    "replayed",
    "store_retries",
    "dead_letters_unwritten",
    "scans_refused",
    "answers",
    "answers_queued",
    "answers_unsent",
)


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class _ScanReply:
    """How to answer an accepted scan once it is durable."""

    topic: str
    msg_id: str | None
    checked: CheckedScan


@dataclass(frozen=True, slots=True)
class _ToStore:
    message: Inbound
    records: list[Record]
    key: str
    reply: _ScanReply | None = None


@dataclass(slots=True)
class _Batch:
    store: list[_ToStore] = field(default_factory=list)
    dead: list[tuple[Inbound, str]] = field(default_factory=list)
    refusals: list[tuple[str, bytes]] = field(default_factory=list)
    """Answers (topic, payload) to the scans among ``dead``, published once they are."""
    done: list[Inbound] = field(default_factory=list)
    """Acked without storing anything (status messages)."""


class MqttConnector:
    def __init__(
        self,
        device: MqttDevice,
        put: Put,
        *,
        dead_letters_path: Path | str,
        catalogue: CatalogueSource | None = None,
        now: Callable[[], datetime] = _utc_now,
    ) -> None:
        self.device = device
        self._put = put
        self.catalogue = catalogue
        """Scans are checked against what it returns; None (or it returns None): accepted
        unchecked, with a warning in the answer."""
        self._dead_letters_path = dead_letters_path
        self._now = now
        self._counts = Counter[str]()
        self.devices: dict[str, dict[str, str]] = {}
        """Per device id: ``{"status": "online"|"offline", "since": time}``."""
        self._gps_limits = GpsLimits(device.max_hdop, device.max_speed_mps)
        self._gps_filters: dict[str, GpsFilter] = {}
        self._gps_rejected = Counter[str]()
        self._stopping = asyncio.Event()
        self._session: MqttSession | None = None
        self.status = ConnectorStatus.STARTING

    @property
    def name(self) -> str:
        return self.device.id

    @property
    def counters(self) -> dict[str, int]:
        return {name: self._counts[name] for name in COUNTER_NAMES}

    @property
    def session(self) -> MqttSession | None:
        return self._session

    def snapshot(self) -> dict[str, Any]:
        session = self._session
        status = self.status
        if session is not None and status is not ConnectorStatus.STOPPED:
            status = (
                ConnectorStatus.CONNECTED if session.connected else ConnectorStatus.DISCONNECTED
            )
        return {
            "type": self.device.type,
            "broker": f"{self.device.host}:{self.device.port}",
            "status": status.value,
            "last_error": None if session is None else session.last_error,
            "connects": 0 if session is None else session.connects,
            "subscribed": session is not None and session.subscribed.is_set(),
            "counters": self.counters,
            "positions_rejected": {
                reason.value: self._gps_rejected[reason] for reason in Rejection
            },
            "devices": {name: dict(info) for name, info in sorted(self.devices.items())},
        }

    def stop(self) -> None:
        """Ask :meth:`run` to finish the batch in hand and return (unacked messages stay with
        the broker's session)."""
        self._stopping.set()

    async def run(self) -> None:
        try:
            async with (
                DeadLetters.open(self._dead_letters_path) as dead_letters,
                MqttSession.open(
                    self.device, subscriptions(self.device.topic_prefix, self.device.site)
                ) as session,
            ):
                self._counts["dead_letters"] = await dead_letters.total(self.name)
                self._session = session
                while not self._stopping.is_set():
                    messages = await self._next_messages(session)
                    if messages:
                        await self._handle(session, dead_letters, messages)
        finally:
            self.status = ConnectorStatus.STOPPED
            log.info("%s: stopped", self.name)

    async def _next_messages(self, session: MqttSession) -> list[Inbound]:
        """What has arrived, waiting for the first one or :meth:`stop`."""
        if session.messages.empty():
            getter = asyncio.ensure_future(session.messages.get())
            stopping = asyncio.ensure_future(self._stopping.wait())
            try:
                await asyncio.wait({getter, stopping}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                stopping.cancel()
                if not getter.done():
                    getter.cancel()
            if not getter.done() or getter.cancelled():
                return []
            messages = [getter.result()]
        else:
            messages = []
        while not session.messages.empty() and len(messages) < MAX_BATCH:
            messages.append(session.messages.get_nowait())
        return messages

    async def _handle(
        self, session: MqttSession, dead_letters: DeadLetters, messages: list[Inbound]
    ) -> None:
        batch = self._sort(messages)
        letters = [DeadLetter(self.name, m.topic, reason, m.payload) for m, reason in batch.dead]
        try:
            await dead_letters.add(letters)
        except (sqlite3.Error, OSError) as exc:
            # A full disk or a broken dead-letter file must not stop the good messages: the bad
            # ones are still acknowledged (the broker would only send them again), each logged.
            self._counts["dead_letters_unwritten"] += len(letters)
            for letter in letters:
                log.error(
                    "%s: cannot record dead letter from %s (%s): %s",
                    self.name,
                    letter.topic,
                    exc,
                    letter.reason,
                )
        else:
            self._counts["dead_letters"] += len(batch.dead)
        for message in [m for m, _ in batch.dead] + batch.done:
            session.ack(message)
        for topic, answer in batch.refusals:
            self._answer(session, topic, answer)
        await self._store(session, batch.store)

    def _sort(self, messages: list[Inbound]) -> _Batch:
        batch = _Batch()
        received_at = self._now()
        for message in messages:
            self._counts["messages"] += 1
            topic: Topic | None = None
            try:
                topic = parse_topic(message.topic, self.device.topic_prefix)
                if topic.kind is MessageKind.STATUS:
                    self._status(topic.device, decode_status(message.payload), received_at)
                    batch.done.append(message)
                    continue
                records, msg_id = decode_envelope(topic, message.payload, received_at)
                key = dedupe_key(self.name, message.topic, message.payload, msg_id)
                reply = None
                if topic.kind is MessageKind.SCAN:
                    reply = self._check_scan(topic, records, msg_id)
                    records = [reply.checked.scan]
            except (PayloadError, ScanFieldError) as exc:
                log.debug("%s: dead letter from %s: %s", self.name, message.topic, exc)
                self._refuse(
                    batch, message, topic, exc if isinstance(exc, ScanFieldError) else str(exc)
                )
                continue
            except Exception as exc:  # a decoder bug in one message: see the module doc
                log.warning(
                    "%s: decoding a message from %s failed", self.name, message.topic, exc_info=True
                )
                self._refuse(batch, message, topic, f"cannot decode ({type(exc).__name__}): {exc}")
                continue
            if not self._plausible(records):
                batch.done.append(message)
                continue
            batch.store.append(_ToStore(message, records, key, reply))
        return batch

    def _check_scan(self, topic: Topic, records: list[Record], msg_id: str | None) -> _ScanReply:
        (scan,) = records
        assert isinstance(scan, Scan)
        catalogue = None if self.catalogue is None else self.catalogue()
        checked = check_mqtt_scan(scan, catalogue)
        return _ScanReply(answer_topic(topic, self.device.topic_prefix), msg_id, checked)

    def _refuse(
        self, batch: _Batch, message: Inbound, topic: Topic | None, error: ScanFieldError | str
    ) -> None:
        """Dead-letter ``message`` with ``error`` as the reason; a scan's device is also told."""
        batch.dead.append((message, str(error)))
        if topic is None or topic.kind is not MessageKind.SCAN:
            return
        self._counts["scans_refused"] += 1
        answer = refused_answer(peek_msg_id(message.payload), error)
        batch.refusals.append((answer_topic(topic, self.device.topic_prefix), answer))

    def _answer(self, session: MqttSession, topic: str, answer: bytes) -> None:
        outcome = session.publish(topic, answer)
        if outcome is PublishOutcome.SENT:
            self._counts["answers"] += 1
        elif outcome is PublishOutcome.QUEUED:
            self._counts["answers_queued"] += 1
            log.info("%s: not connected; answer on %s sent after reconnecting", self.name, topic)
        else:
            self._counts["answers_unsent"] += 1
            log.warning("%s: cannot send the answer on %s (%s)", self.name, topic, outcome)

    def _plausible(self, records: list[Record]) -> bool:
        """False (counted) when a position fails its vehicle's plausibility filter."""
        for record in records:
            if not isinstance(record, Position):
                continue
            gps_filter = self._gps_filters.pop(record.device_id, None) or GpsFilter(
                self._gps_limits
            )
            self._gps_filters[record.device_id] = gps_filter  # newest last
            if len(self._gps_filters) > MAX_TRACKED_VEHICLES:
                del self._gps_filters[next(iter(self._gps_filters))]
            reason = gps_filter.check(record)
            if reason is not None:
                self._counts["positions_rejected"] += 1
                self._gps_rejected[reason] += 1
                log.debug("%s: position of %s rejected: %s", self.name, record.device_id, reason)
                return False
        return True

    def _status(self, device: str, status: DeviceStatus, at: datetime) -> None:
        self._counts["status"] += 1
        if self.devices.get(device, {}).get("status") == status.value:
            return
        if status is DeviceStatus.OFFLINE:
            log.warning("%s: device %s went offline", self.name, device)
        self.devices[device] = {"status": status.value, "since": format_time(at)}

    async def _store(self, session: MqttSession, pending: list[_ToStore]) -> None:
        """Put each message's records (one group commit for all) and ack each message once
        durable; retry those refused until stored or stopping (then they stay unacked and the
        broker redelivers them)."""
        delay = STORE_RETRY_INITIAL_S
        while pending:
            outcomes = await asyncio.gather(
                *(self._put(item.records, dedupe_key=item.key) for item in pending),
                return_exceptions=True,
            )
            retry: list[_ToStore] = []
            stopped = False
            for item, outcome in zip(pending, outcomes, strict=True):
                if isinstance(outcome, PipelineStoppedError):
                    stopped = True
                elif isinstance(outcome, BufferFullError | BufferWriteError):
                    retry.append(item)
                    error: BaseException = outcome
                elif isinstance(outcome, BaseException):
                    raise outcome
                else:
                    self._stored(item, outcome)
                    session.ack(item.message)
                    if item.reply is not None:
                        self._answer_stored(session, item.reply, outcome)
            if stopped or not retry:
                return
            self._counts["store_retries"] += 1
            log.warning(
                "%s: cannot store %d messages (%s); not acknowledging, retrying in %.1f s",
                self.name,
                len(retry),
                error,
                delay,
            )
            if await stopped_within(self._stopping, delay):
                return
            delay = min(delay * 2, STORE_RETRY_MAX_S)
            pending = retry

    def _answer_stored(self, session: MqttSession, reply: _ScanReply, seqs: list[int]) -> None:
        replayed = type(seqs) is Replayed
        seq = seqs[0] if seqs else None
        answer = accepted_answer(reply.msg_id, reply.checked, seq, replayed=replayed)
        self._answer(session, reply.topic, answer)

    def _stored(self, item: _ToStore, seqs: list[int]) -> None:
        if type(seqs) is Replayed:
            self._counts["replayed"] += 1
            log.debug("%s: replay of %s answered with seqs %s", self.name, item.key, seqs)
            return
        kinds = Counter(r.kind.value for r in item.records)
        self._counts["measurements"] += kinds["measurement"]
        self._counts["scans"] += kinds["scan"]
        self._counts["positions"] += kinds["position"]


def dead_letters_file(data_dir: Path) -> Path:
    return data_dir / FILE_NAME
