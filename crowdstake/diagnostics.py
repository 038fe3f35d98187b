"""Diagnostics before staking: a model's validation predictions scored era by era with the
package's own scoring (``crowdstake.scoring``, the oracle's code), and what the tournament's
payout rule would have paid.

``diagnostics(dataset, predictions, example=None, *, corr_weight=0.5, mmc_weight=2, cap=0.05)``

- ``dataset``: a dataset directory (its ``validation.csv``: ``id,era,feature_...,target``, and
  ``features.json`` when there, whose ``feature_sets.all`` names the features; else every
  ``feature_`` column), or the validation frame itself (indexed by id). Rows whose target is
  NaN are not scored.
- ``predictions`` and ``example``: a CSV path (header ``id,prediction`` or ``prediction,id``),
  a Series indexed by id, or a DataFrame (one column indexed by id, or the columns ``id`` and
  ``prediction``), read by the store's rules (``crowdstake.store.formats``: numbers in [0, 1],
  no NaN, each id once, not all equal); the ids must be exactly the validation ids. The
  example predictions play the meta model for MMC; without them MMC is not scored.

Per era (``Diagnostics.per_era``, indexed by era): ``rows``; ``corr`` (``numerai_corr``);
``mmc`` (``correlation_contribution`` against the example, NaN without one); ``fnc``
(``feature_neutral_corr`` on the era's features); ``max_feature_exposure``, the largest
|Pearson correlation| of the raw predictions with a feature in that era, and that feature's
name (``max_feature``), as numerai-tools' ``max_feature_correlation``; ``score`` =
``corr_weight * corr + mmc_weight * mmc`` (mmc as 0 without an example); ``payout``, the
fraction of a stake the contract would move at that score, by the oracle's and the
contract's own integers (``quantize``, then ``crowdstake.results.payout.payout_delta`` at a
payout factor of 1, i.e. a round whose total stake is within its threshold; a bigger round
scales the score down before the cap): ``clip(score, -cap, cap)`` to 1e-6. An era where the
predictions are constant scores the floor, as the oracle scores a constant file.

``Diagnostics.summary``: eras and rows; for corr, mmc and fnc the ``_mean``, ``_std``
(population, ddof 0), ``_sharpe`` (mean / std, numerai-tools' ``sharpe_ratio``) and
``_max_drawdown`` (the largest fall of the cumulative per-era sum from its running peak,
starting from 0; 0 if it never falls); ``max_feature_exposure`` (the mean over eras of the
per-era maximum) and ``max_feature_exposure_worst`` (the largest era's); ``payout_mean``,
``payout_worst`` and ``payout_best`` (per era, fractions of the stake); the weights and cap.
The tests hold every per-era number to numerai-tools' functions to 1e-9.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Union

import numpy as np
import pandas as pd

from crowdstake.errors import InvalidInputError, InvalidPredictionsError
from crowdstake.results.payout import SCORE_SCALE, WAD, payout_delta
from crowdstake.scoring import FLOOR_SCORE, correlation_contribution, feature_neutral_corr, numerai_corr, quantize
from crowdstake.store.formats import predictions_csv, read_predictions, read_predictions_either_order

PredictionsInput = Union[str, Path, pd.Series, pd.DataFrame]
_STAKE = WAD * SCORE_SCALE  # a nominal stake for which payout_delta's one division is exact
_PER_ERA = ["rows", "corr", "mmc", "fnc", "max_feature_exposure", "max_feature", "score", "payout"]


@dataclass(frozen=True, eq=False)
class Diagnostics:
    """Per-era scores (a DataFrame indexed by era) and their summary (see the module docstring)."""

    per_era: pd.DataFrame
    summary: dict[str, Any] = field(default_factory=dict)


def diagnostics(dataset: Union[str, Path, pd.DataFrame], predictions: PredictionsInput,
                example: PredictionsInput | None = None, *, corr_weight: Any = 0.5, mmc_weight: Any = 2.0,
                cap: Any = 0.05) -> Diagnostics:
    """Score validation predictions era by era and summarise (see the module docstring).

    @param dataset a dataset directory or its validation frame.
    @param predictions, example a CSV path, a Series or a DataFrame (see the module docstring).
    @param corr_weight, mmc_weight the score weights (numbers, or text such as "0.5").
    @param cap the largest gain or loss per era, a fraction (0.05) or text ("5%").
    @raise InvalidInputError naming the bad input and what to do.
    """
    wc, wm = _number(corr_weight, "corr_weight"), _number(mmc_weight, "mmc_weight")
    cap_wad = _cap(cap)
    validation, features = _validation(dataset)
    ids = validation.index
    pred = _aligned(_read(predictions, "predictions"), ids, "predictions")
    meta = None if example is None else _aligned(_read(example, "example predictions"), ids, "example predictions")

    scored = validation[validation["target"].notna()]
    if scored.empty:
        raise InvalidInputError("the validation data has no row with a target: nothing to score")
    rows = []
    for era, frame in scored.groupby("era", sort=True):
        idx, target = frame.index, frame["target"]
        p = pred.loc[idx]
        corr = _score(numerai_corr, p, target)
        mmc = np.nan if meta is None else _score(correlation_contribution, p, meta.loc[idx], target)
        fnc = _score(feature_neutral_corr, p, frame[features], target)
        exposure, feature = _max_exposure(p.to_numpy(), frame[features])
        score = wc * corr + wm * (0.0 if meta is None else mmc)
        rows.append({"era": era, "rows": len(idx), "corr": corr, "mmc": mmc, "fnc": fnc,
                     "max_feature_exposure": exposure, "max_feature": feature, "score": score,
                     "payout": _payout(score, cap_wad)})
    per_era = pd.DataFrame(rows).set_index("era")[_PER_ERA]

    summary: dict[str, Any] = {"eras": len(per_era), "rows": int(per_era["rows"].sum())}
    for name in ("corr", "mmc", "fnc"):
        summary.update(_stats(name, per_era[name]) if name != "mmc" or meta is not None
                       else {f"mmc_{k}": None for k in ("mean", "std", "sharpe", "max_drawdown")})
    summary.update({
        "max_feature_exposure": float(per_era["max_feature_exposure"].mean()),
        "max_feature_exposure_worst": float(per_era["max_feature_exposure"].max()),
        "payout_mean": float(per_era["payout"].mean()),
        "payout_worst": float(per_era["payout"].min()),
        "payout_best": float(per_era["payout"].max()),
        "corr_weight": wc, "mmc_weight": wm, "cap": cap_wad / WAD, "mmc_scored": meta is not None,
    })
    return Diagnostics(per_era, summary)


# ------------------------------------------------------------------ inputs


def _number(value: Any, what: str) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise InvalidInputError(f"{what} must be a number, e.g. 0.5; got {_plain(value)}") from None
    if not math.isfinite(number):
        raise InvalidInputError(f"{what} must be a finite number, got {_plain(value)}")
    return number


def _cap(value: Any) -> int:
    """The cap as a WAD fraction, as the contract keeps it: 0.05, "0.05" or "5%"."""
    text = str(value).strip()
    try:
        fraction = Decimal(text[:-1]) / 100 if text.endswith("%") else Decimal(text)
    except InvalidOperation:
        raise InvalidInputError(f"cap {text[:40]!r} is not a fraction (0.05) or a percentage (5%)") from None
    if not (fraction.is_finite() and 0 < fraction <= 1):
        raise InvalidInputError(f"cap {text[:40]} must be more than 0 and at most 100%, e.g. 5%")
    return int(fraction * WAD)


def _plain(value: Any) -> str:
    """A value as a person writes it: numpy scalars as plain numbers (1.878, not np.float64(1.878))."""
    if isinstance(value, np.generic):
        value = value.item()
    return str(value)[:40] if isinstance(value, (int, float)) else repr(value)[:40]


def _validation(dataset) -> tuple[pd.DataFrame, list[str]]:
    """The validation frame (indexed by id) and its feature columns."""
    names = None
    if isinstance(dataset, pd.DataFrame):
        frame, where = dataset, "the validation frame"
    else:
        directory = Path(dataset)
        if not directory.is_dir():
            raise InvalidInputError(f"{directory} is not a directory: give the directory of a round's dataset, as "
                                    "downloaded from the store").with_setting("dataset_dir")
        path = directory / "validation.csv"
        if not path.is_file():
            raise InvalidInputError(f"{path} is missing: diagnostics score predictions of a dataset's validation.csv "
                                    "(id,era,feature_...,target)")
        try:
            frame = pd.read_csv(path, dtype={"id": str}, index_col="id")
        except (ValueError, pd.errors.ParserError) as e:
            raise InvalidInputError(f"{path} is not a validation file with an id column: "
                                    f"{' '.join(str(e).split())[:120]}") from None
        where = str(path)
        meta = directory / "features.json"
        if meta.is_file():
            try:
                names = list(json.loads(meta.read_text())["feature_sets"]["all"])
            except (ValueError, KeyError, TypeError):
                raise InvalidInputError(f"{meta} does not list feature_sets.all: fix it or remove it") from None
    if "era" not in frame.columns or "target" not in frame.columns:
        raise InvalidInputError(f"{where} needs the columns era and target (id,era,feature_...,target)")
    if names is None:
        names = [c for c in frame.columns if isinstance(c, str) and c.startswith("feature_")]
    missing = [n for n in names if n not in frame.columns]
    if missing:
        features = f"{len(missing)} feature{'' if len(missing) == 1 else 's'}"
        raise InvalidInputError(f"{where} lacks {features} features.json lists, e.g. {missing[0]}")
    if not names:
        raise InvalidInputError(f"{where} has no feature_ column: FNC and feature exposure need the features")
    frame = frame.copy()
    frame.index = frame.index.astype(str)
    if frame.index.has_duplicates:
        raise InvalidInputError(f"{where} lists id {frame.index[frame.index.duplicated()][0]!r} twice")
    try:
        values = frame[names + ["target"]].to_numpy(dtype=float)
    except (TypeError, ValueError):
        raise InvalidInputError(f"{where} has a feature or target that is not a number") from None
    if not np.isfinite(values[:, :-1]).all():
        raise InvalidInputError(f"{where} has a missing or infinite feature value: FNC needs every feature")
    return frame, names


def _read(predictions: PredictionsInput, what: str) -> pd.Series:
    """Predictions by the store's rules, as floats indexed by id (str)."""
    if isinstance(predictions, (str, Path)):
        try:
            data = Path(predictions).read_bytes()
        except OSError as e:
            raise InvalidInputError(f"cannot read {what} file {predictions}: {e.strerror}") from None
        label = str(predictions)
        read = lambda: read_predictions_either_order(data)  # noqa: E731
    elif isinstance(predictions, (pd.Series, pd.DataFrame)):
        if isinstance(predictions, pd.DataFrame) and set(predictions.columns) == {"id", "prediction"}:
            predictions = predictions.set_index("id")["prediction"]
        elif isinstance(predictions, pd.DataFrame) and predictions.shape[1] != 1:
            shown = ", ".join(map(str, list(predictions.columns)[:5]))
            raise InvalidInputError(f"{what}: a DataFrame needs one column indexed by id, or the columns id and "
                                    f"prediction; got {predictions.shape[1]} columns ({shown})")
        label = what
        read = lambda: read_predictions(predictions_csv(predictions))  # noqa: E731
    else:
        raise InvalidInputError(f"{what} must be a CSV path, a Series indexed by id or a DataFrame, "
                                f"not {type(predictions).__name__}")
    try:
        return read()
    except InvalidPredictionsError as e:
        raise InvalidPredictionsError(f"{label}: {e}") from None


