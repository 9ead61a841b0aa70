"""Typed gateway configuration loaded from TOML.

Every error names the file, the field and the problem, so an operator can fix the file without
reading code. Relative paths resolve against the config file's folder.
"""

from __future__ import annotations

import ipaddress
import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    Strict,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from device_profiles import Codec, ProfileError, load_profile
from device_profiles.modbus_settings import SettingError, setting_writes

PositiveFloat = Annotated[float, Field(gt=0)]
NonEmpty = Annotated[str, Field(min_length=1)]


class ConfigError(ValueError):
    """The configuration file cannot be used; the message says where and why."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _resolve_path(value: Path, info: ValidationInfo) -> Path:
    base = (info.context or {}).get("base_dir")
    if value.is_absolute() or base is None:
        return value
    return Path(base) / value


class GatewaySettings(_Section):
    id: NonEmpty
    data_dir: Path

    @field_validator("data_dir")
    @classmethod
    def _data_dir_relative_to_config(cls, value: Path, info: ValidationInfo) -> Path:
        return _resolve_path(value, info)


def _is_loopback(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class CloudSettings(_Section):
    url: NonEmpty
    token: SecretStr | None = None
    token_env: NonEmpty | None = None
    token_file: Path | None = None
    allow_insecure: bool = False

    @field_validator("token_file")
    @classmethod
    def _token_file_relative_to_config(
        cls, value: Path | None, info: ValidationInfo
    ) -> Path | None:
        return None if value is None else _resolve_path(value, info)

    @field_validator("url")
    @classmethod
    def _url_is_http(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"{value!r} is not an http:// or https:// URL with a host")
        return value.rstrip("/")

    @model_validator(mode="after")
    def _one_token_source_and_safe_transport(self) -> CloudSettings:
        sources = [
            name
            for name, value in (
                ("token", self.token),
                ("token_env", self.token_env),
                ("token_file", self.token_file),
            )
            if value is not None
        ]
        if len(sources) != 1:
            found = ", ".join(sources) if sources else "none"
            raise ValueError(f"set exactly one of token, token_env, token_file (found: {found})")
        parts = urlsplit(self.url)
        host = parts.hostname or ""
        if parts.scheme == "http" and not _is_loopback(host) and not self.allow_insecure:
            raise ValueError(
                f"http:// to non-loopback host {host!r} would send the gateway token in clear "
                "text; use https:// or set allow_insecure = true"
            )
        return self

    def bearer_token(self) -> str:
        """The token, once :func:`load_config` has resolved token_env / token_file into it."""
        if self.token is None:
            raise ConfigError("cloud token was not resolved; load the config with load_config()")
        return self.token.get_secret_value()


class UplinkSettings(_Section):
    batch_max_records: Annotated[int, Field(ge=1)] = 1000
    batch_max_bytes: Annotated[int, Field(ge=1024)] = 1_000_000
    batch_max_age_s: Annotated[float, Field(ge=0)] = 0.0
    """Wait up to this long (age of the oldest record) for a fuller batch; 0 sends at once."""
    interval_s: PositiveFloat = 0.2
    backoff_initial_s: PositiveFloat = 0.5
    backoff_max_s: PositiveFloat = 30.0
    request_timeout_s: PositiveFloat = 10.0
    drain_timeout_s: Annotated[float, Field(ge=0)] = 30.0
    config_poll_s: PositiveFloat = 30.0
    """How often the downlink asks the cloud for a new config and catalogue (by ETag)."""
    heartbeat_s: Annotated[float, Field(ge=0)] = 30.0
    """After this long without a successful exchange with the cloud, send a heartbeat (health,
    no records) so an idle gateway stays visible; 0 turns heartbeats off."""

    @model_validator(mode="after")
    def _backoff_ordered(self) -> UplinkSettings:
        if self.backoff_max_s < self.backoff_initial_s:
            raise ValueError("backoff_max_s must be >= backoff_initial_s")
        return self


class BufferSettings(_Section):
    max_records: Annotated[int, Field(ge=1)] = 2_000_000
    max_bytes: Annotated[int, Field(ge=1024)] = 1_000_000_000
    """Cap on stored payload bytes (the SQLite file is somewhat larger)."""
    telemetry_downsample: Annotated[int, Field(ge=2)] | None = None
    """When over a cap, keep one telemetry record in N per device before evicting oldest-first."""
    commit_max_records: Annotated[int, Field(ge=1)] = 1000
    commit_max_delay_s: Annotated[float, Field(ge=0, le=0.05)] = 0.0
    """How long the first record of a group commit may wait for company (0 = commit at once;
    records arriving during a commit are grouped into the next one anyway)."""


class LocalApiSettings(_Section):
    """The producer API served by the gateway (``POST /api/v1/records``)."""

    enabled: bool = True
    host: NonEmpty = "127.0.0.1"
    port: Annotated[int, Field(ge=0, le=65535)] = 8700
    """0 picks a free port (written to status.json as local_api_url)."""
    token: SecretStr | None = None

    @model_validator(mode="after")
    def _token_off_loopback(self) -> LocalApiSettings:
        if self.enabled and self.token is None and not _is_loopback(self.host):
            raise ValueError(
                f"listening on non-loopback host {self.host!r} without a token would let anyone "
                "on the network write records; set token"
            )
        return self


class NmeaGpsDevice(_Section):
    id: NonEmpty
    type: Literal["nmea_gps"]
    port: NonEmpty
    baudrate: Annotated[int, Field(gt=0)] = 9600
    vehicle_id: NonEmpty
    reopen_initial_s: PositiveFloat = 0.5
    reopen_max_s: PositiveFloat = 5.0
    profile: NonEmpty = "nmea-gps"
    """Profile giving the plausibility limits (gps.max_hdop, gps.max_speed_mps)."""
    max_hdop: PositiveFloat | None = None
    """Reject fixes with a larger HDOP; default from the profile."""
    max_speed_mps: PositiveFloat | None = None
    """Reject fixes implying a faster jump from the last accepted one; default from the profile."""

    @field_validator("profile")
    @classmethod
    def _profile_is_gps(cls, value: str, info: ValidationInfo) -> str:
        return _checked_profile(value, info, Codec.NMEA0183)

    @model_validator(mode="after")
    def _reopen_ordered(self) -> NmeaGpsDevice:
        _check_reopen(self.reopen_initial_s, self.reopen_max_s)
        return self


def _check_reopen(initial: float, maximum: float) -> None:
    if maximum < initial:
        raise ValueError("reopen_max_s must be >= reopen_initial_s")


def _checked_profile(value: str, info: ValidationInfo, codec: Codec) -> str:
    """Load the profile now so a bad name or file fails the config load; paths resolve against
    the config file's folder."""
    if "/" in value or value.endswith(".toml"):
        value = str(_resolve_path(Path(value), info))
    try:
        profile = load_profile(value)
    except ProfileError as exc:
        raise ValueError(f"profile {exc}") from None
    if profile.codec is not codec:
        raise ValueError(
            f"profile {profile.model!r} is for codec {profile.codec.value}, not {codec.value}"
        )
    return value


