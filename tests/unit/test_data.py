"""The fund's data and the demo's models (no chain): synthetic market (crowdstake.fund.market),
obfuscated dataset and its hash (crowdstake.fund.dataset), participant models (crowdstake.sim.models)."""

import json

import numpy as np
import pandas as pd
import pytest
from eth_hash.auto import keccak

from crowdstake import store
from crowdstake.errors import CrowdstakeError, InvalidInputError
from crowdstake.fund import dataset as data
from crowdstake.fund.dataset import LEVELS, build_dataset, dataset_hash_of, feature_columns
from crowdstake.fund.market import read_raw, synth_market
from crowdstake.sim.models import train_model
from crowdstake.scoring import numerai_corr

SALT = b"test-salt-0123456789"


@pytest.fixture(scope="module")
def raw():
    return synth_market(eras=24, stocks=400, features=12, seed=11)


@pytest.fixture(scope="module")
def dataset(raw):
    return build_dataset(raw, SALT, live_eras=2, validation_eras=6)


@pytest.fixture(scope="module")
def written(dataset, tmp_path_factory):
    root = tmp_path_factory.mktemp("dataset")
    dataset.write(root / "public", root / "private")
    return root


def era_mean_corr(predictions: pd.Series, frame: pd.DataFrame) -> float:
    return float(np.mean([numerai_corr(predictions.loc[g.index], g["target"]) for _, g in frame.groupby("era")]))


# --------------------------------------------------------------------------------------------
# synthetic market


def test_synth_is_bit_identical_for_a_seed():
    a = synth_market(eras=5, stocks=50, features=6, seed=3)
    b = synth_market(eras=5, stocks=50, features=6, seed=3)
    assert a.to_csv().encode() == b.to_csv().encode()
    num = a.select_dtypes("number").columns
    assert np.array_equal(a[num].to_numpy(), b[num].to_numpy())
    assert a.attrs["feature_power"] == b.attrs["feature_power"]


def test_synth_differs_between_seeds():
    a = synth_market(eras=3, stocks=50, features=4, seed=1)
    b = synth_market(eras=3, stocks=50, features=4, seed=2)
    assert not np.array_equal(a["return"].to_numpy(), b["return"].to_numpy())


def test_synth_raw_layout(raw):
    feats = [c for c in raw.columns if c.startswith("f_")]
    assert list(raw.columns) == ["era", "stock", *feats, "return"]
    assert set(raw.attrs["feature_power"]) == set(feats)
    assert raw.groupby("era").size().eq(400).all()
    assert not raw.duplicated(["era", "stock"]).any()


def test_stated_feature_power_shows_in_the_data(raw, dataset):
    power = raw.attrs["feature_power"]
    informative = [f for f, p in power.items() if p > 0]
    noise = [f for f, p in power.items() if p == 0]
    assert informative and noise
    ret = raw["return"].to_numpy()
    for f, p in power.items():  # the raw Pearson correlation is the stated power
        assert np.corrcoef(raw[f].to_numpy(), ret)[0, 1] == pytest.approx(p, abs=0.03), f
    # and after obfuscation: each informative feature's CORR with the binned target clearly beats noise
    # (22 eras x 400 stocks: a noise feature's CORR has a standard error of about 0.011)
    known = pd.concat([dataset.train, dataset.validation])
    corr = {raw_name: era_mean_corr(known[hashed], known) for hashed, raw_name in dataset.features.items()}
    assert min(corr[f] for f in informative) > 0.045
    assert max(abs(corr[f]) for f in noise) < 0.035
    assert min(corr[f] for f in informative) > max(abs(corr[f]) for f in noise) + 0.02
    # the stronger the stated power, the stronger the CORR (rank agreement)
    strong = sorted(informative, key=power.get)
    assert np.corrcoef(np.argsort(np.argsort([corr[f] for f in strong])), np.arange(len(strong)))[0, 1] > 0.7


