"""Our fixes against gpsd 3.22's TPV reports on the captures of gpsd's regression suite.

Each ``*.log`` goes through LineFramer -> parse_sentence (NmeaError skipped, as a gateway would)
-> FixAssembler. Fixes are matched on time: gpsd's TPVs that carry time, lat and lon (mode >= 2),
the last one per time (gpsd's final word on that epoch), against our Positions. Times are compared
modulo the 1024-week GPS era, because gpsd 3.22 moves dates it believes hit the GPS week
rollover by 1024 weeks (2007 becomes 2027) and corrects receivers that have the bug (1999 -> 2019);
we report the date the receiver sent. Matched fixes must agree on lat/lon to 1e-6 degrees, and on
speed (2e-3 m/s) and track (1e-3 degrees) where both report them: gpsd derives a speed from
successive positions when the sentences carry none, we do not.

Figures (58 logs): 56 compared, 56 agreeing (49 with fixes, 7 where neither produces a position),
1004 fixes matched, none disagreeing. Unmatched fixes are listed per log in ``EXPECTED`` with why.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from firmware_bridge.nmea import FixAssembler, LineFramer, NmeaError, NoFix, parse_sentence
from firmware_bridge.records import Position

# Dates a GGA-only epoch at the start of a capture, before any RMC: gpsd reports no time for it.
RECEIVED_AT = datetime(2020, 6, 1, 12, 0, tzinfo=UTC)
GPS_EPOCH = datetime(1980, 1, 6, tzinfo=UTC)
GPS_ERA = timedelta(weeks=1024)

EXCLUDED: dict[str, str] = {
    "hp58534a.log": "sentences carry no checksum; we accept checksummed input only",
    "mr-350p.log": "GGA+ZDA receiver: gpsd dates fixes from ZDA, which we do not decode; "
    "our GGA-only fixes are dated from received_at",
}

# log -> (fixes matched, our Positions gpsd has no timed fix for, gpsd fixes we lack).
# ours-only at the start of a log: a GGA-only epoch before the first RMC (gpsd has no date yet);
# at the end: a final epoch cut short. gpsd-only: GLL epochs (we do not use GLL) or gpsd's
# own date heuristics.
EXPECTED: dict[str, tuple[int, int, int]] = {
    "GPSmap-76S.log": (0, 0, 0),  # RMC void throughout (simulator mode): NoFix only
    "ac12.log": (7, 0, 0),
    "ait250.log": (33, 1, 0),
    "april6_2019.log": (1, 0, 0),
    "beidou-gb.log": (1, 1, 0),
    "blumax-gps009.log": (3, 1, 0),
    "bt-q818.log": (10, 0, 0),
    "bt451.log": (10, 3, 2),  # gpsd dates one GGA-only epoch a day later and reports GLL ones
    "bu353s4.log": (25, 0, 0),
    "ch-4701.log": (26, 2, 0),
    "com-1289.log": (14, 0, 0),
    "eXplorist110.log": (0, 0, 0),  # no fix acquired
    "firefly-II.log": (23, 0, 0),
    "garmin-10x.log": (9, 0, 0),
    "garmin17n.log": (2, 0, 0),
    "garmin25lp.log": (9, 0, 0),
    "garmin48.log": (7, 0, 6),  # the 6 are GLL-only epochs
    "geos-1m.log": (6, 1, 0),
    "gp-320fw-2019-04-06-overflow.log": (19, 1, 0),
    "gp-320fw-2019-04-07-coldboot.log": (1, 1, 0),
    "gpsdf.log": (51, 0, 0),
    "gr601-w.log": (9, 0, 0),
    "hab-gpspi.log": (3, 0, 0),
    "haicom-305N.log": (67, 1, 0),
    "holux-gm-210.log": (0, 0, 0),  # no fix acquired
    "isync.log": (11, 1, 0),
    "magellan-ec10.log": (21, 0, 0),
    "mt3339.log": (30, 0, 0),
    "mtk-3329.log": (5, 0, 0),
    "myguide-3100.log": (8, 1, 0),
    "nd-1005.log": (16, 0, 0),
    "neo-m8n.log": (22, 1, 0),
    "nmea-fuzzy-cases.log": (14, 0, 0),
    "nmea-rtk.log": (122, 0, 0),
    "oncore.log": (7, 0, 0),
    "pharos-360.log": (21, 1, 0),
    "quectelLC79D-1.log": (29, 0, 0),
    "quectelLC79D.log": (30, 0, 0),
    "rst39.log": (40, 1, 0),  # 10 Hz GGA dated from the 1 Hz RMC
    "rx210.log": (39, 0, 1),
    "sirfstarv-nmea.log": (59, 0, 0),
    "skytraq-dgps.log": (96, 0, 0),
    "skytraq-fixB.log": (6, 0, 0),
    "skytraq.log": (0, 0, 0),  # no fix acquired
    "tcp-test.log": (1, 0, 0),
    "tcp-torture.log": (1, 0, 0),
    "tn200-all.log": (0, 0, 0),  # no fix acquired
    "tn200.log": (0, 0, 0),  # no fix acquired
    "tomtom-mkII.log": (4, 0, 0),
    "tr737A+.log": (7, 1, 0),
    "ublox-lea-4h.log": (9, 0, 0),
    "ublox-lea-4s.log": (3, 0, 0),
    "ublox-lea-5q.log": (0, 0, 0),  # no fix acquired
    "ublox-neo-m9n-nmea.log": (61, 0, 0),
    "udp-test.log": (1, 0, 0),
    "venus634lp.log": (5, 2, 0),
}


@dataclass(frozen=True)
class Comparison:
    matched: int
    ours_only: int
    gpsd_only: int
    disagreements: list[str]


def in_era(moment: datetime) -> datetime:
    return GPS_EPOCH + (moment - GPS_EPOCH) % GPS_ERA


def decode_log(path: Path) -> list[Position | NoFix]:
    framer, assembler = LineFramer(), FixAssembler(path.stem)
    results: list[Position | NoFix] = []
    for line in framer.feed(path.read_bytes()):
        try:
            sentence = parse_sentence(line)
        except NmeaError:
            continue
        results += assembler.push(sentence, RECEIVED_AT)
    return results + assembler.flush()


def gpsd_fixes(path: Path) -> dict[datetime, dict[str, float]]:
    fixes: dict[datetime, dict[str, float]] = {}
    for line in path.read_text(encoding="ascii", errors="replace").splitlines():
        if not line.startswith('{"class":"TPV"'):
            continue
        report = json.loads(line)
        if "time" in report and "lat" in report and report.get("mode", 0) >= 2:
            fixes[in_era(datetime.fromisoformat(report["time"]))] = report
    return fixes


def disagreement(ours: Position, gpsd: dict[str, float]) -> str | None:
    problems = []
    if abs(ours.lat - gpsd["lat"]) > 1e-6 or abs(ours.lon - gpsd["lon"]) > 1e-6:
        problems.append(f"lat/lon {ours.lat:.9f},{ours.lon:.9f} vs {gpsd['lat']},{gpsd['lon']}")
    speed, track = gpsd.get("speed"), gpsd.get("track")
    if ours.speed_mps is not None and speed is not None and abs(ours.speed_mps - speed) > 2e-3:
        problems.append(f"speed {ours.speed_mps:.4f} vs {speed}")
    if ours.course_deg is not None and track is not None and abs(ours.course_deg - track) > 1e-3:
        problems.append(f"track {ours.course_deg} vs {track}")
    return f"{ours.time}: {'; '.join(problems)}" if problems else None


def compare(log: Path) -> Comparison:
    ours = {in_era(r.time): r for r in decode_log(log) if isinstance(r, Position)}
    theirs = gpsd_fixes(log.with_name(log.name + ".chk"))
    both = sorted(ours.keys() & theirs.keys())
    found = (disagreement(ours[moment], theirs[moment]) for moment in both)
    return Comparison(
        matched=len(both),
        ours_only=len(ours.keys() - theirs.keys()),
        gpsd_only=len(theirs.keys() - ours.keys()),
        disagreements=[problem for problem in found if problem is not None],
    )


@pytest.fixture(scope="module")
def gpsd_dir(pytestconfig: pytest.Config) -> Path:
    # `from conftest import ...` would pick whichever conftest.py was imported last
    # (tests/cloud has one too), so take the root conftest from pytest's own registry.
    root_conftest = pytestconfig.pluginmanager.get_plugin(
        str(Path(__file__).resolve().parents[1] / "conftest.py")
    )
    assert root_conftest is not None, "tests/conftest.py is not loaded"
    path: Path = root_conftest.shared_data("gpsd-nmea")
    return path


def test_every_capture_is_either_expected_or_excluded(gpsd_dir: Path) -> None:
    assert sorted(p.name for p in gpsd_dir.glob("*.log")) == sorted(EXPECTED | EXCLUDED)


@pytest.mark.parametrize("log", sorted(EXPECTED))
def test_fixes_agree_with_gpsd(gpsd_dir: Path, log: str) -> None:
    result = compare(gpsd_dir / log)
    assert result.disagreements == []
    assert (result.matched, result.ours_only, result.gpsd_only) == EXPECTED[log]


def test_capture_with_sentences_but_no_fix_gives_no_fix_records(gpsd_dir: Path) -> None:
    results = decode_log(gpsd_dir / "eXplorist110.log")
    assert len(results) == 18
    assert all(isinstance(r, NoFix) for r in results)
