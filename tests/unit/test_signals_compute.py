"""The oracle's off-chain part of a Signals round (`crowdstake.oracle.compute.score_positions`)
for each Signals kind: the first score is the kind's (alpha for `signals`, FNC for
`signals-fnc`), read from the committed files in a real store directory, and the leaves are
the quantised `first weight x first + MPC weight x MPC`. No chain."""

import io
from types import SimpleNamespace

import pandas as pd
import pytest
from eth_hash.auto import keccak

from crowdstake.fund.signals_market import synth_signals_market
from crowdstake.oracle.compute import score_positions
from crowdstake.oracle.inputs import Position
from crowdstake.results.merkle import model_id
from crowdstake.scoring import feature_neutral_corr
from crowdstake.scoring.quantization import quantize
from crowdstake.scoring.signals import alpha, meta_portfolio_contribution
from crowdstake.store import LocalStore
from crowdstake.store.signals_formats import SignalsRoundData, signals_csv

E18 = 10**18
STAKERS = {"sentiment": "0x" + "11" * 20, "momentum": "0x" + "22" * 20}


def _params(kind: int) -> SimpleNamespace:
    """The Tournament's params as the oracle reads them: 0.3 x first score + 0.8 x MPC."""
    return SimpleNamespace(threshold=1_000 * E18, cap=5 * 10**16, corrWeightBps=3000, mmcWeightBps=8000,
                           kind=kind, minTickers=100)


@pytest.fixture(scope="module")
def committed(tmp_path_factory):
    work = tmp_path_factory.mktemp("signals-store")
    whole = synth_signals_market(tickers=300, rounds=1, seed=11)
    market, signals = whole.round(1), {"sentiment": whole.sentiment_of(1), "momentum": whole.momentum(1)}
    files = work / "rounds" / "1" / "files"
    files.mkdir(parents=True)
    positions, submitted = [], {}
    for name, raw in signals.items():
        signal = ((raw.rank(method="first") - 0.5) / len(raw)).rename_axis("ticker")
        data = signals_csv(signal)
        (files / f"{keccak(data).hex()}.csv").write_bytes(data)
        positions.append(Position(STAKERS[name], model_id(name), 100 * E18, keccak(data)))
        submitted[model_id(name).hex()] = pd.read_csv(io.BytesIO(data), index_col=0)["signal"]
    store = LocalStore(work, round_times=lambda rid: (1, 2), chain_id=1, identity="unit", now=lambda: 3)
    data = SignalsRoundData(market.universe, market.neutralizers, market.sample_weights)
    frame = pd.DataFrame(submitted).reindex(market.neutralizers.index)  # what the files say, as the oracle reads them
    return store, positions, market, data, frame


@pytest.mark.parametrize("kind", [1, 2])
def test_a_signals_round_scores_its_kinds_first_score(committed, kind):
    store, positions, market, data, frame = committed
    result = score_positions(store, 1, positions, market.returns, _params(kind), 200 * E18, signals=data)
    if kind == 1:
        first = alpha(frame, market.neutralizers, market.sample_weights, market.returns)
    else:
        first = feature_neutral_corr(frame, market.neutralizers, market.returns)
    mpc = meta_portfolio_contribution(frame, pd.Series(100.0, index=frame.columns), market.neutralizers,
                                      market.sample_weights, market.returns)
    by_model = {row.model_id.hex(): row for row in result.rows}
    assert len(by_model) == 2 and all(not row.reason for row in result.rows)
    for m in frame.columns:
        assert by_model[m].corr == pytest.approx(first[m], abs=1e-12)
        assert by_model[m].mmc == pytest.approx(mpc[m], abs=1e-12)
        assert by_model[m].quantized == quantize(0.3 * first[m] + 0.8 * mpc[m])


def test_the_two_kinds_score_differently(committed):
    store, positions, market, data, _ = committed
    roots = {score_positions(store, 1, positions, market.returns, _params(kind), 200 * E18, signals=data).root
             for kind in (1, 2)}
    assert len(roots) == 2  # FNC is not alpha: a kind that fell back to the other score would give one root