class ModbusSlave(_Section):
    address: Annotated[int, Field(ge=1, le=247)]
    id: NonEmpty
    """Device id of the probe's measurements."""
    profile: NonEmpty | None = None
    """Register map of this probe when it differs from the bus's profile."""
    settings: dict[str, Annotated[float, Strict()]] = {}
    """Profile settings to write (function 06) whenever the probe is reached, e.g.
    ``{ temperature_correction = -0.5 }``; engineering units, checked against the profile."""

    @field_validator("profile")
    @classmethod
    def _profile_is_modbus(cls, value: str | None, info: ValidationInfo) -> str | None:
        return None if value is None else _checked_profile(value, info, Codec.MODBUS_RTU)


class ModbusRtuDevice(_Section):
    """One RS-485 line (one serial port) with one or more Modbus RTU slaves."""

    id: NonEmpty
    type: Literal["modbus_rtu"]
    port: NonEmpty
    profile: NonEmpty
    """Line settings (baud, parity, bits) and the default register map."""
    baudrate: Annotated[int, Field(gt=0)] | None = None
    """Overrides the profile's baud rate."""
    slaves: Annotated[list[ModbusSlave], Field(min_length=1)]
    poll_interval_s: PositiveFloat | None = None
    """Default: the profile's sample_period_s."""
    timeout_s: Annotated[float, Field(gt=0, le=10)] | None = None
    """Per-request response timeout; default: the profile's modbus.response_timeout_s."""
    offline_after: Annotated[int, Field(ge=1)] = 3
    """Consecutive unanswered requests that mark a slave offline."""
    retry_initial_s: PositiveFloat = 5.0
    retry_max_s: PositiveFloat = 60.0
    """An offline slave is retried after retry_initial_s, doubling up to retry_max_s."""
    reopen_initial_s: PositiveFloat = 0.5
    reopen_max_s: PositiveFloat = 5.0

    @field_validator("profile")
    @classmethod
    def _profile_is_modbus(cls, value: str, info: ValidationInfo) -> str:
        return _checked_profile(value, info, Codec.MODBUS_RTU)

    @field_validator("slaves")
    @classmethod
    def _slaves_unique(cls, slaves: list[ModbusSlave]) -> list[ModbusSlave]:
        for what in ("address", "id"):
            values = [getattr(slave, what) for slave in slaves]
            repeated = sorted({str(v) for v in values if values.count(v) > 1})
            if repeated:
                raise ValueError(f"slave {what} used twice: {', '.join(repeated)}")
        return slaves

    @model_validator(mode="after")
    def _ordered(self) -> ModbusRtuDevice:
        _check_reopen(self.reopen_initial_s, self.reopen_max_s)
        if self.retry_max_s < self.retry_initial_s:
            raise ValueError("retry_max_s must be >= retry_initial_s")
        return self

    @model_validator(mode="after")
    def _settings_writable(self) -> ModbusRtuDevice:
        for index, slave in enumerate(self.slaves):
            if not slave.settings:
                continue
            profile = load_profile(slave.profile or self.profile)
            try:
                setting_writes(profile, slave.settings)
            except SettingError as exc:
                raise ValueError(f"slaves[{index}].settings.{exc.name}: {exc}") from None
        return self


