"""Screenshots of the console and the tracking page for the README, from the browser tests'
setup: ``python -m tests.console.screenshots [OUTPUT_DIR]`` (default docs/screenshots)."""

from __future__ import annotations

import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tests.cloud.domain_seed import FW_XUHUI
from tests.console.browser_setup import (
    SENSOR,
    VAN_GPS,
    BulkFleet,
    Demo,
    browser_missing,
    chromium,
    console_demo,
    log_in,
    open_tab,
    place_order,
    wait_for,
)

DEFAULT_OUTPUT = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
# Two riders on bikes near Xuhui and a few customers around it, so the plan has several routes.
RIDERS = {"rider-li": (31.1950, 121.4420), "rider-zhou": (31.1830, 121.4300)}
CUSTOMERS = [(31.1960, 121.4460), (31.1800, 121.4290), (31.1925, 121.4330), (31.1850, 121.4450)]


def _riders(demo: Demo) -> None:
    now = datetime.now(UTC)
    with demo.api() as api:
        for rider, (lat, lon) in RIDERS.items():
            courier = {
                "id": rider,
                "kind": "rider",
                "capacity": 6,
                "skills": ["chilled"],
                "shifts": [
                    {
                        "start": (now - timedelta(hours=1)).isoformat(),
                        "end": (now + timedelta(hours=7)).isoformat(),
                    }
                ],
                "home_node_id": FW_XUHUI,
            }
            assert api.post("/api/v1/couriers", json=courier).status_code == 201
            user = api.post("/api/v1/users", json={"name": rider, "role": "rider"})
            assert user.status_code == 201, user.text
            with demo.api(user.json()["api_key"]) as app:
                fix = {"lat": lat, "lon": lon, "time": now.isoformat()}
                response = app.post("/api/v1/rider/position", json=fix)
                assert response.status_code == 200, response.text


def take(output: Path) -> list[Path]:
    reason = browser_missing()
    if reason is not None:
        raise SystemExit(reason)
    output.mkdir(parents=True, exist_ok=True)
    saved: list[Path] = []
    with tempfile.TemporaryDirectory() as tmp, console_demo(Path(tmp)) as demo:
        BulkFleet(demo.cloud, demo.cloud.create_gateway("bulk-gw"), 300).move()
        _riders(demo)
        for i, at in enumerate(CUSTOMERS):
            place_order(demo, f"console-demo-{i + 2}", at)
        driver = chromium(1400, 860)
        try:
            log_in(driver, demo.cloud.url)
            wait_for(driver, "return document.body.dataset.firstRenderMs", 15)
            wait_for(driver, "return document.getElementById('live').textContent === 'live'", 10)
            driver.execute_script("window.scrollTo(0, 0)")
            wait_for(driver, f"return window.RetailEdgeConsole.vehicles['{VAN_GPS}']", 10)
            wait_for(
                driver,
                "const d = window.RetailEdgeConsole.dispatch;"
                "return d && d.couriers.filter(c => c.stops.length).length >= 2;",
                20,
            )
            demo.feed.excursion()
            wait_for(driver, "return window.RetailEdgeConsole.alarms.length > 0", 10)
            driver.execute_script(f"window.RetailEdgeConsole.selectVehicle('{VAN_GPS}')")
            wait_for(
                driver,
                f"const c = document.querySelector(\"canvas[data-sensor='{SENSOR}']\");"
                "return c && Number(c.dataset.out) > 0;",
                10,
            )
            # The whole network on the offline base: Jiading DC to the Pudong coast.
            driver.execute_script(
                "const s = window.RetailEdgeConsole;"
                "s.map.fit([...s.map.nodes.map(n => [n.lat, n.lon]), [31.05, 121.95]]);"
            )
            overview = output / "console-overview.png"
            driver.save_screenshot(str(overview))
            saved.append(overview)
            # Close enough to Xuhui to see each courier's route through its stops.
            driver.execute_script(
                "const s = window.RetailEdgeConsole, points = [];"
                "for (const stops of Object.values(s.map.routes))"
                " for (const p of stops) points.push([p.lat, p.lon]);"
                "for (const v of Object.values(s.vehicles)) if (v.r) points.push([v.lat, v.lon]);"
                "s.map.fit(points);"
            )
            for path, tab, rows in (
                (output / "console-map.png", None, None),
                (output / "console-dispatch.png", "dispatch", "#couriers .courier"),
                (output / "console-alarms.png", "alarms", "#alarms tbody tr"),
                (output / "console-gateways.png", "gateways", "#gateways tbody tr"),
                (output / "console-orders.png", "orders", "#orders tbody tr"),
                (output / "console-stock.png", "stock", "#stock tbody tr"),
            ):
                if tab is not None:
                    open_tab(driver, tab)
                    wait_for(driver, f"return document.querySelectorAll('{rows}').length > 0", 10)
                driver.save_screenshot(str(path))
                saved.append(path)
            driver.set_window_size(390, 760)
            driver.get(f"{demo.cloud.url}/t/{demo.tracking_token}")
            wait_for(driver, "return document.body.dataset.courier", 10)
            path = output / "tracking.png"
            driver.save_screenshot(str(path))
            saved.append(path)
        finally:
            driver.quit()
    return saved


def main() -> None:
    output = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_OUTPUT
    for path in take(output):
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
