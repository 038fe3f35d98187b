"""A Signals round from opening to claims, through the same contracts, store, committee and
client as a classic one: the fund opens it on a published universe, neutralisers and sample
weights; participants submit a value per ticker (one brings a sentiment feed, one pure momentum,
one copies the first); two members vote the same root,
the round finalises, the keeper pays; an independent verifier reproduces the root."""

import pandas as pd
import pytest
from support.world import E18, deploy_world, funded, run_operator, until

from crowdstake import oracle
from crowdstake.fund.operations import Fund
from crowdstake.fund.signals_dataset import round_files
from crowdstake.fund.signals_market import synth_signals_market
from crowdstake.oracle.keeper import pay_round
from crowdstake.errors import InvalidPredictionsError
from crowdstake.participant import Participant
from crowdstake.store.signals_formats import signals_csv, signals_targets_csv

SIGNALS = (1_000 * E18, E18, 5 * 10**16, 7 * 86400, 3000, 8000, 1, 100)  # 0.3 alpha + 0.8 MPC, 100 tickers


def ranked(raw: pd.Series) -> pd.Series:
    return ((raw.rank(method="first") - 0.5) / len(raw)).round(6)


@pytest.fixture(scope="module")
def season(admin, operator, guardian, tmp_path_factory):
    home = tmp_path_factory.mktemp("signals")
    world = deploy_world(admin, operator, guardian, [funded(admin) for _ in range(3)], home / "world")
    fund = funded(admin)
    world["tournament"].grantRole(world["tournament"].OPERATOR_ROLE(), fund.address, {"from": admin})
    tid = world["tournament"].createTournament(SIGNALS, {"from": operator}).return_value
    market = synth_signals_market(tickers=400, rounds=2, seed=7)
    dataset = home / "round-1"
    dataset.mkdir()
    for name, data in round_files(market, 1).items():
        (dataset / name).write_bytes(data)
    desk = Fund(world["protocol"], fund, world["store"])
    rid = desk.open_round(tid, dataset_dir=dataset, close_in="5m", resolve_in="10m").round
    sentiment, momentum = ranked(market.sentiment_of(1)), ranked(market.momentum(1))
    files = {"sentiment": signals_csv(sentiment), "momentum": signals_csv(momentum), "copy": signals_csv(sentiment)}
    stakers = {}
    for name, stake in (("sentiment", 100), ("momentum", 100), ("copy", 100)):
        who = funded(admin, world["token"], 500 * E18)
        p = Participant(world["protocol"], who, world["store"])
        p.submit(rid, name, files[name])
        p.stake(rid, name, stake)
        stakers[name] = who
    # the store refuses, naming the problem, what the oracle would score at the floor; the client first
    late = funded(admin, world["token"], 500 * E18)
    one = sentiment.copy()
    one.iloc[3] = 1.0
    classic = "id,prediction\n" + "".join(f"{t},0.5\n" for t in sentiment.index)
    for bad, message in ((signals_csv(sentiment.iloc[:50]), "50 valid tickers of the round's universe, 100 needed"),
                         (signals_csv(one), f"line 5: signal 1.0 for ticker '{one.index[3]}' is not strictly between"),
                         (classic.encode(), "the header must be a ticker column")):
        with pytest.raises(InvalidPredictionsError, match=message):
            world["store"].upload_predictions(late, rid, b"\x01" * 32, bad)
        with pytest.raises(InvalidPredictionsError, match=message):
            Participant(world["protocol"], late, world["store"]).submit(rid, "late", bad)
    outside = pd.concat([sentiment, pd.Series([0.7], index=["ZZZZ"])])  # dropped, not refused, and reported
    world["store"].upload_predictions(late, rid, b"\x02" * 32, signals_csv(outside))
    assert Participant(world["protocol"], late, world["store"]).submit(rid, "late", outside).dropped == ("ZZZZ",)
    targets = home / "targets.csv"
    targets.write_bytes(signals_targets_csv(market.round(1).returns))
    until(world["tournament"].roundTimes(rid)[1])
    desk.publish_targets(rid, targets)
    return world, rid, stakers, market, home


def test_a_signals_round_is_scored_voted_finalized_and_paid(season, tmp_path):
    world, rid, stakers, market, home = season
    summaries = [run_operator(world, m, rid, None, tmp_path / f"op{i}", finalize=False)
                 for i, m in enumerate(world["members"][:2])]
    assert summaries[0].root == summaries[1].root  # two operators, one root
    until(world["committee"].roundState(rid)["disputeEndsAt"])
    assert run_operator(world, world["members"][0], rid, None, tmp_path / "op0").state == "finalized"

    table = world["store"].get_score_table(rid)
    report = oracle.verify_round(world["protocol"], world["store"], rid)  # the store's committed targets
    assert report.matches and report.differences == []

    before = {name: world["token"].balanceOf(who.address) for name, who in stakers.items()}
    pay_round(world["protocol"], world["members"][2], world["store"], rid)
    r = world["tournament"].round(rid)
    assert r["settledPositions"] == r["stakedPositions"] == 3
    paid = {name: world["token"].balanceOf(who.address) - before[name] for name, who in stakers.items()}
    # own data pays more than a pure factor bet, and a copy is paid as its original is
    assert paid["sentiment"] > paid["momentum"]
    assert paid["copy"] == paid["sentiment"]
    assert table  # the committed table was published
