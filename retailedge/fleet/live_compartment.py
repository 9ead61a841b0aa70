"""A reefer van's compartment sensor: in band around 3 °C until the compartment fails, then
warming steadily (the compressor stopped with the door open) until it is far out of band."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Final

from retailedge.fleet.live_plan import CHILLED_BAND_C, COMPARTMENT_C
from simulators.fleet_radio import DeviceLink, temperature_payload

WARMING_C_PER_S: Final = 0.5
CEILING_C: Final = 15.0
NOISE_C: Final = 0.2


def compartment_c(rng: random.Random, failed_for_s: float | None) -> float:
    """A reading: in band with a little noise, or warming ``failed_for_s`` after the failure."""
    low, high = CHILLED_BAND_C
    normal = min(high - 0.5, max(low + 0.5, rng.gauss(COMPARTMENT_C, NOISE_C)))
    if failed_for_s is None:
        return round(normal, 2)
    return round(min(CEILING_C, normal + WARMING_C_PER_S * failed_for_s), 2)


class CompartmentSensor:
    def __init__(
        self,
        link: DeviceLink,
        period_s: float,
        rng: random.Random,
        on_out_of_band: Callable[[datetime], None] | None = None,
    ) -> None:
        self.link = link
        self.period_s = period_s
        self.rng = rng
        self.on_out_of_band = on_out_of_band
        self.readings = 0
        self._failed_since: float | None = None
        self._out_reported = False

    def fail(self) -> None:
        """From now on the compartment warms."""
        if self._failed_since is None:
            self._failed_since = time.monotonic()

    async def read_once(self) -> float:
        failed_for = None if self._failed_since is None else time.monotonic() - self._failed_since
        value = compartment_c(self.rng, failed_for)
        at = datetime.now(UTC)
        self.readings += 1
        msg_id = f"{self.link.device_id}-{self.readings}"
        await self.link.publish("telemetry", temperature_payload(msg_id, at, value))
        low, high = CHILLED_BAND_C
        if not low <= value <= high and not self._out_reported:
            self._out_reported = True
            if self.on_out_of_band is not None:
                self.on_out_of_band(at)
        return value

    async def run(self) -> None:
        """A reading every period until cancelled."""
        while True:
            started = time.monotonic()
            await self.read_once()
            await asyncio.sleep(max(0.0, self.period_s - (time.monotonic() - started)))
