"""The fund's data: a synthetic market for demos and tests, the obfuscated tournament dataset,
and a few kinds of participant models trained on it.

Raw layout (what ``crowdstake data synth`` writes and ``crowdstake data build --raw`` reads).
One row per (era, stock), in a CSV file (header line, comma separated, ``.`` decimals) or, when
pyarrow is importable, a Parquet file (chosen by the ``.parquet`` / ``.pq`` suffix):

    era       int    the period; larger is later. Splits are made by era, never by row.
    stock     str    the fund's raw stock identifier (private: it never reaches a public file)
    f_<name>  float  one column per raw feature, finite; any scale (only ranks within an era matter)
    return    float  the stock's realised return over the era's horizon; empty/NaN = unknown

Each (era, stock) appears once; each era needs at least 5 stocks.

Synthetic market (``synth_market``). In each era every stock has ``K`` independent latent
factors ``z_k ~ N(0, 1)``. The realised return is ``sum_k b_k z_k + e`` with the factor loadings
``b_k`` chosen so the factors explain a share ``signal`` of the return's variance (default 10%;
the rest is noise ``e``), split between the factors with weights 4:3:2:1 (for K = 4). An
informative feature is a noisy reading of one factor, ``c z_k + sqrt(1 - c^2) u``; a noise
feature is pure noise ``u``. So a feature's predictive power, its population correlation with the
return, is exactly ``c * b_k`` (0 for a noise feature). The first half of the features (rounded
up) is informative, the rest is noise; ``df.attrs["feature_power"]`` maps every feature column
to its power and the docstring of ``synth_market`` gives the default values. The output is
bit-identical for the same arguments (numpy's PCG64 generator, fixed draw order).

Tournament dataset (``build_dataset``).
- Features are rank-binned per era into 5 equal-count levels 0, .25, .5, .75, 1 (quintiles;
  ranks are taken in the order of the stock id for ties, so binning is deterministic).
- Targets are the era's returns rank-binned the same way (unknown returns stay NaN).
- Feature names become ``feature_<12 hex>`` and each row gets an id ``<16 hex>``: the first
  hex digits of ``sha256(salt || tag || name)``; a row id hashes (stock, era), so the same stock
  gets unrelated ids in different eras. Without the salt neither can be reversed or linked.
- Splits by era: the last ``live_eras`` eras are live, the ``validation_eras`` before them
  validation, the rest train.
- Public files (``public_dir``): ``train.csv``, ``validation.csv`` with the header
  ``id,era,feature_...,target`` and ``live.csv`` with ``id,era,feature_...`` (no target).
  Rows are sorted by (era, id), feature columns by name; values are written exactly
  (0, 0.25, 0.5, 0.75, 1.0). ``dataset_hash`` (what a round commits on-chain) is
  ``keccak256(keccak256(train.csv) || keccak256(validation.csv) || keccak256(live.csv))``
  over the files' exact bytes; ``dataset_hash_of(public_dir)`` recomputes it from disk.
- Private files (``private_dir``, the fund's side only): ``live_targets.csv`` (``id,target``,
  the layout the oracle reads as ``targets/<round>.csv``; also split per live era as
  ``targets_by_era/<era>.csv``), ``salt.txt`` (hex), ``ids.csv`` (``id,era,stock``) and
  ``features.csv`` (``feature,raw``). ``Dataset.for_era(era)`` is one round's dataset when each
  round goes live on its own era (its own live file and ``dataset_hash``).

Participant models (``train_model``): "good" (ridge regression on every feature), "mediocre"
(ridge on a random third of the features, shrunk towards noise), "random", and "copycat" (copies
another model's predictions with a little noise). Predictions are ranks in (0, 1]; write them for
the store with ``predictions_csv``. numpy/pandas only.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd
from eth_hash.auto import keccak

from crowdstake.errors import InvalidInputError

__all__ = [
    "KINDS",
    "LEVELS",
    "Dataset",
    "Model",
    "build_command",
    "build_dataset",
    "dataset_hash_of",
    "feature_columns",
    "predictions_csv",
    "rank_bin",
    "read_raw",
    "synth_command",
    "synth_market",
    "targets_csv",
    "train_model",
    "write_raw",
]

LEVELS = (0.0, 0.25, 0.5, 0.75, 1.0)
KINDS = ("good", "mediocre", "random", "copycat")
PUBLIC_FILES = ("train.csv", "validation.csv", "live.csv")
MIN_STOCKS = len(LEVELS)

_FACTOR_NAMES = ("value", "momentum", "quality", "size", "growth", "carry", "volatility", "liquidity")


# --------------------------------------------------------------------------------------------
# synthetic market


def synth_market(eras: int = 60, stocks: int = 500, features: int = 12, seed: int = 0, *,
                 factors: int = 4, signal: float = 0.1) -> pd.DataFrame:
    """A synthetic market in the raw layout (see the module docstring).

    ``factors`` latent factors explain a share ``signal`` of the returns' variance, with weights
    ``factors, factors - 1, ..., 1``. Feature ``i`` (0-based) of the ``ceil(features / 2)``
    informative ones reads factor ``i % factors`` with loading ``c_i = 0.9 - 0.5 * i / n_inf``
    (from 0.9 down towards 0.4); the others are noise. Power = ``c_i * b_k``. With the defaults
    (12 features, 4 factors, signal 0.1) the informative powers are about
    0.180, 0.141, 0.104, 0.065, 0.113, 0.084 (f_value_0, f_momentum_0, f_quality_0,
    f_size_0, f_value_1, f_momentum_1) and the 6 f_noise_* features features have power 0.

    @param eras, stocks, features sizes (eras >= 1, stocks >= 5, features >= 1).
    @param seed the generator's seed: the same arguments give bit-identical frames.
    @return DataFrame with columns era, stock, f_<name>..., return; ``attrs["feature_power"]``
            maps each feature column to its correlation with the return, ``attrs["seed"]`` etc.
    """
    if eras < 1 or stocks < MIN_STOCKS or features < 1 or factors < 1:
        raise InvalidInputError(f"synth_market needs eras >= 1, stocks >= {MIN_STOCKS}, features >= 1, factors >= 1")
    if not 0.0 < signal < 1.0:
        raise InvalidInputError(f"signal must be a share of variance in (0, 1), got {signal}")
    rng = np.random.default_rng(seed)
    weights = np.arange(factors, 0, -1, dtype=float)
    b = np.sqrt(signal * weights / weights.sum())  # factor loadings of the return
    noise_sd = math.sqrt(1.0 - signal)
    n_inf = (features + 1) // 2
    names, power, which, load = [], {}, [], []
    for i in range(features):
        if i < n_inf:
            k = i % factors
            c = 0.9 - 0.5 * i / n_inf
            base = _FACTOR_NAMES[k % len(_FACTOR_NAMES)]
            name = f"f_{base}_{i // factors}" if features > factors else f"f_{base}"
            power[name] = float(c * b[k])
        else:
            k, c = -1, 0.0
            name = f"f_noise_{i - n_inf}"
            power[name] = 0.0
        names.append(name)
        which.append(k)
        load.append(c)

    n = eras * stocks
    z = rng.standard_normal((n, factors))
    ret = z @ b + noise_sd * rng.standard_normal(n)
    u = rng.standard_normal((n, features))
    cols = {}
    for j, name in enumerate(names):
        c = load[j]
        cols[name] = c * z[:, which[j]] + math.sqrt(1.0 - c * c) * u[:, j] if which[j] >= 0 else u[:, j]
    width = max(4, len(str(stocks - 1)))
    frame = pd.DataFrame({
        "era": np.repeat(np.arange(1, eras + 1, dtype=np.int64), stocks),
        "stock": np.tile(np.array([f"STK{s:0{width}d}" for s in range(stocks)], dtype=object), eras),
        **cols,
        "return": ret,
    })
    frame.attrs["feature_power"] = power
    frame.attrs["seed"] = int(seed)
    frame.attrs["signal"] = float(signal)
    frame.attrs["factors"] = int(factors)
    return frame


def _parquet(path: Path) -> bool:
    if path.suffix.lower() not in (".parquet", ".pq"):
        return False
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        raise InvalidInputError(f"{path}: Parquet needs pyarrow, which is not installed; use a .csv path") from None
    return True


def write_raw(frame: pd.DataFrame, path) -> Path:
    """Write a raw frame as CSV (or Parquet for a .parquet path when pyarrow is available)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if _parquet(path):
        frame.to_parquet(path, index=False)
    else:
        frame.to_csv(path, index=False, lineterminator="\n")
    return path


