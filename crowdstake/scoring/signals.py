"""Numerai Signals scores: alpha, meta portfolio contribution (MPC), churn and turnover.

Semantics follow numerai-tools (``scoring.alpha``, ``scoring.meta_portfolio_contribution``,
``signals.churn``, ``signals.turnover``), with the same argument order and pandas types, and
are checked by the tests to 1e-9. FNC for Signals is the classic ``feature_neutral_corr``
with the round's neutralisers as the features; it is not repeated here.

With tickers sorted, the scored tickers' targets ``t`` centred, ``v`` the sample weights, ``N``
the neutraliser matrix (tickers x factors) and ``s'`` a model's signal tie-kept ranked,
gaussianised and raised to the signed power 1.5, numerai-tools computes the neutral weights
``w = v * (s' - N (N^T (v * s')))`` and ``alpha = w . t / n``. The map ``P(x) = v * (x - N (N^T
(v * x)))`` is symmetric, so ``w . x = s' . P(x)`` for every vector x: alpha is ``s' . P(t) / n``
and every model's score is one dot product with one vector, never a projection per model.
MPC is the gradient, with respect to the normalised stakes, of the alpha of the centred
stake-weighted portfolio ``p = W_c s``: ``(W_c^T t - W_c^T p (p . t) / (p . p)) / |p| / 50``,
where ``W_c^T x = S^T P(x) - mean(W) sum(x)``; it takes three passes over the signals.

Determinism (as in the classic scores): tickers are sorted and models are sorted by name
before anything is summed; ranks are exact half-integers; every reduction is one of numpy's
fixed-order sums, never BLAS; the power 1.5 is ``x * sqrt(|x|)``. So the same inputs in any
ticker or model order give bit-identical floats, hence identical ``quantize`` integers.

Inputs. Predictions, neutralisers, sample weights and targets must index the same set of
tickers (in any order); a NaN target marks a ticker that is not scored (it is left out of the
ranking, as numerai-tools filters it out). Predictions, neutralisers and weights must be
finite, weights >= 0; stakes must name exactly the predictions' models. Anything else raises
``InvalidInputError`` with one line saying what to fix. A constant signal scores 0, as in
numerai-tools.
"""

from __future__ import annotations

import math
from typing import Any, Optional, Union

import numpy as np
import pandas as pd

from crowdstake.errors import InvalidInputError
from crowdstake.scoring.align import _show, _sort_key, _sorted_ids
from crowdstake.scoring.transforms import _blocks, _gauss_table, _map_blocks, _rank_table, _ranked

# numerai-tools' filter_sort_index: at most this share of either series may be dropped
_MAX_FILTERED_RATIO = 0.2
_MPC_SCALE = 50  # numerai-tools divides the gradient by 50


# --------------------------------------------------------------------------------------------
# input checks


def _series(x: Any, what: str) -> pd.Series:
    if isinstance(x, pd.DataFrame) and x.shape[1] == 1:
        x = x.iloc[:, 0]
    if not isinstance(x, pd.Series):
        raise InvalidInputError(f"{what} must be a pandas Series indexed by ticker, got {type(x).__name__}; convert it with pd.Series")
    if not pd.api.types.is_numeric_dtype(x.dtype) or pd.api.types.is_bool_dtype(x.dtype):
        raise InvalidInputError(f"{what} must be numeric, got dtype {x.dtype}; convert it with .astype(float)")
    if x.index.has_duplicates:
        dup = x.index[x.index.duplicated()][0]
        raise InvalidInputError(f"{what} list ticker {_show(dup)} more than once; give one row per ticker")
    return x


def _frame(x: Any, what: str) -> pd.DataFrame:
    if not isinstance(x, pd.DataFrame):
        raise InvalidInputError(
            f"{what} must be a pandas DataFrame (rows = tickers, one column each), got {type(x).__name__};"
            " convert it with pd.DataFrame"
        )
    if x.shape[1] == 0:
        raise InvalidInputError(f"{what} have no columns; give at least one")
    if x.columns.has_duplicates:
        raise InvalidInputError(f"{what} have duplicated column names; make them unique")
    bad = [c for c, dt in x.dtypes.items() if not pd.api.types.is_numeric_dtype(dt) or pd.api.types.is_bool_dtype(dt)]
    if bad:
        raise InvalidInputError(f"{what} column {_show(bad[0])} is not numeric; convert it with .astype(float)")
    if x.index.has_duplicates:
        dup = x.index[x.index.duplicated()][0]
        raise InvalidInputError(f"{what} list ticker {_show(dup)} more than once; give one row per ticker")
    return x


