"""crowdstake.scoring's Signals scores: agreement with numerai-tools (alpha, MPC, churn,
turnover, FNC with the round's neutralisers), determinism, and one-line errors for bad inputs.

numerai-tools is a test-only reference; it sorts tickers itself, so it is given shuffled
inputs exactly as crowdstake is.
"""

import numpy as np
import pandas as pd
import pytest

from crowdstake import scoring
from crowdstake.errors import InvalidInputError
from crowdstake.scoring import quantize, transforms

nt = pytest.importorskip("numerai_tools.scoring")
ns = pytest.importorskip("numerai_tools.signals")

TOL = 1e-9


def make_round(seed: int = 0, n: int = 900, models: int = 9, factors: int = 12, nan_targets: int = 40):
    """Tickers shuffled; signals with heavy ties, some continuous, one constant; neutralisers
    orthonormal under the sample weights (N^T V N = I, as Numerai builds them); binned targets."""
    rng = np.random.default_rng(seed)
    tickers = pd.Index([f"T{i:05d}" for i in rng.permutation(n)])
    hidden = rng.normal(size=n)
    cols = {}
    for j in range(models):
        raw = 0.2 * hidden + rng.normal(size=n)
        cols[f"model_{j:02d}"] = raw if j % 3 == 2 else np.round(pd.Series(raw).rank(pct=True).to_numpy(), 1)
    cols["model_flat"] = np.full(n, 0.5)
    preds = pd.DataFrame(cols, index=tickers)
    v = rng.random(n) + 0.2
    v = v / v.mean()  # mean weight 1, so alpha is of order 0.01
    raw_n = rng.normal(size=(n, factors))
    q, _ = np.linalg.qr(raw_n * np.sqrt(v)[:, None])  # orthonormal columns of V^(1/2) N
    neutralizers = pd.DataFrame(q / np.sqrt(v)[:, None], index=tickers, columns=[f"f{i}" for i in range(factors)])
    weights = pd.Series(v, index=tickers, name="weight")
    bins = np.digitize(hidden + rng.normal(scale=2, size=n), [-2.5, -1, 1, 2.5]) / 4
    targets = pd.Series(bins, index=tickers, name="target")
    targets.iloc[rng.choice(n, nan_targets, replace=False)] = np.nan
    stakes = pd.Series(rng.lognormal(2, 1, preds.shape[1]), index=preds.columns).sample(frac=1, random_state=seed)
    stakes.iloc[0] = 0.0
    return preds, neutralizers, weights, targets, stakes


@pytest.fixture(params=[0, 1])
def signals_round(request):
    return make_round(seed=request.param)


def shuffled(preds, neutralizers, weights, targets, stakes, seed=7):
    """The same round, every input in its own ticker order and the models in another order."""
    rng = np.random.default_rng(seed)
    cols = list(rng.permutation(preds.columns))
    return (
        preds.sample(frac=1, random_state=seed)[cols],
        neutralizers.sample(frac=1, random_state=seed + 1),
        weights.sample(frac=1, random_state=seed + 2),
        targets.sample(frac=1, random_state=seed + 3),
        stakes.sample(frac=1, random_state=seed + 4),
    )


# --------------------------------------------------------------------------------------------
# agreement with numerai-tools


def test_alpha_matches_numerai_tools(signals_round):
    preds, neutralizers, weights, targets, _ = signals_round
    ours = scoring.alpha(preds, neutralizers, weights, targets)
    ref = nt.alpha(preds, neutralizers, weights, targets)
    assert list(ours.index) == list(preds.columns)
    assert ours.abs().max() > 1e-4  # not a degenerate all-zero comparison
    assert np.abs(ours - ref[ours.index]).max() < TOL
    assert ours["model_flat"] == 0.0  # a constant signal has no weights


