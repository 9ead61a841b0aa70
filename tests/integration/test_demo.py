"""The README's run command, as a user runs it, with a duration so it ends by itself: no
record lost (GPS fixes, scans, the van's chiller readings), and the business chain consistent
end to end (every scanned unit in the stock ledger, every order allocated or failed with a
reason, nothing oversold), the van registered as a reefer courier bound to its chiller probe
and a tracking link made, checked against the cloud's own database afterwards. The chiller's
excursion comes later than this short run: tests/console/test_console_demo.py watches it."""

from __future__ import annotations

import json
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from cloud.console.passwords import PasswordHash, verify_password
from cloud.security import hash_token

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

    # Records: every GPS fix, every scan and every chiller reading the van gateway made was
    # acknowledged and stored.
    positions = summary["produced"]["position"]
    assert positions >= 10  # 5 Hz for at least 5 s, less the van gateway's start-up
    scans = summary["scans_sent"]
    assert scans == summary["scans_accepted"] == 13  # a pallet, a case scan, 11 unit SKUs
    measurements = summary["produced"]["measurement"]
    chiller = summary["chiller"]
    # Each probe answer is a temperature and a humidity; an answer the gateway gave up on
    # before it arrived is no reading.
    assert measurements % 2 == 0 and 4 <= measurements <= 2 * chiller["probe_answers"]
    assert set(summary["produced"]) - {"alarm"} == {"position", "scan", "measurement"}
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

    # The tracking link: printed when made and again in the summary, its token stored (hashed)
    # for an allocated order.
    tracking = summary["tracking"]
    page = re.fullmatch(r"http://127\.0\.0\.1:\d+/t/([A-Za-z0-9_-]{43})", tracking["url"])
    assert page is not None
    line = (
        f"[demo] Tracking page for order {tracking['order_id']} ({tracking['channel']} "
        f"{tracking['external_id']}): {tracking['url']}"
    )
    assert completed.stderr.count(line) == 2

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
        password_row = db.execute(
            "SELECT salt_hex, hash_hex, params FROM user_passwords WHERE user_name = ?",
            ("demo-operator",),
        ).fetchone()
        readings = db.execute(
            "SELECT COUNT(*) FROM measurements WHERE device_id = 'van-01-chiller'"
        ).fetchone()[0]
        courier_row = db.execute(
            "SELECT kind, gps_device_id, compartments FROM couriers WHERE id = 'van-01'"
        ).fetchone()
        linked = db.execute(
            "SELECT o.status, o.external_id FROM tracking_links t "
            "JOIN orders o ON o.id = t.order_id WHERE t.token_hash = ? AND t.order_id = ?",
            (hash_token(page.group(1)), tracking["order_id"]),
        ).fetchall()
    assert readings == measurements
    assert courier_row[:2] == ("reefer_van", "van-01")
    assert [c["sensor_device_id"] for c in json.loads(courier_row[2])] == ["van-01-chiller"]
    assert linked == [("allocated", tracking["external_id"])]
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

    # The van's chiller: in band this early (the drift starts later), its band from the van
    # gateway's config; the van is a reefer courier with that probe as its chiller compartment.
    assert {k: chiller[k] for k in ("device", "zone", "min_c", "max_c", "tolerance_s")} == {
        "device": "van-01-chiller",
        "zone": "chiller",
        "min_c": 0.0,
        "max_c": 4.0,
        "tolerance_s": 20.0,
    }
    assert chiller["last_c"] is not None and 0.0 <= chiller["last_c"] <= 4.0
    assert "[demo] simulated chiller probe van-01-chiller (xy-md02, Modbus RTU slave 1)" in stderr
    assert re.search(r"chiller +\d\.\d °C  measurements +\d+", stderr)
    courier = summary["courier"]
    assert (courier["id"], courier["kind"], courier["skills"]) == (
        "van-01",
        "reefer_van",
        ["chilled"],
    )
    assert [(c["name"], c["sensor_device_id"], c["in_band"]) for c in courier["compartments"]] == [
        ("chiller", "van-01-chiller", True)
    ]
    assert courier["effective_skills"] == ["chilled"]
    assert "[demo] courier van-01 registered (reefer_van" in stderr

    # The console: its URL and the operator's password printed once, in the summary, kept
    # next to the keys (0600), and the password is the one the cloud checks at login.
    console = summary["console"]
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+/console", console["url"])
    assert console["user"] == "demo-operator" and len(console["password"]) >= 10
    line = f"[demo] Console: {console['url']} — user demo-operator, password {console['password']}"
    assert stderr.count(line) == 1
    kept = data_dir / "cloud" / "console.json"
    assert json.loads(kept.read_text()) == {
        "user": "demo-operator",
        "password": console["password"],
    }
    assert kept.stat().st_mode & 0o777 == 0o600
    assert password_row is not None
    assert verify_password(console["password"], PasswordHash(*password_row))
    assert not verify_password(console["password"] + "x", PasswordHash(*password_row))
