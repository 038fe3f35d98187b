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

# Tournament.KIND_*: what a round scores, its two scores' names, and a Signals tournament's defaults
KINDS = ("classic", "signals", "signals-fnc")
SCORE_NAMES = {0: ("CORR", "MMC"), 1: ("alpha", "MPC"), 2: ("FNC", "MPC")}
SIGNALS_DEFAULTS = {"corr_weight": "0.3", "mmc_weight": "0.8", "min_tickers": 100}  # Numerai Signals' payout
UINT32_MAX = 2**32 - 1


@dataclass(frozen=True)
class Params:
    """`Tournament.Params` in the contract's units."""

    threshold: int  # wei
    min_stake: int  # wei
    cap: int  # WAD
    results_window: int  # seconds
    corr_weight_bps: int  # the first score's: CORR, or Signals' alpha or FNC
    mmc_weight_bps: int  # the contribution score's: MMC, or Signals' MPC
    kind: int = 0  # an index of KINDS
    min_tickers: int = 0  # Signals: the fewest valid universe tickers a submission needs

    def as_tuple(self) -> tuple:
        """The struct's fields in the contract's order, for createTournament and setTournamentParams."""
        return (self.threshold, self.min_stake, self.cap, self.results_window, self.corr_weight_bps,
                self.mmc_weight_bps, self.kind, self.min_tickers)

    @classmethod
    def from_chain(cls, p) -> "Params":
        """From the contract's struct (a named tuple with its field names)."""
        return cls(p.threshold, p.minStake, p.cap, p.resultsWindow, p.corrWeightBps, p.mmcWeightBps, p.kind,
                   p.minTickers)

    @property
    def signals(self) -> bool:
        """A Signals tournament: values per ticker, scored neutralised against the round's factors."""
        return self.kind != 0

    @property
    def score_names(self) -> tuple[str, str]:
        """The two scores the weights apply to: ("CORR", "MMC"), ("alpha", "MPC") or ("FNC", "MPC")."""
        return SCORE_NAMES[self.kind]

    @property
    def threshold_tokens(self) -> Decimal:
        return to_tokens(self.threshold)

    @property
    def min_stake_tokens(self) -> Decimal:
        return to_tokens(self.min_stake)

    def describe(self) -> str:
        """`threshold 2000 tokens, min stake 1, cap 5%, score 0.5 x CORR + 2 x MMC, results window 7d`
        (a Signals tournament: `signals, at least 100 tickers, ... score 0.3 x alpha + 0.8 x MPC ...`)."""
        first, second = self.score_names
        kind = f"{KINDS[self.kind]}, at least {self.min_tickers:,} tickers, " if self.signals else ""
        return (f"{kind}threshold {self.threshold_tokens:,} tokens, min stake {self.min_stake_tokens:,}, "
                f"cap {format_percent(self.cap)}, score {format_weight(self.corr_weight_bps)} x {first} + "
                f"{format_weight(self.mmc_weight_bps)} x {second}, "
                f"results window {format_duration(self.results_window)}")

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
        if not 0 <= self.kind < len(KINDS):
            raise FundError(f"unknown tournament kind {self.kind}: one of {', '.join(KINDS)}")
        if self.signals and not 0 < self.min_tickers <= UINT32_MAX:
            raise FundError(f"a Signals tournament needs a ticker floor of 1 to {UINT32_MAX:,}, not {self.min_tickers}")
        if not self.signals and self.min_tickers:
            raise FundError("a classic tournament has no ticker floor: a submission has every live id")
        if self.corr_weight_bps == 0 and self.mmc_weight_bps == 0:
            first, second = self.score_names
            raise FundError(f"both score weights are 0: every model would score 0; give {first} or {second} a "
                            "weight above 0")


def _tokens(value, what: str) -> int:
    return parse_amount(value)


def _whole(value, flag: str) -> int:
    try:
        return int(str(value).replace(",", ""))
    except ValueError:
        raise FundError(f"{flag}: {value!r} is not a whole number, e.g. 100") from None


def _parsed(parse, value, flag: str):
    try:
        return parse(value, flag)
    except InvalidInputError as e:
        message = str(e)
        raise FundError(message if message.startswith(flag) else f"{flag}: {message}") from None


def build_params(*, threshold, min_stake, cap=DEFAULTS["cap"], corr_weight=None, mmc_weight=None,
                 results_window=DEFAULTS["results_window"], kind="classic", min_tickers=None) -> Params:
    """Params from people's units: tokens (`2000`), `5%`, weights (`0.5`), a duration (`7d`), a kind
    of KINDS; checked. Weights and the ticker floor default by kind (classic 0.5 CORR + 2 MMC;
    Signals 0.3 alpha (or FNC) + 0.8 MPC, at least 100 tickers, as Numerai's)."""
    if kind not in KINDS:
        raise FundError(f"unknown tournament kind {kind!r}: one of {', '.join(KINDS)}")
    index = KINDS.index(kind)
    defaults = SIGNALS_DEFAULTS if index else {**DEFAULTS, "min_tickers": 0}
    first, second = SCORE_NAMES[index]
    params = Params(_parsed(_tokens, threshold, "threshold"), _parsed(_tokens, min_stake, "min stake"),
                    _parsed(parse_percent, cap, "cap"), _parsed(parse_duration, results_window, "results window"),
                    _parsed(parse_weight, defaults["corr_weight"] if corr_weight is None else corr_weight,
                            f"{first} weight"),
                    _parsed(parse_weight, defaults["mmc_weight"] if mmc_weight is None else mmc_weight,
                            f"{second} weight"),
                    index, _whole(defaults["min_tickers"] if min_tickers is None else min_tickers, "min tickers"))
    params.check()
    return params


def changed_params(current: Params, *, threshold=None, min_stake=None, cap=None, corr_weight=None, mmc_weight=None,
                   results_window=None, min_tickers=None) -> Params:
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
    if min_tickers is not None:
        changes["min_tickers"] = _whole(min_tickers, "min tickers")
    if not changes:
        raise FundError("no parameter to change: give at least one of the threshold, min stake, cap, CORR weight, "
                        "MMC weight, results window and ticker floor")
    params = replace(current, **changes)
    params.check()
    return params
