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
- Public files (``write_public``): ``train.csv``, ``validation.csv`` with the header
  ``id,era,feature_...,target`` and ``live.csv`` with ``id,era,feature_...`` (no target), and
  ``features.json`` (feature metadata: ``{"feature_sets": {"all": [names]}, "targets":
  ["target"]}``). Rows are sorted by (era, id), feature columns by name; values are written
  exactly (0, 0.25, 0.5, 0.75, 1.0). ``dataset_hash`` (what a round commits on-chain) is the
  keccak256 of the dataset's manifest (``crowdstake.store.datasets``: each file's name,
  keccak256 and size, in one canonical form), over the files' exact bytes; the store publishes
  the files and the manifest (``crowdstake.fund.publishing.publish_dataset_dir``), and
  ``dataset_hash_of(directory)`` recomputes the hash from disk.
- Private files (``write_private``, the fund's side only): ``targets/era-<era>.csv`` for each
  live era whose returns are all known (``id,target``, exactly that era's live ids: what
  ``Fund.publish_targets`` publishes once the round resolves), ``salt.txt`` (hex), ``ids.csv``
  (``id,era,stock``) and ``features.csv`` (``feature,raw``). ``Dataset.for_era(era)`` is one
  round's dataset when each round goes live on its own era (its own live file and
  ``dataset_hash``).
- ``crowdstake data build`` (``build_command``) writes one dataset directory per live era, so
  per round it can open: ``<out>/public/era-<era>/`` (train, validation, that era's live file,
  features.json), and the fund's ``<out>/private/`` with ``targets/era-<era>.csv``. Every file
  is written atomically (``crowdstake._fs.atomic_write``): a crash leaves none half-written.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd
from eth_hash.auto import keccak

from crowdstake._fs import atomic_write
from crowdstake.errors import InvalidInputError
from crowdstake.fund.market import MIN_STOCKS, check_raw, read_raw, synth_market, write_raw
from crowdstake.store.datasets import ALLOWED, REQUIRED, Entry, dataset_hash, dataset_manifest, kind_files, manifest_of

LEVELS = (0.0, 0.25, 0.5, 0.75, 1.0)
assert len(LEVELS) == MIN_STOCKS  # every era needs a stock per level
PUBLIC_FILES = ("train.csv", "validation.csv", "live.csv", "features.json")


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
        """The exact bytes of each public file (train.csv, validation.csv, live.csv, features.json)."""
        if not self._files:
            metadata = {"feature_sets": {"all": list(self.feature_names)}, "targets": ["target"]}
            self._files = {
                "train.csv": _csv_bytes(self.train),
                "validation.csv": _csv_bytes(self.validation),
                "live.csv": _csv_bytes(self.live),
                "features.json": (json.dumps(metadata, indent=2, sort_keys=True) + "\n").encode(),
            }
        return dict(self._files)

    # The public frames are treated as immutable once built: the files' bytes are cached.

    @property
    def manifest(self) -> bytes:
        """The public files' manifest, as the store keeps it (``crowdstake.store.datasets``)."""
        return dataset_manifest(self.public_files())

    @property
    def dataset_hash(self) -> bytes:
        """bytes32 committed on-chain: keccak256 of the public files' manifest."""
        return dataset_hash(self.manifest)

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

    def known_targets(self) -> list[int]:
        """The live eras whose targets are all known (a return unknown yet leaves an era out)."""
        return [era for era in self.live_eras if not self.targets_of(era).isna().any()]

    def write(self, public_dir, private_dir) -> dict[str, Path]:
        """Write the public files to ``public_dir`` and the fund's files to ``private_dir``.

        @return the paths written, by file name (the private ones relative to ``private_dir``).
        """
        public_dir, private_dir = Path(public_dir), Path(private_dir)
        if public_dir.resolve() == private_dir.resolve():
            raise InvalidInputError("the public and private directories must differ: the salt and targets stay private")
        return {**self.write_public(public_dir), **self.write_private(private_dir)}

    def write_public(self, directory) -> dict[str, Path]:
        """The public files (what the store publishes and participants download) into ``directory``."""
        out = {}
        for name, data in self.public_files().items():
            atomic_write(Path(directory) / name, data)
            out[name] = Path(directory) / name
        return out

    def write_private(self, directory) -> dict[str, Path]:
        """The fund's files into ``directory``: each live era's targets whose returns are known
        (``targets/era-<era>.csv``), the salt, the id map and the feature names."""
        private = {
            "salt.txt": (self.salt.hex() + "\n").encode(),
            "ids.csv": self.ids.to_csv(index=True, lineterminator="\n").encode(),
            "features.csv": pd.Series(self.features, name="raw").rename_axis("feature")
            .to_csv(lineterminator="\n").encode(),
        }
        for era in self.known_targets():  # one targets file per live era, for a round per era
            private[f"targets/era-{era}.csv"] = targets_csv(self.targets_of(era))
        out = {}
        for name, data in private.items():
            atomic_write(Path(directory) / name, data, mode=0o600)  # the fund's secrets: its own eyes only
            out[name] = Path(directory) / name
        return out


