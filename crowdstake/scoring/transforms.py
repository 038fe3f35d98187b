"""Rank transforms of (models x ids) matrices: tie-kept ranks, rank-gaussianisation and the
signed power 1.5, computed as exact table lookups; and the block-and-thread mapping that every
score runs through (``_THREADS`` is read at call time, so setting it takes effect at once)."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import ndtri

from crowdstake.errors import InvalidInputError

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
    return table[_doubled_ranks(a)]


def _doubled_ranks(a: np.ndarray) -> np.ndarray:
    """Twice the average 1-based rank of every element of a 2-D float array, along rows
    (int32): what `_ranked` looks up, for a caller that ranks one matrix into several tables."""
    c, n = a.shape
    if c * n == 0:
        return np.empty((c, n), dtype=np.int32)
    flat, s = _sort_rows(np.ascontiguousarray(a, dtype=np.float64))
    new = np.empty(c * n, dtype=bool)  # new[k]: sorted position k starts a tie group
    new[0] = True
    np.not_equal(s[1:], s[:-1], out=new[1:])
    new[::n] = True  # every row starts a group, so no group spans two rows
    if new.all():  # no ties (continuous predictions): doubled rank is 2 * position + 2
        sorted_ranks = np.tile(2 * np.arange(n, dtype=np.int32) + 2, c)
    else:
        # sum of ranks first+1..first+size is size * (2 * first + size + 1) / 2, so twice the
        # mean is 2 * first + size + 1; one value per group, repeated over its members
        starts = np.flatnonzero(new)
        sizes = np.diff(starts, append=c * n)
        sorted_ranks = np.repeat((2 * (starts % n) + sizes + 1).astype(np.int32), sizes)
    out = np.empty(c * n, dtype=np.int32)
    out[flat] = sorted_ranks
    return out.reshape(c, n)


_SIGN = np.uint64(1 << 63)


def _sort_rows(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sort each row of a C-contiguous float64 array: the flat positions (into ``a.ravel()``)
    of the row's values in ascending order, and those values; ties in any order.

    numpy sorts plain integers about twice as fast as it argsorts floats, so each value is
    mapped to an order-preserving uint64 whose low bits are replaced by its position, and the
    keys are sorted. Two distinct values sharing the kept high bits (a relative difference
    below ~2**-36) may come out in position order instead; every row is checked to be in
    ascending value order, and a row that is not is argsorted, so the result is always exact.
    """
    c, n = a.shape
    mask = np.uint64((1 << (n - 1).bit_length()) - 1)
    u = a.view(np.uint64)
    key = u >> np.uint64(63)
    np.negative(key, out=key)  # all ones for a negative value, else 0
    key |= _SIGN
    key ^= u  # negatives: every bit flipped; positives: sign bit set (IEEE order as unsigned)
    key &= ~mask
    key |= np.arange(n, dtype=np.uint64)
    key.sort(axis=1)
    key &= mask
    flat = key.view(np.int64)
    flat += (np.arange(c) * n)[:, None]  # 1-D gathers and scatters are numpy's cheapest
    s = np.take(a.reshape(-1), flat)
    for i in np.flatnonzero((s[:, 1:] < s[:, :-1]).any(axis=1)):
        flat[i] = np.argsort(a[i]) + i * n
        s[i] = a[i][flat[i] - i * n]
    return flat.reshape(-1), s.reshape(-1)


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
