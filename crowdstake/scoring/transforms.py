"""Rank transforms of (models x ids) matrices: tie-kept ranks, rank-gaussianisation and the
signed power 1.5, computed as exact table lookups at the doubled ranks the kernels compute; and
the block-and-thread mapping that every score runs through (``_THREADS`` is read at call time,
so setting it takes effect at once)."""

from __future__ import annotations

import functools
import os
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import ndtri

from crowdstake.errors import InvalidInputError
from crowdstake.scoring import kernels

# Models per block are chosen so a block holds about this many values: big enough to amortise
# numpy's per-call overhead, small enough to stay in cache and bound peak memory.
_BLOCK_VALUES = 1 << 15  # 256 KB of float64: the working arrays of a block then fit in L2
# The compiled kernels make no temporaries, so their blocks only need to be few enough to keep
# the thread pool's per-block cost small and many enough to share the work between threads.
_KERNEL_BLOCK_VALUES = 1 << 18
# Blocks are scored on this many threads; see _map_blocks for why it cannot change results.
_THREADS = min(8, os.cpu_count() or 1)
# Below this many values in all, starting threads costs more than it can save (~1 ms of work).
_MIN_THREADED_VALUES = 1 << 17


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
    """Doubled tie-kept ranks (int32, 2..2n) of each row of a finite 2-D float array, so
    ``table[_doubled_ranks(a)]`` is any rank transform and one sort serves several scores."""
    x = np.ascontiguousarray(a, dtype=np.float64)  # the kernels' layout; no copy if it is one
    out = np.empty(x.shape, dtype=np.int32)

    def block(blk: slice) -> None:
        xb = x[blk]
        kernels.doubled_ranks(xb, xb.min(axis=1), xb.max(axis=1), out[blk])

    if x.size:
        _map_blocks(block, *x.shape, compiled=True)
    return out


def _rank_table(n: int) -> np.ndarray:
    """Tie-kept rank value for every possible doubled rank 0..2n: ``(r2/2 - 0.5) / n``.

    The same arithmetic as ``(rank - 0.5) / count``, so the values are bit-identical to
    numerai-tools'. Entries 0 and 1 are never indexed (ranks start at 1).
    """
    return (np.arange(2 * n + 1) * 0.5 - 0.5) / n


@functools.lru_cache(maxsize=16)
def _gauss_table(n: int, pow15: bool) -> np.ndarray:
    """Inverse normal CDF (optionally signed power 1.5) of each tie-kept rank value.

    Scores only depend on ranks, and there are at most 2n distinct ranks, so the transform is
    computed once per length (and kept for the next call: read-only) and then gathered instead
    of evaluated n x models times.
    """
    q = _rank_table(n)
    q[:2] = 0.5  # unused slots; keep them finite
    g = ndtri(q)
    g = _pow15(g) if pow15 else g
    g.setflags(write=False)
    return g


def _blocks(m: int, n: int, compiled: bool = False) -> list:
    """Slices of at most ~_BLOCK_VALUES values (_KERNEL_BLOCK_VALUES for the compiled kernels)
    over m models of n ids."""
    step = max(1, (_KERNEL_BLOCK_VALUES if compiled else _BLOCK_VALUES) // max(n, 1))
    return [slice(lo, min(m, lo + step)) for lo in range(0, m, step)]


def _map_blocks(fn, m: int, n: int, compiled: bool = False) -> list:
    """``[fn(block) for block in _blocks(m, n, compiled)]``, on a few threads (numpy and the
    kernels release the GIL).

    Each block's result depends only on its own rows, and results come back in block order,
    so the thread count cannot change any value.
    """
    blocks = _blocks(m, n, compiled)
    if _THREADS <= 1 or len(blocks) <= 1 or m * n < _MIN_THREADED_VALUES:
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