FAST_SWITCH_ANTENNAS = 4


class RfidR2000Device(_Section):
    """A UHF reader speaking the R2000 "0xA0" protocol, and how its reads become events."""

    id: NonEmpty
    type: Literal["rfid_r2000"]
    port: NonEmpty
    profile: NonEmpty = "r2000-uhf-reader"
    baudrate: Annotated[int, Field(gt=0)] | None = None
    address: Annotated[int, Field(ge=0, le=255)] | None = None
    """Reader address; default: the profile's rfid.reader_address (255 = broadcast)."""
    antennas: Annotated[list[int], Field(min_length=1, max_length=FAST_SWITCH_ANTENNAS)] = [1]
    reader_id: NonEmpty | None = None
    """Reader id of tag reads and events; default: the device id."""
    zone: NonEmpty
    hold_s: PositiveFloat = 3.0
    """A tag not read for this long has departed the zone."""
    outside_antenna: Annotated[int, Field(ge=1, le=FAST_SWITCH_ANTENNAS)] | None = None
    inside_antenna: Annotated[int, Field(ge=1, le=FAST_SWITCH_ANTENNAS)] | None = None
    """Set both for a dock door: departures then also give ``passed`` events with direction."""
    raw_reads: Literal["off", "sampled"] = "off"
    raw_sample_every_s: PositiveFloat = 10.0
    """With raw_reads = "sampled": at most one raw TagRead per tag and antenna this often."""
    inventory_repeat: Annotated[int, Field(ge=1, le=255)] = 1
    persist_every_s: PositiveFloat = 5.0
    reopen_initial_s: PositiveFloat = 0.5
    reopen_max_s: PositiveFloat = 5.0

    @field_validator("profile")
    @classmethod
    def _profile_is_rfid(cls, value: str, info: ValidationInfo) -> str:
        return _checked_profile(value, info, Codec.R2000)

    @field_validator("antennas")
    @classmethod
    def _antennas_valid(cls, antennas: list[int]) -> list[int]:
        if len(set(antennas)) != len(antennas):
            raise ValueError("antenna numbers repeat")
        bad = [a for a in antennas if not 1 <= a <= FAST_SWITCH_ANTENNAS]
        if bad:
            raise ValueError(f"antennas must be 1..{FAST_SWITCH_ANTENNAS}, got {bad}")
        return antennas

    @model_validator(mode="after")
    def _door_antennas(self) -> RfidR2000Device:
        _check_reopen(self.reopen_initial_s, self.reopen_max_s)
        door = (self.outside_antenna, self.inside_antenna)
        if (door[0] is None) != (door[1] is None):
            raise ValueError("set both outside_antenna and inside_antenna, or neither")
        if door[0] is not None:
            if door[0] == door[1]:
                raise ValueError("outside_antenna and inside_antenna must differ")
            missing = [a for a in door if a not in self.antennas]
            if missing:
                raise ValueError(f"door antenna {missing[0]} is not in antennas")
        return self


