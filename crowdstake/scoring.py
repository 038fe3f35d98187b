"""Vectorised, deterministic Numerai-compatible scoring for the crowdstake oracle.

Semantics follow Numerai's public ``numerai-tools`` (``scoring.py``), checked by the tests to
1e-9; the implementation is independent and works on whole matrices (numpy/scipy), with no
per-model Python loop on the numeric path.

- ``numerai_corr``: tie-kept rank ``(rank(average) - 0.5) / n``, inverse normal CDF, signed
  power 1.5; the target centred and signed power 1.5; Pearson correlation.
- ``correlation_contribution`` (MMC): rank-gaussianise predictions and meta model,
  orthogonalise predictions against the meta model, ``t . p_orth / n`` with the target
  centred (and scaled x4 first when every target lies in [0, 1], as numerai-tools does).
- ``neutralize``, ``feature_neutral_corr`` (FNC): least-squares neutralisation with an
  intercept; FNC is ``numerai_corr`` of the neutralised rank-gaussianised predictions.
- ``stake_weighted_meta_model``: stake-weighted mean of rank-gaussianised predictions, re-ranked.
- ``round_scores``: one table per round (corr, mmc, combined score, quantised integer, reason).

On-chain scale. ``SCORE_SCALE = 10**6``: the Tournament contract's ``int256 score`` is the
score times 10**6 (0.0123 -> 12300). ``FLOOR_SCORE = -SCORE_SCALE`` (-1.0) is the score of a
missing or malformed submission; the contract clamps it to ``-cap``, the maximum burn.
``quantize`` clips every score to ``[FLOOR_SCORE, SCORE_SCALE]``, so no valid submission
scores below a bad one: withholding or corrupting a file never pays.

Determinism (independent operators must produce identical integers):
- rows are sorted by id and models by name before anything is summed, so input order cannot
  change a bit of any result;
- ranks are exact half-integers that do not depend on how a sort breaks ties;
- every reduction that feeds a score is one of numpy's fixed-order sums (``ndarray.sum``:
  pairwise along a row, row after row across models), never BLAS (``@``/``dot``), whose
  order depends on the thread count and the CPU kernel; models are scored in blocks on a
  few threads, but each block's results depend only on its own rows;
- the signed power 1.5 is ``x * sqrt(|x|)`` (IEEE-exact operations) rather than ``pow``,
  which numpy dispatches to CPU-specific SIMD code;
- ``quantize`` rounds the exact binary value of ``score * 10**6`` half to even, using exact
  rational arithmetic whenever the float product lies near a half-integer (see there), so
  a boundary case is decided by the score itself, never by a rounding of the product.
The one platform dependence left is the C library's ``log`` in the tails of the inverse
normal CDF: operators on the same pinned stack get bit-identical floats; a last-bit
difference elsewhere could move an integer only for a score within ~1e-15 of a rounding
boundary (about one model in 10**9).

Bad inputs. Whole-call problems (targets malformed, stakes negative, ...) raise
``InvalidInputError``. In ``round_scores`` a problem with one model (missing ids, NaN or
infinite predictions, a constant column, duplicated ids, values outside [0, 1], no
submission at all) is never an exception: that model gets ``FLOOR_SCORE`` and a ``reason``
naming the problem, and is left out of the meta model. The lower-level functions raise
``InvalidInputError`` naming each bad model instead (a constant column gives NaN there, as in
numerai-tools). Ids are aligned by index; predicted ids without a target are ignored, and
targets that are NaN mark ids that are not scored.

Neutralisation uses LAPACK (SVD); it is exact to ~1e-12 but not part of the quantised path.
"""

from __future__ import annotations

import math
import os
from concurrent.futures import ThreadPoolExecutor
from collections.abc import Mapping
from fractions import Fraction
from typing import Any, Sequence, Union

import numpy as np
import pandas as pd
from scipy.special import ndtri

from crowdstake.errors import InvalidInputError

__all__ = [
    "SCORE_SCALE",
    "FLOOR_SCORE",
    "tie_kept_rank",
    "gaussianize",
    "numerai_corr",
    "correlation_contribution",
    "neutralize",
    "feature_neutral_corr",
    "stake_weighted_meta_model",
    "quantize",
    "round_scores",
]

SCORE_SCALE = 10**6
FLOOR_SCORE = -SCORE_SCALE