def test_alpha_matches_numerai_tools_with_raw_neutralizers():
    # neutralisers that are not orthonormal: the formula is still numerai-tools', term by term
    preds, neutralizers, weights, targets, _ = make_round(seed=3)
    raw = pd.DataFrame(np.random.default_rng(4).normal(size=neutralizers.shape), index=neutralizers.index)
    ours = scoring.alpha(preds, raw, weights, targets)
    ref = nt.alpha(preds, raw, weights, targets)
    assert np.abs(ours - ref[ours.index]).max() < TOL * max(1.0, ref.abs().max())


def test_alpha_of_a_series_is_a_float(signals_round):
    preds, neutralizers, weights, targets, _ = signals_round
    ours = scoring.alpha(preds["model_02"], neutralizers, weights, targets)
    ref = nt.alpha(preds[["model_02"]], neutralizers, weights, targets)["model_02"]
    assert isinstance(ours, float) and abs(ours - ref) < TOL


def test_meta_portfolio_contribution_matches_numerai_tools(signals_round):
    preds, neutralizers, weights, targets, stakes = signals_round
    ours = scoring.meta_portfolio_contribution(preds, stakes, neutralizers, weights, targets)
    ref = nt.meta_portfolio_contribution(preds, stakes, neutralizers, weights, targets)
    assert list(ours.index) == list(stakes.index)  # numerai-tools' order
    assert ours.abs().max() > 1e-4
    assert np.abs(ours - ref).max() < TOL


def test_meta_portfolio_contribution_of_a_single_model_is_zero(signals_round):
    # the portfolio is that model, so its alpha gradient lies along the portfolio: zero after
    # residualising, in both packages
    preds, neutralizers, weights, targets, _ = signals_round
    one = preds[["model_02"]]
    stakes = pd.Series([3.0], index=["model_02"])
    ours = scoring.meta_portfolio_contribution(one, stakes, neutralizers, weights, targets)
    ref = nt.meta_portfolio_contribution(one, stakes, neutralizers, weights, targets)
    assert abs(ours["model_02"]) < 1e-12 and abs(ours["model_02"] - ref["model_02"]) < TOL


def test_feature_neutral_corr_with_neutralizers_matches_numerai_tools(signals_round):
    # FNC for Signals is the classic feature_neutral_corr with the round's neutralisers
    preds, neutralizers, _, targets, _ = signals_round
    preds = preds.drop(columns="model_flat")
    scored = targets.dropna().index
    ref = nt.feature_neutral_corr(
        preds.loc[scored].sort_index(), neutralizers.loc[scored].sort_index(), targets.loc[scored].sort_index()
    )
    ours = scoring.feature_neutral_corr(preds, neutralizers, targets)
    assert np.abs(ours - ref[ours.index]).max() < TOL


def test_churn_matches_numerai_tools(signals_round):
    preds, *_ = signals_round
    s1 = preds["model_00"].copy()
    s2 = preds["model_01"].sample(frac=1, random_state=3).iloc[:-50]  # 50 tickers fewer
    s1.iloc[:30] = np.nan  # NaN = no value, dropped as in numerai-tools
    assert abs(scoring.churn(s1, s2) - ns.churn(s1, s2)) < TOL
    assert abs(scoring.churn(s1, s1.sample(frac=1, random_state=1))) < TOL  # same signal: 0


@pytest.mark.parametrize("k", [1, 20, 200])
def test_churn_top_bottom_matches_numerai_tools(signals_round, k):
    preds, *_ = signals_round
    # heavy ties, tickers sorted: numerai-tools breaks ties by row order, crowdstake by ticker
    s1, s2 = preds["model_00"].sort_index(), preds["model_01"].sort_index()
    assert abs(scoring.churn(s1, s2, top_bottom=k) - ns.churn(s1, s2, top_bottom=k)) < TOL
    # no ties: any row order
    c1, c2 = preds["model_02"], preds["model_05"].sample(frac=1, random_state=2)
    assert abs(scoring.churn(c1, c2, top_bottom=k) - ns.churn(c1, c2, top_bottom=k)) < TOL
    # ties and shuffled rows: crowdstake's result does not depend on the order
    assert scoring.churn(s1.sample(frac=1, random_state=5), s2, top_bottom=k) == scoring.churn(s1, s2, top_bottom=k)