def _aligned(values: pd.Series, ids: pd.Index, what: str) -> pd.Series:
    """The predictions in the validation's order; one line naming missing or extra ids."""
    missing, extra = ids.difference(values.index), values.index.difference(ids)
    if len(missing) or len(extra):
        parts = []
        if len(missing):
            parts.append(f"lack {len(missing):,} validation id{'' if len(missing) == 1 else 's'} "
                         f"(first {missing[0]!r})")
        if len(extra):
            parts.append(f"have {len(extra):,} id{'' if len(extra) == 1 else 's'} not in the validation data "
                         f"(first {extra[0]!r})")
        raise InvalidInputError(f"the {what} {' and '.join(parts)}: predict exactly the ids of validation.csv")
    return values.reindex(ids)


# ------------------------------------------------------------------ scores


def _score(metric, predictions: pd.Series, *rest) -> float:
    """One era's score; NaN when the predictions are constant in the era (numerai-tools' NaN)."""
    if predictions.nunique() < 2:
        return np.nan
    return float(metric(predictions, *rest))


def _max_exposure(p: np.ndarray, features: pd.DataFrame) -> tuple[float, str]:
    """max |Pearson(p, feature)| over the features, and which; NaN for constant predictions."""
    f = features.to_numpy(dtype=float)
    pc, fc = p - p.mean(), f - f.mean(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):  # a constant column is NaN, as in pandas
        corr = np.abs((fc * pc[:, None]).sum(axis=0) / np.sqrt((fc * fc).sum(axis=0) * (pc * pc).sum()))
    if np.isnan(corr).all():
        return np.nan, ""
    j = int(np.nanargmax(corr))
    return float(corr[j]), str(features.columns[j])


