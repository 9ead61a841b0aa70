"""Each alarm the console lists is one incident: resolving it never hides the next one (a backlog
that clears and comes back, a gateway silent again after it returned), a gateway's alarm and its
clear are one alarm, and a blank comment is refused. Through the API, on SQLite and PostgreSQL,
with health documents the edge's own code builds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

from firmware_bridge.records import Alarm, Measurement, Quantity, Severity, Unit
from tests.cloud.allocation.helpers import set_clock
from tests.cloud.cloud_helpers import Cloud, batch, wire
from tests.console.edge_health import health


async def _send(cloud: Cloud, seq: int, *, health_doc: dict[str, Any] | None = None) -> None:
    """One batch from gw-a (a reading), with the health the gateway had then."""
    reading = Measurement("probe-1", datetime.now(UTC), Quantity.TEMPERATURE, 3.0, Unit.CELSIUS)
    response = await cloud.client.post(
        "/api/v1/ingest",
        json=batch("gw-a", seq, seq, [wire(reading, seq)], health=health_doc),
        headers=cloud.auth(cloud.gateway_a),
    )
    assert response.status_code == 200, response.text


async def _alarms(cloud: Cloud, *, include_resolved: bool = False) -> dict[str, dict[str, Any]]:
    response = await cloud.client.get(
        "/console/api/alarms",
        params={"include_resolved": str(include_resolved).lower()},
        headers=cloud.auth(cloud.operator),
    )
    assert response.status_code == 200, response.text
    return {a["key"]: a for a in response.json()}


async def _ack(cloud: Cloud, key: str, action: str, comment: str) -> Any:
    return await cloud.client.post(
        f"/console/api/alarms/{quote(key, safe='')}/ack",
        json={"action": action, "comment": comment},
        headers=cloud.auth(cloud.operator),
    )


def _of_kind(alarms: dict[str, dict[str, Any]], kind: str) -> dict[str, str]:
    return {key: a["state"] for key, a in alarms.items() if a["kind"] == kind}


async def test_a_backlog_that_clears_and_comes_back_is_a_new_open_alarm(cloud: Cloud) -> None:
    await _send(cloud, 1, health_doc=health("gw-a", records=12_000, oldest_age_s=30.0))
    assert _of_kind(await _alarms(cloud), "gateway_backlog") == {"gateway_backlog:gw-a@1": "open"}
    first = (await _alarms(cloud))["gateway_backlog:gw-a@1"]
    assert first["subject"] == "gw-a" and first["started_at"] is not None

    blank = await _ack(cloud, "gateway_backlog:gw-a@1", "resolve", "  \t ")
    assert blank.status_code == 422, blank.text
    assert "comment" in blank.json()["error"]["message"]
    resolved = await _ack(cloud, "gateway_backlog:gw-a@1", "resolve", "uplink cable replaced")
    assert resolved.status_code == 204, resolved.text
    assert _of_kind(await _alarms(cloud), "gateway_backlog") == {}
    history = await _alarms(cloud, include_resolved=True)
    assert history["gateway_backlog:gw-a@1"]["comment"] == "uplink cable replaced"

    await _send(cloud, 2, health_doc=health("gw-a", records=3, oldest_age_s=1.0))
    assert _of_kind(await _alarms(cloud, include_resolved=True), "gateway_backlog") == {}

    await _send(cloud, 3, health_doc=health("gw-a", records=15_000, oldest_age_s=400.0))
    assert _of_kind(await _alarms(cloud), "gateway_backlog") == {"gateway_backlog:gw-a@2": "open"}
    # Still the same occurrence while it lasts; the old resolve cannot be aimed at it.
    await _send(cloud, 4, health_doc=health("gw-a", records=14_000, oldest_age_s=460.0))
    assert _of_kind(await _alarms(cloud), "gateway_backlog") == {"gateway_backlog:gw-a@2": "open"}
    stale = await _ack(cloud, "gateway_backlog:gw-a@1", "acknowledge", "again?")
    assert stale.status_code == 404
    acked = await _ack(cloud, "gateway_backlog:gw-a@2", "acknowledge", "looking")
    assert acked.status_code == 204
    assert _of_kind(await _alarms(cloud), "gateway_backlog") == {
        "gateway_backlog:gw-a@2": "acknowledged"
    }


async def test_each_silence_of_a_gateway_is_its_own_offline_alarm(cloud: Cloud) -> None:
    await _send(cloud, 1)
    first_contact = datetime.now(UTC)
    set_clock(cloud, first_contact + timedelta(minutes=5))
    [first] = _of_kind(await _alarms(cloud), "gateway_offline")
    assert first.startswith("gateway_offline:gw-a@")
    assert (await _ack(cloud, first, "resolve", "van in the garage")).status_code == 204
    assert _of_kind(await _alarms(cloud), "gateway_offline") == {}

    await _send(cloud, 2)  # back in touch, then silent again
    second_contact = datetime.now(UTC)
    set_clock(cloud, second_contact + timedelta(seconds=10))
    assert _of_kind(await _alarms(cloud), "gateway_offline") == {}
    set_clock(cloud, second_contact + timedelta(minutes=5))
    [second] = _of_kind(await _alarms(cloud), "gateway_offline")
    assert second != first
    assert _of_kind(await _alarms(cloud), "gateway_offline") == {second: "open"}


async def test_a_gateway_alarm_and_its_clear_are_one_incident(cloud: Cloud) -> None:
    started = datetime.now(UTC) - timedelta(minutes=20)
    raised = Alarm(
        "coldchain.excursion", "chiller/probe-1", Severity.CRITICAL, started, None, {"peak": 7.5}
    )
    cleared = Alarm(
        "coldchain.excursion",
        "chiller/probe-1",
        Severity.CRITICAL,
        started,
        started + timedelta(minutes=12),
        {"peak": 9.0},
    )
    for seq, record in ((5, raised), (9, cleared)):
        response = await cloud.client.post(
            "/api/v1/ingest",
            json=batch("gw-a", seq, seq, [wire(record, seq)]),
            headers=cloud.auth(cloud.gateway_a),
        )
        assert response.status_code == 200, response.text
    excursions = _of_kind(await _alarms(cloud), "coldchain.excursion")
    assert excursions == {"alarm:gw-a:5": "open"}
    alarm = (await _alarms(cloud))["alarm:gw-a:5"]
    assert alarm["ended_at"] is not None and alarm["evidence"] == {"peak": 9.0}
    assert (await _ack(cloud, "alarm:gw-a:5", "resolve", "goods checked")).status_code == 204
    assert _of_kind(await _alarms(cloud), "coldchain.excursion") == {}