def test_turnover_matches_numerai_tools(signals_round):
    preds, neutralizers, weights, *_ = signals_round
    w1 = nt.generate_neutralized_weights(preds[["model_00"]].sort_index(), neutralizers, weights, True)["model_00"]
    w2 = nt.generate_neutralized_weights(preds[["model_01"]].sort_index(), neutralizers, weights, True)["model_01"]
    w2 = w2.sample(frac=1, random_state=4).iloc[:-20]
    w1.iloc[:10] = np.nan
    assert abs(scoring.turnover(w1, w2) - ns.turnover(w1, w2)) < TOL
    assert scoring.turnover(w1, w1) == 0.0


# --------------------------------------------------------------------------------------------
# determinism


def test_ticker_and_model_order_do_not_change_any_bit(signals_round):
    base = signals_round
    other = shuffled(*base)
    a1 = scoring.alpha(base[0], *base[1:4])
    a2 = scoring.alpha(other[0], *other[1:4])
    assert np.array_equal(a1.to_numpy(), a2[a1.index].to_numpy())
    m1 = scoring.meta_portfolio_contribution(base[0], base[4], *base[1:4])
    m2 = scoring.meta_portfolio_contribution(other[0], other[4], *other[1:4])
    assert np.array_equal(m1.to_numpy(), m2[m1.index].to_numpy())
    assert np.array_equal(quantize(a1.to_numpy()), quantize(a2[a1.index].to_numpy()))
    assert np.array_equal(quantize(m1.to_numpy() / 10), quantize(m2[m1.index].to_numpy() / 10))


def test_block_size_and_thread_count_do_not_change_any_bit(signals_round, monkeypatch):
    preds, neutralizers, weights, targets, stakes = signals_round
    a1 = scoring.alpha(preds, neutralizers, weights, targets)
    m1 = scoring.meta_portfolio_contribution(preds, stakes, neutralizers, weights, targets)
    monkeypatch.setattr(transforms, "_BLOCK_VALUES", 1000)  # one model per block
    monkeypatch.setattr(transforms, "_THREADS", 3)
    monkeypatch.setattr(transforms, "_MIN_THREADED_VALUES", 0)  # threads even on this small round
    a2 = scoring.alpha(preds, neutralizers, weights, targets)
    m2 = scoring.meta_portfolio_contribution(preds, stakes, neutralizers, weights, targets)
    monkeypatch.setattr(transforms, "_THREADS", 1)
    a3 = scoring.alpha(preds, neutralizers, weights, targets)
    assert np.array_equal(a1, a2) and np.array_equal(a1, a3)
    assert np.array_equal(m1, m2)


# --------------------------------------------------------------------------------------------
# bad inputs: one line saying what to do


def _drop_first(x):
    return x.iloc[1:]