# --------------------------------------------------------------------------------------------
# dataset


def test_features_and_targets_have_five_equal_levels_per_era(dataset):
    for name, frame in dataset.public.items():
        cols = feature_columns(frame) + (["target"] if "target" in frame.columns else [])
        for _, era in frame.groupby("era"):
            for c in cols:
                counts = era[c].value_counts()
                assert sorted(counts.index) == list(LEVELS), (name, c)
                assert counts.max() - counts.min() <= 1
    for _, era in dataset.live_targets.groupby(dataset.live["era"]):
        assert sorted(era.unique()) == list(LEVELS)


def test_splits_are_by_era(raw, dataset):
    eras = sorted(raw["era"].unique())
    assert sorted(dataset.train["era"].unique()) == eras[:16]
    assert sorted(dataset.validation["era"].unique()) == eras[16:22]
    assert dataset.live_eras == eras[22:]
    assert len(dataset.train) + len(dataset.validation) + len(dataset.live) == len(raw)
    all_ids = dataset.train.index.append(dataset.validation.index).append(dataset.live.index)
    assert all_ids.is_unique


def test_live_targets_are_withheld(dataset, written):
    assert "target" not in dataset.live.columns
    assert "target" not in dataset.public["live"].columns
    assert list(pd.read_csv(written / "public" / "live.csv", nrows=0).columns) == ["id", "era", *dataset.feature_names]
    assert sorted(dataset.live_targets.index) == dataset.live_ids()
    per_era = []
    for era in dataset.live_eras:  # one targets file per live era, in the form the store takes
        data = (written / "private" / "targets" / f"era-{era}.csv").read_bytes()
        assert store.validate_targets(data, dataset.live_ids(era)) == len(dataset.live_ids(era))
        per_era.append(store.read_targets_data(data))
    assert pd.concat(per_era).sort_index().equals(dataset.live_targets.rename_axis("id").sort_index())
    assert not any("target" in p.name for p in (written / "public").iterdir())
    assert all((p.stat().st_mode & 0o077) == 0 for p in (written / "private").rglob("*") if p.is_file())


def test_public_files_hide_raw_ids_feature_names_and_salt(raw, written):
    public = b"".join(p.read_bytes() for p in sorted((written / "public").iterdir()))
    text = public.decode()
    assert "STK" not in text
    for f in raw.columns:
        if f.startswith("f_"):
            assert f not in text and f[2:] not in text, f
    assert "return" not in text
    assert SALT.hex() not in text and SALT.decode() not in text
    assert sorted(p.name for p in (written / "public").iterdir()) == ["features.json", "live.csv", "train.csv",
                                                                       "validation.csv"]
    assert json.loads((written / "public" / "features.json").read_text())["feature_sets"]["all"] == [
        c for c in pd.read_csv(written / "public" / "live.csv", nrows=0).columns if c.startswith("feature_")]
    # the private side can map everything back
    ids = pd.read_csv(written / "private" / "ids.csv", dtype={"id": str, "stock": str})
    assert set(ids["stock"]) == set(raw["stock"])
    assert (written / "private" / "salt.txt").read_text().strip() == SALT.hex()


def test_same_stock_gets_unrelated_ids_in_different_eras(dataset):
    stock = dataset.ids["stock"].iloc[0]
    rows = dataset.ids[dataset.ids["stock"] == stock]
    assert rows["era"].nunique() == len(rows) == rows.index.nunique()


def test_dataset_hash_matches_files_and_is_reproducible(raw, dataset, written):
    assert len(dataset.dataset_hash) == 32
    assert dataset_hash_of(written / "public") == dataset.dataset_hash
    files = {p.name: p.read_bytes() for p in (written / "public").iterdir()}
    assert dataset.dataset_hash == keccak(store.dataset_manifest(files))  # the manifest the store keeps
    assert build_dataset(raw, SALT, live_eras=2, validation_eras=6).dataset_hash == dataset.dataset_hash
    assert build_dataset(raw, SALT + b"!", live_eras=2, validation_eras=6).dataset_hash != dataset.dataset_hash