def _same_tickers(index: pd.Index, other: pd.Index, what: str) -> None:
    if index.equals(other):
        return
    extra = other.difference(index, sort=False)
    missing = index.difference(other, sort=False)
    if len(missing):
        raise InvalidInputError(
            f"{what} miss {len(missing)} of the predictions' tickers, e.g. {_show(missing[0])};"
            f" reindex {what} to the predictions' tickers"
        )
    if len(extra):
        raise InvalidInputError(
            f"{what} have {len(extra)} tickers the predictions do not, e.g. {_show(extra[0])};"
            f" reindex {what} to the predictions' tickers"
        )


def _finite(a: np.ndarray, what: str, names: Optional[list] = None) -> None:
    ok = np.isfinite(a)
    if ok.all():
        return
    if names is not None:  # a is (columns x tickers): name the first bad column
        j = int(np.flatnonzero(~ok.all(axis=1))[0])
        raise InvalidInputError(
            f"{what} column {_show(names[j])} has NaN or infinite values; fill or drop them before scoring"
        )
    raise InvalidInputError(f"{what} contain NaN or infinite values; fill or drop them before scoring")


def _prepare(predictions: Any, neutralizers: Any, sample_weights: Any, targets: Any):
    """Everything aligned on the sorted scored tickers, models sorted by name.

    @return (names, order, x, f, v, t): names in input order; order, the permutation putting
            them in sorted order; x (models x tickers) in sorted model order; f (tickers x
            factors); v sample weights; t the centred targets.
    """
    if isinstance(predictions, pd.Series):
        predictions = predictions.to_frame(name=predictions.name if predictions.name is not None else 0)
    predictions = _frame(predictions, "predictions")
    neutralizers = _frame(neutralizers, "neutralizers")
    sample_weights = _series(sample_weights, "sample_weights")
    targets = _series(targets, "targets")
    index = predictions.index
    _same_tickers(index, neutralizers.index, "neutralizers")
    _same_tickers(index, sample_weights.index, "sample_weights")
    _same_tickers(index, targets.index, "targets")

    t_all = targets.to_numpy(dtype=float)
    if np.isinf(t_all).any():
        raise InvalidInputError("targets contain infinite values; targets must be finite (NaN = not scored)")
    ids = _sorted_ids(targets.index[~np.isnan(t_all)])
    if len(ids) < 2:
        raise InvalidInputError("targets need at least 2 tickers with a finite value; give the round's targets")

    names = list(predictions.columns)
    order = sorted(range(len(names)), key=lambda j: _sort_key(names[j]))
    x = np.ascontiguousarray(predictions.reindex(ids).to_numpy(dtype=float).T[order])
    _finite(x, "predictions", [names[j] for j in order])
    f = np.ascontiguousarray(neutralizers.reindex(ids).to_numpy(dtype=float))
    _finite(f, "neutralizers")
    v = sample_weights.reindex(ids).to_numpy(dtype=float)
    _finite(v, "sample_weights")
    if (v < 0).any():
        raise InvalidInputError("sample_weights must be >= 0; use the round's sample weights")
    t = targets.reindex(ids).to_numpy(dtype=float)
    t = t - t.sum() / t.size
    return names, order, x, f, v, t


# --------------------------------------------------------------------------------------------
# the maths on aligned arrays (fixed-order sums only)


def _p(x: np.ndarray, f: np.ndarray, v: np.ndarray) -> np.ndarray:
    """P(x) = v * (x - N (N^T (v * x))): the neutral weights' adjoint, applied to one vector."""
    a = (f * (v * x)[:, None]).sum(axis=0)  # N^T (v x), rows added in ticker order
    return v * (x - (f * a).sum(axis=1))


def _signals(x: np.ndarray) -> np.ndarray:
    """s' for every model: tie-kept rank, gaussianise, signed power 1.5, in blocks."""
    m, n = x.shape
    out = np.empty((m, n))
    table = _gauss_table(n, pow15=True)

    def block(blk: slice) -> None:
        out[blk] = _ranked(x[blk], table)

    _map_blocks(block, m, n)
    return out


def _dots(s: np.ndarray, g: np.ndarray) -> np.ndarray:
    """s @ g for each row of s, each a fixed-order (pairwise) sum, in blocks."""
    m, n = s.shape
    parts = _map_blocks(lambda blk: (s[blk] * g).sum(axis=1), m, n)
    return np.concatenate(parts) if parts else np.empty(0)


