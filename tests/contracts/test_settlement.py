"""Finalisation, claims, restake, liveness refunds and recovery: the money paths, to the wei."""

import copy

import brownie
from brownie import chain
from support.rounds import CAP, DISPUTE_WINDOW, MIN_STAKE, PREDICTIONS, RESULTS_WINDOW, at_second, model, reverts

E18 = 10**18


def _round_of_three(driver, alice, bob, carol, stake=100 * E18):
    rid = driver.open_round()
    for who in (alice, bob, carol):
        driver.enter(rid, who, "m", stake)
    return rid


def test_gain_loss_and_clamp_pay_exact_amounts(driver, token, tournament, alice, bob, carol, outsider):
    # total stake 300 is under the 1,000 threshold: payoutFactor = 1
    rid = _round_of_three(driver, alice, bob, carol)
    scores = {(alice, "m"): 20_000, (bob, "m"): -30_000, (carol, "m"): 500_000}  # +2%, -3%, +50% -> +5%
    leaves, tree = driver.finalize(rid, scores)
    assert tournament.round(rid)["totalReward"] == 7 * E18
    before = {w: token.balanceOf(w) for w in (alice, bob, carol)}
    supply = token.totalSupply()
    for i in range(3):
        driver.claim(tree, leaves, i, outsider)  # anyone may claim; the staker is paid
    assert token.balanceOf(alice) - before[alice] == 102 * E18
    assert token.balanceOf(bob) - before[bob] == 97 * E18
    assert token.balanceOf(carol) - before[carol] == 105 * E18
    assert token.totalSupply() == supply - 3 * E18


def test_payout_factor_below_one(driver, token, tournament, alice, bob):
    rid = driver.open_round()
    driver.enter(rid, alice, "m", 1_000 * E18)
    driver.enter(rid, bob, "m", 1_000 * E18)  # total 2,000 against a 1,000 threshold: factor 0.5
    leaves, tree = driver.finalize(rid, {(alice, "m"): 40_000, (bob, "m"): -200_000})
    assert tournament.round(rid)["payoutFactor"] == E18 // 2
    a, b = token.balanceOf(alice), token.balanceOf(bob)
    tx = driver.claim(tree, leaves, 0, alice)
    assert tx.events["Claimed"]["delta"] == 20 * E18  # 1000 * 0.5 * 4%
    tx = driver.claim(tree, leaves, 1, bob)
    assert tx.events["Claimed"]["delta"] == -50 * E18  # 1000 * 0.5 * -20% = -10%, clamped at -5%
    assert token.balanceOf(alice) - a == 1_020 * E18
    assert token.balanceOf(bob) - b == 950 * E18


