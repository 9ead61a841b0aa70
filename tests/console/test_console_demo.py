"""``retailedge demo`` as a user runs it, watched in a real headless Chromium (Debian's, through
Debian's chromedriver): log in with the login the demo keeps in ``cloud/console.json``; van-01
moves on the map; a click on its dot opens its panel with the chiller chart in band; the planned
route is on the map and in the Dispatch tab; the chiller drifts out of band and the excursion
the van gateway raises appears on the chart and in the alarms; it is acknowledged with a
comment; the customer opens the tracking link the demo printed and sees the order's status.
Then the demo is stopped with Ctrl-C (SIGINT), ends with status 0 and its summary counts the
alarm and loses nothing."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import services_required
from tests.console.browser_setup import (
    browser_missing,
    chromium,
    log_in,
    open_tab,
    retrying,
    vehicle_position,
    wait_for,
)

pytestmark = pytest.mark.integration

VAN = "van-01"
CHILLER = "van-01-chiller"
SUBJECT = f"chiller/{CHILLER}"
START_TIMEOUT_S = 90.0
# The chiller starts warming 20 s after its bus starts, leaves the 0–4 °C band about 15 s later
# and the gateway raises the alarm 20 s after that: about 55 s, more on a busy machine.
EXCURSION_TIMEOUT_S = 120.0
STOP_TIMEOUT_S = 90.0
COMMENT = "reefer door found open at the last drop, closed; goods checked"
TRACK_WORDS = {"allocated": "Being prepared", "picking": "Being picked", "dispatched": "On its way"}


@dataclass
class RunningDemo:
    process: subprocess.Popen[bytes]
    data_dir: Path
    stdout: Path
    stderr: Path

    def output(self) -> str:
        return self.stderr.read_text(encoding="utf-8", errors="replace")

    def line(self, pattern: str, timeout_s: float) -> re.Match[str]:
        """The first line of the demo's output matching ``pattern``, waiting for it."""
        deadline = time.monotonic() + timeout_s
        while True:
            found = re.search(pattern, self.output(), re.MULTILINE)
            if found is not None:
                return found
            if self.process.poll() is not None:
                raise AssertionError(
                    f"the demo exited ({self.process.returncode}) before printing {pattern!r}:\n"
                    + self.output()[-3000:]
                )
            if time.monotonic() > deadline:
                raise AssertionError(f"no {pattern!r} after {timeout_s:.0f} s")
            time.sleep(0.2)

    def stop(self) -> int:
        """Ctrl-C, as a user stops it; its exit status."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
        return self.process.wait(timeout=STOP_TIMEOUT_S)


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[RunningDemo]:
    reason = browser_missing()
    if reason is not None:
        if services_required():
            pytest.fail(f"RETAILEDGE_REQUIRE_SERVICES=1 but {reason}")
        pytest.skip(reason)
    data_dir = tmp_path / "demo"
    stdout, stderr = tmp_path / "demo.out", tmp_path / "demo.err"
    argv = [sys.executable, "-m", "retailedge", "demo", "--json", "--data-dir", str(data_dir)]
    with stdout.open("wb") as out, stderr.open("wb") as err:
        process = subprocess.Popen([*argv, "--port", "0"], stdout=out, stderr=err)
    running = RunningDemo(process, data_dir, stdout, stderr)
    try:
        yield running
    finally:
        if process.poll() is None:
            try:
                running.stop()
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@pytest.fixture
def browser(demo: RunningDemo) -> Iterator[Any]:
    """Quits before the demo stops (its event stream would keep the cloud waiting)."""
    driver = chromium()
    try:
        yield driver
    finally:
        driver.quit()


def test_the_demo_in_a_real_browser(demo: RunningDemo, browser: Any, record_property: Any) -> None:
    started = time.monotonic()
    url = demo.line(r"^\[demo\] Console: (http://127\.0\.0\.1:\d+)/console — ", START_TIMEOUT_S)[1]
    login = json.loads((demo.data_dir / "cloud" / "console.json").read_text())
    assert login["user"] == "demo-operator"
    log_in(browser, url, login["user"], login["password"])
    assert browser.current_url == f"{url}/console"
    wait_for(browser, "return document.getElementById('live').textContent === 'live'", 10)

    the_van_moves_and_its_panel_charts_the_chiller_in_band(browser)
    key = the_excursion_appears_on_the_chart_and_in_the_alarms(browser)
    excursion_s = time.monotonic() - started
    record_property("excursion_seen_s", round(excursion_s, 1))
    the_operator_acknowledges_it_with_a_comment(browser, key)
    errors = [
        entry["message"]
        for entry in browser.get_log("browser")
        if entry["level"] == "SEVERE" and "favicon.ico" not in entry["message"]
    ]
    assert errors == []  # no script error, no blocked or failed request
    the_customer_follows_the_tracking_link(browser, demo, url)
    browser.quit()

    the_demo_stops_on_ctrl_c_and_lost_nothing(demo)
    total_s = time.monotonic() - started
    record_property("demo_browser_test_s", round(total_s, 1))
    print(
        f"demo in a browser: excursion seen {excursion_s:.1f} s after the demo started, "
        f"summary after {total_s:.1f} s"
    )


def the_van_moves_and_its_panel_charts_the_chiller_in_band(browser: Any) -> None:
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By

    first = wait_for(browser, f"return window.RetailEdgeConsole.vehicles['{VAN}']", 30)
    before = (first["lat"], first["lon"])
    wait_for(
        browser,
        f"const v = window.RetailEdgeConsole.vehicles['{VAN}'];"
        f"return v.lat !== {before[0]} || v.lon !== {before[1]};",
        15,
    )
    assert vehicle_position(browser, VAN) != before

    # A real click on the van's dot, where the map drew it.
    canvas = browser.find_element(By.ID, "map")
    x, y = browser.execute_script(
        "const s = window.RetailEdgeConsole, v = s.vehicles[arguments[0]];"
        "return s.map.toScreen(v.lat, v.lon);",
        VAN,
    )
    size = canvas.size
    assert 0 < x < size["width"] and 0 < y < size["height"], (x, y, size)
    ActionChains(browser).move_to_element_with_offset(
        canvas, round(x - size["width"] / 2), round(y - size["height"] / 2)
    ).click().perform()
    wait_for(browser, f"return document.getElementById('vehicle-id')?.textContent === '{VAN}'", 5)
    # The panel is drawn again each time the van moves: read it in one script, not element by
    # element.
    wait_for(
        browser,
        "return document.querySelector('#vehicle p')?.textContent"
        " === 'reefer_van · courier van-01'",
        10,
    )
    chart = wait_for(
        browser,
        f"const c = document.querySelector(\"canvas[data-sensor='{CHILLER}']\");"
        "return c && Number(c.dataset.points) > 0 ? {...c.dataset} : null;",
        15,
    )
    assert chart["out"] == "0", chart  # in band before the drift

    # Dispatch planned the demo's orders onto the van: its route on the map, tasks in the panel.
    stops = wait_for(
        browser, f"const r = window.RetailEdgeConsole.map.routes['{VAN}']; return r && r.length", 30
    )
    assert stops >= 2  # a pickup and a drop at least
    wait_for(
        browser,
        "const t = document.getElementById('vehicle-tasks');"
        "return t && t.textContent.includes('@fw-sh-xuhui');",
        15,
    )
    # ... and in the Dispatch tab: the van's card with its stops in planned order.
    open_tab(browser, "dispatch")
    card = f".courier[data-id='{VAN}']"
    wait_for(browser, f"return document.querySelector(\"{card} tr[data-kind='dropoff']\")", 15)
    load = browser.execute_script(f'return document.querySelector("{card} .load").textContent')
    assert re.fullmatch(r"\d+/60", load), load
    open_tab(browser, "map")
    shown = browser.execute_script("return document.getElementById('vehicle-id').textContent")
    assert shown == VAN  # the panel stays open


def the_excursion_appears_on_the_chart_and_in_the_alarms(browser: Any) -> str:

    key = wait_for(
        browser,
        "const a = window.RetailEdgeConsole.alarms.find(a =>"
        f" a.kind === 'coldchain.excursion' && a.subject === '{SUBJECT}');"
        "return a ? a.key : null;",
        EXCURSION_TIMEOUT_S,
    )
    # The open panel shows it without another click: readings out of band, the alarm's span.
    wait_for(
        browser,
        f"const c = document.querySelector(\"canvas[data-sensor='{CHILLER}']\");"
        "return c && Number(c.dataset.out) > 0 && "
        f"document.querySelector(\"li.excursion[data-key='{key}']\");",
        15,
    )
    marks = browser.execute_script(
        'return [...document.querySelectorAll("li.excursion[data-key=\'" + arguments[0]'
        ' + "\']")].map(li => li.textContent);',
        key,
    )
    assert len(marks) == 1 and marks[0].startswith("coldchain.excursion ") and "open" in marks[0]
    return str(key)


def the_operator_acknowledges_it_with_a_comment(browser: Any, key: str) -> None:
    from selenium.webdriver.common.by import By

    open_tab(browser, "alarms")
    row = f"#alarms tr[data-key='{key}']"
    wait_for(browser, f'return document.querySelector("{row}")', 10)

    def state() -> str:
        return str(retrying(lambda: browser.find_element(By.CSS_SELECTOR, f"{row} td.state").text))

    def typed() -> bool:
        box = browser.find_element(By.CSS_SELECTOR, f"{row} input.comment")
        box.clear()
        box.send_keys(COMMENT)
        return bool(box.get_attribute("value") == COMMENT)

    assert state() == "open"
    assert "critical" in retrying(lambda: browser.find_element(By.CSS_SELECTOR, row).text)
    assert retrying(typed)
    retrying(lambda: browser.find_element(By.CSS_SELECTOR, f"{row} button.ack").click())
    wait_for(
        browser,
        f'const r = document.querySelector("{row} td.state");'
        "return r && r.textContent.startsWith('acknowledged');",
        10,
    )
    assert state() == f"acknowledged: {COMMENT} (demo-operator)"
    open_tab(browser, "map")


def the_customer_follows_the_tracking_link(browser: Any, demo: RunningDemo, url: str) -> None:
    from selenium.webdriver.common.by import By

    found = demo.line(r"^\[demo\] Tracking page for order (\S+) \((\S+) (\S+)\): (\S+)$", 5)
    order_id, page = found[1], found[4]
    assert page.startswith(f"{url}/t/")
    operator = json.loads((demo.data_dir / "cloud" / "operator.json").read_text())
    headers = {"Authorization": f"Bearer {operator['api_key']}"}
    order = httpx.get(f"{url}/api/v1/orders/{order_id}", headers=headers, timeout=10.0).json()

    browser.set_window_size(390, 844)
    browser.get(page)
    shown = wait_for(browser, "return document.getElementById('status').dataset.status", 10)
    assert shown == order["status"]
    assert browser.find_element(By.ID, "status").text == TRACK_WORDS[order["status"]]
    assert order_id not in browser.page_source and "demo-operator" not in browser.page_source


def the_demo_stops_on_ctrl_c_and_lost_nothing(demo: RunningDemo) -> None:
    assert demo.stop() == 0, demo.output()[-3000:]
    summary = json.loads(demo.stdout.read_text().strip().splitlines()[-1])
    assert summary["lost"] == 0
    assert summary["order_flow"] == "completed"
    produced = summary["produced"]
    assert produced["alarm"] >= 1 and produced["measurement"] >= 20
    assert summary["acknowledged"] == produced
    assert {k: v for k, v in summary["stored"].items() if v} == produced
    chiller = summary["chiller"]
    assert chiller["alarms_raised"] >= 1 and chiller["last_c"] > chiller["max_c"]
    # Out of band, the van lost its chilled skill: dispatch plans no chilled order onto it.
    courier = summary["courier"]
    assert courier["skills"] == ["chilled"] and courier["effective_skills"] == []
    assert [c["in_band"] for c in courier["compartments"]] == [False]
    output = demo.output()
    assert "[demo] coldchain.excursion raised by the van gateway for chiller/van-01-chiller" in (
        output
    )