def _alpha_matrix(x: np.ndarray, f: np.ndarray, v: np.ndarray, t: np.ndarray) -> np.ndarray:
    n = t.size
    return _dots(_signals(x), _p(t, f, v)) / n


def _mpc_matrix(x: np.ndarray, stakes: np.ndarray, f: np.ndarray, v: np.ndarray, t: np.ndarray) -> np.ndarray:
    n = t.size
    s = _signals(x)
    mu = _dots(s, _p(np.ones(n), f, v)) / n  # each model's mean neutral weight
    # S s: the stake-weighted sum of the signals, rows added strictly in (sorted) model order
    acc = np.zeros(n)
    for blk in _blocks(*s.shape):
        buf = np.empty((blk.stop - blk.start + 1, n))
        buf[0] = acc
        np.multiply(s[blk], stakes[blk, None], out=buf[1:])
        acc = buf.sum(axis=0)
    ws = _p(acc, f, v)  # W s
    port = ws - (mu * stakes).sum()  # W_c s
    port = port - port.sum() / n  # numerai-tools re-centres once more
    pp = (port * port).sum()
    wct = _dots(s, _p(t, f, v)) - mu * t.sum()
    wcp = _dots(s, _p(port, f, v)) - mu * port.sum()
    with np.errstate(invalid="ignore", divide="ignore"):  # a zero portfolio gives NaN, as there
        return (wct - wcp * ((port * t).sum() / pp)) / math.sqrt(pp) / _MPC_SCALE


def _unsort(values: np.ndarray, order: list) -> np.ndarray:
    out = np.empty_like(values)
    out[order] = values
    return out


# --------------------------------------------------------------------------------------------
# public scores


def alpha(
    predictions: Union[pd.DataFrame, pd.Series],
    neutralizers: pd.DataFrame,
    sample_weights: pd.Series,
    targets: pd.Series,
) -> Union[pd.Series, float]:
    """Numerai Signals' alpha of each model: its neutral weights dotted with the centred targets.

    @param predictions DataFrame (rows = tickers, one column per model), or a Series (one model).
    @param neutralizers DataFrame (tickers x factors), the round's neutraliser matrix.
    @param sample_weights Series indexed by ticker, >= 0.
    @param targets Series indexed by ticker; NaN marks a ticker that is not scored.
    @return a Series of alpha per model (input order), or a float for a Series input.
    @raise InvalidInputError for mismatched tickers, non-finite values or wrong types.
    """
    names, order, x, f, v, t = _prepare(predictions, neutralizers, sample_weights, targets)
    values = _unsort(_alpha_matrix(x, f, v, t), order)
    if isinstance(predictions, pd.Series):
        return float(values[0])
    return pd.Series(values, index=pd.Index(names), dtype=float)


def meta_portfolio_contribution(
    predictions: pd.DataFrame,
    stakes: pd.Series,
    neutralizers: pd.DataFrame,
    sample_weights: pd.Series,
    targets: pd.Series,
) -> pd.Series:
    """Numerai Signals' MPC: the gradient of the stake-weighted meta portfolio's alpha with
    respect to each model's (normalised) stake, scaled as numerai-tools does (/ 50).

    @param predictions DataFrame (rows = tickers, one column per model).
    @param stakes Series model -> stake (>= 0, not all 0), naming exactly the predictions' models.
    @param neutralizers, sample_weights, targets as for ``alpha``.
    @return a Series of MPC per model, in the order of ``stakes`` (as numerai-tools); NaN for
            every model if the portfolio is zero (all stake on constant signals).
    @raise InvalidInputError for mismatched tickers or models, bad stakes, non-finite values.
    """
    predictions = _frame(predictions, "predictions")
    stakes = _series(stakes, "stakes")
    _same_models(predictions.columns, stakes.index)
    st = stakes.to_numpy(dtype=float)
    if not np.isfinite(st).all() or (st < 0).any():
        bad = stakes.index[~(np.isfinite(st) & (st >= 0))][0]
        raise InvalidInputError(f"stake of model {_show(bad)} must be finite and >= 0, got {_show(stakes[bad])}; give 0 for an unstaked model")
    if st.sum() <= 0:
        raise InvalidInputError("no model has a positive stake; give at least one positive stake")
    names, order, x, f, v, t = _prepare(predictions, neutralizers, sample_weights, targets)
    sorted_names = [names[j] for j in order]
    w = stakes.reindex(sorted_names).to_numpy(dtype=float)
    w = w / w.sum()
    values = _mpc_matrix(x, w, f, v, t)
    return pd.Series(values, index=sorted_names, dtype=float).reindex(stakes.index)


