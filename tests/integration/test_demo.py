"""The README's run command, as a user runs it, with a duration so it ends by itself: no
record lost, and the business chain consistent end to end (every scanned unit in the stock
ledger, every order allocated or failed with a reason, nothing oversold), checked against the
cloud's own database afterwards."""

from __future__ import annotations

import json
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

ORDERS = 9
NODE = "fw-sh-xuhui"


def test_demo_receives_stock_allocates_orders_and_loses_nothing(tmp_path: Path) -> None:
    data_dir = tmp_path / "demo"
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "retailedge",
            "demo",
            "--duration",
            "5",
            "--json",
            "--data-dir",
            str(data_dir),
            "--port",
            "0",
            "--gps-rate",
            "5",
            "--orders",
            str(ORDERS),
        ],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    summary = json.loads(completed.stdout.strip().splitlines()[-1])

    # Records: every GPS fix and every scan produced was acknowledged and stored.
    positions = summary["produced"]["position"]
    assert positions >= 10  # 5 Hz for at least 5 s, less the van gateway's start-up
    scans = summary["scans_sent"]
    assert scans == summary["scans_accepted"] == 13  # a pallet, a case scan, 11 unit SKUs
    assert summary["produced"] == {"position": positions, "scan": scans}
    assert summary["acknowledged"] == summary["produced"]
    assert {k: v for k, v in summary["stored"].items() if v} == summary["produced"]
    assert summary["lost"] == 0

    # Stock: what the handheld scanned is what the ledger received.
    assert summary["order_flow"] == "completed"
    assert summary["node"] == NODE
    assert summary["units_scanned"] > 1000  # the pallet alone is 984 units
    assert summary["stock_units_received"] == summary["units_scanned"]
    assert summary["stock_exceptions"] == 0

    # Orders: each allocated or failed with a reason; reservations match; nothing oversold.
    assert summary["orders_placed"] == ORDERS
    assert summary["orders_allocated"] >= 1
    assert summary["orders_allocated"] + summary["orders_failed"] == ORDERS
    assert len(summary["failed_orders"]) == summary["orders_failed"]
    for failed in summary["failed_orders"]:
        assert failed["reason"].startswith("no node can fulfil the basket"), failed
    assert summary["units_reserved"] == summary["units_allocated"] > 0
    assert summary["oversold"] == 0
    why = summary["allocation_why"]
    assert why["status"] == "allocated"
    assert why["nodes"] == [NODE]
    assert why["summary"].startswith(f"{NODE} (front_warehouse, ")
    assert {c["node_id"] for c in why["candidates"]} >= {NODE}

    # The cloud's database agrees: balances equal the ledger sums, on-hand at the node is
    # what was received, reservations are the allocated units, and none exceeds on-hand.
    with sqlite3.connect(data_dir / "cloud" / "cloud.db") as db:
        levels = db.execute(
            "SELECT node_id, sku_id, on_hand, reserved, on_hold FROM stock_levels"
        ).fetchall()
        sums = {
            (node, sku): (on_hand, reserved, on_hold)
            for node, sku, on_hand, reserved, on_hold in db.execute(
                "SELECT node_id, sku_id, SUM(delta_on_hand), SUM(delta_reserved), "
                "SUM(delta_on_hold) FROM stock_movements GROUP BY node_id, sku_id"
            )
        }
        statuses = dict(db.execute("SELECT status, COUNT(*) FROM orders GROUP BY status"))
    assert {(n, s): (h, r, o) for n, s, h, r, o in levels} == sums
    assert sum(h for n, _, h, _, _ in levels if n == NODE) == summary["stock_units_received"]
    assert sum(r for _, _, _, r, _ in levels) == summary["units_allocated"]
    assert all(r + o <= h for _, _, h, r, o in levels)
    assert statuses == {
        k: v
        for k, v in {
            "allocated": summary["orders_allocated"],
            "failed": summary["orders_failed"],
        }.items()
        if v
    }

    stderr = completed.stderr
    assert "[demo] cloud on http://127.0.0.1:" in stderr
    assert "stored positions" in stderr
    assert "[demo] catalogue imported from " in stderr
    assert f"[demo] gateway wh-01 installed at {NODE}" in stderr
    assert "receive scans to the warehouse gateway" in stderr
    assert "checked against the gateway's catalogue" in stderr
    assert "units received (gateway buffer" in stderr
    assert len(re.findall(r"^\[demo\] order \S+ \(", stderr, re.MULTILINE)) == ORDERS
    assert "[demo] order flow done: " in stderr
    assert "oversold 0" in stderr
    assert (data_dir / "logs" / "gateway-van-01.log").exists()
    assert (data_dir / "cloud" / "channel-meituan.json").exists()