class ColdChainZone(_Section):
    """A ``[[coldchain]]`` entry: a zone or vehicle compartment, its probes (measurement
    device ids) and temperature band in °C (either side may be open, edges are in band)."""

    zone: NonEmpty
    devices: Annotated[list[NonEmpty], Field(min_length=1)]
    min_c: float | None = None
    max_c: float | None = None
    tolerance_s: Annotated[float, Field(ge=0)] = 600.0
    """Alarm once readings stay out of the band this long."""
    silence_periods: Annotated[int, Field(ge=1)] = 3
    sample_period_s: PositiveFloat = 30.0
    """A probe without a reading for silence_periods x sample_period_s is silent (an alarm)."""

    @model_validator(mode="after")
    def _band_valid(self) -> ColdChainZone:
        if self.min_c is None and self.max_c is None:
            raise ValueError("set min_c, max_c or both")
        if self.min_c is not None and self.max_c is not None and self.min_c > self.max_c:
            raise ValueError("min_c must be <= max_c")
        if len(set(self.devices)) != len(self.devices):
            raise ValueError("a device is listed twice")
        return self


class MqttDevice(_Section):
    """An MQTT broker whose field devices and handheld scanners publish to
    ``{topic_prefix}/{site}/{device}/telemetry|scan|status`` (see edge/mqtt_topics.py)."""

    id: NonEmpty
    type: Literal["mqtt"]
    host: NonEmpty = "127.0.0.1"
    port: Annotated[int, Field(ge=1, le=65535)] = 1883
    protocol: Literal["5", "3.1.1"] = "5"
    client_id: Annotated[str, Field(min_length=1, max_length=23)]
    """Must be unique on the broker and stable across restarts: it names the persistent session
    that keeps QoS 1 messages while the gateway is away (23 characters fit every broker)."""
    username: NonEmpty | None = None
    password: SecretStr | None = None
    topic_prefix: NonEmpty = "retailedge/v1"
    site: NonEmpty = "+"
    """The site whose devices this gateway takes; ``+`` takes every site."""
    session_expiry_s: Annotated[int, Field(ge=60)] = 7 * 24 * 3600
    """MQTT 5: how long the broker keeps the session (and queued messages) while away."""
    keepalive_s: Annotated[int, Field(ge=5, le=3600)] = 30
    reconnect_initial_s: Annotated[int, Field(ge=1)] = 1
    reconnect_max_s: Annotated[int, Field(ge=1)] = 30
    replay_memory: Annotated[int, Field(ge=1)] = 10_000
    """How many message keys the buffer keeps to store a redelivered message only once (the
    gateway's MQTT connectors' values are added up; see edge/mqtt_replay.py)."""
    max_hdop: PositiveFloat = 5.0
    max_speed_mps: PositiveFloat = 55.0
    """Plausibility of ``position`` messages, per vehicle (see edge/gps_filter.py): a fix with a
    higher HDOP, or reached from the vehicle's last fix faster than this, is not stored."""

    @field_validator("topic_prefix")
    @classmethod
    def _prefix_is_plain(cls, value: str) -> str:
        if any(ch in value for ch in "+#") or value.startswith("/") or value.endswith("/"):
            raise ValueError("topic_prefix must be a plain topic path without wildcards or edge /")
        return value

    @model_validator(mode="after")
    def _reconnect_ordered(self) -> MqttDevice:
        if self.reconnect_max_s < self.reconnect_initial_s:
            raise ValueError("reconnect_max_s must be >= reconnect_initial_s")
        if self.password is not None and self.username is None:
            raise ValueError("password needs a username")
        return self