Predictions = Union[pd.DataFrame, pd.Series, Mapping]

# Models per block are chosen so a block holds about this many values: big enough to amortise
# numpy's per-call overhead, small enough to stay in cache and bound peak memory.
_BLOCK_VALUES = 1 << 16
# Blocks are scored on this many threads; see _map_blocks for why it cannot change results.
_THREADS = min(8, os.cpu_count() or 1)


# --------------------------------------------------------------------------------------------
# element transforms


def _pow15(x: np.ndarray) -> np.ndarray:
    """Signed power 1.5 as ``x * sqrt(|x|)``: IEEE-exact steps, identical on every CPU."""
    return x * np.sqrt(np.abs(x))


def _ranked(a: np.ndarray, table: np.ndarray) -> np.ndarray:
    """``table[2 * average rank]`` for every element of a 2-D float array, ranked along rows.

    Doubled average ranks are integers (tied values share the mean of their 1-based sorted
    positions), so any rank transform is a lookup. Tied elements receive the same value,
    so the result does not depend on how the sort orders ties.
    """
    c, n = a.shape
    order, s = _sort_rows(a)
    new = np.empty((c, n), dtype=bool)  # new[i, k]: sorted position k starts a tie group
    new[:, 0] = True
    np.not_equal(s[:, 1:], s[:, :-1], out=new[:, 1:])
    if new.all():
        sorted_vals = np.broadcast_to(table[2 * np.arange(n) + 2], (c, n))
    else:
        # groups never span rows, since every row starts one; sum of ranks first+1..first+size
        # is size * (2 * first + size + 1) / 2, so twice the mean is 2 * first + size + 1
        starts = np.flatnonzero(new)
        sizes = np.diff(starts, append=c * n)
        sorted_vals = np.repeat(table[2 * (starts % n) + sizes + 1], sizes).reshape(c, n)
    out = np.empty((c, n), dtype=table.dtype)
    np.put_along_axis(out, order, sorted_vals, axis=1)
    return out