def _same_models(columns: pd.Index, stake_names: pd.Index) -> None:
    if columns.equals(stake_names):
        return
    missing = columns.difference(stake_names, sort=False)
    if len(missing):
        raise InvalidInputError(
            f"stakes miss model {_show(missing[0])} ({len(missing)} in all); give a stake (0 is fine) for every model"
        )
    extra = stake_names.difference(columns, sort=False)
    if len(extra):
        raise InvalidInputError(
            f"stakes name model {_show(extra[0])} ({len(extra)} in all) with no predictions; drop it from stakes"
        )


# --------------------------------------------------------------------------------------------
# diagnostics between two submissions


def _pair(s1: Any, s2: Any) -> tuple[np.ndarray, np.ndarray]:
    """numerai-tools' filter_sort_index: the tickers both give a (non-NaN) value for, sorted,
    if they are at least 80% of each series; values must otherwise be finite."""
    s1, s2 = _series(s1, "s1"), _series(s2, "s2")
    a_all, b_all = s1.to_numpy(dtype=float), s2.to_numpy(dtype=float)
    if np.isinf(a_all).any() or np.isinf(b_all).any():
        raise InvalidInputError("s1 and s2 must be finite (NaN = no value); drop infinite values first")
    ids = s1.index[~np.isnan(a_all)].intersection(s2.index[~np.isnan(b_all)])
    for what, s in (("s1", s1), ("s2", s2)):
        if len(s) == 0 or len(ids) / len(s) < 1 - _MAX_FILTERED_RATIO:
            raise InvalidInputError(
                f"{what} shares only {len(ids)} of its {len(s)} tickers with the other series;"
                f" at least {1 - _MAX_FILTERED_RATIO:.0%} must overlap"
            )
    ids = _sorted_ids(ids)
    return s1.reindex(ids).to_numpy(dtype=float), s2.reindex(ids).to_numpy(dtype=float)


def _pearson(a: np.ndarray, b: np.ndarray) -> float:
    n = a.size
    a = a - a.sum() / n
    b = b - b.sum() / n
    return float((a * b).sum() / math.sqrt((a * a).sum() * (b * b).sum()))


def _top_bottom(s: Any, k: int, what: str) -> tuple[pd.Index, pd.Index]:
    s = _series(s, what)
    values = s.to_numpy(dtype=float)
    if not np.isfinite(values).all():
        raise InvalidInputError(f"{what} must be finite to pick its top and bottom; drop NaN values first")
    if k > len(s):
        raise InvalidInputError(f"top_bottom={k} is more than {what}'s {len(s)} tickers; use a smaller top_bottom")
    ids = _sorted_ids(s.index)
    values = s.reindex(ids).to_numpy(dtype=float)
    rank = np.argsort(values, kind="stable")  # ties broken by ticker order
    return ids[rank[-k:]], ids[rank[:k]]


def churn(s1: pd.Series, s2: pd.Series, top_bottom: Optional[int] = None) -> float:
    """Churn between two submissions: 1 - Spearman correlation on their common tickers, or
    with ``top_bottom`` = k, 1 - the mean share of tickers that stay in the top k and in the
    bottom k (as numerai-tools; ties at the cut are broken by ticker order, so the result
    does not depend on row order; numerai-tools breaks them by row order).

    @raise InvalidInputError if fewer than 80% of either series' tickers overlap, or a series
           is constant on them.
    """
    if top_bottom is not None and top_bottom > 0:
        k = int(top_bottom)
        top1, bot1 = _top_bottom(s1, k, "s1")
        top2, bot2 = _top_bottom(s2, k, "s2")
        top = len(top1.intersection(top2)) / k
        bot = len(bot1.intersection(bot2)) / k
        return 1 - (top + bot) / 2
    a, b = _pair(s1, s2)
    for what, x in (("s1", a), ("s2", b)):
        if x.size < 2 or x.min() == x.max():
            raise InvalidInputError(f"{what} is constant on the common tickers; churn needs a varying signal")
    table = _rank_table(a.size)
    ra = _ranked(a[None, :], table)[0]
    rb = _ranked(b[None, :], table)[0]
    return 1 - _pearson(ra, rb)


def turnover(s1: pd.Series, s2: pd.Series) -> float:
    """Turnover between two portfolios' weights: sum |s1 - s2| / 2 over their common tickers.

    @raise InvalidInputError if fewer than 80% of either series' tickers overlap.
    """
    a, b = _pair(s1, s2)
    return float(np.abs(a - b).sum() / 2)