BLE_DEFAULT_PROFILES = {
    "ruuvi": "ruuvitag",
    "atc": "lywsd03mmc-atc",
    "pvvx": "lywsd03mmc-pvvx",
    "bthome": "bthome-door",
    "ibeacon": "ibeacon-tag",
}
BEACON_KEYS = ("uuid", "major", "minor")
Uint16 = Annotated[int, Strict(), Field(ge=0, le=0xFFFF)]


class BleSensor(_Section):
    """A sensor heard by its address, or an iBeacon asset tag by its identity (uuid, major,
    minor), because tags may rotate their address."""

    address: Annotated[str, Field(pattern=r"^[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){5}$")] | None = None
    id: NonEmpty
    format: Literal["ruuvi", "atc", "pvvx", "bthome", "ibeacon"]
    bindkey: Annotated[str, Field(pattern=r"^[0-9A-Fa-f]{32}$")] | None = None
    """Hex AES key of an encrypted BTHome sensor."""
    profile: NonEmpty | None = None
    """Device profile (valid ranges); default by format, e.g. ruuvitag for ruuvi."""
    uuid: (
        Annotated[str, Field(pattern=r"^[0-9A-Fa-f]{8}(-[0-9A-Fa-f]{4}){3}-[0-9A-Fa-f]{12}$")]
        | None
    ) = None
    major: Uint16 | None = None
    minor: Uint16 | None = None
    path_loss_exponent: Annotated[float, Field(gt=0, le=10)] = 2.0
    """iBeacon distance model: 2 in free space, 2.5-4 indoors."""

    @field_validator("address", "uuid")
    @classmethod
    def _normal_case(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None:
            return None
        return value.upper() if info.field_name == "address" else value.lower()

    @property
    def beacon(self) -> tuple[str, int, int] | None:
        """(uuid, major, minor) of an iBeacon tag."""
        if self.uuid is None or self.major is None or self.minor is None:
            return None
        return self.uuid, self.major, self.minor

    @model_validator(mode="after")
    def _identity_fits_format(self) -> BleSensor:
        given = [key for key in BEACON_KEYS if getattr(self, key) is not None]
        if self.format == "ibeacon":
            if self.address is not None:
                raise ValueError("an ibeacon tag is matched by uuid, major and minor, not address")
            if len(given) != len(BEACON_KEYS):
                raise ValueError("an ibeacon tag needs uuid, major and minor")
        else:
            if self.address is None:
                raise ValueError(f"address is required for format {self.format}")
            if given:
                raise ValueError(f"{', '.join(given)}: only for format ibeacon")
        if self.bindkey is not None and self.format != "bthome":
            raise ValueError("bindkey: only for format bthome")
        if "path_loss_exponent" in self.model_fields_set and self.format != "ibeacon":
            raise ValueError("path_loss_exponent: only for format ibeacon")
        return self

    @model_validator(mode="after")
    def _profile_loads(self) -> BleSensor:
        try:
            profile = load_profile(self.profile or BLE_DEFAULT_PROFILES[self.format])
        except ProfileError as exc:
            raise ValueError(f"profile {exc}") from None
        if profile.codec != self.format:
            raise ValueError(f"profile {profile.model!r} is for format {profile.codec}")
        return self


class BleDevice(_Section):
    """BLE advertising sensors heard by one adapter (scanner)."""

    id: NonEmpty
    type: Literal["ble"]
    adapter: NonEmpty | None = None
    """e.g. hci0; default: the system's."""
    passive: bool = True
    min_interval_s: Annotated[float, Field(ge=0)] = 10.0
    """Per sensor: readings at most this often; the same payload inside it is a duplicate.
    Event adverts (a BTHome door or button) pass, de-duplicated by their packet."""
    sensors: Annotated[list[BleSensor], Field(min_length=1)]
    backend: Literal["bleak", "replay"] = "bleak"
    replay_file: Path | None = None
    """JSON-lines advertisements (the ``decode`` input shape), replayed at their recorded pace
    from now on (the first is heard at once); at the end the device idles."""
    replay_speed: Annotated[float, Field(ge=0)] = 1.0
    """Replay this many times faster (times, min_interval_s and counter_reset_after_s shrink
    alike, so the same readings are taken); 0 = at once, times as at speed 1."""
    retry_initial_s: PositiveFloat = 1.0
    retry_max_s: PositiveFloat = 30.0
    stall_after_s: Annotated[float, Field(ge=0)] = 120.0
    """No advert from any sensor this long: the scanner is restarted (backoff as for adapter
    errors); 0 turns the watchdog off."""
    counter_reset_after_s: PositiveFloat = 300.0
    """An encrypted BTHome advert whose counter is not newer is a replay, unless the sensor
    was not heard for this long (then it is taken as the sensor having restarted)."""

    @field_validator("replay_file")
    @classmethod
    def _replay_relative(cls, value: Path | None, info: ValidationInfo) -> Path | None:
        return None if value is None else _resolve_path(value, info)

    @model_validator(mode="after")
    def _consistent(self) -> BleDevice:
        if (self.backend == "replay") != (self.replay_file is not None):
            raise ValueError('replay_file is needed by, and only by, backend = "replay"')
        if self.backend != "replay" and "replay_speed" in self.model_fields_set:
            raise ValueError('replay_speed: only for backend = "replay"')
        for what, keys in (
            ("address", [sensor.address for sensor in self.sensors if sensor.address]),
            ("ibeacon", [" ".join(map(str, s.beacon)) for s in self.sensors if s.beacon]),
        ):
            repeated = sorted({key for key in keys if keys.count(key) > 1})
            if repeated:
                raise ValueError(f"sensor {what} used twice: {', '.join(repeated)}")
        if self.retry_max_s < self.retry_initial_s:
            raise ValueError("retry_max_s must be >= retry_initial_s")
        return self


DeviceSettings = Annotated[
    NmeaGpsDevice | ModbusRtuDevice | RfidR2000Device | MqttDevice | BleDevice,
    Field(discriminator="type"),
]
DEVICE_TYPES = ("nmea_gps", "modbus_rtu", "rfid_r2000", "mqtt", "ble")


class GatewayConfig(_Section):
    gateway: GatewaySettings
    cloud: CloudSettings
    uplink: UplinkSettings = UplinkSettings()
    buffer: BufferSettings = BufferSettings()
    local_api: LocalApiSettings = LocalApiSettings()
    devices: list[DeviceSettings] = []
    coldchain: list[ColdChainZone] = []

    @field_validator("coldchain")
    @classmethod
    def _unique_zones(cls, zones: list[ColdChainZone]) -> list[ColdChainZone]:
        names = [zone.zone for zone in zones]
        repeated = sorted({name for name in names if names.count(name) > 1})
        if repeated:
            raise ValueError(f"zone used twice: {', '.join(repeated)}")
        return zones

    @model_validator(mode="before")
    @classmethod
    def _vehicle_defaults_to_gateway(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        gateway, devices = data.get("gateway"), data.get("devices")
        if not isinstance(gateway, dict) or not isinstance(devices, list):
            return data
        filled = [
            {**dev, "vehicle_id": gateway.get("id")}
            if isinstance(dev, dict) and dev.get("type") == "nmea_gps" and "vehicle_id" not in dev
            else dev
            for dev in devices
        ]
        return {**data, "devices": filled}

    @field_validator("devices")
    @classmethod
    def _unique_device_ids(cls, devices: list[DeviceSettings]) -> list[DeviceSettings]:
        seen: set[str] = set()
        for device in devices:
            if device.id in seen:
                raise ValueError(f"device id {device.id!r} is used twice")
            seen.add(device.id)
        return devices


def _location(loc: tuple[int | str, ...]) -> str:
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else part
    return text or "(top level)"


def _describe(path: Path, exc: ValidationError) -> str:
    problems = []
    for error in exc.errors():
        # The device union tags each error with the model name; drop it, the operator never sees it.
        loc = tuple(p for p in error["loc"] if p not in DEVICE_TYPES)
        message = error["msg"].removeprefix("Value error, ")
        if error["type"] == "extra_forbidden":
            message = "unknown key"
        elif error["type"] in ("union_tag_invalid", "union_tag_not_found"):
            loc = (*loc, "type")
            choices = ", ".join(repr(name) for name in DEVICE_TYPES[:-1])
            message = f"Input should be {choices} or {DEVICE_TYPES[-1]!r}"
        problems.append(f"{path}: {_location(loc)}: {message}")
    return "\n".join(problems)


def _resolve_token(path: Path, cloud: CloudSettings, environ: Mapping[str, str]) -> SecretStr:
    if cloud.token is not None:
        return cloud.token
    if cloud.token_env is not None:
        value = environ.get(cloud.token_env, "").strip()
        if not value:
            raise ConfigError(
                f"{path}: cloud.token_env: environment variable {cloud.token_env} "
                "is not set or empty"
            )
        return SecretStr(value)
    assert cloud.token_file is not None
    try:
        value = cloud.token_file.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise ConfigError(
            f"{path}: cloud.token_file: cannot read {cloud.token_file}: {exc.strerror}"
        ) from None
    if not value:
        raise ConfigError(f"{path}: cloud.token_file: {cloud.token_file} is empty")
    return SecretStr(value)


def parse_config(
    data: Mapping[str, Any], *, source: Path, environ: Mapping[str, str] | None = None
) -> GatewayConfig:
    """Validate an already-parsed TOML mapping; ``source`` names the file in errors and anchors
    relative paths."""
    try:
        config = GatewayConfig.model_validate(
            dict(data), context={"base_dir": source.resolve().parent}
        )
    except ValidationError as exc:
        raise ConfigError(_describe(source, exc)) from None
    token = _resolve_token(source, config.cloud, os.environ if environ is None else environ)
    cloud = config.cloud.model_copy(update={"token": token})
    return config.model_copy(update={"cloud": cloud})


def load_config(path: str | Path, *, environ: Mapping[str, str] | None = None) -> GatewayConfig:
    """Read and validate a gateway TOML file. Raises :class:`ConfigError`."""
    source = Path(path)
    try:
        with source.open("rb") as handle:
            data = tomllib.load(handle)
    except OSError as exc:
        raise ConfigError(f"{source}: cannot read: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: invalid TOML: {exc}") from None
    return parse_config(data, source=source, environ=environ)
