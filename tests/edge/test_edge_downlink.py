"""The downlink against an in-process cloud: fetch by ETag, apply, cache, keep the last good
version when the cloud fails, run from the cache after a restart; and in a running gateway, a
rule pushed by the cloud takes effect without restart."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from edge.coldchain import EXCURSION_RULE, ZoneRule
from edge.config import parse_config
from edge.downlink import (
    CATALOGUE_FILE,
    CATALOGUE_PATH,
    CONFIG_FILE,
    CONFIG_PATH,
    Downlink,
    DownlinkError,
    rules_from_document,
)
from edge.gateway import Gateway
from firmware_bridge.records import Measurement, Quantity, Unit
from firmware_bridge.wire import record_to_wire
from tests.edge.downlink_docs import MILK_GTIN, SNAPSHOT, config_answer, zone
from tests.edge.fake_cloud import FakeCloud
from tests.edge.pty_gps import until

CLOCK = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


class Applied:
    def __init__(self) -> None:
        self.calls: list[list[ZoneRule]] = []

    def __call__(self, rules: Sequence[ZoneRule]) -> None:
        self.calls.append(list(rules))


class Remote:
    """The fake cloud, or no cloud at all while ``down``."""

    def __init__(self) -> None:
        self.cloud = FakeCloud()
        self.down = False

    def handle(self, request: httpx.Request) -> httpx.Response:
        if self.down:
            raise httpx.ConnectError("connection refused", request=request)
        return self.cloud.handle(request)


@pytest.fixture
async def remote() -> AsyncIterator[tuple[Remote, httpx.AsyncClient]]:
    cloud = Remote()
    async with httpx.AsyncClient(transport=httpx.MockTransport(cloud.handle)) as client:
        yield cloud, client


def downlink(client: httpx.AsyncClient, data_dir: Path) -> tuple[Downlink, Applied]:
    link = Downlink(
        client,
        cloud_url="https://cloud.example/",
        token="secret-token",
        data_dir=data_dir,
        poll_s=30,
        clock=lambda: CLOCK,
    )
    applied = Applied()
    link.on_rules = applied
    return link, applied


RULE_4 = ZoneRule("chiller-1", ("probe-1",), None, 4.0, 0.0, 3, 30.0)
RULE_2 = ZoneRule("chiller-1", ("probe-1",), None, 2.0, 0.0, 3, 30.0)


async def test_fetch_apply_cache_then_304_then_a_new_version(
    remote: tuple[Remote, httpx.AsyncClient], tmp_path: Path
) -> None:
    cloud, client = remote
    cloud.cloud.downlink = {
        CONFIG_PATH: config_answer(1, zone(4.0)),
        CATALOGUE_PATH: ('"c1"', SNAPSHOT),
    }
    link, applied = downlink(client, tmp_path)
    assert link.load_cache() is None and link.catalogue is None
    await link.poll_once()
    assert applied.calls == [[RULE_4]]
    assert link.catalogue is not None and link.catalogue.product(MILK_GTIN) is not None
    health = link.snapshot()
    assert (health["config_version"], health["config_source"], health["catalogue_etag"]) == (
        1,
        "cloud",
        '"c1"',
    )
    assert (health["last_success"], health["last_error"], health["consecutive_failures"]) == (
        "2026-03-01T08:00:00Z",
        None,
        0,
    )
    assert health["catalogue"]["skus"] == 3 and health["catalogue"]["status"] == "applied"
    assert json.loads((tmp_path / CONFIG_FILE).read_text())["etag"] == '"1"'
    assert json.loads((tmp_path / CATALOGUE_FILE).read_text())["body"] == SNAPSHOT

    await link.poll_once()  # nothing new: asked by ETag, answered 304, nothing re-applied
    sent = [r.headers.get("if-none-match") for r in cloud.cloud.downlink_requests[-2:]]
    assert sent == ['"1"', '"c1"']
    assert applied.calls == [[RULE_4]]
    assert (link.config.status, link.catalogue_state.status) == ("unchanged", "unchanged")

    cloud.cloud.downlink[CONFIG_PATH] = config_answer(2, zone(2.0))
    await link.poll_once()
    assert applied.calls == [[RULE_4], [RULE_2]]
    assert link.snapshot()["config_version"] == 2


async def test_failures_keep_the_last_good_version_and_the_cache_survives_a_restart(
    remote: tuple[Remote, httpx.AsyncClient], tmp_path: Path
) -> None:
    cloud, client = remote
    cloud.cloud.downlink = {
        CONFIG_PATH: config_answer(1, zone(4.0)),
        CATALOGUE_PATH: ('"c1"', SNAPSHOT),
    }
    link, applied = downlink(client, tmp_path)
    await link.poll_once()

    # A document the gateway cannot use: refused naming the field, nothing applied or written.
    bad = config_answer(2, {**zone(2.0), "min_c": 5.0})
    cloud.cloud.downlink[CONFIG_PATH] = bad
    cloud.cloud.downlink[CATALOGUE_PATH] = ('"c2"', {**SNAPSHOT, "skus": [{"id": "x"}]})
    await link.poll_once()
    assert applied.calls == [[RULE_4]]
    health = link.snapshot()
    assert health["last_error"] == (
        "config.document.coldchain[0]: min_c must be <= max_c; "
        "catalogue: skus[0].gtin: expected a non-empty string"
    )
    assert (health["config_version"], health["catalogue_etag"]) == (1, '"c1"')
    assert health["config"]["status"] == "error" and health["consecutive_failures"] == 1
    assert json.loads((tmp_path / CONFIG_FILE).read_text())["etag"] == '"1"'

    cloud.down = True
    await link.poll_once()
    health = link.snapshot()
    assert health["consecutive_failures"] == 2
    assert health["last_error"] == (
        "/api/v1/gateway/config: ConnectError: connection refused; "
        "/api/v1/catalogue/snapshot: ConnectError: connection refused"
    )
    assert health["last_success"] == "2026-03-01T08:00:00Z"

    # Restart while the cloud is unreachable: the cached versions are in force at once.
    again, reapplied = downlink(client, tmp_path)
    assert again.load_cache() == [RULE_4]
    assert again.catalogue is not None and again.catalogue.etag == '"c1"'
    await again.poll_once()
    assert reapplied.calls == [] and again.catalogue.location("DOCK-1") is not None
    assert again.snapshot()["config"]["status"] == "error"
    assert again.snapshot()["catalogue"]["fetched_at"] == "2026-03-01T08:00:00Z"


async def test_nothing_in_the_cloud_is_not_a_failure(
    remote: tuple[Remote, httpx.AsyncClient], tmp_path: Path
) -> None:
    _, client = remote
    link, applied = downlink(client, tmp_path)
    await link.poll_once()
    health = link.snapshot()
    assert applied.calls == [] and link.catalogue is None
    assert (health["config_source"], health["config"]["status"], health["last_error"]) == (
        "local file",
        "absent",
        None,
    )
    assert health["catalogue"]["detail"] == "nothing at /api/v1/catalogue/snapshot"
    assert not (tmp_path / CONFIG_FILE).exists()


def test_a_corrupt_cache_file_is_ignored(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    (tmp_path / CONFIG_FILE).write_text("{half")
    link = Downlink(
        httpx.AsyncClient(), cloud_url="http://x", token="t", data_dir=tmp_path, poll_s=1
    )
    assert link.load_cache() is None
    assert "ignoring cached config" in caplog.text


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (None, "config: expected a JSON object"),
        ({"version": 0, "document": {}}, "config.version: expected an integer >= 1"),
        ({"version": 1, "document": []}, "config.document: expected an object"),
        ({"version": 1, "document": {"alarms": []}}, "config.document.alarms: unknown key"),
        (
            {"version": 1, "document": {"coldchain": [zone(1.0), zone(2.0)]}},
            "config.document.coldchain: zone used twice: chiller-1",
        ),
        (
            {"version": 1, "document": {"coldchain": [{**zone(1.0), "devices": []}]}},
            "config.document.coldchain[0].devices: List should have at least 1 item",
        ),
    ],
)
def test_rules_from_document_names_the_field(body: Any, message: str) -> None:
    with pytest.raises(DownlinkError, match=message.replace("[", r"\[").replace("]", r"\]")):
        rules_from_document(body)


async def test_a_rule_from_the_cloud_takes_effect_in_a_running_gateway(tmp_path: Path) -> None:
    data = {
        "gateway": {"id": "store-01", "data_dir": str(tmp_path / "data")},
        "cloud": {"url": "https://cloud.example", "token": "secret-token"},
        "uplink": {"interval_s": 0.02, "drain_timeout_s": 0.5, "config_poll_s": 0.05},
        "local_api": {"port": 0},
        "coldchain": [{**zone(8.0), "min_c": 0.0}],
    }
    config = parse_config(data, source=tmp_path / "gw.toml", environ={})
    cloud = FakeCloud()
    gateway = Gateway(config, transport=cloud.transport())
    stop = asyncio.Event()
    task = asyncio.create_task(gateway.run(stop))

    def reading(value: float) -> dict[str, Any]:
        now = datetime.now(UTC)
        return record_to_wire(
            Measurement("probe-1", now, Quantity.TEMPERATURE, value, Unit.CELSIUS)
        )

    def alarms() -> list[dict[str, Any]]:
        return [r for r in cloud.stored.values() if r["kind"] == "alarm"]

    try:
        await until(lambda: gateway.local_api_url is not None)
        async with httpx.AsyncClient(base_url=str(gateway.local_api_url)) as http:
            assert (await http.post("/api/v1/records", json={"records": [reading(5.0)]})).is_success
            await until(lambda: len(cloud.stored) == 1)
            assert alarms() == []  # 5 °C is inside the file's 0–8 °C band
            cloud.downlink[CONFIG_PATH] = config_answer(1, zone(4.0))
            downlink = gateway.downlink
            assert downlink is not None
            await until(lambda: downlink.config_version == 1)
            assert (await http.post("/api/v1/records", json={"records": [reading(5.5)]})).is_success
            await until(lambda: len(alarms()) == 1)

            def status_version() -> Any:
                return json.loads(gateway.status_path.read_text())["downlink"]["config_version"]

            await until(lambda: status_version() == 1)  # health is written every second
            health = (await http.get("/api/v1/health")).json()
    finally:
        stop.set()
        await asyncio.wait_for(task, 5)
    [alarm] = alarms()
    assert (alarm["rule"], alarm["subject"], alarm["ended_at"]) == (
        EXCURSION_RULE,
        "chiller-1/probe-1",
        None,
    )
    assert alarm["evidence"]["band"] == {"min_c": None, "max_c": 4.0, "tolerance_s": 0.0}
    assert health["downlink"]["config_version"] == 1