def _sort_rows(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A permutation sorting each row of a 2-D array of finite floats, and the sorted rows.

    numpy's comparison sorts cost ~n log n; instead a radix sort (numpy's stable sort of
    16-bit keys) on a monotone bucket of each value puts the row nearly in order, and a stable
    sort of that nearly sorted row (timsort, linear on long runs) finishes the job exactly.
    The second sort alone decides the order, so correctness never rests on the buckets.
    """
    c, n = a.shape
    lo = a.min(axis=1, keepdims=True)
    with np.errstate(over="ignore"):  # an overflowing span is handled just below
        span = a.max(axis=1, keepdims=True) - lo
    if n < 256 or not np.isfinite(span).all():  # tiny rows, or a range that overflows
        order = np.argsort(a, axis=1)
        return order, np.take_along_axis(a, order, axis=1)
    buckets = min(n, 1 << 16)
    span[span == 0] = 1.0
    key = ((a - lo) * ((buckets - 1) / span)).astype(np.uint16)
    first = np.argsort(key, axis=1, kind="stable")
    nearly = np.take_along_axis(a, first, axis=1)
    second = np.argsort(nearly, axis=1, kind="stable")
    return np.take_along_axis(first, second, axis=1), np.take_along_axis(nearly, second, axis=1)


def _rank_table(n: int) -> np.ndarray:
    """Tie-kept rank value for every possible doubled rank 0..2n: ``(r2/2 - 0.5) / n``.

    The same arithmetic as ``(rank - 0.5) / count``, so the values are bit-identical to
    numerai-tools'. Entries 0 and 1 are never indexed (ranks start at 1).
    """
    return (np.arange(2 * n + 1) * 0.5 - 0.5) / n


def _gauss_table(n: int, pow15: bool) -> np.ndarray:
    """Inverse normal CDF (optionally signed power 1.5) of each tie-kept rank value.

    Scores only depend on ranks, and there are at most 2n distinct ranks, so the transform is
    computed once per length and then gathered instead of evaluated n x models times.
    """
    q = _rank_table(n)
    q[:2] = 0.5  # unused slots; keep them finite
    g = ndtri(q)
    return _pow15(g) if pow15 else g


def _blocks(m: int, n: int) -> list:
    """Slices of at most ~_BLOCK_VALUES values over m models of n ids."""
    step = max(1, _BLOCK_VALUES // max(n, 1))
    return [slice(lo, min(m, lo + step)) for lo in range(0, m, step)]


def _map_blocks(fn, m: int, n: int) -> list:
    """``[fn(block) for block in _blocks(m, n)]``, on a few threads (numpy releases the GIL).

    Each block's result depends only on its own rows, and results come back in block order,
    so the thread count cannot change any value.
    """
    blocks = _blocks(m, n)
    if _THREADS <= 1 or len(blocks) <= 1:
        return [fn(b) for b in blocks]
    with ThreadPoolExecutor(max_workers=min(_THREADS, len(blocks))) as pool:
        return list(pool.map(fn, blocks))


def tie_kept_rank(x: Any) -> Any:
    """Percentile rank keeping ties: ``(rank(average) - 0.5) / n`` per column.

    @param x 1-D array/Series, or 2-D array/DataFrame with one column per model; no NaN.
    @return the same shape and type; values in (0, 1), tied inputs share their mean rank.
    """
    arr, wrap = _as_columns(x)
    n = arr.shape[1]
    _require_finite(arr)
    out = _ranked(arr, _rank_table(n)) if n else arr
    return wrap(out)


def gaussianize(x: Any, pow15: bool = False) -> Any:
    """Rank-gaussianise per column: inverse normal CDF of the tie-kept rank.

    @param x 1-D array/Series, or 2-D array/DataFrame with one column per model; no NaN.
    @param pow15 also apply the signed power 1.5 (the CORR transform).
    @return the same shape and type, roughly standard normal per column.
    """
    arr, wrap = _as_columns(x)
    n = arr.shape[1]
    _require_finite(arr)
    out = _ranked(arr, _gauss_table(n, pow15)) if n else arr
    return wrap(out)


def _require_finite(arr: np.ndarray) -> None:
    if not np.isfinite(arr).all():
        raise InvalidInputError("cannot rank NaN or infinite values; drop or fix them first")


def _as_columns(x: Any):
    """(models x ids) float array of x, and a function mapping such an array back to x's type."""
    if isinstance(x, pd.DataFrame):
        arr = np.ascontiguousarray(x.to_numpy(dtype=float).T)
        return arr, lambda a: pd.DataFrame(a.T, index=x.index, columns=x.columns)
    if isinstance(x, pd.Series):
        arr = x.to_numpy(dtype=float)[None, :]
        return arr, lambda a: pd.Series(a[0], index=x.index, name=x.name)
    arr = np.asarray(x, dtype=float)
    if arr.ndim == 1:
        return arr[None, :], lambda a: a[0]
    if arr.ndim == 2:
        return np.ascontiguousarray(arr.T), lambda a: np.ascontiguousarray(a.T)
    raise InvalidInputError(f"expected a 1-D or 2-D array, got {arr.ndim} dimensions")


# --------------------------------------------------------------------------------------------
# input checking and alignment


def _show(v: Any) -> str:
    """Readable repr of an id or value (numpy scalars as plain Python values)."""
    if isinstance(v, np.generic):
        v = v.item()
    return repr(v)


def _ids(k: int) -> str:
    return f"{int(k)} id" if k == 1 else f"{int(k)} ids"


def _clean_targets(targets: Any) -> tuple[pd.Index, np.ndarray]:
    """Scored ids (sorted) and their targets; raises InvalidInputError for unusable targets."""
    if isinstance(targets, pd.DataFrame) and targets.shape[1] == 1:
        targets = targets.iloc[:, 0]
    if not isinstance(targets, pd.Series):
        raise InvalidInputError("targets must be a pandas Series indexed by id")
    if not pd.api.types.is_numeric_dtype(targets.dtype) or pd.api.types.is_bool_dtype(targets.dtype):
        raise InvalidInputError(f"targets must be numeric, got dtype {targets.dtype}")
    if targets.index.has_duplicates:
        dup = targets.index[targets.index.duplicated()][0]
        raise InvalidInputError(f"targets have duplicated ids, e.g. {_show(dup)}; give one target per id")
    t = targets.astype(float)
    if np.isinf(t.to_numpy()).any():
        raise InvalidInputError("targets contain infinite values; targets must be finite (NaN = not scored)")
    t = t.dropna()
    if len(t) < 2:
        raise InvalidInputError("targets need at least 2 ids with a finite value")
    try:
        t = t.sort_index()
    except TypeError as exc:
        raise InvalidInputError(f"ids must be mutually comparable to be sorted ({exc})") from None
    values = t.to_numpy()
    if values.min() == values.max():
        raise InvalidInputError("targets are constant; no score can be computed")
    return t.index, np.ascontiguousarray(values)


