"""Token units: the token has 18 decimals; amounts shown to people are exact `Decimal`s."""

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
