"""A whole round end to end through the demo's own code path; `make test` also runs this file
on ganache, proving ganache works."""

from crowdstake.results.merkle import model_id

E18 = 10**18


def test_round_end_to_end(protocol, operator, members, admin):
    from scripts.demo_round import run_round

    token, tournament, committee = protocol
    supply, pool = token.totalSupply(), tournament.rewardPool()
    rid, records = run_round(
        token, tournament, committee, operator=operator, members=members, treasury=admin, participants=4,
        log=lambda *_: None,
    )
    r = tournament.round(rid)
    assert r["finalized"] and r["stakedPositions"] == r["settledPositions"] == 4
    gains = sum(rec["delta"] for rec in records if rec["delta"] > 0)
    burns = -sum(rec["delta"] for rec in records if rec["delta"] < 0)
    assert r["totalReward"] == gains
    assert burns > 0 and gains > 0  # the seed gives both winners and losers
    # supply fell by exactly the burns; the pool paid exactly the gains
    assert token.totalSupply() == supply - burns
    assert tournament.rewardPool() == pool + 20_000 * E18 - gains
    # the restaker's whole payout sits in the next round; everyone else was paid in tokens
    first = records[0]
    restaked = tournament.position(rid + 1, first["wallet"], model_id(first["model"]))["stake"]
    assert restaked == first["stake"] + first["delta"]
    for rec in records[1:]:
        assert token.balanceOf(rec["wallet"]) == 1_000 * E18 + rec["delta"]
    # the escrow holds exactly what it owes: the restaked position and the pool
    assert tournament.totalStaked() == restaked
    assert token.balanceOf(tournament) == tournament.totalOwed() == restaked + tournament.rewardPool()