def _sorted_ids(index: pd.Index) -> pd.Index:
    try:
        return index.sort_values()
    except TypeError as exc:
        raise InvalidInputError(f"ids must be mutually comparable to be sorted ({exc})") from None


def _inspect(predictions: Predictions, ids: pd.Index, unit_interval: bool):
    """Align predictions to ``ids`` and find every per-model problem, without raising for them.

    @return (names, x, reasons, constant): model names in input order; x, a float array of
            shape (models, ids) with NaN where no usable value exists; reasons, a list of
            problem descriptions per model (empty when fine); constant, a bool per model.
    """
    n = len(ids)
    if isinstance(predictions, pd.Series):
        predictions = predictions.to_frame(name=predictions.name if predictions.name is not None else 0)
    if isinstance(predictions, pd.DataFrame):
        names = list(predictions.columns)
        if predictions.columns.has_duplicates:
            raise InvalidInputError("model names (columns) must be unique")
        common: list[str] = []
        frame = predictions
        if frame.index.has_duplicates:
            dup = frame.index.duplicated(keep="first")
            common.append(
                f"duplicated ids: {_ids(np.unique(frame.index[dup]).size)} listed more than once,"
                f" e.g. {_show(frame.index[dup][0])}"
            )
            frame = frame[~dup]
        missing = ids.difference(frame.index, sort=False) if n else ids
        absent = None
        if len(missing):
            common.append(f"missing ids: {len(missing)} of {n} scored ids have no prediction, e.g. {_show(missing[0])}")
            absent = ~ids.isin(frame.index)
        frame = frame.reindex(ids)
        reasons = [list(common) for _ in names]
        numeric = [pd.api.types.is_numeric_dtype(dt) for dt in frame.dtypes]
        skip = ~np.array(numeric, dtype=bool)
        for j in np.flatnonzero(skip):
            reasons[j].append(f"non-numeric predictions (dtype {frame.dtypes.iloc[j]})")
        if all(numeric):
            x = np.ascontiguousarray(frame.to_numpy(dtype=float).T)
        else:
            x = np.full((len(names), n), np.nan)
            for j, ok in enumerate(numeric):
                if ok:
                    x[j] = frame.iloc[:, j].to_numpy(dtype=float)
        absent_mask = np.zeros(n, bool) if absent is None else absent
        absent_mask = np.broadcast_to(absent_mask, x.shape)
    elif isinstance(predictions, Mapping):
        names = list(predictions.keys())
        x = np.full((len(names), n), np.nan)
        absent_mask = np.zeros((len(names), n), bool)
        skip = np.zeros(len(names), bool)  # rows with no values to check
        reasons = [[] for _ in names]
        for j, name in enumerate(names):  # per model, but only to align; the maths is vectorised
            s = predictions[name]
            if not isinstance(s, pd.Series):
                reasons[j].append(f"predictions must be a pandas Series indexed by id, got {type(s).__name__}")
                skip[j] = True
                continue
            if not pd.api.types.is_numeric_dtype(s.dtype):
                reasons[j].append(f"non-numeric predictions (dtype {s.dtype})")
                skip[j] = True
                continue
            if s.index.has_duplicates:
                dup = s.index.duplicated(keep="first")
                reasons[j].append(
                    f"duplicated ids: {_ids(np.unique(s.index[dup]).size)} listed more than once,"
                    f" e.g. {_show(s.index[dup][0])}"
                )
                s = s[~dup]
            present = ids.isin(s.index)
            if not present.all():
                absent_mask[j] = ~present
                first = ids[~present][0]
                reasons[j].append(
                    f"missing ids: {int((~present).sum())} of {n} scored ids have no prediction, e.g. {_show(first)}"
                )
            x[j] = s.reindex(ids).to_numpy(dtype=float)
    else:
        raise InvalidInputError(
            "predictions must be a DataFrame (ids x models), a Series, or a mapping model -> Series"
        )

    # value checks, all models at once; the detailed masks are built only for failing models
    m = len(names)
    lo = x.min(axis=1) if n else np.zeros(m)  # NaN wherever a row holds a NaN
    hi = x.max(axis=1) if n else np.zeros(m)
    suspect = ~(np.isfinite(lo) & np.isfinite(hi))
    if unit_interval:
        suspect |= (lo < 0) | (hi > 1)
    suspect &= ~skip
    for j in np.flatnonzero(suspect):
        row, gone = x[j], absent_mask[j]
        finite = np.isfinite(row)
        checks = [("NaN predictions", np.isnan(row) & ~gone, False), ("infinite predictions", np.isinf(row), False)]
        if unit_interval:
            checks.append(("predictions outside [0, 1]", finite & ((row < 0) | (row > 1)), True))
        for label, mask, show_value in checks:
            count = int(mask.sum())
            if count:
                i = int(mask.argmax())
                detail = f"{_show(row[i])} at id {_show(ids[i])}" if show_value else f"id {_show(ids[i])}"
                reasons[j].append(f"{label}: {_ids(count)}, e.g. {detail}")
        lo[j] = row[finite].min() if finite.any() else np.nan
        hi[j] = row[finite].max() if finite.any() else np.nan
    constant = lo == hi  # over the finite values; False for a row with none
    for j in np.flatnonzero(constant):
        reasons[j].append(f"constant predictions: every value is {_show(lo[j])}, so they cannot be ranked")
    return names, x, reasons, constant


