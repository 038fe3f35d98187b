"""The on-chain score scale (``SCORE_SCALE``, ``FLOOR_SCORE``) and ``quantize``, the exact
rounding of float scores to the Tournament contract's integers."""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import numpy as np

from crowdstake.errors import InvalidInputError

SCORE_SCALE = 10**6
FLOOR_SCORE = -SCORE_SCALE


def quantize(score: Any) -> Any:
    """Map float scores to the Tournament contract's integer score (scale SCORE_SCALE = 10**6).

    The exact binary value of ``score * 10**6`` is rounded half to even, then clipped to
    ``[FLOOR_SCORE, SCORE_SCALE]``. The float product is trusted only when it lies more than
    1e-6 away from a half-integer (its rounding error is below 1.2e-10 for |score| <= 1);
    otherwise the decision is made in exact rational arithmetic, so a tie or near-tie at a
    boundary is decided by the value itself, never by how the multiplication rounded.

    A scalar (or 0-d array) goes through exactly the same code as an array, so
    ``quantize(x) == quantize(np.array([x]))[0]`` for every float ``x``.

    @param score a float or array of floats; must be finite.
    @return an int for a scalar or 0-d array, else an int64 array of the same shape.
    @raise InvalidInputError for NaN or infinite scores.
    """
    arr = np.asarray(score, dtype=float)
    if not np.isfinite(arr).all():
        raise InvalidInputError("cannot quantise a NaN or infinite score")
    # One path for every input: a scalar, a 0-d array and an array of any shape or memory
    # layout are all rounded as the 1-D array of their values, and every array below is a
    # new 1-D array, so the exact corrections are written into the array that is returned
    # (never into a copy made by reshaping a 0-d result or a non-C-contiguous array).
    x = np.clip(arr.reshape(-1), -1.0, 1.0)  # the clip is exact, and nothing outside it survives anyway
    p = x * SCORE_SCALE
    q = np.rint(p)
    for i in np.flatnonzero(np.abs((p - np.floor(p)) - 0.5) < 1e-6):
        q[i] = round(Fraction(float(x[i])) * SCORE_SCALE)  # Fraction rounds half to even
    out = np.clip(q, FLOOR_SCORE, SCORE_SCALE).astype(np.int64).reshape(arr.shape)
    return int(out) if out.ndim == 0 else out
