"""Token units: the token has 18 decimals; amounts are exact `Decimal`s, and the CLI shows every
token or ETH amount through `format_amount` (4 decimals), in tables and lines alike."""

from __future__ import annotations

import re
from decimal import Decimal, localcontext

from crowdstake.errors import InvalidInputError

DECIMALS = 18
TOKEN = 10**DECIMALS


def to_tokens(wei: int) -> Decimal:
    """An amount in the token's smallest unit as tokens, exactly (no float rounding), up to uint256."""
    with localcontext() as exact:
        exact.prec = 100  # uint256 has 78 digits; the default 28 would round or refuse
        tokens = Decimal(int(wei)).scaleb(-DECIMALS)
        return tokens.quantize(Decimal(1)) if tokens == tokens.to_integral_value() else tokens.normalize()


AMOUNT_DECIMALS = 4  # a payout of the smallest stake (1 token) moves in steps far below 0.01


def format_amount(value) -> str:
    """A token or ETH amount as the CLI shows it: `1,234.5000`, `-0.0200`; a Decimal, int or float,
    rounded to 4 decimals (half to even); an amount that rounds to zero has no sign; None or NaN
    (a table's missing value) as empty."""
    if value is None or value != value:
        return ""
    shown = f"{value:,.{AMOUNT_DECIMALS}f}"
    return shown[1:] if shown.startswith("-") and not shown.strip("-0.,") else shown


_PLAIN = re.compile(r"(\d+(\.\d*)?|\.\d+)", re.ASCII)  # 12, 12.5, .5: no sign, exponent, space or `_`


def parse_amount(text: str | int | Decimal) -> int:
    """Token units ('12.5', a plain decimal number) to the token's smallest unit (18 decimals)."""
    shown = str(text)
    if isinstance(text, bool) or not _PLAIN.fullmatch(shown if not isinstance(text, Decimal) else f"{text:f}"):
        raise InvalidInputError(f"amount {shown[:40]!r} is not a plain number of tokens, e.g. 12.5")
    if len(shown) > 100:
        raise InvalidInputError(f"amount {shown[:40]!r}... is larger than any token balance can be")
    with localcontext() as exact:
        exact.prec = 200  # exact for every text of up to 100 characters; the default 28 digits would refuse
        value = Decimal(shown)
        if value <= 0 or value != value.quantize(Decimal(1).scaleb(-DECIMALS)):
            raise InvalidInputError(f"amount {shown!r} must be positive with at most 18 decimals")
        wei = int(value.scaleb(DECIMALS))
    if wei >= 2**256:
        raise InvalidInputError(f"amount {shown[:40]!r} is larger than any token balance can be")
    return wei
