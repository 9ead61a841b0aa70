"""A running cloud with a seeded network, a reefer van whose gateway posts positions and
temperatures, an order with a tracking link, and a headless Debian Chromium to look at it.

Shared by the browser tests and ``python -m tests.console.screenshots``."""

from __future__ import annotations

import asyncio
import math
import os
import random
import shutil
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from cloud.console.sessions import set_password
from cloud.db import Database
from cloud.services.users import create_user
from firmware_bridge.records import (
    Alarm,
    FixQuality,
    Measurement,
    Position,
    Quantity,
    Record,
    Severity,
    Unit,
)
from retailedge.processes import free_port
from simulators.routes import SHANGHAI
from tests.cloud.allocation.helpers import XUHUI_HOME, app_order
from tests.cloud.cloud_helpers import batch, wire
from tests.cloud.domain_seed import DC, FW_XUHUI, MILK, SeedNetwork, seed_network
from tests.console.edge_health import gps_snapshots, health
from tests.integration.cluster import Cloud, start_cloud, stop_gently, wait_until

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
VAN = "van-7"
VAN_GPS = "van-7-gps"
SENSOR = "van-7-chiller"
GATEWAY = "van-7-gw"
OPERATOR_PASSWORD = "ops console password"


def retrying(action: Callable[[], Any], attempts: int = 20) -> Any:
    """The stream re-renders tables when their data changes: find the element again then."""
    from selenium.common.exceptions import StaleElementReferenceException

    for _ in range(attempts - 1):
        try:
            return action()
        except StaleElementReferenceException:
            time.sleep(0.05)
    return action()


def browser_missing() -> str | None:
    """Why the browser tests cannot run here, or None."""
    for path in (CHROMIUM, CHROMEDRIVER):
        if not path.exists() and shutil.which(path.name) is None:
            return f"{path} is missing: apt-get install chromium chromium-driver"
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed: pip install -e '.[dev]'"
    return None


@dataclass
class VanFeed:
    """The van's gateway: every 0.25 s a GPS fix along the Shanghai loop and a chiller reading;
    :meth:`excursion` makes the next readings warm and reports the gateway's alarm."""

    cloud: Cloud
    token: str
    connectors: dict[str, dict[str, Any]]
    seq: int = 0
    warm: threading.Event = field(default_factory=threading.Event)
    alarm_sent: bool = False
    stop: threading.Event = field(default_factory=threading.Event)
    errors: list[str] = field(default_factory=list)
    thread: threading.Thread | None = None

    def start(self) -> None:
        self.thread = threading.Thread(target=self._run, name="van-feed", daemon=True)
        self.thread.start()

    def excursion(self) -> None:
        self.warm.set()

    def close(self) -> None:
        self.stop.set()
        if self.thread is not None:
            self.thread.join(timeout=5)

    def _run(self) -> None:
        walker = SHANGHAI.walker(12.0, seed=7, traffic=False)
        headers = {"Authorization": f"Bearer {self.token}"}
        with httpx.Client(base_url=self.cloud.url, headers=headers, timeout=10) as client:
            tick = 0
            while not self.stop.is_set():
                now = datetime.now(UTC)
                state = walker.at(tick * 2.0)
                records: list[Record] = [
                    Position(
                        VAN_GPS,
                        now,
                        state.lat,
                        state.lon,
                        state.speed_mps,
                        state.course_deg,
                        FixQuality.GPS,
                        10,
                        0.8,
                        8.0,
                    ),
                    Measurement(
                        SENSOR, now, Quantity.TEMPERATURE, self._celsius(tick), Unit.CELSIUS
                    ),
                ]
                if self.warm.is_set() and not self.alarm_sent:
                    records.append(
                        Alarm(
                            rule="coldchain.excursion",
                            subject=f"chiller/{SENSOR}",
                            severity=Severity.CRITICAL,
                            started_at=now - timedelta(seconds=1),
                            ended_at=None,
                            evidence={"device": SENSOR, "band": "0..4 °C", "peak": {"value": 9.5}},
                        )
                    )
                    self.alarm_sent = True
                first = self.seq + 1
                wired = [wire(r, first + i) for i, r in enumerate(records)]
                self.seq += len(records)
                body = batch(GATEWAY, first, self.seq, wired, sent_at=now, health=self._health())
                try:
                    response = client.post("/api/v1/ingest", json=body)
                    if response.status_code != 200:
                        self.errors.append(f"{response.status_code} {response.text[:200]}")
                except httpx.HTTPError as exc:
                    self.errors.append(repr(exc))
                tick += 1
                self.stop.wait(0.25)

    def _health(self) -> dict[str, Any]:
        """What a van gateway reports about itself, built by edge/health.py from real
        connector snapshots."""
        return health(GATEWAY, records=2, oldest_age_s=0.3, connectors=self.connectors)

    def _celsius(self, tick: int) -> float:
        if self.warm.is_set():
            return 9.5
        return round(2.5 + (tick % 8) * 0.15, 2)


