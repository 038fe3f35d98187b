"""The season's Signals participants and the signals they submit, from the synthetic Signals
market (``crowdstake.fund.signals_market``).

Kinds: "sentiment" brings its own data (the market's sentiment feed, which leaks part of the
idiosyncratic return, seen through its own noise), "momentum" submits the momentum factor
itself (a pure factor bet: neutralisation leaves it about nothing), "copycat" copies the first
sentiment participant's file, "withholder" commits a hash and never uploads. A signal is the
raw value's rank mapped into (0, 1), ``(rank - 0.5) / n``, rounded to 6 decimals.

Deterministic: wallets come from the seed (`demo_account`), stakes and noise from the
generator passed in, drawn in cast order, so a seed replays the Signals half of a season. No
chain.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from crowdstake.fund.signals_market import SignalsMarket

SIGNALS_CAST = [("sentiment-00", "sentiment"), ("sentiment-01", "sentiment"), ("sentiment-02", "sentiment"),
                ("momentum-00", "momentum"), ("momentum-01", "momentum"),
                ("signals-copycat", "copycat"), ("signals-withholder", "withholder")]
MOMENTUM_NOISE = 0.2  # a little of its own noise: two momentum bets are not one file


def ranked(raw: pd.Series) -> pd.Series:
    """Raw values as a submission: ranks in (0, 1), ties broken by ticker order."""
    return ((raw.rank(method="first") - 0.5) / len(raw)).round(6).rename("signal")


def signal_for(kind: str, market: SignalsMarket, round_number: int, noise: float,
               rng: np.random.Generator) -> pd.Series:
    """A "sentiment" or "momentum" (or "withholder", who would send sentiment) participant's
    signal for round `round_number`, indexed by the round's universe."""
    n = len(market.round(round_number).universe)
    if kind == "momentum":
        return ranked(market.momentum(round_number) + MOMENTUM_NOISE * rng.standard_normal(n))
    return ranked(market.sentiment_of(round_number) + noise * rng.standard_normal(n))
