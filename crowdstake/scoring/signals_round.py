"""``signals_round_scores``: a Signals round's table, in the shape of the classic
``round_scores`` (so the oracle's tree, table and payouts are the same code for both kinds):
``corr`` holds the first score (alpha, or FNC), ``mmc`` the MPC, then the combined ``score``,
its quantised integer and a ``reason`` ('' when the submission is fine).

A submission is a value per ticker. Tickers outside the round's universe are dropped (the
store drops them too); a ticker of the universe that a model did not send counts as 0.5, the
middle of (0, 1): no view, ranked among the others at the median. A model whose signal has a
duplicate ticker, a value outside (0, 1) or not finite, fewer than ``min_tickers`` tickers of
the universe, or a stake but no file, scores ``FLOOR_SCORE`` and does not enter the meta
portfolio. MPC is each valid model's contribution to the stake-weighted portfolio of the valid
staked models; with none, or a zero portfolio (all stake on constant signals), every MPC is 0.

Determinism: the universe is sorted and models are sorted by name inside ``alpha``,
``meta_portfolio_contribution`` and ``feature_neutral_corr``, which sum in a fixed order; so
the table does not depend on row, model or thread order."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from crowdstake.errors import InvalidInputError
from crowdstake.scoring.align import _sort_key
from crowdstake.scoring.metrics import feature_neutral_corr
from crowdstake.scoring.quantization import FLOOR_SCORE, SCORE_SCALE, quantize
from crowdstake.scoring.round_table import _weights
from crowdstake.scoring.signals import alpha, meta_portfolio_contribution

NO_VIEW = 0.5  # a universe ticker a model did not send
FIRST_SCORES = ("alpha", "fnc")
SIGNALS_SCORES = {1: "alpha", 2: "fnc"}  # Tournament.KIND_SIGNALS, KIND_SIGNALS_FNC: the first score


def _problem(signal: pd.Series, universe: pd.Index, min_tickers: int) -> str:
    """Why a signal scores at the floor, or ''."""
    if signal.index.has_duplicates:
        return f"ticker {signal.index[signal.index.duplicated()][0]} appears twice"
    values = pd.to_numeric(signal, errors="coerce").to_numpy(dtype=float)
    bad = ~(np.isfinite(values) & (values > 0) & (values < 1))
    if bad.any():
        return f"signal of ticker {signal.index[bad][0]} is not a number strictly between 0 and 1"
    valid = int(signal.index.isin(universe).sum())
    if valid < min_tickers:
        return f"{valid} tickers of the universe, the round needs at least {min_tickers}"
    return ""


def signals_round_scores(predictions: Mapping[Any, pd.Series], neutralizers: pd.DataFrame, sample_weights: pd.Series,
                         targets: pd.Series, stakes: Mapping[Any, float], weights: Any, *, score: str = "alpha",
                         min_tickers: int = 1) -> pd.DataFrame:
    """Score a whole Signals round.

    @param predictions mapping model -> Series of signals indexed by ticker (one file per model).
    @param neutralizers DataFrame (universe tickers x factors): the round's neutraliser matrix;
           its index is the universe.
    @param sample_weights Series indexed by the universe's tickers, >= 0.
    @param targets Series indexed by ticker (forward returns); NaN or absent: not scored.
    @param stakes mapping model -> stake (>= 0); a staked model with no predictions scores at the floor.
    @param weights (w_first, w_mpc): the weights of alpha (or FNC) and of MPC.
    @param score "alpha" (Numerai's Signals score) or "fnc" (feature-neutral CORR against the
           neutralisers, Numerai's earlier one).
    @return DataFrame indexed by model (sorted), columns corr (alpha or FNC), mmc (MPC), score,
            quantized (int64) and reason.
    @raise InvalidInputError for a malformed universe, targets, stakes or weights.
    """
    if score not in FIRST_SCORES:
        raise InvalidInputError(f"unknown Signals score {score!r}: one of {', '.join(FIRST_SCORES)}")
    w_first, w_mpc = _weights(weights)
    universe = neutralizers.index
    if universe.has_duplicates or len(universe) < 2:
        raise InvalidInputError("the universe (the neutralisers' tickers) needs at least 2 tickers, each once")
    names = sorted(set(predictions) | set(stakes), key=_sort_key)
    reasons = {m: ("no predictions submitted: the model is staked but sent no file" if m not in predictions
                   else _problem(predictions[m], universe, min_tickers)) for m in names}
    valid = [m for m in names if not reasons[m]]
    first = pd.Series(np.nan, index=names, dtype=float)
    mpc = pd.Series(np.nan, index=names, dtype=float)
    if valid:
        x = pd.DataFrame({m: pd.to_numeric(predictions[m]).reindex(universe, fill_value=NO_VIEW) for m in valid},
                         index=universe)
        t = targets.reindex(universe).astype(float)
        first[valid] = (alpha(x, neutralizers, sample_weights, t) if score == "alpha"
                        else feature_neutral_corr(x, neutralizers, t))
        stake = pd.Series([float(stakes.get(m, 0.0)) for m in valid], index=valid)
        if (stake > 0).any():  # an unstaked model's MPC: its gradient at a stake of 0, as Numerai's
            mpc[valid] = meta_portfolio_contribution(x, stake, neutralizers, sample_weights, t)
        mpc[valid] = mpc[valid].fillna(0.0)  # a zero portfolio has no direction to contribute to
    ok = np.array([not reasons[m] for m in names], dtype=bool)
    combined = np.full(len(names), FLOOR_SCORE / SCORE_SCALE)
    combined[ok] = w_first * first.to_numpy()[ok] + w_mpc * mpc.to_numpy()[ok]
    quant = np.full(len(names), FLOOR_SCORE, dtype=np.int64)
    if ok.any():
        quant[ok] = quantize(combined[ok])
    return pd.DataFrame({"corr": first.to_numpy(), "mmc": mpc.to_numpy(), "score": combined, "quantized": quant,
                         "reason": [reasons[m] for m in names]}, index=pd.Index(names, name="model", dtype=object))
