"""crowdstake.scoring: agreement with numerai-tools, hand-computed vectors, determinism,
and per-model handling of bad submissions.

numerai-tools is a test-only reference; it sorts ids itself, so it is given shuffled inputs
exactly as crowdstake is.
"""

import os
import subprocess
import sys
import textwrap
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.stats import rankdata

from crowdstake import scoring
from crowdstake.errors import CrowdstakeError, InvalidInputError
from crowdstake.scoring import FLOOR_SCORE, SCORE_SCALE, align, metrics, transforms

nt = pytest.importorskip("numerai_tools.scoring")

REPO = Path(__file__).resolve().parents[2]

TOL = 1e-9
N_IDS = 1500


# --------------------------------------------------------------------------------------------
# data


def make_predictions(seed: int, n: int = N_IDS, models: int = 12) -> pd.DataFrame:
    """Ids in shuffled order; most models have heavy ties (few distinct levels), some none."""
    rng = np.random.default_rng(seed)
    ids = [f"id{i:05d}" for i in rng.permutation(n)]
    cols = {}
    for j in range(models):
        if j % 4 == 3:
            cols[f"model_{j:02d}"] = rng.random(n)  # continuous: no ties
        else:
            levels = int(rng.choice([2, 5, 20]))
            cols[f"model_{j:02d}"] = rng.integers(0, levels, n) / (levels - 1)
    return pd.DataFrame(cols, index=ids)


def make_targets(index: pd.Index, kind: str, seed: int) -> pd.Series:
    rng = np.random.default_rng(seed)
    if kind == "binned":
        values = rng.choice([0.0, 0.25, 0.5, 0.75, 1.0], size=len(index), p=[0.05, 0.2, 0.5, 0.2, 0.05])
    else:
        values = rng.normal(0.0, 0.05, size=len(index))
    return pd.Series(values, index=index, name="target")


@pytest.fixture(params=["binned", "continuous"])
def round_data(request):
    preds = make_predictions(seed=1)
    # predictions with a weak link to the target, so scores are not all ~0
    targets = make_targets(preds.index, request.param, seed=2)
    preds["model_informed"] = (targets.rank(pct=True) + np.random.default_rng(3).random(len(targets))).rank(pct=True)
    return preds, targets


def meta_of(preds: pd.DataFrame) -> pd.Series:
    return preds.mean(axis=1).rename("meta_model")


# --------------------------------------------------------------------------------------------
# hand-computed vectors


def test_tie_kept_rank_keeps_ties():
    assert scoring.tie_kept_rank(np.array([1, 0, 1, 0, 1])) == pytest.approx([0.7, 0.2, 0.7, 0.2, 0.7], abs=1e-15)
    # [3, 1, 3, 3, 2]: ranks 1 -> 1, 2 -> 2, the three 3s share (3 + 4 + 5) / 3 = 4; (r - 0.5) / 5
    assert scoring.tie_kept_rank(np.array([3, 1, 3, 3, 2])) == pytest.approx([0.7, 0.1, 0.7, 0.7, 0.3], abs=1e-15)


def test_tie_kept_rank_works_per_column_and_keeps_pandas_types():
    frame = pd.DataFrame({"a": [1, 0, 1, 0, 1], "b": [5, 4, 3, 2, 1]}, index=list("vwxyz"))
    out = scoring.tie_kept_rank(frame)
    assert isinstance(out, pd.DataFrame) and list(out.index) == list("vwxyz")
    assert out["a"].tolist() == pytest.approx([0.7, 0.2, 0.7, 0.2, 0.7])
    assert out["b"].tolist() == pytest.approx([0.9, 0.7, 0.5, 0.3, 0.1])


@pytest.mark.parametrize(
    "values",
    [
        np.round(np.random.default_rng(40).random((3, 2000)), 2),  # heavy ties
        np.random.default_rng(41).normal(size=(3, 2000)) ** 3,  # skewed, uneven buckets
        np.concatenate([np.random.default_rng(42).random((3, 1999)), [[1e300], [-1e300], [7.0]]], axis=1),
        np.array([[1e308, -1e308] * 500, [-0.0, 0.0] * 500, [3.0] * 1000]),  # overflowing range, signed zeros, constant
        # distinct values a few ulps apart share the sort key's high bits: the row must be caught
        # by the order check and argsorted; mixed with exact ties and negatives
        np.concatenate(
            [
                1.0 + np.random.default_rng(43).integers(0, 3000, (2, 2000)) * np.finfo(float).eps,
                -(0.5 + np.random.default_rng(44).integers(0, 50, (1, 2000)) * np.finfo(float).eps),
            ]
        ),
    ],
    ids=["ties", "skewed", "outliers", "extremes", "near_equal"],
)
def test_tie_kept_rank_agrees_with_scipy_rankdata_on_long_rows(values):
    ours = scoring.tie_kept_rank(values.T)  # columns are models
    want = (rankdata(values, method="average", axis=1) - 0.5) / values.shape[1]
    assert np.array_equal(ours, want.T)


