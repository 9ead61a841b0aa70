"""Downlink: the gateway fetches its configuration and product catalogue from the cloud by ETag
and applies them without restart.

Every ``[uplink] config_poll_s`` the gateway asks ``GET /api/v1/gateway/config`` (its cold-chain
rules, ETag = version) and ``GET /api/v1/catalogue/snapshot`` (its node's locations and the active
SKUs), each with ``If-None-Match`` of what it holds. A new config is validated as the TOML's
``[[coldchain]]`` tables are, written to the data folder, then handed to the cold-chain runner
(zones whose rule is unchanged keep their state); a new snapshot is indexed, written, then
served to the scanner API. Both files are read back at start, so a gateway restarted while the
cloud is unreachable runs on the last good versions. A failure keeps the last good version and
shows in health under ``downlink``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final, NoReturn

import httpx
from pydantic import TypeAdapter, ValidationError

from edge.catalogue_cache import (
    CachedDocument,
    Catalogue,
    CatalogueError,
    load_cached,
    save_cached,
)
from edge.coldchain import ZoneRule
from edge.coldchain_runner import rules_from_config
from edge.config import ColdChainZone
from firmware_bridge.wire import format_time

log = logging.getLogger(__name__)

CONFIG_PATH: Final = "/api/v1/gateway/config"
CATALOGUE_PATH: Final = "/api/v1/catalogue/snapshot"
CONFIG_FILE: Final = "downlink_config.json"
CATALOGUE_FILE: Final = "catalogue.json"

_ZONES = TypeAdapter(list[ColdChainZone])


class DownlinkError(RuntimeError):
    """A fetch or a document failed; the last good version stays in use."""


def _utc_now() -> datetime:
    return datetime.now(UTC)


def rules_from_document(body: Any) -> tuple[int, list[ZoneRule]]:
    """The version and cold-chain rules of a ``GET /api/v1/gateway/config`` body, validated
    like the TOML's ``[[coldchain]]`` tables; raises :class:`DownlinkError` naming the field."""
    if not isinstance(body, dict):
        raise DownlinkError("config: expected a JSON object")
    version = body.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise DownlinkError("config.version: expected an integer >= 1")
    document = body.get("document")
    if not isinstance(document, dict):
        raise DownlinkError("config.document: expected an object")
    unknown = sorted(set(document) - {"coldchain"})
    if unknown:
        raise DownlinkError(f"config.document.{unknown[0]}: unknown key")
    try:
        zones = _ZONES.validate_python(document.get("coldchain", []))
    except ValidationError as exc:
        first = exc.errors()[0]
        where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in first["loc"])
        message = first["msg"].removeprefix("Value error, ")
        raise DownlinkError(f"config.document.coldchain{where}: {message}") from None
    names = [zone.zone for zone in zones]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise DownlinkError(f"config.document.coldchain: zone used twice: {', '.join(repeated)}")
    return version, rules_from_config(zones)


@dataclass(slots=True)
class DocumentState:
    """What the gateway holds of one downlink document."""

    etag: str | None = None
    fetched_at: datetime | None = None
    checked_at: datetime | None = None
    status: str = "not_fetched"
    """not_fetched | cached (read from disk at start) | applied | unchanged | absent | error"""
    detail: str | None = None

    def to_health(self) -> dict[str, Any]:
        return {
            "etag": self.etag,
            "fetched_at": None if self.fetched_at is None else format_time(self.fetched_at),
            "checked_at": None if self.checked_at is None else format_time(self.checked_at),
            "status": self.status,
            "detail": self.detail,
        }


@dataclass(frozen=True, slots=True)
class _Answer:
    status: int
    etag: str | None
    body: Any


