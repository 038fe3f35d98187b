"""The synthetic Signals market: factor structure, neutralisers Numerai-style, and what scores."""

import numpy as np
import pandas as pd
import pytest

from crowdstake.errors import InvalidInputError
from crowdstake.fund.signals_market import (COUNTRIES, SECTORS, STYLES, orthonormal_neutralizers,
                                            synth_signals_market)
from crowdstake.scoring.signals import alpha

ROUNDS = 20


@pytest.fixture(scope="module")
def market():
    return synth_signals_market(tickers=500, rounds=ROUNDS, seed=0)


def _alphas(market, signal_of, neutralizers_of=lambda r: r.neutralizers):
    out = []
    for r in market.rounds:
        out.append(alpha(signal_of(r.round), neutralizers_of(r), r.sample_weights, r.returns))
    return np.array(out)


def _constant_only(r):
    """The weakest neutraliser: the constant alone, unit norm under the weights."""
    v = r.sample_weights
    return pd.DataFrame({"one": np.full(len(v), 1 / np.sqrt(v.sum()))}, index=v.index)


def test_same_seed_gives_identical_bytes():
    a = synth_signals_market(tickers=80, rounds=3, seed=7)
    b = synth_signals_market(tickers=80, rounds=3, seed=7)
    c = synth_signals_market(tickers=80, rounds=3, seed=8)
    for ra, rb in zip(a.rounds, b.rounds):
        for x, y in ((ra.neutralizers, rb.neutralizers), (ra.sample_weights, rb.sample_weights),
                     (ra.returns, rb.returns)):
            assert x.to_csv().encode() == y.to_csv().encode()
    assert a.sentiment.to_csv().encode() == b.sentiment.to_csv().encode()
    assert a.rounds[0].returns.to_csv() != c.rounds[0].returns.to_csv()


def test_neutralizers_are_orthonormal_under_the_weights_and_span_the_exposures(market):
    for r in market.rounds[:3]:
        n = r.neutralizers.to_numpy()
        v = r.sample_weights.to_numpy()
        assert np.allclose((n * v[:, None]).T @ n, np.eye(n.shape[1]), atol=1e-12)
        assert list(r.neutralizers.columns) == ([f"country_{c}" for c in COUNTRIES]
                                                + [f"sector_{s}" for s in SECTORS[:-1]] + list(STYLES))
        # every exposure (the last sector too, and the constant) is in the span of N
        x = r.exposures.to_numpy()
        resid = x - n @ ((n * v[:, None]).T @ x)
        assert np.abs(resid).max() < 1e-9
        assert r.sample_weights.mean() == pytest.approx(1.0)
        assert list(r.neutralizers.index) == sorted(r.neutralizers.index)


def test_factors_explain_a_good_share_and_the_universe_changes(market):
    assert 0.45 < market.factor_share() < 0.75
    sizes = {len(r.universe) for r in market.rounds}
    assert len(sizes) > 1 and max(sizes) < 500 and min(sizes) > 440  # about 5% absent per round


def test_momentum_scores_about_zero_alpha_sentiment_scores_positive(market):
    """Alpha is s' . P(e) / n (X f lies in span N): a signal independent of e, like momentum,
    scores noise of sd about IDIO_VOL * rms(residual s') / sqrt(n) per round (here ~5e-4),
    whereas the sentiment's leak of e scores ~0.009. So: momentum's mean alpha within 4
    standard errors of 0 and its typical |alpha| under a tenth of sentiment's mean; and without
    the factor neutralisers the same momentum signal scores like a factor bet (|alpha| as big
    as sentiment's), so these checks would catch a neutraliser that misses the factors."""
    mom = _alphas(market, market.momentum)
    sent = _alphas(market, market.sentiment_of)
    se = mom.std(ddof=1) / np.sqrt(ROUNDS)
    assert abs(mom.mean()) < 4 * se
    assert np.abs(mom).mean() < 0.1 * sent.mean()
    assert sent.mean() > 4 * sent.std(ddof=1) / np.sqrt(ROUNDS)
    assert (sent > 0).mean() >= 0.9
    raw_mom = _alphas(market, market.momentum, _constant_only)
    assert np.abs(raw_mom).mean() > sent.mean()


def test_orthonormalisation_drops_spanned_and_empty_columns():
    idx = pd.Index(["A", "B", "C", "D"])
    x = pd.DataFrame({"one": [1.0, 1, 1, 1], "twice": [2.0, 2, 2, 2], "empty": [0.0] * 4,
                      "z": [1.0, 2, 3, 5]}, index=idx)
    n = orthonormal_neutralizers(x, pd.Series([1.0, 2, 1, 1], index=idx))
    assert list(n.columns) == ["one", "z"]
    with pytest.raises(InvalidInputError, match="> 0"):
        orthonormal_neutralizers(x, pd.Series([1.0, 0, 1, 1], index=idx))


def test_refuses_too_small_a_market():
    with pytest.raises(InvalidInputError, match="tickers >= 50"):
        synth_signals_market(tickers=10)