def test_ranking_rejects_nan():
    with pytest.raises(InvalidInputError, match="NaN or infinite"):
        scoring.tie_kept_rank(np.array([0.1, np.nan, 0.3]))


def test_gaussianize_pow15_of_quartiles():
    out = scoring.gaussianize(np.array([0, 0.25, 0.5, 0.75, 1]), pow15=True)
    assert out == pytest.approx([-1.4507886, -0.3797473, 0, 0.3797473, 1.4507886], abs=1e-7)


def test_gaussianize_without_power_is_the_normal_quantile_of_the_rank():
    # ranks .1 .3 .5 .7 .9 -> standard normal quantiles
    out = scoring.gaussianize(pd.Series([10, 30, 50, 70, 90]))
    assert out.tolist() == pytest.approx([-1.2815516, -0.5244005, 0, 0.5244005, 1.2815516], abs=1e-7)


def test_corr_of_a_perfect_ranking_with_continuous_targets_is_one():
    targets = pd.Series(np.linspace(-1, 1, 101), index=range(101), name="t")
    # the same transform on both sides (rank-gauss-pow vs centred pow) is not identical, so
    # CORR < 1, but a reversed prediction must give exactly the negated score
    up = scoring.numerai_corr(pd.Series(np.arange(101.0), index=range(101)), targets)
    down = scoring.numerai_corr(pd.Series(-np.arange(101.0), index=range(101)), targets)
    assert 0.9 < up < 1.0
    assert down == pytest.approx(-up, abs=1e-15)


# --------------------------------------------------------------------------------------------
# agreement with numerai-tools


def test_numerai_corr_matches_numerai_tools_for_many_models(round_data):
    preds, targets = round_data
    ours = scoring.numerai_corr(preds, targets)
    ref = nt.numerai_corr(preds, targets)
    assert list(ours.index) == list(preds.columns)
    assert ours.abs().max() > 0.01  # not a degenerate all-zero comparison
    assert np.abs(ours - ref[ours.index]).max() < TOL


def test_numerai_corr_of_a_series_matches_numerai_tools(round_data):
    preds, targets = round_data
    for name in ["model_00", "model_03", "model_informed"]:
        ours = scoring.numerai_corr(preds[name], targets)
        assert isinstance(ours, float)
        assert ours == pytest.approx(nt.numerai_corr(preds[[name]], targets)[name], abs=TOL)


def test_correlation_contribution_matches_numerai_tools(round_data):
    preds, targets = round_data
    meta = meta_of(preds)
    ours = scoring.correlation_contribution(preds, meta, targets)
    ref = nt.correlation_contribution(preds, meta, targets)
    assert ours.abs().max() > 0.001
    assert np.abs(ours - ref[ours.index]).max() < TOL
    single = scoring.correlation_contribution(preds["model_informed"], meta, targets)
    assert single == pytest.approx(ref["model_informed"], abs=TOL)


TIE_SHAPES = ["continuous", "round1", "round2", "round3", "five_bins", "constant_block", "near_equal"]