def _strict(predictions: Predictions, ids: pd.Index, unit_interval: bool = False):
    """Aligned (models x ids) matrix for the low-level functions; raises for any bad model
    except a constant one, which numerai-tools scores as NaN and so do we."""
    names, x, reasons, constant = _inspect(predictions, ids, unit_interval)
    bad = [(nm, r) for nm, r, c in zip(names, reasons, constant) if r and not (c and len(r) == 1)]
    if bad:
        detail = "; ".join(f"model {_show(nm)}: " + ", ".join(r) for nm, r in bad[:10])
        more = f" (and {len(bad) - 10} more)" if len(bad) > 10 else ""
        raise InvalidInputError(
            f"invalid predictions for {len(bad)} model(s): {detail}{more}."
            " Fix them, or use round_scores, which scores bad models at the floor."
        )
    return names, x, constant


def _wrap_scores(values: np.ndarray, names: list, predictions: Predictions):
    """A float for a Series input, else a Series per model in input order."""
    if isinstance(predictions, pd.Series):
        return float(values[0])
    return pd.Series(values, index=pd.Index(names), dtype=float)


# --------------------------------------------------------------------------------------------
# scores on aligned matrices (models x ids, rows sorted by id)


def _corr_matrix(x: np.ndarray, t: np.ndarray) -> np.ndarray:
    """CORR of each row of x with targets t (both aligned, finite)."""
    n = t.size
    t15 = _pow15(t - t.sum() / n)
    tc = t15 - t15.sum() / n
    tt = (tc * tc).sum()
    table = _gauss_table(n, pow15=True)

    def block(blk: slice) -> np.ndarray:
        g = _ranked(x[blk], table)
        g -= (g.sum(axis=1) / n)[:, None]
        with np.errstate(invalid="ignore", divide="ignore"):  # a constant row gives 0/0 = NaN
            return (g * tc).sum(axis=1) / np.sqrt((g * g).sum(axis=1) * tt)

    return _concat(_map_blocks(block, x.shape[0], n))


def _mmc_matrix(x: np.ndarray, meta: np.ndarray, t: np.ndarray) -> np.ndarray:
    """MMC of each row of x against meta model ``meta`` with targets t (all aligned, finite)."""
    n = t.size
    if t.min() >= 0 and t.max() <= 1:
        t = t * 4  # numerai-tools maps [0, 1] targets to buckets -2..2
    tc = t - t.sum() / n
    table = _gauss_table(n, pow15=False)
    m = _ranked(meta[None, :], table)[0]
    mm = (m * m).sum()
    if mm == 0:  # a constant meta model has nothing to contribute to
        return np.zeros(x.shape[0])
    tm = (tc * m).sum()

    def block(blk: slice) -> np.ndarray:
        p = _ranked(x[blk], table)
        # t . (p - m (p.m)/(m.m)) / n, without forming the orthogonalised matrix
        return ((p * tc).sum(axis=1) - (p * m).sum(axis=1) * (tm / mm)) / n

    return _concat(_map_blocks(block, x.shape[0], n))


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

    def block(blk: slice) -> np.ndarray:
        buf = np.empty((blk.stop - blk.start + 1, n))  # row 0 will hold the running total
        np.multiply(_ranked(x[blk], table), w[blk, None], out=buf[1:])
        return buf

    acc = np.zeros(n)
    for buf in _map_blocks(block, x.shape[0], n):
        buf[0] = acc
        acc = buf.sum(axis=0)
    return _ranked(acc[None, :], _rank_table(n))[0]


