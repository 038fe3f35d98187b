"""Token units: the token has 18 decimals; amounts shown to people are exact `Decimal`s."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from crowdstake.errors import InvalidInputError

DECIMALS = 18
TOKEN = 10**DECIMALS


def to_tokens(wei: int) -> Decimal:
    """An amount in the token's smallest unit as tokens, exactly (no float rounding)."""
    tokens = Decimal(int(wei)).scaleb(-DECIMALS)
    return tokens.quantize(Decimal(1)) if tokens == tokens.to_integral_value() else tokens.normalize()


def parse_amount(text: str | int | Decimal) -> int:
    """Token units ('12.5') to the token's smallest unit (18 decimals)."""
    try:
        value = Decimal(str(text))
    except InvalidOperation:
        raise InvalidInputError(f"amount {text!r} is not a number of tokens, e.g. 12.5") from None
    if not value.is_finite() or value <= 0 or value != value.quantize(Decimal(1).scaleb(-DECIMALS)):
        raise InvalidInputError(f"amount {text!r} must be positive with at most 18 decimals")
    return int(value.scaleb(DECIMALS))