class _Patient(httpx.AsyncClient):
    """Retries a POST/PUT answered 422 "create it first" (the previous write not committed)."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self._client = client

    async def post(self, url: Any, **kwargs: Any) -> httpx.Response:  # type: ignore[override]
        return await self._retry(self._client.post, url, **kwargs)

    async def put(self, url: Any, **kwargs: Any) -> httpx.Response:  # type: ignore[override]
        return await self._retry(self._client.put, url, **kwargs)

    async def get(self, url: Any, **kwargs: Any) -> httpx.Response:  # type: ignore[override]
        return await self._client.get(url, **kwargs)

    async def _retry(self, send: Any, url: Any, **kwargs: Any) -> httpx.Response:
        for _ in range(50):
            response: httpx.Response = await send(url, **kwargs)
            if response.status_code not in (404, 422) or "first" not in response.text:
                return response
            await asyncio.sleep(0.05)
        return response


@dataclass
class Demo:
    cloud: Cloud
    admin_key: str
    channel_key: str
    feed: VanFeed
    order_id: str
    tracking_token: str

    def api(self, key: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {key or self.admin_key}"}
        return httpx.Client(base_url=self.cloud.url, headers=headers, timeout=10.0)


def _seed(cloud: Cloud, admin_key: str) -> str:
    """The seed network, milk at the DC and Xuhui, the reefer van; the app channel's key.

    Each catalogue step is retried while the previous one is not visible yet: the API's
    session commits after the response is sent (FastAPI's request-scoped yield dependency),
    so against a real server the next request can race that commit."""

    async def seed() -> SeedNetwork:
        async with httpx.AsyncClient(base_url=cloud.url, timeout=30.0) as client:
            return await seed_network(_Patient(client), admin_key, warehouse_user=None)

    network = asyncio.run(seed())
    now = datetime.now(UTC)
    with httpx.Client(
        base_url=cloud.url, headers={"Authorization": f"Bearer {admin_key}"}, timeout=10.0
    ) as api:
        for node in (DC, FW_XUHUI):
            response = api.post(
                "/api/v1/stock/movements",
                json={
                    "node_id": node,
                    "sku_id": MILK,
                    "kind": "receive",
                    "quantity": 20,
                    "idempotency_key": f"console-demo:{node}",
                },
            )
            assert response.status_code == 201, response.text
        courier = {
            "id": VAN,
            "kind": "reefer_van",
            "capacity": 40,
            "skills": ["chilled"],
            "shifts": [
                {
                    "start": (now - timedelta(hours=2)).isoformat(),
                    "end": (now + timedelta(hours=6)).isoformat(),
                }
            ],
            "home_node_id": FW_XUHUI,
            "gps_device_id": VAN_GPS,
            "compartments": [
                {
                    "name": "chiller",
                    "sensor_device_id": SENSOR,
                    "temperature_class": "chilled",
                    "min_c": 0.0,
                    "max_c": 4.0,
                }
            ],
        }
        response = api.post("/api/v1/couriers", json=courier)
        assert response.status_code == 201, response.text
    return network.channel_tokens["app"]


def _order_with_link(cloud: Cloud, admin_key: str, channel_key: str) -> tuple[str, str]:
    with httpx.Client(
        base_url=cloud.url, headers={"Authorization": f"Bearer {admin_key}"}, timeout=10.0
    ) as api:
        response = api.post(
            "/api/v1/orders",
            params={"channel": "app"},
            json=app_order("console-demo-1", [(MILK, 2)], at=XUHUI_HOME),
            headers={"Authorization": f"Bearer {channel_key}"},
        )
        assert response.status_code in (200, 201, 202), response.text
        order_id: str = response.json()["order_id"]
        assert response.json()["status"] == "allocated", response.text
        link = api.post(f"/api/v1/orders/{order_id}/tracking-link")
        for _ in range(50):  # the order's commit may trail its answer (see _seed)
            if link.status_code != 404:
                break
            time.sleep(0.05)
            link = api.post(f"/api/v1/orders/{order_id}/tracking-link")
        assert link.status_code == 201, link.text
        token: str = link.json()["token"]
    return order_id, token


async def _users(database_url: str) -> tuple[str, str]:
    """An admin key (seeding), the van's rider key, and the operator's console password."""
    database = Database(database_url)
    now = datetime.now(UTC)
    try:
        async with database.sessions.begin() as session:
            admin = await create_user(session=session, name="root", role="admin", now=now)
            await set_password(
                session=session, user_name="ops", password=OPERATOR_PASSWORD, now=now
            )
        return admin.api_key, ""
    finally:
        await database.dispose()


async def _rider_key(database_url: str) -> str:
    database = Database(database_url)
    try:
        async with database.sessions.begin() as session:
            created = await create_user(
                session=session, name=VAN, role="rider", now=datetime.now(UTC)
            )
        return created.api_key
    finally:
        await database.dispose()


def _pick_up(cloud: Cloud, rider_key: str) -> None:
    """Wait for the dispatch loop to give the order's task to the van; accept and load it."""
    headers = {"Authorization": f"Bearer {rider_key}"}
    with httpx.Client(base_url=cloud.url, headers=headers, timeout=10.0) as rider:
        tasks: list[dict[str, Any]] = []

        def assigned() -> bool:
            tasks[:] = rider.get("/api/v1/rider/tasks").json()
            return bool(tasks)

        wait_until(assigned, timeout_s=20, what="the dispatch loop to assign the van a task")
        task_id = tasks[0]["id"]
        for step in ("accept", "arrived", "picked-up"):
            response = rider.post(f"/api/v1/rider/tasks/{task_id}/{step}")
            assert response.status_code == 200, f"{step}: {response.text}"


@contextmanager
def _environment(changes: Mapping[str, str]) -> Iterator[None]:
    previous = {name: os.environ.get(name) for name in changes}
    os.environ.update(changes)
    try:
        yield
    finally:
        for name, value in previous.items():
            if value is None:
                os.environ.pop(name)
            else:
                os.environ[name] = value


@contextmanager
def console_demo(tmp: Path, env: Mapping[str, str] | None = None) -> Iterator[Demo]:
    """The running cloud with everything above (``env``: more settings for the cloud, e.g.
    ``RETAILEDGE_CONSOLE_TILE_URL``); stops it on exit."""
    with _environment({"RETAILEDGE_DISPATCH_INTERVAL_S": "1", **(env or {})}):
        cloud = start_cloud(tmp, free_port())
    database_url = f"sqlite+aiosqlite:///{(cloud.data_dir / 'cloud.db').resolve()}"
    feed: VanFeed | None = None
    try:
        admin_key, _ = asyncio.run(_users(database_url))
        channel_key = _seed(cloud, admin_key)
        rider_key = asyncio.run(_rider_key(database_url))
        connectors = asyncio.run(gps_snapshots(tmp))
        feed = VanFeed(cloud, cloud.create_gateway(GATEWAY), connectors)
        feed.start()
        order_id, token = _order_with_link(cloud, admin_key, channel_key)
        _pick_up(cloud, rider_key)
        yield Demo(cloud, admin_key, channel_key, feed, order_id, token)
    finally:
        if feed is not None:
            feed.close()
        stop_gently(cloud.child)


def place_order(demo: Demo, external_id: str, at: tuple[float, float] = XUHUI_HOME) -> str:
    """One more app order of milk for a customer near Xuhui; its id."""
    with demo.api(demo.channel_key) as api:
        response = api.post(
            "/api/v1/orders",
            params={"channel": "app"},
            json=app_order(external_id, [(MILK, 1)], at=at),
        )
    assert response.status_code in (200, 201, 202), response.text
    order_id: str = response.json()["order_id"]
    return order_id


def chromium(width: int = 1400, height: int = 900) -> Any:
    """A headless Debian Chromium driven through Debian's chromedriver (no downloads)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--disable-gpu",
        f"--window-size={width},{height}",
        "--force-device-scale-factor=1",
    ):
        options.add_argument(argument)
    service = Service(executable_path=str(CHROMEDRIVER), log_output=os.devnull)
    driver = webdriver.Chrome(service=service, options=options)
    driver.set_page_load_timeout(20)
    return driver


def log_in(driver: Any, url: str, name: str = "ops", password: str = OPERATOR_PASSWORD) -> None:
    from selenium.webdriver.common.by import By

    driver.get(f"{url}/console/login")
    driver.find_element(By.ID, "name").send_keys(name)
    driver.find_element(By.ID, "password").send_keys(password)
    driver.find_element(By.ID, "login").click()
    wait_for(driver, "return document.body.dataset.role || null", 10)


def wait_for(driver: Any, script: str, timeout_s: float) -> Any:
    """Poll a JS expression until it is truthy; its value."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = driver.execute_script(script)
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting for: {script}")
        time.sleep(0.1)


def vehicle_position(driver: Any, vehicle_id: str) -> tuple[float, float] | None:
    found = driver.execute_script(
        "const v = window.RetailEdgeConsole && window.RetailEdgeConsole.vehicles[arguments[0]];"
        "return v ? [v.lat, v.lon] : null;",
        vehicle_id,
    )
    return None if found is None else (float(found[0]), float(found[1]))


def open_tab(driver: Any, tab: str) -> None:
    from selenium.webdriver.common.by import By

    driver.find_element(By.ID, f"tab-{tab}").click()
    wait_for(driver, f"return !document.getElementById('{tab}-tab').hidden", 5)


@dataclass
class BulkFleet:
    """``count`` vehicles scattered around Shanghai behind one gateway; each :meth:`move` posts
    every vehicle's next fix in one ingest batch, as a fleet gateway does each second."""

    cloud: Cloud
    token: str
    count: int
    gateway_id: str = "bulk-gw"
    seq: int = 0
    step: int = 0
    post_s: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        scatter = random.Random(7)
        self._start = [
            (31.23 + scatter.gauss(0, 0.05), 121.47 + scatter.gauss(0, 0.07))
            for _ in range(self.count)
        ]
        self._heading = [scatter.uniform(0, 360) for _ in range(self.count)]
        self._speed = [round(scatter.uniform(2, 15), 1) for _ in range(self.count)]

    def ids(self) -> list[str]:
        return [f"bulk-{i:04d}" for i in range(self.count)]

    def move(self) -> None:
        now = datetime.now(UTC)
        records = []
        for i, vehicle in enumerate(self.ids()):
            lat, lon = self._start[i]
            metres = self._speed[i] * self.step
            course = math.radians(self._heading[i])
            records.append(
                Position(
                    vehicle,
                    now,
                    lat + metres * math.cos(course) / 111_320,
                    lon + metres * math.sin(course) / (111_320 * math.cos(math.radians(lat))),
                    self._speed[i],
                    round(self._heading[i], 1),
                    FixQuality.GPS,
                    8,
                    1.0,
                    5.0,
                )
            )
        first = self.seq + 1
        wired = [wire(r, first + i) for i, r in enumerate(records)]
        self.seq += len(records)
        started = time.monotonic()
        with httpx.Client(base_url=self.cloud.url, timeout=30.0) as client:
            response = client.post(
                "/api/v1/ingest",
                json=batch(self.gateway_id, first, self.seq, wired, sent_at=now),
                headers={"Authorization": f"Bearer {self.token}"},
            )
        self.post_s.append(time.monotonic() - started)
        if response.status_code != 200:
            self.errors.append(f"{response.status_code} {response.text[:200]}")
        self.step += 1

    @contextmanager
    def moving(self, interval_s: float = 1.0) -> Iterator[None]:
        """Every vehicle moves once per ``interval_s`` until the block ends."""
        stop = threading.Event()

        def run() -> None:
            while not stop.is_set():
                started = time.monotonic()
                self.move()
                stop.wait(max(0.0, interval_s - (time.monotonic() - started)))

        thread = threading.Thread(target=run, name="bulk-fleet", daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join(timeout=30)