def read_raw(path) -> pd.DataFrame:
    """Read and check a raw file (layout in the module docstring)."""
    path = Path(path)
    if not path.exists():
        raise InvalidInputError(f"no raw data file {path}; create one with `crowdstake data synth`")
    try:
        if _parquet(path):
            frame = pd.read_parquet(path)
        else:
            frame = pd.read_csv(path, dtype={"stock": str})
    except InvalidInputError:
        raise
    except Exception as exc:  # noqa: BLE001 - pandas raises many types for a malformed file
        raise InvalidInputError(f"cannot read {path}: {exc.__class__.__name__}: {exc}") from None
    _check_raw(frame)
    return frame


def _check_raw(raw: pd.DataFrame) -> list[str]:
    """The raw frame's feature columns; raises InvalidInputError naming the first problem."""
    if not isinstance(raw, pd.DataFrame):
        raise InvalidInputError("raw data must be a pandas DataFrame")
    missing = [c for c in ("era", "stock", "return") if c not in raw.columns]
    if missing:
        raise InvalidInputError(f"raw data lacks column(s) {', '.join(missing)}; expected era, stock, f_<name>..., return")
    feats = [c for c in raw.columns if isinstance(c, str) and c.startswith("f_")]
    if not feats:
        raise InvalidInputError("raw data has no feature column; name features f_<name>")
    extra = [c for c in raw.columns if c not in ("era", "stock", "return") and c not in feats]
    if extra:
        raise InvalidInputError(f"unexpected raw column(s) {', '.join(map(str, extra[:5]))}; features must be named f_<name>")
    if not pd.api.types.is_integer_dtype(raw["era"].dtype):
        raise InvalidInputError(f"raw column era must hold integers, got dtype {raw['era'].dtype}")
    for c in feats + ["return"]:
        if not pd.api.types.is_numeric_dtype(raw[c].dtype):
            raise InvalidInputError(f"raw column {c} must be numeric, got dtype {raw[c].dtype}")
    values = raw[feats].to_numpy(dtype=float)
    if not np.isfinite(values).all():
        bad = feats[int(np.flatnonzero(~np.isfinite(values).all(axis=0))[0])]
        raise InvalidInputError(f"raw feature {bad} has NaN or infinite values; fill them before building")
    if np.isinf(raw["return"].to_numpy(dtype=float)).any():
        raise InvalidInputError("raw returns contain infinite values (NaN marks an unknown return)")
    if raw["stock"].isna().any():
        raise InvalidInputError("raw column stock has empty values")
    if raw.duplicated(["era", "stock"]).any():
        row = raw[raw.duplicated(["era", "stock"])].iloc[0]
        raise InvalidInputError(f"stock {row['stock']!r} appears twice in era {row['era']}; give one row per (era, stock)")
    small = raw.groupby("era").size()
    small = small[small < MIN_STOCKS]
    if len(small):
        raise InvalidInputError(f"era {small.index[0]} has {small.iloc[0]} stocks; every era needs at least {MIN_STOCKS}")
    return feats