def shaped_round(shape: str, target_kind: str, n: int = N_IDS, models: int = 8, seed: int = 20):
    """Predictions of one shape a participant may send, ids shuffled, a meta model drawn
    independently of the predictions (with ties), targets binned or continuous."""
    rng = np.random.default_rng(seed)
    ids = [f"id{i:05d}" for i in rng.permutation(n)]
    signal = rng.normal(size=n)
    u = np.clip(0.5 + 0.15 * (0.3 * signal[:, None] + rng.normal(size=(n, models))), 0, 1)
    if shape.startswith("round"):
        u = np.round(u, int(shape[-1]))
    elif shape == "five_bins":
        u = np.round(u * 4) / 4
    elif shape == "constant_block":
        u[: n // 3] = 0.5
    elif shape == "near_equal":  # distinct values ulps apart, and exact ties among them
        u = 0.5 + rng.integers(0, 200, (n, models)) * np.finfo(float).eps
    preds = pd.DataFrame(u, index=ids, columns=[f"model_{j}" for j in range(models)])
    noise = signal + rng.normal(scale=2, size=n)
    t = np.digitize(noise, [-2.5, -1, 1, 2.5]) / 4 if target_kind == "binned" else noise
    targets = pd.Series(t, index=ids, name="target")
    meta = pd.Series(np.round(rng.random(n), 2), index=ids, name="meta_model")
    return preds, targets, meta


@pytest.mark.parametrize("target_kind", ["binned", "continuous"])
@pytest.mark.parametrize("shape", TIE_SHAPES)
def test_every_tie_shape_matches_numerai_tools(shape, target_kind):
    preds, targets, meta = shaped_round(shape, target_kind)
    corr = scoring.numerai_corr(preds, targets)
    assert np.abs(corr - nt.numerai_corr(preds, targets)[corr.index]).max() < TOL
    mmc = scoring.correlation_contribution(preds, meta, targets)
    assert np.abs(mmc - nt.correlation_contribution(preds, meta, targets)[mmc.index]).max() < TOL
    if shape != "near_equal":  # there every model is noise around one value
        assert corr.abs().max() > 0.01 and mmc.abs().max() > 0.001


@pytest.mark.parametrize("shape", TIE_SHAPES)
def test_every_tie_shape_is_bit_identical_under_row_and_model_permutation(shape):
    preds, targets, meta = shaped_round(shape, "binned")
    stakes = {name: 1.0 + 3 * i for i, name in enumerate(preds.columns)}
    rng = np.random.default_rng(21)
    rows, cols = rng.permutation(len(preds)), rng.permutation(preds.columns)
    shuffled = preds.iloc[rows][cols]
    for fn, args, other_args in [
        (scoring.numerai_corr, (preds, targets), (shuffled, targets.iloc[rng.permutation(len(targets))])),
        (scoring.correlation_contribution, (preds, meta, targets), (shuffled, meta.sample(frac=1, random_state=2), targets)),
    ]:
        base, other = fn(*args), fn(*other_args)
        assert np.array_equal(base.to_numpy(), other[base.index].to_numpy())
    base = scoring.round_scores(preds, targets, stakes, (0.5, 2.0))
    other = scoring.round_scores(shuffled, targets.sample(frac=1, random_state=4), stakes, (0.5, 2.0))
    assert np.array_equal(base[["corr", "mmc", "score"]].to_numpy(), other[["corr", "mmc", "score"]].to_numpy())
    assert base["quantized"].tolist() == other["quantized"].tolist()


def test_feature_neutral_corr_matches_numerai_tools(round_data):
    preds, targets = round_data
    rng = np.random.default_rng(7)
    features = pd.DataFrame(rng.normal(size=(len(preds), 6)), index=preds.index, columns=[f"f{i}" for i in range(6)])
    # numerai-tools' FNC needs its inputs sorted and aligned already
    ref = nt.feature_neutral_corr(preds.sort_index(), features.sort_index(), targets.sort_index())
    ours = scoring.feature_neutral_corr(preds, features.sample(frac=1, random_state=1), targets)
    assert np.abs(ours - ref[ours.index]).max() < TOL


@pytest.mark.parametrize("proportion", [1.0, 0.5])
def test_neutralize_matches_numerai_tools(proportion):
    preds = make_predictions(seed=4, n=800, models=5)
    rng = np.random.default_rng(5)
    features = pd.DataFrame(rng.normal(size=(800, 4)), index=preds.index)
    features[4] = features[0] * 2 - features[1]  # collinear: the projection must still be right
    ours = scoring.neutralize(preds, features, proportion)
    ref = nt.neutralize(preds, features, proportion)
    assert np.abs(ours - ref).to_numpy().max() < TOL
    if proportion == 1.0:  # fully neutral: orthogonal to every neutraliser
        assert np.abs(features.T.to_numpy() @ ours.to_numpy()).max() < 1e-8


def test_stake_weighted_meta_model_matches_numerai_tools_composition(round_data):
    preds, _ = round_data
    stakes = pd.Series({name: float(i + 1) for i, name in enumerate(preds.columns)})
    stakes.iloc[2] = 0.0
    ours = scoring.stake_weighted_meta_model(preds, stakes)
    staked = stakes[stakes > 0]
    gauss = nt.gaussian(nt.tie_kept_rank(preds.sort_index()))
    ref = nt.tie_kept_rank(nt.stake_weight(gauss, staked).rename("m").to_frame())["m"]
    assert list(ours.index) == sorted(preds.index)
    assert np.abs(ours - ref).max() < TOL


# --------------------------------------------------------------------------------------------
# quantisation


def reference_quantize(x: float) -> int:
    """Exact decimal arithmetic on the float's exact binary value, half to even, clipped."""
    q = int((Decimal(x) * SCORE_SCALE).quantize(Decimal(1), rounding=ROUND_HALF_EVEN))
    return max(FLOOR_SCORE, min(SCORE_SCALE, q))


def test_quantize_uses_the_contract_scale():
    assert SCORE_SCALE == 10**6 and FLOOR_SCORE == -(10**6)
    assert scoring.quantize(0.0123) == 12300  # 0.0123 * 1e6 is 12299.999999999998 in floats
    assert scoring.quantize(-0.0123) == -12300
    assert scoring.quantize(0.0) == 0


def test_quantize_exact_ties_round_half_to_even():
    # 2**-7 * 1e6 = 7812.5 and 3 * 2**-7 * 1e6 = 23437.5 exactly
    assert scoring.quantize(2.0**-7) == 7812
    assert scoring.quantize(3 * 2.0**-7) == 23438
    assert scoring.quantize(-(2.0**-7)) == -7812


def test_quantize_near_boundaries_follows_the_exact_value():
    # k.5e-6 is never exact in binary: the neighbours on either side must round by their true
    # value, which the naive rint(x * 1e6) gets wrong for some of them
    k = np.arange(-5000, 5000)
    centre = (k + 0.5) / SCORE_SCALE
    xs = np.concatenate([centre, np.nextafter(centre, 1), np.nextafter(centre, -1)])
    got = scoring.quantize(xs)
    want = np.array([reference_quantize(float(x)) for x in xs])
    assert got.dtype == np.int64 and got.shape == xs.shape
    assert np.array_equal(got, want)


def test_quantize_clips_to_floor_and_ceiling_and_rejects_nan():
    assert scoring.quantize(np.array([-3.0, 1.5])).tolist() == [FLOOR_SCORE, SCORE_SCALE]
    with pytest.raises(InvalidInputError, match="NaN or infinite"):
        scoring.quantize(np.array([0.1, np.nan]))


# --------------------------------------------------------------------------------------------
# round_scores


def test_round_scores_table(round_data):
    preds, targets = round_data
    stakes = {name: 100.0 for name in preds.columns}
    table = scoring.round_scores(preds, targets, stakes, {"corr": 0.5, "mmc": 2.0})
    assert list(table.index) == sorted(preds.columns)
    assert {"corr", "mmc", "score", "quantized", "reason"} <= set(table.columns)
    assert table["quantized"].dtype == np.int64
    assert (table["reason"] == "").all()
    assert np.abs(table["corr"] - nt.numerai_corr(preds, targets)[table.index]).max() < TOL
    meta = scoring.stake_weighted_meta_model(preds, stakes)
    mmc = scoring.correlation_contribution(preds, meta, targets)
    assert np.array_equal(table["mmc"].to_numpy(), mmc[table.index].to_numpy())
    assert np.array_equal(table["score"].to_numpy(), (0.5 * table["corr"] + 2.0 * table["mmc"]).to_numpy())
    assert table["quantized"].tolist() == scoring.quantize(table["score"].to_numpy()).tolist()
    same = scoring.round_scores(preds, targets, stakes, (0.5, 2.0))  # tuple form of the weights
    pd.testing.assert_frame_equal(table, same)


def test_round_scores_without_stake_gives_zero_mmc(round_data):
    preds, targets = round_data
    table = scoring.round_scores(preds, targets, {}, (1.0, 1.0))
    assert (table["mmc"] == 0).all()
    assert np.array_equal(table["score"].to_numpy(), table["corr"].to_numpy())


def test_round_scores_mmc_of_the_meta_model_itself_is_zero(round_data):
    preds, targets = round_data
    table = scoring.round_scores(preds, targets, {"model_informed": 1.0}, (0.0, 1.0))
    assert abs(table.loc["model_informed", "mmc"]) < 1e-12
    assert table["mmc"].abs().max() > 1e-3  # everyone else does contribute something


# --------------------------------------------------------------------------------------------
# determinism


def test_shuffled_rows_and_models_give_identical_integers(round_data):
    preds, targets = round_data
    stakes = {name: float(len(name) * 7 + i) for i, name in enumerate(preds.columns)}
    base = scoring.round_scores(preds, targets, stakes, (0.5, 2.0))
    rng = np.random.default_rng(11)
    for _ in range(3):
        rows = rng.permutation(len(preds))
        cols = rng.permutation(preds.columns)
        shuffled = preds.iloc[rows][cols]
        shuffled_stakes = {k: stakes[k] for k in rng.permutation(list(stakes))}
        other = scoring.round_scores(shuffled, targets.sample(frac=1, random_state=3), shuffled_stakes, (0.5, 2.0))
        assert other["quantized"].tolist() == base["quantized"].tolist()
        # stronger: every float is bit-identical too
        assert np.array_equal(other[["corr", "mmc", "score"]].to_numpy(), base[["corr", "mmc", "score"]].to_numpy())


def test_block_size_and_thread_count_do_not_change_any_bit(round_data, monkeypatch):
    preds, targets = round_data
    stakes = {name: 1.0 + i for i, name in enumerate(preds.columns)}
    meta = meta_of(preds)

    def scores():
        table = scoring.round_scores(preds, targets, stakes, (0.5, 2.0))
        corr, mmc = scoring.numerai_corr(preds, targets), scoring.correlation_contribution(preds, meta, targets)
        public = np.array([corr, mmc])
        return table[["corr", "mmc", "score"]].to_numpy(), public

    base = scores()
    for block_values, threads, meta_chunk in [(N_IDS, 1, 1 << 24), (3 * N_IDS, 4, 5 * N_IDS), (1 << 22, 2, 1)]:
        monkeypatch.setattr(transforms, "_BLOCK_VALUES", block_values)
        monkeypatch.setattr(transforms, "_KERNEL_BLOCK_VALUES", block_values)
        monkeypatch.setattr(transforms, "_THREADS", threads)
        monkeypatch.setattr(transforms, "_MIN_THREADED_VALUES", 0)  # threads even on this small round
        monkeypatch.setattr(metrics, "_META_CHUNK", meta_chunk)
        for got, want in zip(scores(), base):
            assert np.array_equal(got, want)


def test_frames_scored_while_gathered_give_the_built_matrix_bits(round_data, monkeypatch):
    """A DataFrame is scored block by block as it is gathered, and no aligned matrix is built; a
    mapping of Series builds the matrix first. Same bits. And a bad column of a frame is named
    with each of its problems (its row is gathered again to find them)."""
    preds, targets = round_data
    meta = meta_of(preds)
    monkeypatch.setattr(transforms, "_KERNEL_BLOCK_VALUES", 2 * N_IDS)  # several blocks
    as_mapping = {name: preds[name] for name in preds.columns}
    for score, rest in ((scoring.numerai_corr, (targets,)), (scoring.correlation_contribution, (meta, targets))):
        assert np.array_equal(score(preds, *rest).to_numpy(), score(as_mapping, *rest)[preds.columns].to_numpy())
    bad = preds.drop(index=preds.index[7])  # an id missing for every model
    bad.loc[bad.index[3], "model_05"] = np.nan
    message = rf"model 'model_05': missing ids: 1 of {N_IDS} .*, NaN predictions: 1 id, e\.g\. id '{bad.index[3]}'"
    with pytest.raises(InvalidInputError, match=message):
        scoring.numerai_corr(bad, targets)


ROUND_SCRIPT = textwrap.dedent(
    """
    import sys
    import numpy as np, pandas as pd
    from crowdstake import scoring
    from crowdstake.scoring import transforms
    transforms._THREADS = int(sys.argv[1])
    transforms._MIN_THREADED_VALUES = 0
    rng = np.random.default_rng(42)
    n, m = 3000, 40
    ids = [f"id{i:05d}" for i in rng.permutation(n)]
    preds = pd.DataFrame(rng.integers(0, 50, (n, m)) / 49, index=ids, columns=[f"m{j}" for j in range(m)])
    preds.iloc[5, 3] = np.nan  # one bad model, to exercise the floor path too
    targets = pd.Series(rng.choice([0, .25, .5, .75, 1], n), index=ids)
    stakes = {f"m{j}": float(rng.integers(1, 1000)) for j in range(m)}
    table = scoring.round_scores(preds, targets, stakes, (0.5, 2.0))
    sys.stdout.write(table.to_csv(float_format="%.17g"))
    """
)


def run_round(threads: int, env_threads: str | None) -> bytes:
    env = dict(os.environ)
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env.pop(var, None)
        if env_threads is not None:
            env[var] = env_threads
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    done = subprocess.run(
        [sys.executable, "-c", ROUND_SCRIPT, str(threads)], env=env, cwd=REPO, capture_output=True, timeout=120
    )
    assert done.returncode == 0, done.stderr.decode()
    return done.stdout


def test_separate_processes_and_thread_counts_give_byte_identical_tables():
    first = run_round(threads=2, env_threads=None)
    again = run_round(threads=2, env_threads=None)
    single = run_round(threads=1, env_threads="1")
    assert first.count(b"\n") == 41  # header + 40 models
    assert b"NaN predictions" in first
    assert first == again == single


# --------------------------------------------------------------------------------------------
# bad submissions: floor score and a reason, never an exception, never a dropped model

IDS = [f"id{i:04d}" for i in range(400)]


def clean_submission(seed: int) -> pd.Series:
    return pd.Series(np.random.default_rng(seed).random(len(IDS)), index=IDS)


def with_missing_ids():
    return clean_submission(20).drop(["id0007", "id0100"])


def with_nan():
    s = clean_submission(21)
    s["id0042"] = np.nan
    return s


def with_inf():
    s = clean_submission(22)
    s["id0043"] = -np.inf
    return s


def constant():
    return pd.Series(0.25, index=IDS)


def with_duplicated_id():
    s = clean_submission(23)
    return pd.concat([s, s[["id0099"]]])


def out_of_range():
    s = clean_submission(24)
    s["id0011"] = 1.25
    return s


BAD = {
    "missing": (with_missing_ids, ["missing ids", "2 of 400", "'id0007'"]),
    "nan": (with_nan, ["NaN predictions", "'id0042'"]),
    "inf": (with_inf, ["infinite predictions", "'id0043'"]),
    "constant": (constant, ["constant predictions", "0.25"]),
    "duplicated": (with_duplicated_id, ["duplicated ids", "'id0099'"]),
    "out_of_range": (out_of_range, ["outside [0, 1]", "1.25", "'id0011'"]),
}


@pytest.fixture
def clean_round():
    targets = pd.Series(np.random.default_rng(30).choice([0, 0.25, 0.5, 0.75, 1], len(IDS)), index=IDS)
    subs = {"alice": clean_submission(31), "bob": clean_submission(32), "carol": clean_submission(33)}
    stakes = {"alice": 10.0, "bob": 20.0, "carol": 5.0}
    return subs, targets, stakes


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_submission_scores_at_floor_with_reason(case, clean_round):
    subs, targets, stakes = clean_round
    make, words = BAD[case]
    table = scoring.round_scores({**subs, "mallory": make()}, targets, {**stakes, "mallory": 50.0}, (0.5, 2.0))
    bad = table.loc["mallory"]
    assert bad["quantized"] == FLOOR_SCORE
    assert bad["score"] == FLOOR_SCORE / SCORE_SCALE
    assert np.isnan(bad["corr"]) and np.isnan(bad["mmc"])
    for word in words:
        assert word in bad["reason"], (word, bad["reason"])
    # the others are scored as if the bad model (and its stake) were not there at all
    alone = scoring.round_scores(subs, targets, stakes, (0.5, 2.0))
    pd.testing.assert_frame_equal(table.drop(index="mallory"), alone)
    assert (alone["reason"] == "").all() and (alone["quantized"] != FLOOR_SCORE).all()


@pytest.mark.parametrize("case", ["nan", "inf", "constant", "out_of_range"])
def test_bad_column_in_a_dataframe_scores_at_floor(case, clean_round):
    subs, targets, stakes = clean_round
    frame = pd.DataFrame({**subs, "mallory": BAD[case][0]()})
    table = scoring.round_scores(frame, targets, stakes, (1.0, 1.0))
    assert table.loc["mallory", "quantized"] == FLOOR_SCORE
    assert BAD[case][1][0] in table.loc["mallory", "reason"]
    assert (table.drop(index="mallory")["reason"] == "").all()


def test_staked_model_without_a_file_scores_at_floor(clean_round):
    subs, targets, stakes = clean_round
    table = scoring.round_scores(subs, targets, {**stakes, "ghost": 7.0}, (0.5, 2.0))
    assert table.loc["ghost", "quantized"] == FLOOR_SCORE
    assert "no predictions submitted" in table.loc["ghost", "reason"]
    assert list(table.index) == ["alice", "bob", "carol", "ghost"]


def test_several_problems_are_all_reported(clean_round):
    subs, targets, stakes = clean_round
    s = with_missing_ids()
    s["id0003"] = 7.0
    s["id0004"] = np.nan
    reason = scoring.round_scores({**subs, "mallory": s}, targets, stakes, (1, 1)).loc["mallory", "reason"]
    assert "missing ids" in reason and "NaN predictions" in reason and "outside [0, 1]" in reason


def test_extra_ids_and_nan_targets_are_not_scored(clean_round):
    subs, targets, stakes = clean_round
    base = scoring.round_scores(subs, targets, stakes, (0.5, 2.0))
    extra = {k: pd.concat([v, pd.Series([0.5], index=["unknown"])]) for k, v in subs.items()}
    assert scoring.round_scores(extra, targets, stakes, (0.5, 2.0)).equals(base)
    # a NaN target: that id is not scored, so a missing prediction there is no problem
    t2 = targets.copy()
    t2["id0007"] = np.nan
    subs2 = {**subs, "alice": subs["alice"].drop("id0007")}
    table = scoring.round_scores(subs2, t2, stakes, (0.5, 2.0))
    assert (table["reason"] == "").all()


def test_low_level_functions_raise_naming_the_bad_model(clean_round):
    subs, targets, _ = clean_round
    with pytest.raises(InvalidInputError, match=r"model 'mallory': NaN predictions: 1 id, e\.g\. id 'id0042'"):
        scoring.numerai_corr({**subs, "mallory": with_nan()}, targets)
    # a constant model is a measurement of NaN there, as in numerai-tools, not an error
    assert np.isnan(scoring.numerai_corr(pd.DataFrame({**subs, "flat": constant()}), targets)["flat"])


@pytest.mark.parametrize(
    "targets, message",
    [
        (pd.Series([0.1, 0.2, 0.3], index=["a", "a", "b"]), "duplicated ids"),
        (pd.Series([0.1, np.inf, 0.3], index=list("abc")), "infinite"),
        (pd.Series([0.5, 0.5, 0.5], index=list("abc")), "constant"),
        (pd.Series(["x", "y", "z"], index=list("abc")), "numeric"),
        ([0.1, 0.2, 0.3], "pandas Series"),
    ],
)
def test_malformed_targets_fail_the_whole_call(targets, message):
    preds = pd.DataFrame({"m": [0.1, 0.5, 0.9]}, index=list("abc"))
    with pytest.raises(InvalidInputError, match=message) as info:
        scoring.round_scores(preds, targets, {"m": 1.0}, (1, 1))
    assert isinstance(info.value, CrowdstakeError) and isinstance(info.value, ValueError)


@pytest.mark.parametrize("stakes", [{"m": -1.0}, {"m": float("nan")}, {"m": "lots"}])
def test_bad_stakes_fail_the_whole_call(stakes):
    preds = pd.DataFrame({"m": [0.1, 0.5, 0.9]}, index=list("abc"))
    with pytest.raises(InvalidInputError, match="stake of model 'm'"):
        scoring.round_scores(preds, pd.Series([0.0, 0.5, 1.0], index=list("abc")), stakes, (1, 1))


@pytest.mark.parametrize("weights", [(1.0,), {"corr": 1, "tc": 1}, (1.0, float("inf")), "1,1"])
def test_bad_weights_fail_the_whole_call(weights):
    preds = pd.DataFrame({"m": [0.1, 0.5, 0.9]}, index=list("abc"))
    with pytest.raises(InvalidInputError, match="weights"):
        scoring.round_scores(preds, pd.Series([0.0, 0.5, 1.0], index=list("abc")), {}, weights)


# --------------------------------------------------------------------------------------------
# fast paths agree bit for bit with the general ones


def test_doubled_ranks_are_exact_on_awkward_rows():
    """The kernel's bucket sort, both of its ways to finish (ranks straight from the bucket
    counts, or an insertion sort), its mergesort fallback, and a row of one kind after rows of
    the other (which changes the way a row is tried first, never its ranks)."""
    rng = np.random.default_rng(21)
    n = 3000
    rows = [
        rng.random(n),  # continuous: buckets hold several values, the insertion sort finishes
        np.round(rng.random(n), 2),  # rounded: one value per bucket, ranks from the counts
        np.where(rng.random(n) < 0.999, rng.random(n), 1e300),  # an outlier squeezes the rest into bucket 0
        np.round(rng.normal(size=n), 3) * np.where(rng.random(n) < 0.5, -0.0, 1.0),  # signed zeros, negatives
        rng.random(n) * 1e-310,  # subnormal span: infinite scale
        np.where(rng.random(n) < 0.5, -1.7e308, 1.7e308) * rng.random(n),  # the span overflows
        np.full(n, 0.5),  # constant
        1.0 + rng.integers(0, 3, n) * 2.0**-50,  # distinct values closer than a bucket
        np.append(np.linspace(1, 0, n - 1), 1e300),  # one bucket in descending order: the mergesort
    ]
    for order in (range(len(rows)), [1, 1, 0, 1], [0, 0], [1, 3], [0] + [1] * 20, [2, 8, 5, 4]):
        a = np.array([rows[i] for i in order])
        want = (rankdata(a, axis=1) * 2).astype(np.int32)
        assert np.array_equal(transforms._doubled_ranks(a), want), list(order)


def test_shared_index_fast_path_gives_the_general_path_bits(round_data):
    """Predictions, meta model and targets sharing one Index skip the id lookups; a copy of the
    index (another object, so the general get_indexer path) must give identical bits."""
    preds, targets = round_data
    meta = meta_of(preds)
    copied = pd.Index(list(preds.index))
    cases = [
        (preds, meta, targets),
        (preds.set_axis(copied), meta.set_axis(pd.Index(list(copied))), targets.set_axis(pd.Index(list(copied)))),
    ]
    out = []
    for p, m, t in cases:
        align._BY_SOURCE.clear()
        align._BY_SORTED.clear()
        first = (metrics.numerai_corr(p, t), metrics.correlation_contribution(p, m, t))
        again = (metrics.numerai_corr(p, t), metrics.correlation_contribution(p, m, t))  # cached now
        for a, b in zip(first, again):
            assert np.array_equal(a.to_numpy(), b.to_numpy())
        out.append(first)
    for a, b in zip(*out):
        assert np.array_equal(a.to_numpy(), b.to_numpy())
    ids = align._clean_targets(targets)[0]
    assert align._positions(preds.index, ids) is align._BY_SORTED[id(ids)][2]  # the fast path ran
    # a Series takes the one-model path without a DataFrame: same bits as the frame's column
    col = preds.columns[0]
    assert metrics.numerai_corr(preds[col], targets) == metrics.numerai_corr(preds[[col]], targets)[col]
    assert (
        metrics.correlation_contribution(preds[col], meta, targets)
        == metrics.correlation_contribution(preds[[col]], meta, targets)[col]
    )


def test_sorted_index_cache_lets_go_of_dead_indexes():
    index = pd.Index([f"id{i}" for i in (3, 1, 2)])
    ids, order = align._sorted_with_order(index)
    assert list(ids) == ["id1", "id2", "id3"] and order.tolist() == [1, 2, 0]
    assert align._sorted_with_order(index)[0] is ids  # remembered
    key = id(index)
    del index
    assert key not in align._BY_SOURCE and id(ids) not in align._BY_SORTED
    ranged = pd.RangeIndex(4)  # sorts to itself
    ids, order = align._sorted_with_order(ranged)
    assert ids is not ranged and ids.equals(ranged) and order.tolist() == [0, 1, 2, 3]
    assert align._positions(ranged, ids) is order
    key = id(ranged)
    del ranged
    assert key not in align._BY_SOURCE and id(ids) not in align._BY_SORTED


def test_round_scores_shared_ranks_give_the_public_functions_bits(round_data):
    """round_scores sorts each model once and scores CORR, the meta model and MMC from those
    ranks; the public functions rank the predictions themselves. Same bits."""
    preds, targets = round_data
    stakes = {name: 1.0 + i for i, name in enumerate(preds.columns)}
    table = scoring.round_scores(preds, targets, stakes, (0.5, 2.0))
    meta = scoring.stake_weighted_meta_model(preds, stakes)
    corr = scoring.numerai_corr(preds, targets)
    mmc = scoring.correlation_contribution(preds, meta, targets)
    assert np.array_equal(table["corr"].to_numpy(), corr[table.index].to_numpy())
    assert np.array_equal(table["mmc"].to_numpy(), mmc[table.index].to_numpy())
    x = np.ascontiguousarray(preds.to_numpy().T)
    want = (rankdata(x, axis=1) * 2).astype(np.int32)
    assert np.array_equal(transforms._doubled_ranks(x), want)