def read_dataset_dir(directory) -> dict[str, bytes]:
    """A dataset directory's files by name (train.csv, validation.csv, live.csv, and
    features.json when there; or a Signals round's universe.csv, neutralizers.csv and
    sample_weights.csv, see ``crowdstake.store.datasets.kind_files``); other files in it are
    not the dataset's and are left out. InvalidInputError names a required file that is missing."""
    directory = Path(directory)
    if not directory.is_dir():
        raise InvalidInputError(f"{directory} is not a directory: a dataset is a directory of {', '.join(REQUIRED)}")
    required, optional = kind_files(n for n in ALLOWED if (directory / n).is_file())
    files = {}
    for name in required + optional:
        path = directory / name
        if path.is_file():
            files[name] = path.read_bytes()
        elif name in required:
            extra = f" (and optionally {', '.join(optional)})" if optional else ""
            raise InvalidInputError(f"{path} is missing: a dataset directory has {', '.join(required)}{extra}")
    return files


def dataset_hash_of(directory) -> bytes:
    """Recompute the dataset hash (the manifest's keccak256) from a dataset directory's files on
    disk: anyone can check a round's ``datasetHash``."""
    files = read_dataset_dir(directory)
    return dataset_hash(manifest_of(Entry(name, keccak(data), len(data)) for name, data in files.items()))


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
    """Targets as the store takes them and the oracle reads them: header ``id,target``, rows
    sorted by id."""
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
    """``crowdstake data build --raw FILE``: one dataset directory per live era, so per round the
    fund can open, ``out_dir/public/era-<era>/`` (publish it with ``fund open-round --dataset``),
    and the fund's ``out_dir/private/`` (each era's targets as ``targets/era-<era>.csv`` for
    ``fund publish-targets``, the salt, the id map).

    The salt is random unless ``seed`` is given; a seeded salt is reproducible and therefore
    guessable by anyone who knows the seed — for demos and tests only.
    @return a summary: rows per split, features, directories, and per live era (oldest first)
            its dataset directory, dataset hash (0x hex), live rows and targets file (None
            while a return of the era is unknown).
    """
    raw = read_raw(raw_path)
    if seed is None:
        import secrets
        salt = secrets.token_bytes(16)
    else:
        salt = hashlib.sha256(f"crowdstake-demo-salt:{int(seed)}".encode()).digest()[:16]
    ds = build_dataset(raw, salt, live_eras=live_eras, validation_eras=validation_eras)
    out_dir = Path(out_dir)
    private = ds.write_private(out_dir / "private")
    rounds = []
    for era in ds.live_eras:
        one = ds.for_era(era)
        directory = out_dir / "public" / f"era-{era}"
        one.write_public(directory)
        targets = private.get(f"targets/era-{era}.csv")
        rounds.append({"era": era, "dataset_dir": str(directory), "dataset_hash": "0x" + one.dataset_hash.hex(),
                       "live_rows": len(one.live), "targets": str(targets) if targets else None})
    return {
        "public_dir": str(out_dir / "public"),
        "private_dir": str(out_dir / "private"),
        "train_rows": len(ds.train),
        "validation_rows": len(ds.validation),
        "live_rows": len(ds.live),
        "live_eras": ds.live_eras,
        "features": len(ds.feature_names),
        "rounds": rounds,
    }