class Downlink:
    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        cloud_url: str,
        token: str,
        data_dir: Path,
        poll_s: float,
        clock: Callable[[], datetime] = _utc_now,
    ) -> None:
        self._client = client
        self._cloud_url = cloud_url.rstrip("/")
        self._headers = {"Authorization": f"Bearer {token}"}
        self._config_path = data_dir / CONFIG_FILE
        self._catalogue_path = data_dir / CATALOGUE_FILE
        self._poll_s = poll_s
        self._clock = clock
        self._stop = asyncio.Event()
        self.on_rules: Callable[[Sequence[ZoneRule]], None] = lambda rules: None
        """Called with every new rule set from the cloud (the cold-chain runner's update)."""
        self.config = DocumentState()
        self.config_version: int | None = None
        self.catalogue_state = DocumentState()
        self._catalogue: Catalogue | None = None
        self.last_success: datetime | None = None
        self.last_error: str | None = None
        self.last_error_at: datetime | None = None
        self.consecutive_failures = 0
        self.polls = 0

    @property
    def catalogue(self) -> Catalogue | None:
        """The last good catalogue, or None when none was ever fetched."""
        return self._catalogue

    def load_cache(self) -> list[ZoneRule] | None:
        """Read the cached config and catalogue (call once, before the first poll). Returns the
        cached cloud rules, or None when the gateway never got any (the TOML's rules apply)."""
        rules = None
        try:
            cached = load_cached(self._config_path)
            if cached is not None:
                self.config_version, rules = rules_from_document(cached.body)
                self._mark_cached(self.config, cached)
        except (CatalogueError, DownlinkError) as exc:
            log.error("ignoring cached config %s: %s", self._config_path, exc)
        try:
            cached = load_cached(self._catalogue_path)
            if cached is not None:
                self._catalogue = Catalogue.from_snapshot(cached.body, cached.etag)
                self._mark_cached(self.catalogue_state, cached)
        except CatalogueError as exc:
            log.error("ignoring cached catalogue %s: %s", self._catalogue_path, exc)
        return rules

    @staticmethod
    def _mark_cached(state: DocumentState, cached: CachedDocument) -> None:
        state.etag, state.fetched_at, state.status = cached.etag, cached.fetched_at, "cached"

    async def run(self) -> None:
        """Poll at once, then every ``poll_s``, until :meth:`stop`."""
        while not self._stop.is_set():
            await self.poll_once()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), self._poll_s)

    def stop(self) -> None:
        self._stop.set()

    async def poll_once(self) -> None:
        """Fetch both documents; each failure keeps that document's last good version."""
        self.polls += 1
        errors = []
        for fetch in (self._fetch_config, self._fetch_catalogue):
            try:
                await fetch()
            except DownlinkError as exc:
                errors.append(str(exc))
        now = self._clock()
        if errors:
            self.last_error, self.last_error_at = "; ".join(errors), now
            self.consecutive_failures += 1
            if self.consecutive_failures == 1:
                log.warning("downlink: %s (keeping the last good versions)", self.last_error)
        else:
            self.last_success, self.consecutive_failures = now, 0

    async def _fetch_config(self) -> None:
        state = self.config
        answer = await self._get(CONFIG_PATH, state.etag, state)
        if answer is None:
            return
        try:
            version, rules = rules_from_document(answer.body)
        except DownlinkError as exc:
            self._failed(state, str(exc))
        etag = answer.etag or f'"{version}"'
        self._save(self._config_path, CachedDocument(etag, self._clock(), answer.body), state)
        self.on_rules(rules)
        self.config_version = version
        self._applied(state, etag)
        log.info("downlink: applied config version %d (%d cold-chain zones)", version, len(rules))

    async def _fetch_catalogue(self) -> None:
        state = self.catalogue_state
        answer = await self._get(CATALOGUE_PATH, state.etag, state)
        if answer is None:
            return
        etag = answer.etag or ""
        try:
            catalogue = Catalogue.from_snapshot(answer.body, etag)
        except CatalogueError as exc:
            self._failed(state, f"catalogue: {exc}")
        self._save(self._catalogue_path, CachedDocument(etag, self._clock(), answer.body), state)
        self._catalogue = catalogue
        self._applied(state, etag)
        log.info(
            "downlink: catalogue %s: %d locations, %d SKUs",
            etag,
            len(catalogue.locations),
            len(catalogue.products),
        )

    async def _get(self, path: str, etag: str | None, state: DocumentState) -> _Answer | None:
        """The 200 answer, or None when there is nothing new (304, or 404: none in the cloud)."""
        headers = dict(self._headers)
        if etag:
            headers["If-None-Match"] = etag
        try:
            response = await self._client.get(self._cloud_url + path, headers=headers)
        except httpx.HTTPError as exc:
            self._failed(state, f"{path}: {type(exc).__name__}: {exc}")
        state.checked_at = self._clock()
        if response.status_code == 304:
            state.status, state.detail = "unchanged", None
            return None
        if response.status_code == 404:
            # Nothing to fetch is a state, not a failure: the gateway keeps what it has.
            state.status, state.detail = "absent", _error_message(response)
            return None
        if response.status_code != 200:
            self._failed(state, f"{path}: HTTP {response.status_code}: {_error_message(response)}")
        try:
            body = response.json()
        except ValueError:
            self._failed(state, f"{path}: answer is not JSON")
        return _Answer(200, response.headers.get("etag"), body)

    def _save(self, path: Path, document: CachedDocument, state: DocumentState) -> None:
        try:
            save_cached(path, document)
        except OSError as exc:
            self._failed(state, f"cannot write {path}: {exc.strerror}")

    def _applied(self, state: DocumentState, etag: str) -> None:
        state.etag, state.fetched_at = etag, self._clock()
        state.status, state.detail = "applied", None

    def _failed(self, state: DocumentState, message: str) -> NoReturn:
        state.status, state.detail = "error", message
        raise DownlinkError(message)

    def snapshot(self) -> dict[str, Any]:
        """The ``downlink`` section of the gateway's health."""
        catalogue = self._catalogue
        return {
            "poll_s": self._poll_s,
            "config_version": self.config_version,
            "config_source": "cloud" if self.config_version is not None else "local file",
            "config": self.config.to_health(),
            "catalogue_etag": None if catalogue is None else catalogue.etag,
            "catalogue": {
                **self.catalogue_state.to_health(),
                **({} if catalogue is None else catalogue.summary()),
            },
            "polls": self.polls,
            "last_success": None if self.last_success is None else format_time(self.last_success),
            "last_error": self.last_error,
            "last_error_at": None
            if self.last_error_at is None
            else format_time(self.last_error_at),
            "consecutive_failures": self.consecutive_failures,
        }


def _error_message(response: httpx.Response) -> str:
    try:
        body = response.json()
        message = body["error"]["message"]
        if isinstance(message, str):
            return message
    except (ValueError, KeyError, TypeError):
        pass
    return response.text[:200]
