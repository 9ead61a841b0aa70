"""The console and the tracking page in a real headless Chromium (Debian's, via Debian's
chromedriver) against a running cloud: log in, vehicles move, an excursion shows on the chart
and in the alarms, an operator acknowledges it, a customer follows the tracking link."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import services_required
from tests.console.browser_setup import (
    SENSOR,
    VAN_GPS,
    Demo,
    browser_missing,
    chromium,
    console_demo,
    fleet_of,
    log_in,
    open_tab,
    vehicle_position,
    wait_for,
)

pytestmark = pytest.mark.integration


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[Demo]:
    reason = browser_missing()
    if reason is not None:
        if services_required():
            pytest.fail(f"RETAILEDGE_REQUIRE_SERVICES=1 but {reason}")
        pytest.skip(reason)
    with console_demo(tmp_path) as running:
        yield running


@pytest.fixture
def browser(demo: Demo) -> Iterator[Any]:
    """Quits before the cloud stops (its event stream would keep a connection open)."""
    driver = chromium()
    try:
        yield driver
    finally:
        driver.quit()


def test_operator_and_customer_in_a_real_browser(
    browser: Any, demo: Demo, tmp_path: Path, record_property: Any
) -> None:
    from selenium.webdriver.common.by import By

    url = demo.cloud.url
    log_in(browser, url)
    assert browser.current_url == f"{url}/console"
    session = browser.get_cookie("retailedge_session")
    assert session is not None and session["httpOnly"] and session["sameSite"] == "Strict"
    assert browser.execute_script("return document.cookie").count("retailedge_session") == 0
    wait_for(browser, "return document.getElementById('live').textContent === 'live'", 10)
    first_render_ms = float(wait_for(browser, "return document.body.dataset.firstRenderMs", 10))
    record_property("first_render_ms_1_vehicle", first_render_ms)

    # Vehicles move: the van's position changes between two reads (pushed over SSE).
    first = wait_for(browser, f"return window.RetailEdgeConsole.vehicles['{VAN_GPS}']", 10)
    before = (first["lat"], first["lon"])
    wait_for(
        browser,
        f"const v = window.RetailEdgeConsole.vehicles['{VAN_GPS}'];"
        f"return v.lat !== {before[0]} || v.lon !== {before[1]};",
        10,
    )
    assert vehicle_position(browser, VAN_GPS) != before
    assert browser.execute_script("return window.RetailEdgeConsole.deltas") >= 1
    assert browser.find_element(By.ID, "map-count").text == "1 vehicles"

    # The van's panel: speed, its task, the chiller chart in band.
    browser.execute_script(f"window.RetailEdgeConsole.selectVehicle('{VAN_GPS}')")
    wait_for(browser, "return document.getElementById('vehicle-id')", 5)
    chart = browser.find_element(By.CSS_SELECTOR, f"canvas[data-sensor='{SENSOR}']")
    assert int(chart.get_attribute("data-points")) > 0
    assert chart.get_attribute("data-out") == "0"
    assert demo.order_id in browser.find_element(By.ID, "vehicle-tasks").text
    assert "km/h" in browser.find_element(By.ID, "vehicle-speed").text
    browser.save_screenshot(str(tmp_path / "console-map.png"))

    # The chiller warms up: the gateway's alarm arrives in the alarms list and on the chart.
    demo.feed.excursion()
    key = wait_for(
        browser,
        "const a = window.RetailEdgeConsole.alarms.find(a => a.kind === 'coldchain.excursion');"
        "return a ? a.key : null;",
        10,
    )
    wait_for(browser, "return window.RetailEdgeConsole.alarms.length > 0", 5)
    browser.execute_script(f"window.RetailEdgeConsole.selectVehicle('{VAN_GPS}')")
    wait_for(
        browser,
        f"const c = document.querySelector(\"canvas[data-sensor='{SENSOR}']\");"
        "return c && Number(c.dataset.out) > 0;",
        10,
    )
    marks = browser.find_elements(By.CSS_SELECTOR, f"li.excursion[data-key='{key}']")
    assert len(marks) == 1 and "open" in marks[0].text

    # Acknowledge it with a comment.
    open_tab(browser, "alarms")
    row = browser.find_element(By.CSS_SELECTOR, f"#alarms tr[data-key='{key}']")
    row.find_element(By.CSS_SELECTOR, "button.ack").click()  # no comment: refused in the page
    assert row.find_element(By.CSS_SELECTOR, "td.state").text == "open"
    row.find_element(By.CSS_SELECTOR, "input.comment").send_keys("reefer door closed, goods OK")
    row.find_element(By.CSS_SELECTOR, "button.ack").click()
    wait_for(
        browser,
        f"const r = document.querySelector(\"#alarms tr[data-key='{key}'] td.state\");"
        "return r && r.textContent.startsWith('acknowledged');",
        10,
    )
    state = browser.find_element(By.CSS_SELECTOR, f"#alarms tr[data-key='{key}'] td.state").text
    assert state == "acknowledged: reefer door closed, goods OK (ops)"
    browser.save_screenshot(str(tmp_path / "console-alarms.png"))

    # 1,000 vehicles: reload and time the first render of the map.
    fleet_of(demo.cloud.create_gateway("bulk-gw"), demo.cloud, 999)
    browser.execute_script("window.beforeReload = true; location.hash = '#map';")
    browser.execute_cdp_cmd("Network.clearBrowserCache", {})  # a cold load, like the first
    browser.refresh()
    assert browser.execute_script("return window.beforeReload === undefined")
    wait_for(
        browser,
        "return window.RetailEdgeConsole.vehicles && "
        "Object.keys(window.RetailEdgeConsole.vehicles).length === 1000",
        15,
    )
    ms = float(wait_for(browser, "return document.body.dataset.firstRenderMs", 10))
    record_property("first_render_ms_1000_vehicles", ms)
    print(f"\nconsole first render: {first_render_ms:.0f} ms (1 vehicle), {ms:.0f} ms (1,000)")
    assert browser.find_element(By.ID, "map-count").text == "1000 vehicles"

    # The customer's tracking link, on a phone-sized window.
    browser.set_window_size(390, 844)
    browser.get(f"{url}/t/{demo.tracking_token}")
    assert browser.find_element(By.ID, "status").text == "On its way"
    wait_for(browser, "return document.body.dataset.courier", 10)
    lat, lon = (
        float(x) for x in browser.execute_script("return document.body.dataset.courier").split(",")
    )
    assert abs(lat - 31.22) < 0.05 and abs(lon - 121.45) < 0.05
    assert round(lat, 3) == lat and round(lon, 3) == lon  # ~100 m, not the exact fix
    assert browser.find_element(By.ID, "track-map").is_displayed()
    assert "ops" not in browser.page_source and demo.order_id not in browser.page_source
    browser.save_screenshot(str(tmp_path / "tracking.png"))
    browser.get(f"{url}/t/{'x' * 43}")
    assert "unknown or the delivery has ended" in browser.page_source