BAD = {
    "neutralizers miss a ticker": (lambda r: {**r, "neutralizers": _drop_first(r["neutralizers"])}, "neutralizers miss 1"),
    "weights have an extra ticker": (
        lambda r: {**r, "sample_weights": pd.concat([r["sample_weights"], pd.Series([0.1], index=["ZZZ"])])},
        "sample_weights have 1 tickers the predictions do not",
    ),
    "targets miss a ticker": (lambda r: {**r, "targets": _drop_first(r["targets"])}, "reindex targets"),
    "NaN prediction": (
        lambda r: {**r, "predictions": r["predictions"].mask(r["predictions"] == r["predictions"].iloc[0, 0], np.nan)},
        "predictions column 'model_00' has NaN or infinite values",
    ),
    "infinite neutraliser": (
        lambda r: {**r, "neutralizers": r["neutralizers"].replace(r["neutralizers"].iloc[3, 2], np.inf)},
        "neutralizers contain NaN or infinite",
    ),
    "NaN sample weight": (
        lambda r: {**r, "sample_weights": r["sample_weights"].where(r["sample_weights"].index != r["sample_weights"].index[5])},
        "sample_weights contain NaN",
    ),
    "negative sample weight": (lambda r: {**r, "sample_weights": -r["sample_weights"]}, "sample_weights must be >= 0"),
    "infinite target": (lambda r: {**r, "targets": r["targets"].fillna(np.inf)}, "targets contain infinite"),
    "all targets NaN": (lambda r: {**r, "targets": r["targets"] * np.nan}, "at least 2 tickers"),
    "predictions as an array": (lambda r: {**r, "predictions": r["predictions"].to_numpy()}, "must be a pandas DataFrame"),
    "neutralizers as a Series": (
        lambda r: {**r, "neutralizers": r["neutralizers"].iloc[:, 0]},
        "neutralizers must be a pandas DataFrame",
    ),
    "weights as a matrix": (lambda r: {**r, "sample_weights": r["neutralizers"]}, "sample_weights must be a pandas Series"),
    "duplicated ticker": (
        lambda r: {**r, "predictions": pd.concat([r["predictions"], r["predictions"].iloc[:1]])},
        "more than once",
    ),
    "text signal": (
        lambda r: {**r, "predictions": r["predictions"].astype({"model_01": str})},
        "column 'model_01' is not numeric",
    ),
    "stakes miss a model": (lambda r: {**r, "stakes": r["stakes"].drop("model_03")}, "stakes miss model 'model_03'"),
    "stakes name an unknown model": (
        lambda r: {**r, "stakes": pd.concat([r["stakes"], pd.Series([1.0], index=["ghost"])])},
        "stakes name model 'ghost'",
    ),
    "negative stake": (lambda r: {**r, "stakes": r["stakes"].replace(r["stakes"].iloc[2], -1.0)}, "finite and >= 0"),
    "NaN stake": (lambda r: {**r, "stakes": r["stakes"].replace(r["stakes"].iloc[2], np.nan)}, "finite and >= 0"),
    "no positive stake": (lambda r: {**r, "stakes": r["stakes"] * 0}, "no model has a positive stake"),
}


@pytest.mark.parametrize("case", list(BAD), ids=list(BAD))
def test_bad_inputs_raise_one_line(case):
    preds, neutralizers, weights, targets, stakes = make_round(seed=5, n=200, models=4, factors=3, nan_targets=5)
    r = {"predictions": preds, "neutralizers": neutralizers, "sample_weights": weights, "targets": targets, "stakes": stakes}
    mutate, message = BAD[case]
    r = mutate(r)
    calls = [lambda: scoring.meta_portfolio_contribution(**r)]
    if not case.startswith(("stakes", "negative stake", "NaN stake", "no positive")):
        calls.append(lambda: scoring.alpha(**{k: val for k, val in r.items() if k != "stakes"}))
    for call in calls:
        with pytest.raises(InvalidInputError, match=message) as info:
            call()
        assert "\n" not in str(info.value) and ";" in str(info.value)


@pytest.mark.parametrize(
    "s1, s2, message",
    [
        (pd.Series(np.arange(10.0)), pd.Series(np.arange(5.0)), "s1 shares only 5 of its 10"),
        (pd.Series(np.arange(10.0)), pd.Series(np.ones(10)), "s2 is constant"),
        (pd.Series([1.0, np.inf, 3.0]), pd.Series([1.0, 2.0, 3.0]), "must be finite"),
        (pd.Series(["a", "b"]), pd.Series([1.0, 2.0]), "s1 must be numeric"),
        ([1.0, 2.0], pd.Series([1.0, 2.0]), "s1 must be a pandas Series"),
    ],
)
def test_bad_churn_inputs_raise_one_line(s1, s2, message):
    with pytest.raises(InvalidInputError, match=message) as info:
        scoring.churn(s1, s2)
    assert "\n" not in str(info.value)
    if isinstance(s1, pd.Series) and "constant" not in message:
        with pytest.raises(InvalidInputError, match=message):
            scoring.turnover(s1, s2)
