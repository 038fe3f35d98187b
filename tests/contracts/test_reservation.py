"""A round's reward reservation when the committee declares more reward than the gains turn out
to be (allowed: the declared totals are only checked against totalStake x cap): what the gains
leave of it returns to the pool with the round's last settlement, by `claim` or by `claimMany`.
And an empty round, which can reserve nothing."""

import pytest
from support.rounds import claim_many, model, reverts

E18 = 10**18
DECLARED = 10 * E18  # within the cap: 300 staked x 5% = 15
GAINS = 2 * E18  # alice +2% of 100; bob's -3% is a burn, carol's 0 nothing


def _round_declaring_more_than_gains(driver, alice, bob, carol):
    """Three positions of 100, finalised through the committee with totalReward DECLARED."""
    rid = driver.open_round()
    for who in (alice, bob, carol):
        driver.enter(rid, who, "m", 100 * E18)
    leaves, tree, result = driver.results(rid, {(alice, "m"): 20_000, (bob, "m"): -30_000, (carol, "m"): 0})
    assert result[2] == GAINS  # what the scores really gain
    declared = (result[0], result[1], DECLARED) + tuple(result[3:])
    driver.accept(rid, declared)
    driver.until(driver.committee.roundState(rid)["disputeEndsAt"])
    driver.committee.finalize(rid, {"from": driver.operator})
    return rid, leaves, tree


def _owes_exactly_its_balance(token, tournament):
    """Nothing staked or reserved is left: the contract holds its pool and internal balances, no more."""
    assert tournament.totalStaked() == 0
    assert tournament.totalReserved() == 0
    held = token.balanceOf(tournament)
    assert held == tournament.totalOwed() == tournament.rewardPool() + tournament.totalInternalBalances()


def test_last_claim_releases_the_unspent_reservation(driver, token, tournament, alice, bob, carol, outsider):
    pool = tournament.rewardPool()
    rid, leaves, tree = _round_declaring_more_than_gains(driver, alice, bob, carol)
    assert tournament.rewardPool() == pool - DECLARED
    assert tournament.round(rid)["reserved"] == tournament.totalReserved() == DECLARED
    for i in (0, 1):  # alice's gain is spent; nothing is released before the last settlement
        tx = driver.claim(tree, leaves, i, outsider)
        assert "ReservationReleased" not in tx.events
    assert tournament.round(rid)["reserved"] == tournament.totalReserved() == DECLARED - GAINS
    tx = driver.claim(tree, leaves, 2, outsider)  # the last position
    assert len(tx.events["ReservationReleased"]) == 1
    assert dict(tx.events["ReservationReleased"]) == {"roundId": rid, "amount": DECLARED - GAINS}
    assert tournament.rewardPool() == pool - GAINS  # the pool paid the gains, nothing more
    assert tournament.round(rid)["reserved"] == 0
    _owes_exactly_its_balance(token, tournament)


@pytest.mark.parametrize("to_balance", [False, True], ids=["to-wallets", "to-balances"])
def test_last_claim_many_releases_the_unspent_reservation(
    driver, token, tournament, alice, bob, carol, outsider, to_balance
):
    pool = tournament.rewardPool()
    rid, leaves, tree = _round_declaring_more_than_gains(driver, alice, bob, carol)
    tx = claim_many(tournament, tree, leaves, [0], outsider, to_balance)  # a batch that is not the last
    assert "ReservationReleased" not in tx.events
    assert tournament.round(rid)["reserved"] == tournament.totalReserved() == DECLARED - GAINS
    tx = claim_many(tournament, tree, leaves, [1, 2], outsider, to_balance)  # the last two positions
    assert len(tx.events["ReservationReleased"]) == 1
    assert dict(tx.events["ReservationReleased"]) == {"roundId": rid, "amount": DECLARED - GAINS}
    assert tournament.rewardPool() == pool - GAINS
    assert tournament.round(rid)["reserved"] == 0
    assert tournament.totalInternalBalances() == (300 * E18 + GAINS - 3 * E18 if to_balance else 0)
    _owes_exactly_its_balance(token, tournament)


def test_finalizing_an_empty_round_reserves_and_releases_nothing(driver, tournament, committee, admin, alice, outsider):
    # An empty round can reserve nothing, so there is nothing to release (settleRound no longer
    # releases on a leaf count of 0): leafCount must equal stakedPositions, 0 positions means 0
    # staked, so the cap (totalStake x cap = 0) refuses any reward and the reservation is 0.
    rid = driver.open_round()
    driver.enter(rid, alice, "m", 5 * E18)
    tournament.decreaseStake(rid, model("m"), 5 * E18, {"from": alice})  # the round is empty again
    assert tournament.round(rid)["stakedPositions"] == 0 and tournament.round(rid)["totalStake"] == 0
    pool, reserved = tournament.rewardPool(), tournament.totalReserved()
    empty = (b"\x01" * 32, b"\x7a" * 32, 0, 0)
    # a reward declared for it is refused by the cap (directly: the committee would get stuck on it)
    tournament.grantRole(tournament.COMMITTEE_ROLE(), outsider, {"from": admin})
    driver.until(tournament.round(rid)["resolveTime"])
    with reverts("TournamentRewardExceedsCap", 1, 0):
        tournament.settleRound(rid, empty[0], empty[1], 1, 0, {"from": outsider})
    driver.accept(rid, empty)
    driver.until(committee.roundState(rid)["disputeEndsAt"])
    tx = committee.finalize(rid, {"from": outsider})
    finalized = [e for e in tx.events["RoundFinalized"] if "leafCount" in e]  # the Tournament's event
    assert len(finalized) == 1 and finalized[0]["totalReward"] == 0 and finalized[0]["leafCount"] == 0
    assert "ReservationReleased" not in tx.events
    r = tournament.round(rid)
    assert r["finalized"] and r["reserved"] == 0 and r["settledPositions"] == 0
    assert tournament.rewardPool() == pool and tournament.totalReserved() == reserved