def test_dataset_hash_changes_with_any_public_byte(dataset, written, tmp_path):
    for name in data.PUBLIC_FILES:
        for position in (0, 57, -2):
            copy = tmp_path / f"{name}-{position}"
            copy.mkdir()
            for other in data.PUBLIC_FILES:
                (copy / other).write_bytes((written / "public" / other).read_bytes())
            blob = bytearray((copy / name).read_bytes())
            blob[position] ^= 0x01
            (copy / name).write_bytes(bytes(blob))
            assert dataset_hash_of(copy) != dataset.dataset_hash, (name, position)


def test_dataset_hash_ignores_private_data(raw, dataset):
    # a different realised live return changes the fund's targets, not a public byte
    changed = raw.copy()
    live = changed["era"] >= 23
    changed.loc[live, "return"] = -changed.loc[live, "return"]
    other = build_dataset(changed, SALT, live_eras=2, validation_eras=6)
    assert other.dataset_hash == dataset.dataset_hash
    assert not other.live_targets.equals(dataset.live_targets)


def test_for_era_is_one_round_of_the_live_eras(dataset, tmp_path):
    first, second = (dataset.for_era(e) for e in dataset.live_eras)
    assert set(first.live["era"]) == {dataset.live_eras[0]}
    assert first.live_targets.index.equals(first.live.index)
    assert first.train.equals(dataset.train)
    assert len({first.dataset_hash, second.dataset_hash, dataset.dataset_hash}) == 3
    first.write(tmp_path / "pub", tmp_path / "priv")
    assert dataset_hash_of(tmp_path / "pub") == first.dataset_hash
    with pytest.raises(InvalidInputError, match="live era"):
        dataset.for_era(1)


def test_build_rejects_malformed_raw(raw):
    with pytest.raises(InvalidInputError, match="return"):
        build_dataset(raw.drop(columns="return"), SALT)
    bad = raw.copy()
    bad.loc[3, "f_noise_0"] = np.nan
    with pytest.raises(InvalidInputError, match="f_noise_0"):
        build_dataset(bad, SALT)
    with pytest.raises(CrowdstakeError, match="live_eras"):
        build_dataset(raw, SALT, live_eras=24)
    with pytest.raises(InvalidInputError, match="twice"):
        build_dataset(pd.concat([raw, raw.iloc[:1]]), SALT)


# --------------------------------------------------------------------------------------------
# models


def test_good_model_beats_random_on_validation(dataset):
    good = train_model("good", dataset.train, seed=1)
    mediocre = train_model("mediocre", dataset.train, seed=2)
    random = train_model("random", dataset.train, seed=3)
    v = dataset.validation
    g, m, r = (era_mean_corr(model.predict(v), v) for model in (good, mediocre, random))
    assert g > 0.1
    assert g > m > r
    assert abs(r) < 0.05


def test_predictions_are_ranks_in_unit_interval_and_reproducible(dataset):
    for kind in ("good", "mediocre", "random"):
        p = train_model(kind, dataset.train, seed=5).predict(dataset.live)
        assert p.index.equals(dataset.live.index)
        assert p.between(0, 1).all() and p.max() == 1.0
        assert p.equals(train_model(kind, dataset.train, seed=5).predict(dataset.live))


def test_copycat_follows_its_source(dataset):
    good = train_model("good", dataset.train, seed=1)
    copycat = train_model("copycat", dataset.train, seed=9, source=good)
    a, b = good.predict(dataset.validation), copycat.predict(dataset.validation)
    assert np.corrcoef(a, b)[0, 1] > 0.95
    assert not a.equals(b)
    with pytest.raises(InvalidInputError):
        train_model("copycat", dataset.train)
    with pytest.raises(InvalidInputError, match="kind"):
        train_model("oracle", dataset.train)


