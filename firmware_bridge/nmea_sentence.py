"""Parse one NMEA 0183 line (GGA, RMC, VTG, GSA) into a typed, frozen :class:`NmeaSentence`.

pynmea2 splits the sentence and names its fields; this module verifies the envelope and checksum
first (we accept only checksummed input) and converts each field strictly.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, time

import pynmea2

from firmware_bridge import nmea_fields as fields
from firmware_bridge.nmea_errors import ChecksumError, MalformedSentence, UnsupportedSentence

_CHECKSUM = re.compile(r"[0-9A-Fa-f]{2}")
_ADDRESS = re.compile(r"[A-Z][A-Z0-9][A-Z]{3}")
_MODE_LETTERS = "ABCDEFMNPRSUV"


@dataclass(frozen=True, slots=True)
class NmeaSentence:
    """One decoded sentence; fields a sentence type does not carry are None.

    ``valid`` is RMC's status (A = True, V = False); ``mode`` the FAA mode indicator of RMC/VTG
    (A autonomous, D differential, E estimated, N not valid, ...); ``fix_type`` GSA's 1/2/3;
    ``gsa_mode`` GSA's A/M selection; speeds are already converted to metres per second.
    """

    talker: str
    sentence_type: str
    time_of_day: time | None = None
    date: date | None = None
    lat: float | None = None
    lon: float | None = None
    valid: bool | None = None
    quality: int | None = None
    satellites: int | None = None
    hdop: float | None = None
    pdop: float | None = None
    vdop: float | None = None
    altitude_m: float | None = None
    speed_mps: float | None = None
    course_deg: float | None = None
    mode: str | None = None
    fix_type: int | None = None
    gsa_mode: str | None = None
    satellite_ids: tuple[int, ...] = ()


class _Fields:
    """Raw field access by pynmea2 field name; missing trailing fields read as empty."""

    def __init__(self, message: pynmea2.TalkerSentence) -> None:
        self._data: list[str] = list(message.data)
        self._index: dict[str, int] = dict(message.name_to_idx)

    def __len__(self) -> int:
        return len(self._data)

    def __getitem__(self, name: str) -> str:
        index = self._index[name]
        return self._data[index] if index < len(self._data) else ""

    def at(self, index: int) -> str:
        return self._data[index] if index < len(self._data) else ""


def _gga(talker: str, f: _Fields) -> NmeaSentence:
    quality = fields.optional_int(f["gps_qual"], "quality")
    if quality is None:
        raise MalformedSentence("quality: empty")
    return NmeaSentence(
        talker=talker,
        sentence_type="GGA",
        time_of_day=fields.time_of_day(f["timestamp"]),
        lat=fields.latitude(f["lat"], f["lat_dir"]),
        lon=fields.longitude(f["lon"], f["lon_dir"]),
        quality=quality,
        satellites=fields.optional_int(f["num_sats"], "satellites"),
        hdop=fields.optional_float(f["horizontal_dil"], "hdop"),
        altitude_m=fields.optional_float(f["altitude"], "altitude"),
    )


def _rmc(talker: str, f: _Fields) -> NmeaSentence:
    status = fields.one_of(f["status"], "status", "AV")
    knots = fields.optional_float(f["spd_over_grnd"], "speed")
    return NmeaSentence(
        talker=talker,
        sentence_type="RMC",
        time_of_day=fields.time_of_day(f["timestamp"]),
        date=fields.day_month_year(f["datestamp"]),
        lat=fields.latitude(f["lat"], f["lat_dir"]),
        lon=fields.longitude(f["lon"], f["lon_dir"]),
        valid=None if status is None else status == "A",
        speed_mps=None if knots is None else knots * fields.KNOT_MPS,
        course_deg=fields.optional_float(f["true_course"], "course"),
        mode=fields.one_of(f["mode_indicator"], "mode", _MODE_LETTERS),
    )


def _vtg(talker: str, f: _Fields) -> NmeaSentence:
    if len(f) == 4:
        # NMEA 2.0 and older: course true, course magnetic, knots, km/h, without unit letters.
        course, knots, kmh, mode = f.at(0), f.at(2), f.at(3), ""
    else:
        course = f["true_track"]
        knots, kmh = f["spd_over_grnd_kts"], f["spd_over_grnd_kmph"]
        mode = f["faa_mode"]
    kmh_value = fields.optional_float(kmh, "speed km/h")
    knots_value = fields.optional_float(knots, "speed knots")
    speed = (
        kmh_value * fields.KMH_MPS
        if kmh_value is not None
        else None
        if knots_value is None
        else knots_value * fields.KNOT_MPS
    )
    return NmeaSentence(
        talker=talker,
        sentence_type="VTG",
        speed_mps=speed,
        course_deg=fields.optional_float(course, "course"),
        mode=fields.one_of(mode, "mode", _MODE_LETTERS),
    )


def _gsa(talker: str, f: _Fields) -> NmeaSentence:
    count = len(f)
    # NMEA 4.10 appends a GNSS system id after the DOPs; some receivers list more than 12 PRNs.
    end = count - 1 if (count - 5) % 12 == 1 else count
    dops = [f.at(i) for i in range(end - 3, end)]
    ids = [fields.optional_int(f.at(i), "satellite id") for i in range(2, end - 3)]
    return NmeaSentence(
        talker=talker,
        sentence_type="GSA",
        gsa_mode=fields.one_of(f["mode"], "gsa mode", "AM"),
        fix_type=fields.optional_int(f["mode_fix_type"], "fix type"),
        satellite_ids=tuple(i for i in ids if i is not None),
        pdop=fields.optional_float(dops[0], "pdop"),
        hdop=fields.optional_float(dops[1], "hdop"),
        vdop=fields.optional_float(dops[2], "vdop"),
    )


_Builder = Callable[[str, _Fields], NmeaSentence]

# sentence type -> (minimum field count, builder)
_PARSERS: dict[str, tuple[int, _Builder]] = {
    "GGA": (9, _gga),
    "RMC": (9, _rmc),
    "VTG": (4, _vtg),
    "GSA": (5, _gsa),
}


def _verified_body(line: str) -> str:
    """The text between ``$`` and ``*`` after checking envelope and checksum."""
    if not line.startswith("$"):
        raise MalformedSentence(f"not NMEA: does not start with '$': {line[:20]!r}")
    if not (line.isascii() and line.isprintable()):
        raise MalformedSentence("not NMEA: non-printable characters")
    star = line.rfind("*")
    if star == -1:
        raise MalformedSentence("missing checksum")
    checksum = line[star + 1 :]
    if _CHECKSUM.fullmatch(checksum) is None:
        raise MalformedSentence(f"checksum field is not two hex digits: {checksum!r}")
    body = line[1:star]
    if "*" in body or "$" in body:
        raise MalformedSentence("not NMEA: '*' or '$' inside the sentence")
    computed = int(pynmea2.NMEASentence.checksum(body))
    if computed != int(checksum, 16):
        raise ChecksumError(f"checksum {checksum.upper()} != computed {computed:02X}")
    return body


def parse_sentence(line: str) -> NmeaSentence:
    """Decode one checksummed GGA, RMC, VTG or GSA line (trailing CR/LF allowed)."""
    line = line.rstrip("\r\n")
    body = _verified_body(line)
    address = body.split(",", 1)[0]
    if address.startswith("P"):
        raise UnsupportedSentence(f"proprietary sentence {address}")
    if _ADDRESS.fullmatch(address) is None:
        raise MalformedSentence(f"not a talker sentence address: {address!r}")
    talker, sentence_type = address[:2], address[2:]
    parser = _PARSERS.get(sentence_type)
    if parser is None:
        raise UnsupportedSentence(f"unsupported sentence type {sentence_type}")
    if "," not in body:
        raise MalformedSentence(f"{sentence_type}: no fields")
    try:
        message = pynmea2.parse(line, check=True)
    except pynmea2.ParseError as exc:
        raise MalformedSentence(f"{sentence_type}: {exc}") from exc
    minimum, build = parser
    raw = _Fields(message)
    if len(raw) < minimum:
        raise MalformedSentence(f"{sentence_type}: truncated, {len(raw)} fields < {minimum}")
    return build(talker, raw)