# --------------------------------------------------------------------------------------------
# the obfuscated dataset


def rank_bin(values: np.ndarray, levels: int = len(LEVELS)) -> np.ndarray:
    """Equal-count bins of a 1-D array into ``levels`` levels in [0, 1] (0, .25, ... for 5).

    Ties are broken by position (a stable sort), NaN stays NaN and is not counted.
    """
    values = np.asarray(values, dtype=float)
    out = np.full(values.shape, np.nan)
    ok = np.flatnonzero(~np.isnan(values))
    n = ok.size
    if n == 0:
        return out
    order = ok[np.argsort(values[ok], kind="stable")]
    bins = (np.arange(n) * levels) // n  # 0..levels-1, equal counts (+-1)
    out[order] = bins / (levels - 1)
    return out


def _digest(salt: bytes, tag: str, *parts) -> str:
    h = hashlib.sha256()
    h.update(salt)
    h.update(b"\x00" + tag.encode() + b"\x00")
    h.update("\x1f".join(str(p) for p in parts).encode("utf-8"))
    return h.hexdigest()


def feature_columns(frame: pd.DataFrame) -> list[str]:
    """The obfuscated feature columns of a public frame, in order."""
    return [c for c in frame.columns if isinstance(c, str) and c.startswith("feature_")]


