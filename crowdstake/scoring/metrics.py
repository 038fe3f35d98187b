"""The scores: CORR, MMC and the meta model on aligned matrices (fixed-order sums, blocks),
and the public functions around them (numerai_corr, correlation_contribution, neutralize,
feature_neutral_corr, stake_weighted_meta_model)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Union

import numpy as np
import pandas as pd

from crowdstake.errors import InvalidInputError
from crowdstake.scoring.align import (
    Predictions,
    _clean_stakes,
    _clean_targets,
    _show,
    _sort_key,
    _sorted_ids,
    _strict,
    _wrap_scores,
)
from crowdstake.scoring import kernels
from crowdstake.scoring.transforms import _gauss_table, _map_blocks, _pow15, _rank_table, _ranked


# --------------------------------------------------------------------------------------------
# scores on aligned matrices (models x ids, rows sorted by id): x holds either predictions
# (float64, ranked by each score) or their doubled ranks (int32, from _doubled_ranks, so one
# sort per model serves several scores); both give the same bits


def _gauss(x: np.ndarray, table: np.ndarray) -> np.ndarray:
    """``table[doubled rank]`` of each element of x (predictions or their doubled ranks)."""
    return table[x] if x.dtype == np.int32 else _ranked(x, table)


def _per_row(kernel, *args):
    """``fn(rows, lo, hi)``: ``kernel``'s value for each row of a block of aligned predictions
    (with each row's min and max), the form _inspect's ``reduce`` and _rowwise take."""

    def fn(xb: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
        out = np.empty(xb.shape[0])
        kernel(xb, lo, hi, *args, out)
        return out

    return fn


def _rowwise(x: np.ndarray, of_values, of_ranks, *args) -> np.ndarray:
    """One kernel value per row of x: ``of_ranks`` if x holds doubled ranks (int32), else
    ``of_values``, which ranks each row itself; the two give the same bits."""
    out = np.empty(x.shape[0])
    if x.dtype != np.int32:
        x = np.ascontiguousarray(x, dtype=np.float64)
    by_values = _per_row(of_values, *args)

    def block(blk: slice) -> None:
        xb = x[blk]
        if xb.dtype == np.int32:
            of_ranks(xb, *args, out[blk])
        else:
            out[blk] = by_values(xb, xb.min(axis=1), xb.max(axis=1))

    if x.size:
        _map_blocks(block, *x.shape, compiled=True)
    return out


def _corr_terms(t: np.ndarray) -> tuple:
    """(table, tc, tt) of CORR against targets t: the gaussianise-and-power-1.5 table, the
    centred powered targets and their squared norm."""
    n = t.size
    t15 = _pow15(t - t.sum() / n)
    tc = t15 - t15.sum() / n
    return _gauss_table(n, pow15=True), tc, (tc * tc).sum()


def _corr_matrix(x: np.ndarray, t: np.ndarray) -> np.ndarray:
    """CORR of each row of x with targets t (both aligned, finite); NaN for a constant row (its
    gaussianised values are all 0, and 0 / 0 is NaN)."""
    return _rowwise(x, kernels.corr_rows, kernels.corr_of_ranks, *_corr_terms(t))


def _mmc_terms(meta: np.ndarray, t: np.ndarray) -> tuple:
    """(table, c) of MMC against meta model ``meta`` with targets t: each model's MMC is
    ``table[doubled ranks] . c``."""
    n = t.size
    if t.min() >= 0 and t.max() <= 1:
        t = t * 4  # numerai-tools maps [0, 1] targets to buckets -2..2
    tc = t - t.sum() / n
    table = _gauss_table(n, pow15=False)
    m = _ranked(meta[None, :], table)[0]
    mm = (m * m).sum()
    if mm == 0:  # a constant meta model has nothing to contribute to: every MMC is 0
        return table, np.zeros(n)
    # t . (p - m (p.m)/(m.m)) / n = p . (t - m (t.m)/(m.m)) / n: the orthogonalisation moves
    # to the one target vector, so each model costs a single dot product
    return table, (tc - m * ((tc * m).sum() / mm)) / n


def _mmc_matrix(x: np.ndarray, meta: np.ndarray, t: np.ndarray) -> np.ndarray:
    """MMC of each row of x against meta model ``meta`` with targets t (all aligned, finite)."""
    return _rowwise(x, kernels.dot_rows, kernels.dot_of_ranks, *_mmc_terms(meta, t))


def _meta_matrix(x: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Tie-kept rank of the weighted mean of the rank-gaussianised rows of x.

    The weighted rows are added strictly in row (sorted model) order, element-wise in numpy,
    never by BLAS: each block is reduced over its leading axis with the running total as its
    first row, and numpy reduces the leading axis of a C-ordered array one row at a time. So
    neither the block size nor the thread count changes a bit (the tests check both).
    """
    n = x.shape[1]
    w = weights / weights.sum()
    table = _gauss_table(n, pow15=False)
    acc = np.zeros(n)
    # a chunk of rows at a time, so at most ~_META_CHUNK weighted values wait to be added
    step = max(1, _META_CHUNK // max(n, 1))
    for lo in range(0, x.shape[0], step):
        xs, ws = x[lo : lo + step], w[lo : lo + step]

        def block(blk: slice, xs=xs, ws=ws) -> np.ndarray:
            buf = np.empty((blk.stop - blk.start + 1, n))  # row 0 will hold the running total
            np.multiply(_gauss(xs[blk], table), ws[blk, None], out=buf[1:])
            return buf

        for buf in _map_blocks(block, xs.shape[0], n):
            buf[0] = acc
            acc = buf.sum(axis=0)
    return _ranked(acc[None, :], _rank_table(n))[0]


_META_CHUNK = 1 << 24  # 128 MB of float64


# --------------------------------------------------------------------------------------------
# public scores


def numerai_corr(predictions: Predictions, targets: pd.Series) -> Union[pd.Series, float]:
    """Numerai's CORR of each model with the targets.

    @param predictions DataFrame (rows = ids, one column per model), a Series (one model), or a
           mapping model -> Series; every scored id must have a finite prediction.
    @param targets Series indexed by id; NaN marks an id that is not scored.
    @return a Series of CORR per model (input order), or a float for a Series input; NaN for a
            constant model.
    @raise InvalidInputError naming each model whose predictions are unusable.
    """
    ids, t = _clean_targets(targets)
    names, corr, _ = _strict(predictions, ids, reduce=_per_row(kernels.corr_rows, *_corr_terms(t)))
    return _wrap_scores(corr, names, predictions)


def correlation_contribution(
    predictions: Predictions, meta_model: pd.Series, targets: pd.Series
) -> Union[pd.Series, float]:
    """Numerai's MMC: each model's contribution to the meta model's correlation with the target.

    @param predictions as for numerai_corr.
    @param meta_model Series indexed by id covering every scored id (e.g. from
           stake_weighted_meta_model).
    @param targets Series indexed by id; if all lie in [0, 1] they are scaled x4 before centring.
    @return a Series of MMC per model (input order), or a float for a Series input.
    @raise InvalidInputError for unusable predictions or meta model.
    """
    ids, t = _clean_targets(targets)
    if not isinstance(meta_model, pd.Series):
        raise InvalidInputError("meta_model must be a pandas Series indexed by id")
    _, meta, _ = _strict(meta_model, ids, name="meta_model")
    terms = _mmc_terms(meta[0], t)
    names, mmc, _ = _strict(predictions, ids, reduce=_per_row(kernels.dot_rows, *terms))
    return _wrap_scores(mmc, names, predictions)


def neutralize(predictions: Union[pd.DataFrame, pd.Series], neutralizers: pd.DataFrame, proportion: float = 1.0):
    """Remove from each column its least-squares fit on the neutralisers (plus an intercept).

    @param predictions DataFrame (ids x models) or Series; finite values.
    @param neutralizers DataFrame (ids x factors) covering every id of predictions; finite.
    @param proportion the share of the fit to subtract (1.0 = fully neutral).
    @return the same type, with ``proportion`` of the projection on [neutralizers, 1] removed;
            a constant column becomes NaN, as in numerai-tools.
    """
    if not isinstance(neutralizers, pd.DataFrame):
        raise InvalidInputError("neutralizers must be a DataFrame indexed by id")
    if not isinstance(predictions, (pd.DataFrame, pd.Series)):
        raise InvalidInputError("predictions must be a DataFrame or Series indexed by id")
    ids = predictions.index
    if ids.has_duplicates:
        raise InvalidInputError("predictions have duplicated ids")
    names, x, constant = _strict(predictions, ids)
    out = _neutralize_matrix(x, _neutralizer_matrix(neutralizers, ids), float(proportion))
    out[constant] = np.nan
    if isinstance(predictions, pd.Series):
        return pd.Series(out[0], index=ids, name=predictions.name)
    return pd.DataFrame(out.T, index=ids, columns=predictions.columns)


def _neutralizer_matrix(neutralizers: pd.DataFrame, ids: pd.Index) -> np.ndarray:
    if neutralizers.index.has_duplicates:
        raise InvalidInputError("neutralizers have duplicated ids")
    missing = ids.difference(neutralizers.index, sort=False)
    if len(missing):
        raise InvalidInputError(f"neutralizers miss {len(missing)} ids, e.g. {_show(missing[0])}")
    f = neutralizers.reindex(ids).to_numpy(dtype=float)
    if not np.isfinite(f).all():
        raise InvalidInputError("neutralizers contain NaN or infinite values")
    return f


def _neutralize_matrix(x: np.ndarray, f: np.ndarray, proportion: float) -> np.ndarray:
    """x (models x ids) minus proportion x its projection on the span of [f, 1]."""
    a = np.hstack([f, np.ones((f.shape[0], 1))])
    u, s, _ = np.linalg.svd(a, full_matrices=False)
    u = u[:, s > 1e-6 * s[0]]  # same cut-off as lstsq(rcond=1e-6): drop collinear directions
    return x - proportion * ((x @ u) @ u.T)


def feature_neutral_corr(predictions: Predictions, features: pd.DataFrame, targets: pd.Series) -> Union[pd.Series, float]:
    """Feature-neutral CORR (FNC): CORR of the predictions after neutralising their
    rank-gaussianised values against the features.

    @param predictions as for numerai_corr.
    @param features DataFrame (ids x features) covering every scored id; finite.
    @param targets Series indexed by id.
    @return a Series of FNC per model (input order), or a float for a Series input.
    """
    ids, t = _clean_targets(targets)
    names, x, constant = _strict(predictions, ids)
    g = _ranked(x, _gauss_table(len(ids), pow15=False))
    neutral = _neutralize_matrix(g, _neutralizer_matrix(features, ids), 1.0)
    # a model fully explained by the features is constant after neutralisation: NaN, as a constant
    neutral[constant] = 0.0
    out = _corr_matrix(neutral, t)
    out[constant] = np.nan
    return _wrap_scores(out, names, predictions)


def stake_weighted_meta_model(predictions: Union[pd.DataFrame, Mapping], stakes: Any) -> pd.Series:
    """The meta model the fund trades: stake-weighted mean of each model's rank-gaussianised
    predictions, re-ranked (tie-kept) into (0, 1).

    @param predictions DataFrame (ids x models) or mapping model -> Series; every staked model
           must predict every id of the DataFrame's index (the union of the Series' ids).
    @param stakes mapping or Series model -> stake (>= 0); models without a stake weigh 0.
    @return a Series indexed by the sorted ids.
    @raise InvalidInputError if a staked model is missing or unusable, or no stake is positive.
    """
    w_by_model = _clean_stakes(stakes)
    if isinstance(predictions, pd.DataFrame):
        ids = predictions.index
    elif isinstance(predictions, Mapping):
        ids = pd.Index([]).append([s.index for s in predictions.values() if isinstance(s, pd.Series)]).unique()
    else:
        raise InvalidInputError("predictions must be a DataFrame (ids x models) or a mapping model -> Series")
    names_all = list(predictions.keys()) if isinstance(predictions, Mapping) else list(predictions.columns)
    known = set(names_all)  # once, not per stake (that was quadratic in the model count)
    unknown = [nm for nm, w in w_by_model.items() if w > 0 and nm not in known]
    if unknown:
        raise InvalidInputError(f"staked models without predictions: {', '.join(map(_show, unknown[:10]))}")
    staked = sorted((nm for nm in names_all if w_by_model.get(nm, 0.0) > 0), key=_sort_key)
    if not staked:
        raise InvalidInputError("no model has a positive stake; the meta model is undefined")
    ids = _sorted_ids(ids.unique())
    sub = predictions[staked] if isinstance(predictions, pd.DataFrame) else {nm: predictions[nm] for nm in staked}
    _, x, constant = _strict(sub, ids)
    if constant.any():
        raise InvalidInputError(f"constant predictions for staked model(s) {', '.join(_show(staked[j]) for j in np.flatnonzero(constant))}")
    w = np.array([w_by_model[nm] for nm in staked])
    return pd.Series(_meta_matrix(x, w), index=ids, name="meta_model")
