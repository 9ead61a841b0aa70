"""Which Modbus slave to poll next, and what each one's answers say about it (pure, no I/O).

Slaves share one half-duplex line, so requests go out one at a time. Each slave has its own due
time: an answering slave is polled every ``poll_interval_s``; one that missed ``offline_after``
requests in a row is marked offline and retried after an exponentially growing pause, so a dead
probe costs the line one timeout per retry instead of one per cycle, and the others keep their
cadence.

Configured settings (function 06) are written when a slave is first reached and again after it
was offline, since a probe that lost power or was swapped may have forgotten them. A write the
probe refuses (exception response) or echoes wrongly is not retried until then.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from device_profiles import DeviceProfile
from device_profiles.modbus_map import RegisterBlock, read_blocks
from device_profiles.modbus_settings import SettingWrite
from firmware_bridge.records import Measurement
from firmware_bridge.wire import format_time

SLAVE_COUNTERS = (
    "polls",
    "responses",
    "readings",
    "timeouts",
    "crc_errors",
    "frame_errors",
    "exceptions",
    "out_of_range",
    "setting_writes",
    "setting_exceptions",
    "setting_mismatches",
)


class SlaveStatus(StrEnum):
    UNKNOWN = "unknown"
    ONLINE = "online"
    OFFLINE = "offline"


@dataclass(frozen=True, slots=True)
class Timing:
    poll_interval_s: float
    offline_after: int
    retry_initial_s: float
    retry_max_s: float


@dataclass(slots=True)
class SlaveState:
    address: int
    device_id: str
    profile: DeviceProfile
    blocks: list[RegisterBlock]
    due_s: float = 0.0
    status: SlaveStatus = SlaveStatus.UNKNOWN
    misses: int = 0
    retry_s: float = 0.0
    counts: Counter[str] = field(default_factory=Counter)
    exception_codes: Counter[str] = field(default_factory=Counter)
    last_readings: dict[str, Any] = field(default_factory=dict)
    last_error: str | None = None
    settings: tuple[SettingWrite, ...] = ()
    settings_pending: list[SettingWrite] = field(default_factory=list)
    settings_applied: dict[str, float] = field(default_factory=dict)
    settings_failed: dict[str, str] = field(default_factory=dict)

    def answered(self) -> None:
        """The slave put a valid frame on the line (a reading or an exception response)."""
        self.counts["responses"] += 1
        self.misses = 0
        self.retry_s = 0.0
        self.status = SlaveStatus.ONLINE

    def missed(self, timing: Timing) -> bool:
        """A request went unanswered; True when this marks the slave offline."""
        self.counts["timeouts"] += 1
        self.misses += 1
        if self.status is not SlaveStatus.OFFLINE and self.misses >= timing.offline_after:
            self.status = SlaveStatus.OFFLINE
            self.settings_pending = list(self.settings)
            return True
        return False

    def schedule_next(self, now_s: float, timing: Timing) -> None:
        """Set the next due time after a poll that started at ``self.due_s`` and ended now."""
        if self.status is SlaveStatus.OFFLINE:
            self.retry_s = (
                timing.retry_initial_s
                if self.retry_s == 0
                else min(self.retry_s * 2, timing.retry_max_s)
            )
            self.due_s = now_s + self.retry_s
            return
        # Keep the cadence; a slave that fell behind is polled at once but not in a burst.
        self.due_s = max(self.due_s + timing.poll_interval_s, now_s)

    def setting_applied(self, write: SettingWrite) -> None:
        """The probe echoed ``write`` exactly."""
        self.counts["setting_writes"] += 1
        self.settings_applied[write.name] = write.value
        self.settings_failed.pop(write.name, None)
        self.settings_pending.remove(write)

    def setting_failed(
        self, write: SettingWrite, counter: str, reason: str, *, final: bool
    ) -> None:
        """``write`` did not take: ``final`` when retrying before the next reconnect is futile."""
        self.counts[counter] += 1
        self.settings_applied.pop(write.name, None)
        self.settings_failed[write.name] = reason
        self.last_error = f"setting {write.name}: {reason}"
        if final:
            self.settings_pending.remove(write)

    def remember(self, readings: list[Measurement]) -> None:
        for reading in readings:
            self.last_readings[reading.quantity.value] = {
                "value": reading.value,
                "unit": reading.unit.value,
                "time": format_time(reading.time),
            }

    def snapshot(self) -> dict[str, Any]:
        return {
            "address": self.address,
            "profile": self.profile.model,
            "status": self.status.value,
            "last_readings": dict(self.last_readings),
            "last_error": self.last_error,
            "counters": {name: self.counts[name] for name in SLAVE_COUNTERS},
            "exception_codes": dict(self.exception_codes),
            "settings": {
                "applied": dict(self.settings_applied),
                "failed": dict(self.settings_failed),
                "pending": [write.name for write in self.settings_pending],
            },
        }


def new_slave(
    address: int,
    device_id: str,
    profile: DeviceProfile,
    due_s: float,
    settings: tuple[SettingWrite, ...] = (),
) -> SlaveState:
    return SlaveState(
        address,
        device_id,
        profile,
        read_blocks(profile),
        due_s=due_s,
        settings=settings,
        settings_pending=list(settings),
    )


def next_due(slaves: list[SlaveState]) -> SlaveState:
    """The slave to poll next: the earliest due, config order breaking ties."""
    return min(slaves, key=lambda slave: slave.due_s)
