"""Screenshots of the console and the tracking page for the README, from the browser tests'
setup: ``python -m tests.console.screenshots [OUTPUT_DIR]`` (default docs/screenshots)."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from tests.console.browser_setup import (
    SENSOR,
    VAN_GPS,
    browser_missing,
    chromium,
    console_demo,
    fleet_of,
    log_in,
    open_tab,
    wait_for,
)

DEFAULT_OUTPUT = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


def take(output: Path) -> list[Path]:
    reason = browser_missing()
    if reason is not None:
        raise SystemExit(reason)
    output.mkdir(parents=True, exist_ok=True)
    saved: list[Path] = []
    with tempfile.TemporaryDirectory() as tmp, console_demo(Path(tmp)) as demo:
        fleet_of(demo.cloud.create_gateway("bulk-gw"), demo.cloud, 300)
        driver = chromium(1400, 860)
        try:
            log_in(driver, demo.cloud.url)
            wait_for(driver, "return document.body.dataset.firstRenderMs", 15)
            wait_for(driver, "return document.getElementById('live').textContent === 'live'", 10)
            driver.execute_script("window.scrollTo(0, 0)")
            wait_for(driver, f"return window.RetailEdgeConsole.vehicles['{VAN_GPS}']", 10)
            demo.feed.excursion()
            wait_for(driver, "return window.RetailEdgeConsole.alarms.length > 0", 10)
            driver.execute_script(f"window.RetailEdgeConsole.selectVehicle('{VAN_GPS}')")
            wait_for(
                driver,
                f"const c = document.querySelector(\"canvas[data-sensor='{SENSOR}']\");"
                "return c && Number(c.dataset.out) > 0;",
                10,
            )
            for path, prepare in (
                (output / "console-map.png", None),
                (output / "console-alarms.png", "alarms"),
                (output / "console-gateways.png", "gateways"),
                (output / "console-orders.png", "orders"),
            ):
                if prepare is not None:
                    open_tab(driver, prepare)
                    rows = f"#{prepare} tbody tr"
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
