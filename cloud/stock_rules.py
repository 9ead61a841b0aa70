"""Pure stock rules: movement kinds and their balance deltas, request fingerprints, and what
a gateway record (scan, tag event, alarm) means for stock. No database, no clock."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from firmware_bridge.epc import decode_epc
from firmware_bridge.epc_errors import EpcError
from firmware_bridge.epc_tables import EpcKind
from firmware_bridge.gs1 import is_valid_sscc, with_check_digit
from firmware_bridge.gs1_barcode import BarcodeError, parse_barcode


class MovementKind(StrEnum):
    RECEIVE = "receive"
    PUT_AWAY = "put_away"
    PICK = "pick"
    PACK = "pack"
    SHIP = "ship"
    COUNT_ADJUST = "count_adjust"
    POS_SALE = "pos_sale"
    POS_RETURN = "pos_return"
    TRANSFER_OUT = "transfer_out"
    TRANSFER_IN = "transfer_in"
    RFID_IN = "rfid_in"
    RFID_OUT = "rfid_out"
    # A dock-door out whose units an order's dispatch already took off on-hand.
    RFID_OUT_MATCHED = "rfid_out_matched"
    RESERVE = "reserve"
    RELEASE = "release"
    CONSUME = "consume"
    HOLD = "hold"
    UNHOLD = "unhold"
    WRITE_OFF = "write_off"


class Source(StrEnum):
    RFID = "rfid"
    SCAN = "scan"
    POS = "pos"
    TRANSFER = "transfer"
    ORDER = "order"
    COLDCHAIN = "coldchain"
    MANUAL = "manual"


@dataclass(frozen=True, slots=True)
class Delta:
    """A change of (on_hand, reserved, on_hold)."""

    on_hand: int = 0
    reserved: int = 0
    on_hold: int = 0

    @property
    def available(self) -> int:
        return self.on_hand - self.reserved - self.on_hold


# Per unit of quantity; the count adjustment and the hold are computed inside the UPDATE.
_UNIT_DELTAS: dict[MovementKind, Delta] = {
    MovementKind.RECEIVE: Delta(on_hand=1),
    MovementKind.PUT_AWAY: Delta(),
    MovementKind.PICK: Delta(),
    MovementKind.PACK: Delta(),
    MovementKind.SHIP: Delta(on_hand=-1),
    MovementKind.POS_SALE: Delta(on_hand=-1),
    MovementKind.POS_RETURN: Delta(on_hand=1),
    MovementKind.TRANSFER_OUT: Delta(on_hand=-1),
    MovementKind.TRANSFER_IN: Delta(on_hand=1),
    MovementKind.RFID_IN: Delta(on_hand=1),
    MovementKind.RFID_OUT: Delta(on_hand=-1),
    MovementKind.RFID_OUT_MATCHED: Delta(),
    MovementKind.RESERVE: Delta(reserved=1),
    MovementKind.RELEASE: Delta(reserved=-1),
    MovementKind.CONSUME: Delta(on_hand=-1, reserved=-1),
    MovementKind.HOLD: Delta(on_hold=1),
    MovementKind.UNHOLD: Delta(on_hold=-1),
    MovementKind.WRITE_OFF: Delta(on_hand=-1, on_hold=-1),
}


def delta_for(kind: MovementKind, quantity: int) -> Delta:
    """The balance change of ``quantity`` units of ``kind`` (``count_adjust`` has none fixed)."""
    unit = _UNIT_DELTAS.get(kind)
    if unit is None:
        raise ValueError(f"{kind.value} has no fixed delta; it is computed from the balance")
    if quantity < 0:
        raise ValueError(f"quantity must not be negative, got {quantity}")
    return Delta(unit.on_hand * quantity, unit.reserved * quantity, unit.on_hold * quantity)


def fingerprint(content: Mapping[str, Any]) -> str:
    """SHA-256 hex of the canonical JSON of ``content`` (sorted keys, no spaces)."""
    text = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


# --- codes -----------------------------------------------------------------------------------


class CodeKind(StrEnum):
    GTIN = "gtin"
    SSCC = "sscc"


@dataclass(frozen=True, slots=True)
class StockCode:
    """What a scanned or read code identifies: a trade item (GTIN-14) or a logistic unit (SSCC);
    ``epc`` is the tag's EPC hex when the code came from an RFID tag."""

    kind: CodeKind
    value: str
    epc: str | None = None


class CodeError(ValueError):
    """A code that names no GTIN or SSCC; the message says why."""


_EPC_URI = re.compile(r"^urn:epc:(?:id|tag):(sgtin|sscc)(?:-\d+)?:(.+)$")


def _from_epc_uri(uri: str) -> StockCode:
    match = _EPC_URI.match(uri)
    if match is None:
        raise CodeError(f"EPC URI {uri!r} is not an SGTIN or SSCC identity URI")
    scheme, rest = match.groups()
    parts = rest.split(".")
    if uri.startswith("urn:epc:tag:"):
        parts = parts[1:]  # the filter value
    if scheme == "sgtin" and len(parts) == 3 and all(p.isdigit() for p in parts[:2]):
        company, item = parts[0], parts[1]
        if len(company) + len(item) != 13:
            raise CodeError(f"EPC URI {uri!r}: company prefix and item reference need 13 digits")
        return StockCode(CodeKind.GTIN, with_check_digit(item[0] + company + item[1:]))
    if scheme == "sscc" and len(parts) == 2 and all(p.isdigit() for p in parts):
        company, serial = parts
        if len(company) + len(serial) != 17:
            raise CodeError(f"EPC URI {uri!r}: company prefix and serial reference need 17 digits")
        return StockCode(CodeKind.SSCC, with_check_digit(serial[0] + company + serial[1:]))
    raise CodeError(f"EPC URI {uri!r} is malformed")


