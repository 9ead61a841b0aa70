"""``retailedge status``: the console's health picture as terminal tables (or JSON)."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import click
import httpx


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A plain aligned text table (``-`` for missing values)."""
    cells = [[("-" if v is None else str(v)) for v in row] for row in rows]
    widths = [max([len(h), *(len(r[i]) for r in cells)]) for i, h in enumerate(headers)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in cells]
    return "\n".join(lines)


VEHICLES_SHOWN = 20
CONNECTORS_SHOWN = 3
MOVING_MPS = 0.5
"""Below this (1.8 km/h) a vehicle counts as stopped: GPS jitter alone reads a little speed."""


def _ago(iso: str | None, now: datetime) -> str | None:
    if iso is None:
        return None
    return f"{max(0.0, (now - datetime.fromisoformat(iso)).total_seconds()):.0f} s ago"


def connectors_cell(connectors: Mapping[str, str] | None) -> str | None:
    """``name:status`` per connector by name, the first few, then ``+N more``."""
    if not connectors:
        return None
    names = sorted(connectors)
    cell = ", ".join(f"{name}:{connectors[name]}" for name in names[:CONNECTORS_SHOWN])
    hidden = len(names) - CONNECTORS_SHOWN
    return cell if hidden <= 0 else f"{cell} +{hidden} more"


def config_cell(cloud_version: str | None, reported: int | None) -> str | None:
    """The cloud's config version for the gateway, and the one the gateway says it runs when
    that differs (``3 (runs 2)``: the gateway has not picked up the newest yet)."""
    if reported is None:
        return cloud_version
    if cloud_version is None:
        return f"runs {reported}"
    return cloud_version if cloud_version == str(reported) else f"{cloud_version} (runs {reported})"


def pick_vehicles(
    vehicles: Sequence[Mapping[str, Any]], alarms: Sequence[Mapping[str, Any]], limit: int
) -> tuple[list[Mapping[str, Any]], list[Mapping[str, Any]]]:
    """(shown, not shown): vehicles with an alarm on them (their id or courier) first, then
    the most recently seen, ``limit`` in all."""
    subjects = {alarm["subject"] for alarm in alarms}

    def alarmed(vehicle: Mapping[str, Any]) -> bool:
        return vehicle["id"] in subjects or vehicle.get("courier_id") in subjects

    by_recency = sorted(
        vehicles, key=lambda v: (datetime.fromisoformat(v["last_seen"]), v["id"]), reverse=True
    )
    ordered = sorted(by_recency, key=alarmed, reverse=True)  # stable: recency within each
    return ordered[:limit], ordered[limit:]


def motion(vehicles: Sequence[Mapping[str, Any]]) -> str:
    """``moving 900, stopped 80`` (and ``no speed N`` for vehicles reporting none)."""
    counts: Counter[str] = Counter()
    for vehicle in vehicles:
        speed = vehicle.get("speed_mps")
        if speed is None:
            counts["no speed"] += 1
        else:
            counts["moving" if speed >= MOVING_MPS else "stopped"] += 1
    parts = [f"moving {counts['moving']}", f"stopped {counts['stopped']}"]
    if counts["no speed"]:
        parts.append(f"no speed {counts['no speed']}")
    return ", ".join(parts)


def render_status(status: dict[str, Any], vehicles_shown: int = VEHICLES_SHOWN) -> str:
    """The text ``retailedge status`` prints for a ``/console/api/status`` answer, with at most
    ``vehicles_shown`` vehicle lines and a summary line for the rest."""
    now = datetime.fromisoformat(status["generated_at"])
    gateways = [
        (
            g["id"],
            "yes" if g["online"] else "NO",
            _ago(g["last_seen"], now),
            g["buffer_records"],
            None if g["oldest_unsent_s"] is None else f"{g['oldest_unsent_s']:.0f} s",
            g["evicted"],
            g["quarantined"],
            None if g["clock_skew_s"] is None else f"{g['clock_skew_s']:+.2f} s",
            g["uplink_state"],
            connectors_cell(g.get("connectors")),
            config_cell(g.get("config_version"), g.get("reported_config_version")),
        )
        for g in status["gateways"]
    ]
    shown, rest = pick_vehicles(status["vehicles"], status["alarms"], vehicles_shown)
    vehicles = [
        (
            v["id"],
            v["kind"],
            f"{v['lat']:.5f},{v['lon']:.5f}",
            None if v["speed_mps"] is None else f"{v['speed_mps'] * 3.6:.1f} km/h",
            _ago(v["last_seen"], now),
            v["courier_id"],
        )
        for v in shown
    ]
    alarms = [
        (a["severity"], a["kind"], a["subject"], a["state"], a["message"]) for a in status["alarms"]
    ]
    orders = sorted(status["orders_by_status"].items())
    parts = [
        f"RetailEdge status at {status['generated_at']}",
        f"\nGateways ({len(gateways)})",
        table(
            [
                "gateway",
                "online",
                "last seen",
                "buffer",
                "oldest",
                "evicted",
                "quar.",
                "skew",
                "uplink",
                "connectors",
                "config",
            ],
            gateways,
        ),
        f"\nVehicles ({len(status['vehicles'])})",
        table(["vehicle", "kind", "position", "speed", "last seen", "courier"], vehicles),
        *([f"… and {len(rest)} more ({motion(rest)})"] if rest else []),
        f"\nAlarms ({len(alarms)} open or acknowledged)",
        table(["severity", "kind", "subject", "state", "message"], alarms),
        "\nOrders by status",
        table(["status", "orders"], orders),
    ]
    return "\n".join(parts)


@click.command("status")
@click.option(
    "--cloud-url",
    default="http://127.0.0.1:8800",
    show_default=True,
    envvar="RETAILEDGE_CLOUD_URL",
    help="The cloud's base URL [env RETAILEDGE_CLOUD_URL].",
)
@click.option(
    "--api-key",
    envvar="RETAILEDGE_API_KEY",
    required=True,
    help="An admin or operator API key [env RETAILEDGE_API_KEY].",
)
@click.option(
    "--vehicles",
    "vehicles_shown",
    type=click.IntRange(0),
    default=VEHICLES_SHOWN,
    show_default=True,
    help="Vehicle lines at most: those with alarms first, then the most recently seen; the "
    "rest are summed up in one line.",
)
@click.option(
    "--json", "as_json", is_flag=True, help="Print the status as one JSON object (every vehicle)."
)
def status_command(cloud_url: str, api_key: str, vehicles_shown: int, as_json: bool) -> None:
    """Gateways, vehicles, alarms and orders by status, from a running cloud."""
    url = cloud_url.rstrip("/") + "/console/api/status"
    try:
        response = httpx.get(url, headers={"Authorization": f"Bearer {api_key}"}, timeout=15.0)
    except httpx.HTTPError as exc:
        raise click.ClickException(f"cloud at {cloud_url} not reachable: {exc}") from None
    if response.status_code != 200:
        try:
            message = response.json()["error"]["message"]
        except (ValueError, KeyError, TypeError):
            message = response.text[:200]
        raise click.ClickException(f"{url}: HTTP {response.status_code}: {message}")
    body: dict[str, Any] = response.json()
    click.echo(json.dumps(body, indent=2) if as_json else render_status(body, vehicles_shown))
