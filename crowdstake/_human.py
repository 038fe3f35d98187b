"""What people type and read besides token amounts (those are `_units`): durations (`90s`, `30m`,
`1h30m`, `20d`), percentages (`5%`), score weights (`0.5`), UTC times (`2025-06-01T18:00Z`),
addresses and 32-byte hashes; and times shown back as UTC dates with how far off they are ("in
59 min"), counts with their noun ("1 transaction"). Each parser returns exact integers in the
contracts' units, or raises one InvalidInputError whose message says what was wrong and what to
type; none guesses (no floats, no signs, no exponents). Pure functions: no node, no clock of their own."""

from __future__ import annotations

import re
from datetime import datetime, timezone
from decimal import Decimal, InvalidOperation

from crowdstake.errors import InvalidInputError

WAD = 10**18  # the contracts' fixed point: 1e18 = 1.0 (= 100%)
BPS = 10_000  # basis points: 10,000 = 1.0
UINT16_MAX = 2**16 - 1

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 7 * 86_400}
_DURATION = re.compile(r"(?:\d+[smhdw])+", re.ASCII)
_PART = re.compile(r"(\d+)([smhdw])", re.ASCII)
_DECIMAL = re.compile(r"\d+(?:\.\d*)?|\.\d+", re.ASCII)  # 12, 12.5, .5: no sign, exponent or space
_EXAMPLES = "e.g. 90s, 30m, 1h, 1h30m, 20d"


def _text(value, what: str) -> str:
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise InvalidInputError(f"{what} {value!r} is not text or a whole number")
    return str(value)


# ------------------------------------------------------------------ durations


def parse_duration(value: str | int, what: str = "duration") -> int:
    """Seconds from `90s`, `30m`, `1h`, `1h30m`, `20d`, `2w` (whole numbers, units s m h d w, the
    largest first), or a plain whole number of seconds; at least 1 second."""
    text = _text(value, what)
    if text.isascii() and text.isdigit():
        seconds = int(text)
    elif _DURATION.fullmatch(text):
        parts = _PART.findall(text)
        units = [_UNITS[u] for _, u in parts]
        if units != sorted(set(units), reverse=True):
            raise InvalidInputError(f"{what} {text!r} repeats a unit or puts a smaller one first: write it largest "
                                    f"first, {_EXAMPLES}")
        seconds = sum(int(n) * _UNITS[u] for n, u in parts)
    else:
        raise InvalidInputError(f"{what} {text[:40]!r} is not a duration: use whole numbers with a unit (s, m, h, d, w), "
                                f"{_EXAMPLES}")
    if seconds < 1:
        raise InvalidInputError(f"{what} {text!r} is zero: give at least 1 second, {_EXAMPLES}")
    return seconds


def format_duration(seconds: int) -> str:
    """`5400` as `1h30m`, `604800` as `7d`: the form `parse_duration` reads back."""
    seconds = int(seconds)
    if seconds <= 0:
        return f"{seconds}s"
    shown = ""
    for unit in ("d", "h", "m", "s"):
        count, seconds = divmod(seconds, _UNITS[unit])
        shown += f"{count}{unit}" if count else ""
    return shown


# ------------------------------------------------------------------ fractions


def _decimal(text: str, what: str, example: str) -> Decimal:
    if not _DECIMAL.fullmatch(text):
        raise InvalidInputError(f"{what} {text[:40]!r} is not a plain decimal number, e.g. {example}")
    try:
        return Decimal(text)
    except InvalidOperation:  # pragma: no cover - the pattern admits only what Decimal reads
        raise InvalidInputError(f"{what} {text[:40]!r} is not a number, e.g. {example}") from None


def parse_percent(value: str, what: str = "percentage") -> int:
    """A percentage, `5%` or `2.5%`, as a WAD fraction (`5%` is 5e16), exactly: at most 16 decimals."""
    text = _text(value, what)
    if not text.endswith("%"):
        raise InvalidInputError(f"{what} {text[:40]!r} needs a % sign, e.g. 5%")
    number = _decimal(text[:-1], what, "5%")
    wad = number * WAD / 100
    if wad != wad.to_integral_value():
        raise InvalidInputError(f"{what} {text!r} has more decimals than the contract keeps (16 after the point)")
    return int(wad)


def format_percent(wad: int) -> str:
    """A WAD fraction as a percentage: 5e16 as `5%`."""
    shown = (Decimal(int(wad)) * 100 / WAD).normalize()
    return f"{shown:f}%"