def _csv_bytes(frame: pd.DataFrame) -> bytes:
    return frame.to_csv(index=True, lineterminator="\n").encode("utf-8")


@dataclass
class Dataset:
    """An obfuscated tournament dataset.

    Public (may be published): ``train``, ``validation``, ``live`` (DataFrames indexed by the
    obfuscated ``id``, columns ``era``, ``feature_...``, and ``target`` except in live),
    ``feature_names`` and ``dataset_hash``. Private (the fund's): ``live_targets`` (Series
    indexed by id), ``salt``, ``ids`` (id -> era, stock) and ``features`` (obfuscated -> raw name).
    """

    train: pd.DataFrame
    validation: pd.DataFrame
    live: pd.DataFrame
    live_targets: pd.Series
    feature_names: list[str]
    salt: bytes = field(repr=False)
    ids: pd.DataFrame = field(repr=False)
    features: dict[str, str] = field(repr=False)
    _files: dict[str, bytes] = field(default_factory=dict, repr=False)

    @property
    def public(self) -> dict[str, pd.DataFrame]:
        """The public frames by split: train, validation, live (live has no target column)."""
        return {"train": self.train, "validation": self.validation, "live": self.live}

    @property
    def live_eras(self) -> list[int]:
        return sorted(int(e) for e in self.live["era"].unique())

    def public_files(self) -> dict[str, bytes]:
        """The exact bytes of each public file (train.csv, validation.csv, live.csv)."""
        if not self._files:
            self._files = {
                "train.csv": _csv_bytes(self.train),
                "validation.csv": _csv_bytes(self.validation),
                "live.csv": _csv_bytes(self.live),
            }
        return dict(self._files)

    # The public frames are treated as immutable once built: the files' bytes are cached.

    @property
    def dataset_hash(self) -> bytes:
        """bytes32 committed on-chain: keccak256 of the three public files' keccak256 in order."""
        return _hash_files(self.public_files())

    def live_ids(self, era: int | None = None) -> list[str]:
        """Live ids (of one live era, or all), sorted: what the store's live_ids.csv lists."""
        live = self.live if era is None else self.live[self.live["era"] == era]
        return sorted(live.index)

    def targets_of(self, era: int | None = None) -> pd.Series:
        """The private live targets of one live era (or all), indexed by id."""
        return self.live_targets.loc[self.live_ids(era)]

    def for_era(self, era: int) -> Dataset:
        """The dataset of one round when each round goes live on its own era: the same train and
        validation, live (and live targets) restricted to ``era``; its own ``dataset_hash``."""
        if era not in self.live_eras:
            raise InvalidInputError(f"era {era} is not a live era; live eras are {self.live_eras}")
        live = self.live[self.live["era"] == era]
        return replace(self, live=live.copy(), live_targets=self.live_targets.loc[live.index], _files={})

    def write(self, public_dir, private_dir) -> dict[str, Path]:
        """Write the public files to ``public_dir`` and the fund's files to ``private_dir``.

        @return the paths written, by file name.
        """
        public_dir, private_dir = Path(public_dir), Path(private_dir)
        if public_dir.resolve() == private_dir.resolve():
            raise InvalidInputError("the public and private directories must differ: the salt and targets stay private")
        public_dir.mkdir(parents=True, exist_ok=True)
        private_dir.mkdir(parents=True, exist_ok=True)
        out = {}
        for name, data in self.public_files().items():
            (public_dir / name).write_bytes(data)
            out[name] = public_dir / name
        private = {
            "live_targets.csv": targets_csv(self.live_targets),
            "salt.txt": (self.salt.hex() + "\n").encode(),
            "ids.csv": self.ids.to_csv(index=True, lineterminator="\n").encode(),
            "features.csv": pd.Series(self.features, name="raw").rename_axis("feature")
            .to_csv(lineterminator="\n").encode(),
        }
        for era in self.live_eras:  # one targets file per live era, for a round per era
            private[f"targets_by_era/{era}.csv"] = targets_csv(self.targets_of(era))
        (private_dir / "targets_by_era").mkdir(exist_ok=True)
        for name, data in private.items():
            (private_dir / name).write_bytes(data)
            out[name] = private_dir / name
        return out


