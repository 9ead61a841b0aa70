"""``retailedge status``: the console's health picture as terminal tables (or JSON)."""

from __future__ import annotations

import json
from collections.abc import Sequence
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


def _ago(iso: str | None, now: datetime) -> str | None:
    if iso is None:
        return None
    return f"{max(0.0, (now - datetime.fromisoformat(iso)).total_seconds()):.0f} s ago"


def render_status(status: dict[str, Any]) -> str:
    """The text ``retailedge status`` prints for a ``/console/api/status`` answer."""
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
        )
        for g in status["gateways"]
    ]
    vehicles = [
        (
            v["id"],
            v["kind"],
            f"{v['lat']:.5f},{v['lon']:.5f}",
            None if v["speed_mps"] is None else f"{v['speed_mps'] * 3.6:.1f} km/h",
            _ago(v["last_seen"], now),
            v["courier_id"],
        )
        for v in status["vehicles"]
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
            ],
            gateways,
        ),
        f"\nVehicles ({len(vehicles)})",
        table(["vehicle", "kind", "position", "speed", "last seen", "courier"], vehicles),
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
@click.option("--json", "as_json", is_flag=True, help="Print the status as one JSON object.")
def status_command(cloud_url: str, api_key: str, as_json: bool) -> None:
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
    click.echo(json.dumps(body, indent=2) if as_json else render_status(body))
