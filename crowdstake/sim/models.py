"""Example participant models for the demo and tests, trained on the public dataset.

Participant models (``train_model``): "good" (ridge regression on every feature), "mediocre"
(ridge on a random third of the features, shrunk towards noise), "random", and "copycat" (copies
another model's predictions with a little noise). Predictions are ranks in (0, 1]; write them for
the store with ``predictions_csv``. numpy/pandas only.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from crowdstake.errors import InvalidInputError
from crowdstake.fund.dataset import feature_columns

KINDS = ("good", "mediocre", "random", "copycat")


def _to_unit_ranks(values: np.ndarray, index: pd.Index) -> pd.Series:
    """Average ranks divided by n: values in (0, 1], ties kept."""
    s = pd.Series(values, index=index)
    return (s.rank(method="average") / len(s)).rename("prediction")


def _ridge(x: np.ndarray, y: np.ndarray, alpha: float) -> np.ndarray:
    xc = x - 0.5
    yc = y - np.nanmean(y)
    ok = ~np.isnan(yc)
    xc, yc = xc[ok], yc[ok]
    a = xc.T @ xc + alpha * len(yc) * np.eye(xc.shape[1])
    return np.linalg.solve(a, xc.T @ yc)


@dataclass
class Model:
    """A participant's trained model: ``predict(live_features) -> Series`` of ranks in (0, 1]."""

    kind: str
    seed: int
    features: list[str]
    weights: np.ndarray | None = None
    noise: float = 0.0
    source: Model | Callable | None = None

    def predict(self, live: pd.DataFrame) -> pd.Series:
        """Predictions for every row of ``live`` (indexed by id; feature columns as in training)."""
        n = len(live)
        if n == 0:
            return pd.Series([], dtype=float, index=live.index, name="prediction")
        # a fresh generator per call, seeded by the model and the rows: same input, same output
        key = int.from_bytes(hashlib.sha256("\x1f".join(map(str, live.index)).encode()).digest()[:8], "big")
        rng = np.random.default_rng([self.seed, key])
        if self.kind == "random":
            raw = rng.random(n)
        elif self.kind == "copycat":
            src = self.source.predict(live) if hasattr(self.source, "predict") else self.source(live)
            src = pd.Series(src, index=live.index) if not isinstance(src, pd.Series) else src.reindex(live.index)
            raw = src.to_numpy(dtype=float) + self.noise * rng.standard_normal(n) / math.sqrt(12)
        else:
            missing = [f for f in self.features if f not in live.columns]
            if missing:
                raise InvalidInputError(f"live data lacks feature column(s) {', '.join(missing[:3])}")
            raw = (live[self.features].to_numpy(dtype=float) - 0.5) @ self.weights
            if self.noise:
                sd = float(raw.std()) or 1.0
                raw = raw + self.noise * sd * rng.standard_normal(n)
        return _to_unit_ranks(raw, live.index)


def train_model(kind: str, train: pd.DataFrame, seed: int = 0, *, source=None, alpha: float = 0.01,
                noise: float | None = None) -> Model:
    """Train one participant's model on the public training frame.

    @param kind "good" (ridge on all features), "mediocre" (ridge on a random third of the
           features, predictions mixed with noise of twice their spread), "random" (uniform
           noise) or "copycat" (``source``'s predictions plus a little noise).
    @param train a public frame with ``feature_...`` columns and ``target``.
    @param seed makes "mediocre"'s subset and all noise reproducible.
    @param source for "copycat": a Model or a callable ``live -> Series``.
    @param alpha ridge penalty (per row).
    @param noise override the kind's noise level.
    """
    if kind not in KINDS:
        raise InvalidInputError(f"unknown model kind {kind!r}; use one of {', '.join(KINDS)}")
    feats = feature_columns(train)
    if kind in ("good", "mediocre"):
        if not feats or "target" not in train.columns:
            raise InvalidInputError("training data needs feature_... columns and a target column")
        rng = np.random.default_rng(seed)
        if kind == "mediocre":
            k = max(1, len(feats) // 3)
            feats = sorted(rng.choice(feats, size=k, replace=False).tolist())
        w = _ridge(train[feats].to_numpy(dtype=float), train["target"].to_numpy(dtype=float), alpha)
        return Model(kind, seed, feats, w, noise=(2.0 if kind == "mediocre" else 0.0) if noise is None else noise)
    if kind == "copycat":
        if source is None:
            raise InvalidInputError("a copycat needs source= the model (or callable) it copies")
        return Model(kind, seed, feats, noise=0.02 if noise is None else noise, source=source)
    return Model(kind, seed, feats)