def _hash_files(files: dict[str, bytes]) -> bytes:
    return keccak(b"".join(keccak(files[name]) for name in PUBLIC_FILES))


def dataset_hash_of(public_dir) -> bytes:
    """Recompute the dataset hash from the public files on disk (anyone can check a round's)."""
    files = {}
    for name in PUBLIC_FILES:
        path = Path(public_dir) / name
        if not path.exists():
            raise InvalidInputError(f"{path} is missing; a dataset has {', '.join(PUBLIC_FILES)}")
        files[name] = path.read_bytes()
    return _hash_files(files)


def build_dataset(raw: pd.DataFrame, salt: bytes, live_eras: int = 1, validation_eras: int | None = None) -> Dataset:
    """Turn a raw frame into the obfuscated tournament dataset (see the module docstring).

    @param raw raw layout: era, stock, f_<name>..., return.
    @param salt secret bytes (16+ recommended); the same raw data and salt give the same bytes.
    @param live_eras the last eras, published without targets.
    @param validation_eras the eras before them with targets, for participants' validation;
           default a fifth of the remaining eras (at least 1 when 2+ remain).
    """
    feats = _check_raw(raw)
    if not isinstance(salt, (bytes, bytearray)) or len(salt) == 0:
        raise InvalidInputError("salt must be non-empty bytes")
    salt = bytes(salt)
    eras = sorted(int(e) for e in raw["era"].unique())
    if live_eras < 1 or live_eras >= len(eras):
        raise InvalidInputError(f"live_eras must be between 1 and {len(eras) - 1} (the data has {len(eras)} eras)")
    rest = len(eras) - live_eras
    if validation_eras is None:
        validation_eras = max(1, rest // 5) if rest >= 2 else 0
    if validation_eras < 0 or validation_eras >= rest:
        raise InvalidInputError(f"validation_eras must be between 0 and {rest - 1}: at least one train era is needed")
    live_set = set(eras[rest:])
    valid_set = set(eras[rest - validation_eras:rest])

    frame = raw.assign(stock=raw["stock"].astype(str)).sort_values(["era", "stock"], kind="stable").reset_index(drop=True)
    feature_map = {f: "feature_" + _digest(salt, "feature", f)[:12] for f in feats}
    if len(set(feature_map.values())) != len(feature_map):
        raise InvalidInputError("two feature names hash to the same short name; use another salt")
    ids = [_digest(salt, "id", s, int(e))[:16] for e, s in zip(frame["era"], frame["stock"])]
    if len(set(ids)) != len(ids):
        raise InvalidInputError("two rows hash to the same id; use another salt")

    groups = frame.groupby("era", sort=True).indices
    binned = {}
    for f in feats + ["return"]:
        col = frame[f].to_numpy(dtype=float)
        out = np.empty(len(frame))
        for idx in groups.values():
            out[idx] = rank_bin(col[idx])
        binned[f] = out
    ordered = sorted(feats, key=lambda f: feature_map[f])
    names = [feature_map[f] for f in ordered]
    public = pd.DataFrame({"era": frame["era"].to_numpy(dtype=np.int64)}, index=pd.Index(ids, name="id"))
    for f, name in zip(ordered, names):
        public[name] = binned[f]
    public["target"] = binned["return"]
    public = public.sort_values(["era", "id"], kind="stable")
    era = public["era"].to_numpy()
    is_live = np.isin(era, list(live_set))
    is_valid = np.isin(era, list(valid_set))
    live = public[is_live].drop(columns="target")
    id_map = pd.DataFrame({"era": frame["era"].to_numpy(dtype=np.int64), "stock": frame["stock"].to_numpy()},
                          index=pd.Index(ids, name="id")).loc[public.index]
    return Dataset(
        train=public[~is_live & ~is_valid].copy(),
        validation=public[is_valid].copy(),
        live=live.copy(),
        live_targets=public.loc[is_live, "target"].rename("target"),
        feature_names=names,
        salt=salt,
        ids=id_map,
        features={feature_map[f]: f for f in ordered},
    )


def targets_csv(targets: pd.Series) -> bytes:
    """Targets as the oracle reads them (``targets/<round>.csv``): header ``id,target``."""
    frame = pd.DataFrame({"target": targets.to_numpy()}, index=pd.Index(targets.index.astype(str), name="id"))
    return frame.sort_index().to_csv(lineterminator="\n").encode()


def predictions_csv(predictions: pd.Series) -> bytes:
    """Predictions as the store accepts them: header ``id,prediction``, one row per id, sorted."""
    values = predictions.to_numpy(dtype=float)
    if not np.isfinite(values).all() or values.min() < 0 or values.max() > 1:
        raise InvalidInputError("predictions must be finite numbers in [0, 1]")
    frame = pd.DataFrame({"prediction": values}, index=pd.Index(predictions.index.astype(str), name="id"))
    return frame.sort_index().to_csv(lineterminator="\n").encode()


# --------------------------------------------------------------------------------------------
# participant models


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


# --------------------------------------------------------------------------------------------
# CLI helpers


def synth_command(out_path, eras: int = 60, stocks: int = 500, seed: int = 0, features: int = 12) -> dict:
    """``crowdstake data synth``: write a synthetic raw market to ``out_path`` (.csv, or
    .parquet with pyarrow). @return a summary: path, rows, eras, stocks, features, feature_power."""
    frame = synth_market(eras=eras, stocks=stocks, features=features, seed=seed)
    path = write_raw(frame, out_path)
    return {
        "path": str(path),
        "rows": len(frame),
        "eras": eras,
        "stocks": stocks,
        "features": features,
        "seed": seed,
        "feature_power": {k: round(v, 4) for k, v in frame.attrs["feature_power"].items()},
    }


def build_command(raw_path, out_dir, seed: int | None = None, live_eras: int = 1,
                  validation_eras: int | None = None) -> dict:
    """``crowdstake data build --raw FILE``: write ``out_dir/public`` (publish these) and
    ``out_dir/private`` (the fund's: targets, salt, id map).

    The salt is random unless ``seed`` is given; a seeded salt is reproducible and therefore
    guessable by anyone who knows the seed — for demos and tests only.
    @return a summary: dataset_hash (0x hex), rows per split, live ids, features, directories.
    """
    raw = read_raw(raw_path)
    if seed is None:
        import secrets
        salt = secrets.token_bytes(16)
    else:
        salt = hashlib.sha256(f"crowdstake-demo-salt:{int(seed)}".encode()).digest()[:16]
    ds = build_dataset(raw, salt, live_eras=live_eras, validation_eras=validation_eras)
    out_dir = Path(out_dir)
    ds.write(out_dir / "public", out_dir / "private")
    return {
        "dataset_hash": "0x" + ds.dataset_hash.hex(),
        "public_dir": str(out_dir / "public"),
        "private_dir": str(out_dir / "private"),
        "train_rows": len(ds.train),
        "validation_rows": len(ds.validation),
        "live_rows": len(ds.live),
        "live_eras": ds.live_eras,
        "features": len(ds.feature_names),
    }
