"""A tournament's payout parameters as people give them (tokens, `5%`, `0.5`, `7d`) and as the
contract keeps them (`Tournament.Params`: wei, WAD, basis points, seconds), with the contract's
bounds checked here first, so a bad value is one line and nothing is sent. No node: pure."""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import Decimal

from crowdstake._human import (WAD, format_duration, format_percent, format_weight, parse_duration, parse_percent,
                               parse_weight)
from crowdstake._units import parse_amount, to_tokens
from crowdstake.errors import FundError, InvalidInputError

# Tournament's bounds (its MIN_RESULTS_WINDOW, MAX_RESULTS_WINDOW; Params' field widths)
MIN_RESULTS_WINDOW, MAX_RESULTS_WINDOW = 3_600, 90 * 86_400
UINT128_MAX = 2**128 - 1

DEFAULTS = {"cap": "5%", "corr_weight": "0.5", "mmc_weight": "2", "results_window": "7d"}


@dataclass(frozen=True)
class Params:
    """`Tournament.Params` in the contract's units."""

    threshold: int  # wei
    min_stake: int  # wei
    cap: int  # WAD
    results_window: int  # seconds
    corr_weight_bps: int
    mmc_weight_bps: int

    def as_tuple(self) -> tuple:
        """The struct's fields in the contract's order, for createTournament and setTournamentParams."""
        return (self.threshold, self.min_stake, self.cap, self.results_window, self.corr_weight_bps, self.mmc_weight_bps)

    @classmethod
    def from_chain(cls, p) -> "Params":
        """From the contract's struct (a named tuple with its field names)."""
        return cls(p.threshold, p.minStake, p.cap, p.resultsWindow, p.corrWeightBps, p.mmcWeightBps)

    @property
    def threshold_tokens(self) -> Decimal:
        return to_tokens(self.threshold)

    @property
    def min_stake_tokens(self) -> Decimal:
        return to_tokens(self.min_stake)

    def describe(self) -> str:
        """`threshold 2000 tokens, min stake 1, cap 5%, score 0.5 x CORR + 2 x MMC, results window 7d`."""
        return (f"threshold {self.threshold_tokens:,} tokens, min stake {self.min_stake_tokens:,}, "
                f"cap {format_percent(self.cap)}, score {format_weight(self.corr_weight_bps)} x CORR + "
                f"{format_weight(self.mmc_weight_bps)} x MMC, results window {format_duration(self.results_window)}")

    def check(self) -> None:
        """The contract's rules (and one of the oracle's: a score of some weight); FundError on the first broken."""
        if not 0 < self.cap <= WAD:
            raise FundError(f"cap {format_percent(self.cap)} must be above 0% and at most 100% of a stake")
        for name, wei in (("threshold", self.threshold), ("min stake", self.min_stake)):
            if not 0 < wei <= UINT128_MAX:
                raise FundError(f"{name} {to_tokens(wei)} must be above 0 and at most {to_tokens(UINT128_MAX)} tokens")
        if not MIN_RESULTS_WINDOW <= self.results_window <= MAX_RESULTS_WINDOW:
            raise FundError(f"results window {format_duration(self.results_window)} is outside the contract's bounds, "
                            f"{format_duration(MIN_RESULTS_WINDOW)} to {format_duration(MAX_RESULTS_WINDOW)}")
        if self.corr_weight_bps == 0 and self.mmc_weight_bps == 0:
            raise FundError("both score weights are 0: every model would score 0; give CORR or MMC a weight above 0")


def _tokens(value, what: str) -> int:
    return parse_amount(value)


def _parsed(parse, value, flag: str):
    try:
        return parse(value, flag)
    except InvalidInputError as e:
        message = str(e)
        raise FundError(message if message.startswith(flag) else f"{flag}: {message}") from None


def build_params(*, threshold, min_stake, cap=DEFAULTS["cap"], corr_weight=DEFAULTS["corr_weight"],
                 mmc_weight=DEFAULTS["mmc_weight"], results_window=DEFAULTS["results_window"]) -> Params:
    """Params from people's units: tokens (`2000`), `5%`, weights (`0.5`), a duration (`7d`); checked."""
    params = Params(_parsed(_tokens, threshold, "threshold"), _parsed(_tokens, min_stake, "min stake"),
                    _parsed(parse_percent, cap, "cap"), _parsed(parse_duration, results_window, "results window"),
                    _parsed(parse_weight, corr_weight, "CORR weight"), _parsed(parse_weight, mmc_weight, "MMC weight"))
    params.check()
    return params


def changed_params(current: Params, *, threshold=None, min_stake=None, cap=None, corr_weight=None, mmc_weight=None,
                   results_window=None) -> Params:
    """`current` with the values given (None: unchanged) replaced; checked."""
    changes = {}
    for field, value, parse, flag in (("threshold", threshold, _tokens, "threshold"),
                                      ("min_stake", min_stake, _tokens, "min stake"),
                                      ("cap", cap, parse_percent, "cap"),
                                      ("results_window", results_window, parse_duration, "results window"),
                                      ("corr_weight_bps", corr_weight, parse_weight, "CORR weight"),
                                      ("mmc_weight_bps", mmc_weight, parse_weight, "MMC weight")):
        if value is not None:
            changes[field] = _parsed(parse, value, flag)
    if not changes:
        raise FundError("no parameter to change: give at least one of the threshold, min stake, cap, CORR weight, "
                        "MMC weight and results window")
    params = replace(current, **changes)
    params.check()
    return params
