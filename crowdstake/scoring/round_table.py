"""``round_scores``: one table per round (corr, mmc, combined score, quantised integer,
reason), with each bad submission scored at the floor instead of raising."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, Sequence

import numpy as np
import pandas as pd

from crowdstake.errors import InvalidInputError
from crowdstake.scoring.align import Predictions, _clean_stakes, _clean_targets, _inspect, _sort_key
from crowdstake.scoring.metrics import _corr_matrix, _meta_matrix, _mmc_matrix
from crowdstake.scoring.quantization import FLOOR_SCORE, SCORE_SCALE, quantize
from crowdstake.scoring.transforms import _doubled_ranks


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


def _rows(x: np.ndarray, index: np.ndarray) -> np.ndarray:
    """``x[index]``, without a copy when index is every row in order."""
    if len(index) == x.shape[0] and np.array_equal(index, np.arange(x.shape[0])):
        return x
    return x[index]


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
    sent = set(names)  # built once: a set per stake made this quadratic (2.7 s at 10,000 models)
    no_file = [nm for nm in stake_of if nm not in sent]
    try:
        all_names = sorted(sent | set(no_file), key=_sort_key)
    except TypeError as exc:
        raise InvalidInputError(f"model names must be mutually comparable ({exc})") from None
    row = {nm: j for j, nm in enumerate(names)}
    perm = np.array([row[nm] for nm in all_names if nm in row], dtype=np.intp)
    sub_names = [names[j] for j in perm]
    reasons = [reasons[j] for j in perm]
    valid = np.array([not r for r in reasons], dtype=bool)

    # the valid rows in sorted order, copied only when that is not x as it stands (at 10,000
    # models x 50,000 ids, every copy of x is 4 GB); each is sorted once, and its doubled
    # ranks (half the size of x, which is let go) serve CORR, the meta model and MMC
    ranks = _doubled_ranks(_rows(x, perm[valid]))
    del x
    corr = np.full(len(sub_names), np.nan)
    mmc = np.full(len(sub_names), np.nan)
    corr[valid] = _corr_matrix(ranks, t)
    w = np.array([stake_of.get(nm, 0.0) for nm in sub_names])[valid]
    if (w > 0).any():
        meta = _meta_matrix(_rows(ranks, np.flatnonzero(w > 0)), w[w > 0])
        mmc[valid] = _mmc_matrix(ranks, meta, t)
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