def _concat(parts: list) -> np.ndarray:
    return np.concatenate(parts) if parts else np.empty(0)


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
    names, x, _ = _strict(predictions, ids)
    return _wrap_scores(_corr_matrix(x, t), names, predictions)


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
    names, x, _ = _strict(predictions, ids)
    if not isinstance(meta_model, pd.Series):
        raise InvalidInputError("meta_model must be a pandas Series indexed by id")
    _, meta, _ = _strict(meta_model.rename("meta_model"), ids)
    return _wrap_scores(_mmc_matrix(x, meta[0], t), names, predictions)


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


def _clean_stakes(stakes: Any) -> dict:
    """Model -> stake as float; raises for negative, NaN or infinite stakes."""
    if isinstance(stakes, pd.Series):
        if stakes.index.has_duplicates:
            raise InvalidInputError("stakes have duplicated model names")
        items = list(stakes.items())
    elif isinstance(stakes, Mapping):
        items = list(stakes.items())
    else:
        raise InvalidInputError("stakes must be a mapping or Series: model -> stake")
    out = {}
    for name, v in items:
        try:
            f = float(v)
        except (TypeError, ValueError):
            raise InvalidInputError(f"stake of model {_show(name)} is not a number: {v!r}") from None
        if not math.isfinite(f) or f < 0:
            raise InvalidInputError(f"stake of model {_show(name)} must be finite and >= 0, got {v!r}")
        out[name] = f
    return out


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
    unknown = [nm for nm, w in w_by_model.items() if w > 0 and nm not in set(names_all)]
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


def _sort_key(name: Any):
    # models sort by type name then value, so mixed int/str names still have one order
    return (type(name).__name__, name)


# --------------------------------------------------------------------------------------------
# quantisation and the round table


def quantize(score: Any) -> Any:
    """Map float scores to the Tournament contract's integer score (scale SCORE_SCALE = 10**6).

    The exact binary value of ``score * 10**6`` is rounded half to even, then clipped to
    ``[FLOOR_SCORE, SCORE_SCALE]``. The float product is trusted only when it lies more than
    1e-6 away from a half-integer (its rounding error is below 1.2e-10 for |score| <= 1);
    otherwise the decision is made in exact rational arithmetic, so a tie or near-tie at a
    boundary is decided by the value itself, never by how the multiplication rounded.

    @param score a float or array of floats; must be finite.
    @return an int for a scalar, else an int64 array of the same shape.
    @raise InvalidInputError for NaN or infinite scores.
    """
    arr = np.asarray(score, dtype=float)
    if not np.isfinite(arr).all():
        raise InvalidInputError("cannot quantise a NaN or infinite score")
    x = np.clip(arr, -1.0, 1.0)  # the clip is exact, and nothing outside it survives anyway
    p = x * SCORE_SCALE
    q = np.rint(p)
    near = np.abs(np.abs(p - np.floor(p)) - 0.5) < 1e-6
    if near.any():
        flat_q, flat_x = q.reshape(-1), x.reshape(-1)
        for i in np.flatnonzero(near.reshape(-1)):
            flat_q[i] = round(Fraction(float(flat_x[i])) * SCORE_SCALE)  # Fraction rounds half to even
    out = np.clip(q, FLOOR_SCORE, SCORE_SCALE).astype(np.int64)
    return int(out) if out.ndim == 0 else out


def _weights(weights: Any) -> tuple[float, float]:
    if isinstance(weights, Mapping):
        unknown = set(weights) - {"corr", "mmc"}
        if unknown:
            raise InvalidInputError(f"unknown score weights {sorted(map(str, unknown))}; use 'corr' and 'mmc'")
        w = (weights.get("corr", 0.0), weights.get("mmc", 0.0))
    elif isinstance(weights, Sequence) and not isinstance(weights, str) and len(weights) == 2:
        w = tuple(weights)
    else:
        raise InvalidInputError("weights must be (w_corr, w_mmc) or {'corr': w, 'mmc': w}")
    try:
        wc, wm = float(w[0]), float(w[1])
    except (TypeError, ValueError):
        raise InvalidInputError(f"weights must be numbers, got {w!r}") from None
    if not (math.isfinite(wc) and math.isfinite(wm)):
        raise InvalidInputError(f"weights must be finite, got {w!r}")
    return wc, wm