def parse_weight(value: str | int, what: str = "weight") -> int:
    """A score weight, `0.5` or `2`, in basis points (`0.5` is 5,000): 0 to 6.5535, at most 4 decimals
    (the contract keeps a uint16 of basis points)."""
    text = _text(value, what)
    number = _decimal(text, what, "0.5")
    bps = number * BPS
    if bps != bps.to_integral_value():
        raise InvalidInputError(f"{what} {text!r} has more than 4 decimals: the contract keeps basis points")
    if bps > UINT16_MAX:
        raise InvalidInputError(f"{what} {text!r} is over the largest the contract keeps, {format_weight(UINT16_MAX)}")
    return int(bps)


def format_weight(bps: int) -> str:
    """Basis points as a weight: 5,000 as `0.5`, 20,000 as `2`."""
    return f"{(Decimal(int(bps)) / BPS).normalize():f}"


# ------------------------------------------------------------------ times


def parse_time(value: str | int, what: str = "time") -> int:
    """Unix seconds from an ISO-8601 date and time (`2025-06-01T18:00Z`, `2025-06-01 18:00`,
    `2025-06-01`; no zone means UTC) or from a whole number of unix seconds."""
    text = _text(value, what).strip()
    if text.isascii() and text.isdigit():
        return int(text)
    iso = text[:-1] + "+00:00" if text[-1:] in ("Z", "z") else text
    try:
        if not iso.isascii() or not iso[:4].isdigit():
            raise ValueError(text)
        when = datetime.fromisoformat(iso)
    except ValueError:
        raise InvalidInputError(f"{what} {text[:40]!r} is not a date and time: use ISO 8601 in UTC, e.g. "
                                "2025-06-01T18:00Z, or unix seconds") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return int(when.timestamp())


def utc(timestamp: int) -> str:
    """`2025-06-01 18:00:00 UTC`."""
    return datetime.fromtimestamp(int(timestamp), timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def relative(timestamp: int, now: int) -> str:
    """How far `timestamp` is from `now`, rounded down: `in 59 min`, `3 h ago`, `in 20 days`, `now`."""
    delta = int(timestamp) - int(now)
    span = abs(delta)
    if span == 0:
        return "now"
    if span < 90:
        shown = f"{span} s"
    elif span < 90 * 60:
        shown = f"{span // 60} min"
    elif span < 48 * 3600:
        shown = f"{span // 3600} h"
    else:
        shown = f"{span // 86_400} days"
    return f"in {shown}" if delta > 0 else f"{shown} ago"


def when(timestamp: int, now: int) -> str:
    """`2025-06-01 18:00:00 UTC (in 59 min)`."""
    return f"{utc(timestamp)} ({relative(timestamp, now)})"


# ------------------------------------------------------------------ counts


def count(n: int, noun: str, nouns: str | None = None) -> str:
    """A number with its noun, singular for one: `1 transaction`, `2 transactions`, `1,204 rows`,
    `3 leaves` (`nouns` where adding an s is wrong)."""
    return f"{int(n):,} {noun if int(n) == 1 else nouns or noun + 's'}"


# ------------------------------------------------------------------ addresses and hashes


ZERO_ADDRESS = "0x" + "00" * 20


def parse_address(value: str, what: str = "address") -> str:
    """A checksummed address from 0x and 40 hex digits; all-lowercase or all-uppercase digits are
    taken as they are, mixed case must carry a valid checksum (EIP-55), and the zero address is refused."""
    from eth_utils import is_checksum_address, is_hex_address, to_checksum_address  # not at the CLI's start-up

    text = _text(value, what).strip()
    if not is_hex_address(text) or not text.startswith("0x"):
        raise InvalidInputError(f"{what} {text[:50]!r} is not an address: 0x and 40 hex digits")
    digits = text[2:]
    if digits != digits.lower() and digits != digits.upper() and not is_checksum_address(text):
        raise InvalidInputError(f"{what} {text} has a wrong checksum (its upper and lower case letters): check it for a typo")
    if int(digits, 16) == 0:
        raise InvalidInputError(f"{what} is the zero address: tokens or roles sent there are lost")
    return to_checksum_address(text)


def parse_hash(value: str, what: str = "hash") -> bytes:
    """32 bytes from 0x and 64 hex digits, not all zero (the contracts refuse the zero hash)."""
    text = _text(value, what).strip()
    if not re.fullmatch(r"0x[0-9a-fA-F]{64}", text, re.ASCII):
        raise InvalidInputError(f"{what} {text[:70]!r} is not a 32-byte hash: 0x and 64 hex digits")
    digest = bytes.fromhex(text[2:])
    if digest == bytes(32):
        raise InvalidInputError(f"{what} is all zeros: the contract refuses it; give the real hash")
    return digest
