"""A synthetic market, for demos and tests, and the fund's raw per-era file.

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

"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from crowdstake.errors import InvalidInputError

MIN_STOCKS = 5  # an era needs one stock per level of the dataset's binning

_FACTOR_NAMES = ("value", "momentum", "quality", "size", "growth", "carry", "volatility", "liquidity")


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
    check_raw(frame)
    return frame


def check_raw(raw: pd.DataFrame) -> list[str]:
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
