"""Compiled row kernels behind every score: doubled tie-kept ranks by a bucket sort, and the
CORR and MMC sums over them (numba, compiled on first use and cached beside this module).

Contract: every array is C-contiguous and every value finite (the callers check both; a NaN
cannot make a kernel write out of bounds, only rank wrongly). A row's result depends on that
row alone. Compiled without fastmath, so each operation is one IEEE-754 operation in a fixed
order (no reassociation, no fused multiply-add): the same bits on every CPU, block size and
thread count. The kernels release the GIL, so the callers run blocks of rows on threads.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

# error_model="numpy": 0/0 is NaN (a constant row's CORR), not a ZeroDivisionError
_JIT = dict(nogil=True, cache=True, error_model="numpy")


@njit(inline="always", **_JIT)
def _rank_row(x, lo, hi, r2, scratch, try_unmixed):
    """Doubled tie-kept ranks of row x (min lo, max hi) into r2; True if no bucket was mixed.

    A doubled rank is ``2 * first + size + 1`` for a tie group of ``size`` values starting at
    sorted position ``first``: an integer, and ``start + end + 1`` of the group's range.
    Each value goes to one of n buckets by a monotone map (IEEE subtraction and multiplication
    are monotone, so v < w never puts w in a lower bucket). When every bucket holds one distinct
    value (rounded or binned predictions), the bucket counts give the ranks directly. Otherwise
    (continuous values share buckets) the values are placed in bucket order, sorted except
    within buckets, and an insertion sort finishes it; should an adversarial row make that
    move more than 16 values per value, a mergesort of the row replaces it. ``try_unmixed``
    says whether to look for the direct case (it costs a little on rows that are mixed).
    """
    bucket, order, vals, count, first = scratch
    n = x.size
    scale = n / (hi - lo) if hi > lo else 0.0
    if not scale < math.inf:  # a span too small for a finite scale: one bucket, sorted below
        scale = 0.0
    count[:] = 0
    mixed = True
    if try_unmixed:
        mixed = False
        for i in range(n):
            v = x[i]
            b = min(max(int((v - lo) * scale), 0), n - 1)
            bucket[i] = b
            c = count[b + 1]
            f = v if c == 0 else first[b]  # the bucket's first value
            first[b] = f
            mixed |= f != v
            count[b + 1] = c + 1
    else:
        for i in range(n):
            b = min(max(int((x[i] - lo) * scale), 0), n - 1)
            bucket[i] = b
            count[b + 1] += 1
    for b in range(n):  # count[b], count[b + 1]: where bucket b starts and ends
        count[b + 1] += count[b]
    if not mixed:
        for i in range(n):
            b = bucket[i]
            r2[i] = count[b] + count[b + 1] + 1
        return True
    for i in range(n):
        b = bucket[i]
        k = count[b]
        order[k] = i
        vals[k] = x[i]
        count[b] = k + 1
    moves = 0
    for a in range(1, n):
        v = vals[a]
        if vals[a - 1] > v:
            o = order[a]
            c = a - 1
            while c >= 0 and vals[c] > v:
                vals[c + 1] = vals[c]
                order[c + 1] = order[c]
                c -= 1
            vals[c + 1] = v
            order[c + 1] = o
            moves += a - 1 - c
            if moves > 16 * n:
                p = np.argsort(x, kind="mergesort")
                for q in range(n):
                    order[q] = p[q]
                    vals[q] = x[p[q]]
                break
    # each sorted position's group start (into bucket, free now), then the ends walking back
    s = 0
    bucket[0] = 0
    for a in range(1, n):
        s = s if vals[a] == vals[a - 1] else a
        bucket[a] = s
    e = n
    for a in range(n - 1, -1, -1):
        r2[order[a]] = bucket[a] + e + 1
        e = e if bucket[a] != a else a
    return False


@njit(inline="always", **_JIT)
def _scratch(n):
    return (
        np.empty(n, np.int32),
        np.empty(n, np.int32),
        np.empty(n, np.float64),
        np.empty(n + 1, np.int32),
        np.empty(n, np.float64),
    )


@njit(inline="always", **_JIT)
def _dot(r2, table, w):
    """``sum(table[r2] * w)`` in four interleaved partial sums, added in a fixed order."""
    n = r2.size
    a0 = a1 = a2 = a3 = 0.0
    top = n - n % 4
    for i in range(0, top, 4):
        a0 += table[r2[i]] * w[i]
        a1 += table[r2[i + 1]] * w[i + 1]
        a2 += table[r2[i + 2]] * w[i + 2]
        a3 += table[r2[i + 3]] * w[i + 3]
    for i in range(top, n):
        a0 += table[r2[i]] * w[i]
    return (a0 + a1) + (a2 + a3)


@njit(inline="always", **_JIT)
def _corr(r2, table, tc, tt):
    """CORR of the row with table values ``table[r2]`` against centred targets tc (tt = tc.tc)."""
    n = r2.size
    a0 = a1 = a2 = a3 = 0.0
    top = n - n % 4
    for i in range(0, top, 4):
        a0 += table[r2[i]]
        a1 += table[r2[i + 1]]
        a2 += table[r2[i + 2]]
        a3 += table[r2[i + 3]]
    for i in range(top, n):
        a0 += table[r2[i]]
    mean = ((a0 + a1) + (a2 + a3)) / n
    d0 = d1 = q0 = q1 = 0.0
    top = n - n % 2
    for i in range(0, top, 2):
        g = table[r2[i]] - mean
        h = table[r2[i + 1]] - mean
        d0 += g * tc[i]
        d1 += h * tc[i + 1]
        q0 += g * g
        q1 += h * h
    for i in range(top, n):
        g = table[r2[i]] - mean
        d0 += g * tc[i]
        q0 += g * g
    return (d0 + d1) / math.sqrt((q0 + q1) * tt)


@njit(**_JIT)
def doubled_ranks(x, lo, hi, out):
    """out[j] = doubled tie-kept ranks of row x[j] (min lo[j], max hi[j])."""
    m, n = x.shape
    scratch = _scratch(n)
    unmixed = True
    for j in range(m):  # rows of one matrix tend to be alike; every 16th tries the direct case
        unmixed = _rank_row(x[j], lo[j], hi[j], out[j], scratch, unmixed or j % 16 == 0)


@njit(**_JIT)
def corr_rows(x, lo, hi, table, tc, tt, out):
    """out[j] = CORR of row x[j] (min lo[j], max hi[j]) through ``table`` (see _corr)."""
    m, n = x.shape
    scratch = _scratch(n)
    r2 = np.empty(n, np.int32)
    unmixed = True
    for j in range(m):  # rows of one matrix tend to be alike; every 16th tries the direct case
        if not lo[j] <= hi[j]:  # a row holding NaN or infinity, refused by the caller: skipped
            out[j] = math.nan
            continue
        unmixed = _rank_row(x[j], lo[j], hi[j], r2, scratch, unmixed or j % 16 == 0)
        out[j] = _corr(r2, table, tc, tt)


@njit(**_JIT)
def corr_of_ranks(r, table, tc, tt, out):
    """corr_rows on rows already turned into doubled ranks: the same bits."""
    for j in range(r.shape[0]):
        out[j] = _corr(r[j], table, tc, tt)


@njit(**_JIT)
def dot_rows(x, lo, hi, table, w, out):
    """out[j] = sum(table[doubled ranks of x[j]] * w), the sum of _dot."""
    m, n = x.shape
    scratch = _scratch(n)
    r2 = np.empty(n, np.int32)
    unmixed = True
    for j in range(m):  # rows of one matrix tend to be alike; every 16th tries the direct case
        if not lo[j] <= hi[j]:  # a row holding NaN or infinity, refused by the caller: skipped
            out[j] = math.nan
            continue
        unmixed = _rank_row(x[j], lo[j], hi[j], r2, scratch, unmixed or j % 16 == 0)
        out[j] = _dot(r2, table, w)


@njit(**_JIT)
def dot_of_ranks(r, table, w, out):
    """dot_rows on rows already turned into doubled ranks: the same bits."""
    for j in range(r.shape[0]):
        out[j] = _dot(r[j], table, w)


@njit(**_JIT)
def gather_rows(v, pos, out, lo, hi):
    """out[j, i] = v[j, pos[i]] (NaN where pos[i] < 0), and each row's min and max into lo and
    hi, both NaN for a row holding any NaN or infinity (the callers then look closer)."""
    n = pos.size
    for j in range(out.shape[0]):
        src = v[j]
        dst = out[j]
        for i in range(n):
            p = pos[i]
            dst[i] = src[p] if 0 <= p < src.size else math.nan
        # four running minima and maxima, so the loop is not one chain of dependent steps
        a0 = a1 = a2 = a3 = math.inf
        b0 = b1 = b2 = b3 = -math.inf
        bad = 0.0  # stays 0 unless a value is NaN or infinite (x - x is then NaN)
        top = n - n % 4
        for i in range(0, top, 4):
            y0, y1, y2, y3 = dst[i], dst[i + 1], dst[i + 2], dst[i + 3]
            a0, a1, a2, a3 = min(a0, y0), min(a1, y1), min(a2, y2), min(a3, y3)
            b0, b1, b2, b3 = max(b0, y0), max(b1, y1), max(b2, y2), max(b3, y3)
            bad += (y0 - y0) + (y1 - y1) + (y2 - y2) + (y3 - y3)
        for i in range(top, n):
            y = dst[i]
            a0, b0 = min(a0, y), max(b0, y)
            bad += y - y
        lo[j] = min(min(a0, a1), min(a2, a3)) if bad == 0.0 else math.nan
        hi[j] = max(max(b0, b1), max(b2, b3)) if bad == 0.0 else math.nan
