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
