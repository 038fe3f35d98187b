"""A Signals round's table: the same numbers as the public scores, floors with reasons, and no
dependence on the order anything arrives in."""

import numpy as np
import pandas as pd
import pytest

from crowdstake.errors import InvalidInputError
from crowdstake.fund.signals_market import synth_signals_market
from crowdstake.scoring import feature_neutral_corr
from crowdstake.scoring.quantization import FLOOR_SCORE, quantize
from crowdstake.scoring.signals import alpha, meta_portfolio_contribution
from crowdstake.scoring.signals_round import signals_round_scores


def unit(raw: pd.Series) -> pd.Series:
    """A raw signal as a submission: its ranks, strictly inside (0, 1)."""
    return (raw.rank(method="first") - 0.5) / len(raw)


@pytest.fixture(scope="module")
def market():
    m = synth_signals_market(tickers=300, rounds=2, seed=3)
    r = m.round(1)
    rng = np.random.default_rng(5)
    preds = {"sentiment": unit(m.sentiment_of(1)), "momentum": unit(m.momentum(1)),
             "noise": unit(pd.Series(rng.normal(size=len(r.universe)), index=r.universe))}
    return r, preds


def test_the_table_is_the_public_scores_for_full_submissions(market):
    r, preds = market
    stakes = {"sentiment": 10.0, "momentum": 30.0, "noise": 0.0}
    table = signals_round_scores(preds, r.neutralizers, r.sample_weights, r.returns, stakes, (0.3, 0.8))
    x = pd.DataFrame(preds).reindex(r.neutralizers.index)
    a = alpha(x, r.neutralizers, r.sample_weights, r.returns)
    mpc = meta_portfolio_contribution(x, pd.Series(stakes), r.neutralizers, r.sample_weights, r.returns)
    assert list(table.index) == ["momentum", "noise", "sentiment"]
    np.testing.assert_array_equal(table["corr"], a[table.index])
    np.testing.assert_array_equal(table["mmc"], mpc[table.index])
    np.testing.assert_array_equal(table["quantized"], quantize(0.3 * a[table.index] + 0.8 * mpc[table.index]))
    assert (table["reason"] == "").all()
    assert table.loc["sentiment", "corr"] > 5 * abs(table.loc["momentum", "corr"])  # neutralised: own data pays

    fnc = signals_round_scores(preds, r.neutralizers, r.sample_weights, r.returns, stakes, (1, 0), score="fnc")
    np.testing.assert_array_equal(fnc["corr"], feature_neutral_corr(x, r.neutralizers, r.returns)[fnc.index])


def test_order_does_not_change_a_bit(market):
    r, preds = market
    stakes = {"sentiment": 10.0, "momentum": 30.0, "noise": 5.0}
    table = signals_round_scores(preds, r.neutralizers, r.sample_weights, r.returns, stakes, (0.3, 0.8))
    rng = np.random.default_rng(0)
    shuffled = {m: preds[m].iloc[rng.permutation(len(preds[m]))] for m in reversed(list(preds))}
    rows = rng.permutation(len(r.neutralizers))
    again = signals_round_scores(shuffled, r.neutralizers.iloc[rows], r.sample_weights.iloc[rows],
                                 r.returns.iloc[rng.permutation(len(r.returns))], dict(reversed(stakes.items())),
                                 (0.3, 0.8))
    pd.testing.assert_frame_equal(table, again)


def test_outside_tickers_drop_and_missing_ones_have_no_view(market):
    r, preds = market
    stakes = {"sentiment": 10.0, "momentum": 30.0}
    base = {m: preds[m] for m in stakes}
    table = signals_round_scores(base, r.neutralizers, r.sample_weights, r.returns, stakes, (0.3, 0.8))
    extra = dict(base, sentiment=pd.concat([base["sentiment"], pd.Series([0.9], index=["NOT-LISTED"])]))
    pd.testing.assert_frame_equal(table, signals_round_scores(extra, r.neutralizers, r.sample_weights, r.returns,
                                                              stakes, (0.3, 0.8)))
    half = base["sentiment"].iloc[:200]
    explicit = pd.concat([half, pd.Series(0.5, index=base["sentiment"].index[200:])])
    partial = signals_round_scores(dict(base, sentiment=half), r.neutralizers, r.sample_weights, r.returns, stakes,
                                   (0.3, 0.8), min_tickers=100)
    filled = signals_round_scores(dict(base, sentiment=explicit), r.neutralizers, r.sample_weights, r.returns, stakes,
                                  (0.3, 0.8))
    pd.testing.assert_frame_equal(partial, filled)


def test_bad_submissions_score_at_the_floor_with_a_reason(market):
    r, preds = market
    good = preds["sentiment"]
    twice = pd.concat([good, good.iloc[:1]])
    one = good.copy()
    one.iloc[7] = 1.0
    submitted = {"good": good, "twice": twice, "one": one, "few": good.iloc[:50]}
    stakes = {"good": 1.0, "twice": 1.0, "one": 1.0, "few": 1.0, "silent": 1.0}
    table = signals_round_scores(submitted, r.neutralizers, r.sample_weights, r.returns, stakes, (0.3, 0.8),
                                 min_tickers=100)
    assert table.loc["good", "reason"] == "" and table.loc["good", "quantized"] > FLOOR_SCORE
    assert table.loc["twice", "reason"] == f"ticker {good.index[0]} appears twice"
    assert table.loc["one", "reason"] == f"signal of ticker {good.index[7]} is not a number strictly between 0 and 1"
    assert table.loc["few", "reason"] == "50 tickers of the universe, the round needs at least 100"
    assert table.loc["silent", "reason"].startswith("no predictions submitted")
    assert (table.drop("good")["quantized"] == FLOOR_SCORE).all()
    # the floored models are out of the portfolio: the good one's MPC is as if it were alone
    alone = signals_round_scores({"good": good}, r.neutralizers, r.sample_weights, r.returns, {"good": 1.0},
                                 (0.3, 0.8))
    assert table.loc["good", "mmc"] == alone.loc["good", "mmc"]


def test_no_stake_means_no_contribution_and_bad_calls_are_refused(market):
    r, preds = market
    table = signals_round_scores(preds, r.neutralizers, r.sample_weights, r.returns, {}, (0.3, 0.8))
    assert (table["mmc"] == 0).all()
    with pytest.raises(InvalidInputError, match="unknown Signals score 'corr'"):
        signals_round_scores(preds, r.neutralizers, r.sample_weights, r.returns, {}, (1, 1), score="corr")
