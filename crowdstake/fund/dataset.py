"""The fund's tournament dataset: obfuscated, rank-binned features and targets, public and
private files, the dataset hash a round commits on-chain; and the `crowdstake data` commands.

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
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd
from eth_hash.auto import keccak

from crowdstake.errors import InvalidInputError
from crowdstake.fund.market import MIN_STOCKS, check_raw, read_raw, synth_market, write_raw

LEVELS = (0.0, 0.25, 0.5, 0.75, 1.0)
assert len(LEVELS) == MIN_STOCKS  # every era needs a stock per level
PUBLIC_FILES = ("train.csv", "validation.csv", "live.csv")


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
    feats = check_raw(raw)
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