def code_from_epc(epc_hex: str) -> StockCode:
    """The GTIN (SGTIN tag) or SSCC (SSCC tag) an EPC stands for; raises :class:`CodeError`."""
    try:
        identity = decode_epc(epc_hex)
    except EpcError as exc:
        raise CodeError(f"EPC {epc_hex!r}: {exc}") from None
    if identity.kind is EpcKind.SGTIN and identity.gtin is not None:
        return StockCode(CodeKind.GTIN, identity.gtin, epc=identity.raw_hex)
    if identity.kind is EpcKind.SSCC and identity.sscc is not None:
        return StockCode(CodeKind.SSCC, identity.sscc, epc=identity.raw_hex)
    reason = identity.reason or f"a {identity.kind.value} tag identifies no stock"
    raise CodeError(f"EPC {identity.raw_hex}: {reason}")


def _looks_like_epc_hex(code: str) -> bool:
    return (
        len(code) >= 24 and len(code) % 2 == 0 and all(c in "0123456789abcdefABCDEF" for c in code)
    )


def parse_stock_code(code: str) -> StockCode:
    """A scanned code (bare GTIN/SSCC digits, GS1 element string, bracketed AIs, EPC hex or
    EPC URI) as the GTIN-14 or SSCC it names; raises :class:`CodeError`."""
    text = code.strip()
    if text.startswith("urn:epc:"):
        return _from_epc_uri(text)
    try:
        barcode = parse_barcode(text)
    except BarcodeError as exc:
        if _looks_like_epc_hex(text):
            return code_from_epc(text)
        raise CodeError(str(exc)) from None
    if barcode.sscc is not None:
        if not is_valid_sscc(barcode.sscc):
            raise CodeError(f"SSCC {barcode.sscc} has a wrong check digit")
        return StockCode(CodeKind.SSCC, barcode.sscc)
    if barcode.gtin is not None:
        return StockCode(CodeKind.GTIN, barcode.gtin)
    raise CodeError(f"code {code!r} carries neither a GTIN (01) nor an SSCC (00)")


# --- gateway records -------------------------------------------------------------------------

SCAN_KINDS: dict[str, MovementKind] = {
    "receive": MovementKind.RECEIVE,
    "put_away": MovementKind.PUT_AWAY,
    "pick": MovementKind.PICK,
    "pack": MovementKind.PACK,
    "ship": MovementKind.SHIP,
    "count": MovementKind.COUNT_ADJUST,
}

TAG_KINDS: dict[str, MovementKind] = {"in": MovementKind.RFID_IN, "out": MovementKind.RFID_OUT}

# The edge cold-chain engine's rule for a temperature excursion (edge/coldchain.py). A silent
# probe (coldchain.silence) says nothing about the goods, so it does not put stock on hold.
HOLD_RULES = frozenset({"coldchain.excursion"})
HELD_CLASSES = frozenset({"chilled", "frozen"})


def opens_hold(rule: str, ended_at_set: bool) -> bool:
    """True for the raise of an excursion alarm; its clear (``ended_at`` set) opens nothing."""
    return rule in HOLD_RULES and not ended_at_set


def alarm_subject_names(subject: str, evidence: Mapping[str, Any]) -> tuple[str, ...]:
    """Names a storage zone's ``alarm_subjects`` may list for this alarm, most specific first:
    the subject ``"<zone>/<device>"`` itself, the edge zone, then the probe."""
    names = [subject]
    zone, _, device = subject.partition("/")
    names += [zone, device]
    for key in ("zone", "device"):
        value = evidence.get(key)
        if isinstance(value, str):
            names.append(value)
    return tuple(dict.fromkeys(name for name in names if name))


@dataclass(frozen=True, slots=True)
class Line:
    sku_id: str
    quantity: int


class OutboundSide(StrEnum):
    """Which booking took units off on-hand as they left a node."""

    DOOR = "door"  # an ``rfid_out`` from a dock-door tag event
    ORDER = "order"  # an order's ``consume`` at dispatch


def take_oldest_first(quantity: int, open_quantities: Sequence[int]) -> list[int]:
    """How many of ``quantity`` units each open quantity (oldest first) covers: as many as it
    has, until ``quantity`` is covered; zeros after that."""
    if quantity < 0 or any(open_ < 0 for open_ in open_quantities):
        raise ValueError("quantities must not be negative")
    taken: list[int] = []
    left = quantity
    for open_ in open_quantities:
        take = min(open_, left)
        taken.append(take)
        left -= take
    return taken


def units(lines: list[Line], *, packs: Mapping[str, tuple[str, int]]) -> list[Line]:
    """``lines`` in base units: a case SKU becomes ``pack_quantity`` units of its ``pack_of``
    (``packs``: case sku -> (unit sku, pack quantity)); lines of one SKU are merged, in order."""
    merged: dict[str, int] = {}
    for line in lines:
        sku_id, factor = packs.get(line.sku_id, (line.sku_id, 1))
        merged[sku_id] = merged.get(sku_id, 0) + line.quantity * factor
    return [Line(sku_id, quantity) for sku_id, quantity in merged.items()]