def round_scores(predictions: Predictions, targets: pd.Series, stakes: Any, weights: Any) -> pd.DataFrame:
    """Score a whole round: CORR, MMC against the stake-weighted meta model, the combined score
    ``w_corr * corr + w_mmc * mmc`` and its quantised integer.

    Each model's submission is checked first; a model with missing ids, NaN or infinite
    predictions, a constant column, duplicated ids, values outside [0, 1], or a stake but no
    predictions at all, gets ``FLOOR_SCORE``, NaN corr/mmc and a ``reason``; it does not enter
    the meta model. The meta model is built from the valid models with a positive stake; if
    there is none, every MMC is 0.

    @param predictions DataFrame (ids x models) or mapping model -> Series (one file per model;
           lets missing ids be told apart from NaN values).
    @param targets Series indexed by id; NaN marks an id that is not scored.
    @param stakes mapping or Series model -> stake (>= 0); unlisted models have stake 0.
    @param weights (w_corr, w_mmc) or {'corr': w_corr, 'mmc': w_mmc}.
    @return DataFrame indexed by model (sorted), columns corr, mmc, score (float), quantized
            (int64, scale SCORE_SCALE) and reason ('' when the submission is fine). The result
            does not depend on row order, model order or thread count.
    @raise InvalidInputError for malformed targets, stakes or weights (whole-call problems).
    """
    wc, wm = _weights(weights)
    ids, t = _clean_targets(targets)
    stake_of = _clean_stakes(stakes)
    if isinstance(predictions, pd.Series):
        predictions = predictions.to_frame(name=predictions.name if predictions.name is not None else 0)
    names, x, reasons, _ = _inspect(predictions, ids, unit_interval=True)

    # canonical model order: sorted names, including staked models that sent nothing
    no_file = [nm for nm in stake_of if nm not in set(names)]
    try:
        all_names = sorted(set(names) | set(no_file), key=_sort_key)
    except TypeError as exc:
        raise InvalidInputError(f"model names must be mutually comparable ({exc})") from None
    row = {nm: j for j, nm in enumerate(names)}
    perm = np.array([row[nm] for nm in all_names if nm in row], dtype=np.intp)
    sub_names = [names[j] for j in perm]
    x = x[perm]
    reasons = [reasons[j] for j in perm]
    valid = np.array([not r for r in reasons], dtype=bool)

    xv = x[valid]
    corr = np.full(len(sub_names), np.nan)
    mmc = np.full(len(sub_names), np.nan)
    corr[valid] = _corr_matrix(xv, t)
    w = np.array([stake_of.get(nm, 0.0) for nm in sub_names])[valid]
    if (w > 0).any():
        meta = _meta_matrix(xv[w > 0], w[w > 0])
        mmc[valid] = _mmc_matrix(xv, meta, t)
    else:
        mmc[valid] = 0.0

    score = np.full(len(sub_names), FLOOR_SCORE / SCORE_SCALE)
    score[valid] = wc * corr[valid] + wm * mmc[valid]
    quant = np.full(len(sub_names), FLOOR_SCORE, dtype=np.int64)
    if valid.any():
        quant[valid] = quantize(score[valid])

    table = pd.DataFrame(
        {
            "corr": corr,
            "mmc": mmc,
            "score": score,
            "quantized": quant,
            "reason": ["; ".join(r) for r in reasons],
        },
        index=pd.Index(sub_names, name="model", dtype=object),
    )
    if no_file:
        missing = pd.DataFrame(
            {
                "corr": np.nan,
                "mmc": np.nan,
                "score": FLOOR_SCORE / SCORE_SCALE,
                "quantized": np.int64(FLOOR_SCORE),
                "reason": "no predictions submitted: the model is staked but sent no file",
            },
            index=pd.Index(no_file, name="model", dtype=object),
        )
        table = pd.concat([table, missing])
        table = table.loc[all_names]
        table["quantized"] = table["quantized"].astype(np.int64)
    return table