def _payout(score: float, cap_wad: int) -> float:
    """The fraction of a stake the contract moves at this score (payout factor 1), by its integers."""
    quantized = FLOOR_SCORE if math.isnan(score) else int(quantize(np.array([score]))[0])
    return payout_delta(_STAKE, quantized, WAD, cap_wad) / _STAKE


def _stats(name: str, per_era: pd.Series) -> dict[str, float]:
    values = per_era.dropna().to_numpy(dtype=float)
    if values.size == 0:
        return {f"{name}_{k}": np.nan for k in ("mean", "std", "sharpe", "max_drawdown")}
    mean, std = float(values.mean()), float(values.std())
    curve = np.concatenate([[0.0], np.cumsum(values)])
    return {f"{name}_mean": mean, f"{name}_std": std,
            f"{name}_sharpe": mean / std if std > 0 else np.nan,
            f"{name}_max_drawdown": float((np.maximum.accumulate(curve) - curve).max())}


def cumulative(per_era: pd.DataFrame) -> pd.DataFrame:
    """The cumulative per-era sums of corr and of mmc when scored (what ``--plot`` draws); an era
    scored NaN (constant predictions) adds 0."""
    columns = ["corr"] + (["mmc"] if per_era["mmc"].notna().any() else [])
    return per_era[columns].fillna(0.0).cumsum()