def test_prediction_file_passes_the_store_checks(dataset):
    era = dataset.live_eras[0]
    live = dataset.live[dataset.live["era"] == era]
    body = store.predictions_csv(train_model("good", dataset.train).predict(live))
    assert store.validate_predictions(body, live_ids=dataset.live_ids(era)) == len(live)


# --------------------------------------------------------------------------------------------
# CLI helpers


def test_synth_and_build_commands_write_the_layout(tmp_path):
    summary = data.synth_command(tmp_path / "raw.csv", eras=8, stocks=60, seed=4)
    assert summary["rows"] == 480 and summary["feature_power"]
    raw = read_raw(tmp_path / "raw.csv")
    assert np.array_equal(raw["return"].to_numpy(), synth_market(eras=8, stocks=60, seed=4)["return"].to_numpy())
    built = data.build_command(tmp_path / "raw.csv", tmp_path / "out", seed=4, live_eras=2)
    assert built["live_rows"] == 120 and built["live_eras"] == [7, 8]
    out = tmp_path / "out"
    assert sorted(p.name for p in (out / "public").iterdir()) == ["era-7", "era-8"]  # one dataset per round
    assert sorted(p.name for p in (out / "private" / "targets").iterdir()) == ["era-7.csv", "era-8.csv"]
    for era, one in zip((7, 8), built["rounds"]):
        directory = out / "public" / f"era-{era}"
        assert one == {"era": era, "dataset_dir": str(directory), "dataset_hash": "0x" + dataset_hash_of(directory).hex(),
                       "live_rows": 60, "targets": str(out / "private" / "targets" / f"era-{era}.csv")}
        live_ids = store.live_ids_of((directory / "live.csv").read_bytes())
        assert set(pd.read_csv(directory / "live.csv")["era"]) == {era}
        targets = (out / "private" / "targets" / f"era-{era}.csv").read_bytes()
        assert store.validate_targets(targets, live_ids) == 60  # what publish_targets takes for this round
        assert set(store.read_targets_data(targets).unique()) == set(LEVELS)
        assert (directory / "train.csv").read_bytes() == (out / "public" / "era-7" / "train.csv").read_bytes()
    assert built["rounds"][0]["dataset_hash"] != built["rounds"][1]["dataset_hash"]
    again = data.build_command(tmp_path / "raw.csv", tmp_path / "again", seed=4, live_eras=2)
    assert again["rounds"] == [{**r, "dataset_dir": r["dataset_dir"].replace(str(out), str(tmp_path / "again")),
                                "targets": r["targets"].replace(str(out), str(tmp_path / "again"))}
                               for r in built["rounds"]]


def test_build_writes_no_targets_for_an_era_whose_returns_are_unknown(tmp_path):
    raw = synth_market(eras=6, stocks=40, seed=2)
    raw.loc[raw["era"] == 6, "return"] = np.nan  # the last era has not resolved yet
    raw.to_csv(tmp_path / "raw.csv", index=False)
    built = data.build_command(tmp_path / "raw.csv", tmp_path / "out", seed=1, live_eras=2)
    assert [r["targets"] is None for r in built["rounds"]] == [False, True]
    assert (tmp_path / "out" / "public" / "era-6" / "live.csv").exists()
    assert not (tmp_path / "out" / "private" / "targets" / "era-6.csv").exists()


def test_parquet_without_pyarrow_is_a_clear_error(tmp_path):
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        with pytest.raises(InvalidInputError, match="pyarrow"):
            data.synth_command(tmp_path / "raw.parquet", eras=2, stocks=10)
    else:
        data.synth_command(tmp_path / "raw.parquet", eras=2, stocks=10)
        assert len(read_raw(tmp_path / "raw.parquet")) == 20


def test_read_raw_missing_file_says_what_to_do(tmp_path):
    with pytest.raises(InvalidInputError, match="data synth"):
        read_raw(tmp_path / "nope.csv")