def test_contract_payout_matches_python(tournament):
    from crowdstake.results.payout import payout_delta, payout_factor

    cases = [(10**18, 7, 10**18, CAP), (3 * 10**18 + 1, -123_457, 333_333_333_333_333_333, CAP),
             (10**24, 49_999, 10**18, CAP), (1, -1, 1, 1), (999, -999_999, 10**18, 10**18)]
    cases += [  # at the cap and beyond it, on the gain side and on the loss side
        (100 * E18, 50_000, E18, CAP), (100 * E18, -50_000, E18, CAP),
        (100 * E18, 50_001, E18, CAP), (100 * E18, -50_001, E18, CAP),
        (100 * E18, 500_000, E18, CAP), (100 * E18, -500_000, E18, CAP),
        (7 * E18 + 3, 120_000, E18 // 2, CAP), (7 * E18 + 3, -120_000, E18 // 2, CAP),  # factor 0.5: 6% > 5%
        (10**30, 2**63 - 1, E18, E18), (10**30, -(2**63), E18, E18),  # int64's extremes, cap 100%
        (1, 2_000_000, E18, E18), (3, -2_000_000, E18, E18),
        # one division, after the multiplications: dividing factor x score by 1e6 first (the
        # review's slither finding) pays 333,333,333,333,000,000 here instead of ...333,333
        (10**24, 1, 333_333_333_333_333_333, CAP), (10**24, -1, 333_333_333_333_333_333, CAP),
    ]
    assert payout_delta(10**24, 1, 333_333_333_333_333_333, CAP) == 333_333_333_333_333_333
    beyond = [c for c in cases if abs(c[2] * c[1] // 10**6) > c[3]]
    assert len([c for c in beyond if c[1] > 0]) >= 4 and len([c for c in beyond if c[1] < 0]) >= 4
    for stake, score, factor, cap in cases:
        assert tournament.payoutDelta(stake, score, factor, cap) == payout_delta(stake, score, factor, cap)
    for threshold, total in ((10, 3), (10, 30), (7 * 10**18, 9 * 10**18 + 1)):
        assert tournament.payoutFactor(threshold, total) == payout_factor(threshold, total)


def test_single_claim_beyond_the_cap_pays_exactly_stake_times_cap(driver, token, tournament, alice, bob, carol,
                                                                   outsider):
    # The round declares the most the cap allows (300 x 5% = 15), so the reservation cannot hide
    # a missing clamp: an unclamped +50% would take 15 of it, not 5.
    rid = _round_of_three(driver, alice, bob, carol)
    leaves, tree, result = driver.results(rid, {(alice, "m"): 500_000, (bob, "m"): -500_000, (carol, "m"): 0})
    assert result[2] == 5 * E18
    declared = (result[0], result[1], 15 * E18, 3)
    driver.accept(rid, declared)
    driver.until(driver.committee.roundState(rid)["disputeEndsAt"])
    driver.committee.finalize(rid, {"from": outsider})
    cap = tournament.round(rid)["params"]["cap"]
    balance, supply = token.balanceOf(alice), token.totalSupply()
    tx = driver.claim(tree, leaves, 0, outsider)  # +50%, first: the whole reservation is there
    assert tx.events["Claimed"]["delta"] == 100 * E18 * cap // E18 == 5 * E18
    assert token.balanceOf(alice) == balance + 105 * E18
    assert tournament.round(rid)["reserved"] == 10 * E18
    balance = token.balanceOf(bob)
    tx = driver.claim(tree, leaves, 1, outsider)  # -50%
    assert tx.events["Claimed"]["delta"] == -100 * E18 * cap // E18 == -5 * E18
    assert token.balanceOf(bob) == balance + 95 * E18
    assert token.totalSupply() == supply - 5 * E18  # the clamped loss is burned, no more


def test_double_claim_reverts(driver, tournament, alice, bob, carol):
    rid = _round_of_three(driver, alice, bob, carol)
    leaves, tree = driver.finalize(rid, {(alice, "m"): 1, (bob, "m"): 2, (carol, "m"): 3})
    driver.claim(tree, leaves, 0, alice)
    with reverts("TournamentAlreadySettled", rid, alice, model("m")):
        driver.claim(tree, leaves, 0, alice)


def test_wrong_proof_and_wrong_score_revert(driver, token, tournament, alice, bob, carol):
    rid = _round_of_three(driver, alice, bob, carol)
    leaves, tree = driver.finalize(rid, {(alice, "m"): -10_000, (bob, "m"): 2, (carol, "m"): 3})
    balance = token.balanceOf(alice)
    with reverts("TournamentInvalidProof", rid, alice, model("m"), 50_000):
        tournament.claim(rid, alice, model("m"), 50_000, tree.proof(0), {"from": alice})
    with reverts("TournamentInvalidProof", rid, alice, model("m"), -10_000):
        tournament.claim(rid, alice, model("m"), -10_000, tree.proof(1), {"from": alice})
    assert token.balanceOf(alice) == balance
    assert tournament.position(rid, alice, model("m"))["stake"] != 0  # not settled


def test_claim_before_finalize_reverts(driver, tournament, alice, bob, carol):
    rid = _round_of_three(driver, alice, bob, carol)
    leaves, tree, result = driver.results(rid, {(alice, "m"): 1, (bob, "m"): 2, (carol, "m"): 3})
    driver.accept(rid, result)
    with reverts("TournamentNotFinalized", rid):
        driver.claim(tree, leaves, 0, alice)


def test_claim_unstaked_position_reverts(driver, tournament, alice, bob, carol, outsider):
    rid = _round_of_three(driver, alice, bob, carol)
    scores = {(alice, "m"): 1, (bob, "m"): 2, (carol, "m"): 3}
    leaves, tree, result = driver.results(rid, {**scores, (outsider, "m"): 4})
    # a tree with a leaf for a position that has no stake cannot pass leafCount ...
    with reverts("TournamentLeafCountMismatch", rid, 4, 3):
        driver.until(tournament.round(rid)["resolveTime"])
        tournament.grantRole(tournament.COMMITTEE_ROLE(), outsider, {"from": brownie.accounts[0]})
        tournament.settleRound(rid, *result, {"from": outsider})
    # ... and even with a miscounted root, its leaf pays nothing
    tournament.settleRound(rid, result[0], result[1], 0, 3, {"from": outsider})
    with reverts("TournamentAlreadySettled", rid, outsider, model("m")):  # a proven leaf with no stake
        driver.claim(tree, leaves, 3, outsider)


def test_settle_checks(driver, token, tournament, admin, alice, bob, carol, outsider):
    rid = _round_of_three(driver, alice, bob, carol)  # 300 staked: at most 15 can move either way
    tournament.grantRole(tournament.COMMITTEE_ROLE(), outsider, {"from": admin})
    resolve = tournament.round(rid)["resolveTime"]
    root = b"\x01" * 32
    with reverts("TournamentRoundNotResolved", rid, resolve):
        tournament.settleRound(rid, root, root, 0, 3, {"from": outsider})
    driver.until(resolve)
    with reverts("TournamentRewardExceedsCap", 15 * E18 + 1, 15 * E18):
        tournament.settleRound(rid, root, root, 15 * E18 + 1, 3, {"from": outsider})
    with reverts("TournamentRoundUnknown", 99):
        tournament.settleRound(99, root, root, 0, 0, {"from": outsider})
    tournament.settleRound(rid, root, root, 15 * E18, 3, {"from": outsider})
    with reverts("TournamentAlreadyFinalized", rid):
        tournament.settleRound(rid, root, root, 0, 3, {"from": outsider})


def test_settle_reverts_when_pool_is_short(driver, token, tournament, admin, operator, alice, bob, outsider):
    pool = tournament.rewardPool()
    # a tournament whose cap lets a round move all of its stake, so the pool is the limit
    driver = copy.copy(driver)  # the module's driver keeps its own tournament
    driver.tournament_id = tournament.createTournament(
        (10**30, E18, 10**18, RESULTS_WINDOW, 0, 0, 0, 0), {"from": operator}
    ).return_value
    rid = driver.open_round()
    driver.enter(rid, alice, "m", pool)
    driver.enter(rid, bob, "m", pool)
    tournament.grantRole(tournament.COMMITTEE_ROLE(), outsider, {"from": admin})
    driver.until(tournament.round(rid)["resolveTime"])
    with reverts("TournamentPoolShort", pool, pool + 1):
        tournament.settleRound(rid, b"\x01" * 32, b"\x01" * 32, pool + 1, 2, {"from": outsider})
    assert tournament.rewardPool() == pool and not tournament.round(rid)["finalized"]


def test_reward_never_exceeds_reservation(driver, token, tournament, admin, alice, bob, outsider):
    rid = driver.open_round()
    driver.enter(rid, alice, "m", 100 * E18)
    driver.enter(rid, bob, "m", 100 * E18)
    leaves, tree, result = driver.results(rid, {(alice, "m"): 50_000, (bob, "m"): 50_000})
    assert result[2] == 10 * E18
    tournament.grantRole(tournament.COMMITTEE_ROLE(), outsider, {"from": admin})
    driver.until(tournament.round(rid)["resolveTime"])
    # an under-declared reward: the second claimer gets what is left, never more
    tournament.settleRound(rid, result[0], result[1], 6 * E18, 2, {"from": outsider})
    assert driver.claim(tree, leaves, 0, alice).events["Claimed"]["delta"] == 5 * E18
    assert driver.claim(tree, leaves, 1, bob).events["Claimed"]["delta"] == 1 * E18
    assert tournament.round(rid)["reserved"] == 0


def test_unspent_reservation_returns_to_pool_after_last_claim(driver, tournament, alice, bob, carol):
    rid = _round_of_three(driver, alice, bob, carol)
    pool = tournament.rewardPool()
    leaves, tree = driver.finalize(rid, {(alice, "m"): 20_000, (bob, "m"): -30_000, (carol, "m"): 0})
    assert tournament.rewardPool() == pool - 2 * E18
    assert tournament.totalReserved() == 2 * E18
    for i in range(3):
        driver.claim(tree, leaves, i, alice)
    assert tournament.totalReserved() == 0
    assert tournament.rewardPool() == pool - 2 * E18
    assert tournament.totalStaked() == 0


def test_escrow_owes_nothing_after_every_claim(driver, token, tournament, alice, bob, carol):
    rid = _round_of_three(driver, alice, bob, carol)
    leaves, tree = driver.finalize(rid, {(alice, "m"): 49_999, (bob, "m"): -77_777, (carol, "m"): 3})
    for i in range(3):
        driver.claim(tree, leaves, i, carol)
    assert token.balanceOf(tournament) == tournament.rewardPool() == tournament.totalOwed()


def test_claim_and_restake_moves_whole_payout(driver, token, tournament, alice, bob, carol):
    rid = _round_of_three(driver, alice, bob, carol)
    leaves, tree = driver.finalize(rid, {(alice, "m"): 30_000, (bob, "m"): 0, (carol, "m"): 0})
    nxt = driver.open_round()
    tournament.submit(nxt, model("m"), PREDICTIONS, {"from": alice})
    balance, escrow = token.balanceOf(alice), token.balanceOf(tournament)
    l = leaves[0]
    tx = tournament.claimAndRestake(rid, model("m"), l.score, tree.proof(0), nxt, {"from": alice})
    assert tx.events["Restaked"]["amount"] == 103 * E18
    assert tournament.position(nxt, alice, model("m"))["stake"] == 103 * E18
    assert token.balanceOf(alice) == balance and token.balanceOf(tournament) == escrow  # no token moved
    assert tournament.totalStaked() == 103 * E18 + 200 * E18


def test_claim_and_restake_burns_a_loss(driver, token, tournament, alice, bob, carol):
    rid = _round_of_three(driver, alice, bob, carol)
    leaves, tree = driver.finalize(rid, {(alice, "m"): -40_000, (bob, "m"): 0, (carol, "m"): 0})
    nxt = driver.open_round()
    tournament.submit(nxt, model("m"), PREDICTIONS, {"from": alice})
    supply = token.totalSupply()
    tournament.claimAndRestake(rid, model("m"), -40_000, tree.proof(0), nxt, {"from": alice})
    assert tournament.position(nxt, alice, model("m"))["stake"] == 96 * E18
    assert token.totalSupply() == supply - 4 * E18


def test_claim_and_restake_needs_open_round_and_submission(driver, tournament, alice, bob, carol):
    rid = _round_of_three(driver, alice, bob, carol)
    leaves, tree = driver.finalize(rid, {(alice, "m"): 1, (bob, "m"): 0, (carol, "m"): 0})
    nxt = driver.open_round()
    with reverts("TournamentNoSubmission", nxt, alice, model("m")):
        tournament.claimAndRestake(rid, model("m"), 1, tree.proof(0), nxt, {"from": alice})
    close = tournament.round(rid)["closeTime"]
    with reverts("TournamentRoundClosed", rid, close):
        tournament.claimAndRestake(rid, model("m"), 1, tree.proof(0), rid, {"from": alice})
    assert tournament.position(rid, alice, model("m"))["stake"] != 0  # not settled


def test_claim_and_restake_refuses_a_payout_under_the_minimum_stake(driver, tournament, alice, bob, carol):
    # The contract path the client falls back from (crowdstake claim --restake-into pays the wallet instead).
    rid = driver.open_round()
    driver.enter(rid, alice, "small", MIN_STAKE)
    driver.enter(rid, bob, "m", 100 * E18)
    leaves, tree = driver.finalize(rid, {(alice, "small"): -20_000, (bob, "m"): 0})
    nxt = driver.open_round()
    tournament.submit(nxt, model("small"), PREDICTIONS, {"from": alice})
    with reverts("TournamentStakeBelowMinimum", MIN_STAKE * 98 // 100, MIN_STAKE):
        tournament.claimAndRestake(rid, model("small"), -20_000, tree.proof(0), nxt, {"from": alice})
    assert tournament.position(rid, alice, model("small"))["stake"] == MIN_STAKE  # not settled


def test_claim_and_restake_refuses_a_fully_burned_position(driver, token, tournament, operator, alice, bob):
    # The other contract path the client falls back from: nothing is left to restake, so the
    # staker settles with `claim`, which burns the whole stake.
    whole = copy.copy(driver)  # a tournament whose cap lets a round burn all of a stake
    whole.tournament_id = tournament.createTournament(
        (10**30, E18, E18, RESULTS_WINDOW, 5000, 20000, 0, 0), {"from": operator}).return_value
    rid = whole.open_round()
    whole.enter(rid, alice, "m", 10 * E18)
    whole.enter(rid, bob, "m", 10 * E18)
    leaves, tree = whole.finalize(rid, {(alice, "m"): -1_000_000, (bob, "m"): 0})
    nxt = whole.open_round()
    tournament.submit(nxt, model("m"), PREDICTIONS, {"from": alice})
    with reverts("TournamentZeroAmount"):
        tournament.claimAndRestake(rid, model("m"), -1_000_000, tree.proof(0), nxt, {"from": alice})
    assert tournament.position(rid, alice, model("m"))["stake"] == 10 * E18  # not settled
    supply, balance = token.totalSupply(), token.balanceOf(alice)
    assert whole.claim(tree, leaves, 0, alice).events["Claimed"]["delta"] == -10 * E18
    assert token.totalSupply() == supply - 10 * E18 and token.balanceOf(alice) == balance


def test_liveness_refund_after_results_window(driver, token, tournament, committee, alice, bob, carol, outsider):
    rid = _round_of_three(driver, alice, bob, carol)
    refunds_from = tournament.round(rid)["resolveTime"] + RESULTS_WINDOW + 1
    with reverts("TournamentRefundNotOpen", rid, refunds_from):
        tournament.refund(rid, alice, model("m"), {"from": outsider})
    driver.until(refunds_from)
    # results come too late: the committee no longer takes votes ...
    leaves, tree, result = driver.results(rid, {(alice, "m"): -50_000, (bob, "m"): 0, (carol, "m"): 0})
    t = chain.time() + 5
    with at_second(t), reverts("OracleCommitteeTooLateToFinalize", rid, t + DISPUTE_WINDOW, refunds_from - 1):
        committee.vote(rid, result, {"from": driver.members[0]})
    # ... and every staker gets its whole stake back, no reward, no burn
    supply = token.totalSupply()
    for who in (alice, bob, carol):
        balance = token.balanceOf(who)
        tournament.refund(rid, who, model("m"), {"from": outsider})
        assert token.balanceOf(who) == balance + 100 * E18
    with reverts("TournamentNothingStaked", rid, alice, model("m")):
        tournament.refund(rid, alice, model("m"), {"from": outsider})
    assert token.totalSupply() == supply
    assert tournament.totalStaked() == 0


def test_no_refund_once_finalized_until_the_claim_window_ends(driver, tournament, alice, bob, carol, outsider):
    rid = _round_of_three(driver, alice, bob, carol)
    driver.finalize(rid, {(alice, "m"): 1, (bob, "m"): 0, (carol, "m"): 0})
    deadline = tournament.round(rid)["resolveTime"] + RESULTS_WINDOW
    driver.until(deadline + 1)  # when an unfinalised round would refund
    with reverts("TournamentRefundNotOpen", rid, deadline + 1 + tournament.CLAIM_WINDOW()):
        tournament.refund(rid, alice, model("m"), {"from": outsider})


def test_recover_only_excess_of_stake_token(driver, token, tournament, admin, alice, outsider):
    rid = driver.open_round()
    driver.enter(rid, alice, "m", 5 * E18)
    token.transfer(tournament, 3 * E18, {"from": alice})  # sent by mistake
    with reverts("TournamentRecoverExceedsExcess", 3 * E18 + 1, 3 * E18):
        tournament.recoverERC20(token, outsider, 3 * E18 + 1, {"from": admin})
    tx = tournament.recoverERC20(token, outsider, 3 * E18, {"from": admin})
    assert tx.events["ERC20Recovered"]["amount"] == 3 * E18
    assert token.balanceOf(tournament) == tournament.totalOwed()
