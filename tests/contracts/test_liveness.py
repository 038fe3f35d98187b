"""No result gets stuck and no key holds a stake forever (the review's liveness faults): a result
the Tournament refuses is cleared and voted again, a vote is refused unless it could still be
finalised, a guardian's vetoes are bounded and each moves the deadline, a position a colluding
quorum leaves out of the tree is refunded whole after the claim window, and every parameter that
could stall a round is bounded."""

import copy

import pytest
from brownie import chain
from support.rounds import DISPUTE_WINDOW, PARAMS, RESULTS_WINDOW, at_second, model, reverts, selector

E18 = 10**18
WHOLE = (10**30, E18, E18, RESULTS_WINDOW, 0, 0, 0, 0)  # cap 100%, factor 1: a score of 1.0 doubles a stake


def _owes_exactly_its_balance(token, tournament):
    assert token.balanceOf(tournament) == tournament.totalOwed()


def _vote(committee, rid, result, voters):
    for member in voters:
        tx = committee.vote(rid, result, {"from": member})
    return tx


# ---------------------------------------------------------------- 1. a refused result is cleared


def test_two_rounds_the_pool_cannot_both_pay_end_finalized_after_a_revote(
    driver, token, tournament, committee, admin, operator, members, alice, bob, outsider
):
    """Honest committee, two accepted rounds whose rewards together exceed the pool: the second
    finalise is refused (not reverted), the result cleared; once the fund tops the pool up, the
    members vote again and the round finalises."""
    pool = tournament.rewardPool()
    whole = copy.copy(driver)
    whole.tournament_id = tournament.createTournament(WHOLE, {"from": operator}).return_value
    rounds = []
    for who in (alice, bob):
        rid = whole.open_round()
        whole.enter(rid, who, "m", pool)
        rounds.append((rid, whole.results(rid, {(who, "m"): 1_000_000})))  # +100%: the whole pool
    for rid, (_, _, result) in rounds:
        whole.accept(rid, result)
    (first, (leaves, tree, result)), (second, (_, _, result2)) = rounds
    whole.until(committee.roundState(second)["disputeEndsAt"])
    committee.finalize(first, {"from": outsider})
    assert tournament.rewardPool() == 0
    tx = committee.finalize(second, {"from": outsider})  # pool short: refused, not stuck
    assert tx.events["ResultRefused"]["reason"] == selector("TournamentPoolShort(uint256,uint256)")
    state = committee.roundState(second)
    assert (state["finalized"], state["disputeEndsAt"], state["restarts"]) == (False, 0, 1)
    assert not tournament.round(second)["finalized"]
    with reverts("OracleCommitteeNotAccepted", second):
        committee.finalize(second, {"from": outsider})
    token.approve(tournament, pool, {"from": admin})
    tournament.fundRewards(pool, {"from": admin})
    tx = _vote(committee, second, result2, members[:2])  # the same result, in the new epoch
    whole.until(tx.events["ResultAccepted"]["disputeEndsAt"])
    committee.finalize(second, {"from": outsider})
    assert tournament.round(second)["finalized"] and tournament.round(second)["reserved"] == pool
    _owes_exactly_its_balance(token, tournament)


@pytest.mark.parametrize("wrong, error", [
    (lambda result: (*result[:3], result[3] + 1), "TournamentLeafCountMismatch(uint256,uint32,uint32)"),
    (lambda result: (*result[:2], E18 + 1, result[3]), "TournamentRewardExceedsCap(uint256,uint256)"),
], ids=["leaf-count", "reward-over-cap"])
def test_a_result_refused_for_its_leaf_count_or_its_cap_is_cleared_for_a_revote(
    driver, tournament, committee, members, alice, bob, outsider, wrong, error
):
    """A quorum accepts a result settleRound refuses (a leaf too many; a reward one wei over the
    1 token that the 5% cap lets 20 staked tokens gain): finalize clears it, the members vote
    the right one, and the round finalises."""
    rid = driver.open_round()
    driver.enter(rid, alice, "m", 10 * E18)
    driver.enter(rid, bob, "m", 10 * E18)
    _, _, result = driver.results(rid, {(alice, "m"): 10_000, (bob, "m"): -10_000})
    driver.accept(rid, wrong(result))
    driver.until(committee.roundState(rid)["disputeEndsAt"])
    tx = committee.finalize(rid, {"from": outsider})
    assert tx.events["ResultRefused"]["reason"] == selector(error)
    state = committee.roundState(rid)
    assert (state["finalized"], state["disputeEndsAt"], state["restarts"]) == (False, 0, 1)
    tx = _vote(committee, rid, result, members[:2])
    driver.until(tx.events["ResultAccepted"]["disputeEndsAt"])
    committee.finalize(rid, {"from": outsider})
    assert tournament.round(rid)["finalized"] and tournament.round(rid)["root"] == "0x" + result[0].hex()


def test_a_vote_is_refused_once_its_dispute_window_would_end_after_the_deadline(
    driver, tournament, committee, operator, members, alice, bob, outsider
):
    """Honest committee, late: a result accepted at deadline - disputeWindow can still be
    finalised at the deadline; one second later the vote is refused and nothing is accepted, so
    the round goes to refunds rather than to a result nobody could finalise. Two rounds with the
    same times, one voted at each second."""
    close = chain.time() + 1000
    rounds = []
    for who in (alice, bob):
        rid = tournament.openRound(driver.tournament_id, b"\xda" * 32, close, close + 1000, {"from": operator}).return_value
        driver.enter(rid, who, "m", 10 * E18)
        rounds.append((rid, driver.results(rid, {(who, "m"): 10_000})[2]))
    (in_time, result), (late, late_result) = rounds
    deadline = tournament.roundTimes(in_time)[2]
    assert deadline == tournament.roundTimes(late)[2] == close + 1000 + RESULTS_WINDOW
    last = deadline - DISPUTE_WINDOW
    driver.until(last - 10)
    committee.vote(in_time, result, {"from": members[0]})
    committee.vote(late, late_result, {"from": members[0]})
    with at_second(last):
        tx = committee.vote(in_time, result, {"from": members[1]})
    assert tx.events["ResultAccepted"]["disputeEndsAt"] == deadline
    with at_second(last + 1), reverts("OracleCommitteeTooLateToFinalize", late, deadline + 1, deadline):
        committee.vote(late, late_result, {"from": members[1]})
    assert committee.roundState(late)["disputeEndsAt"] == 0
    with at_second(deadline):
        committee.finalize(in_time, {"from": outsider})
    assert tournament.round(in_time)["finalized"]


# ---------------------------------------------------------------- 2. no tree can hold a stake forever


def test_a_position_left_out_of_the_tree_is_refunded_whole_after_the_claim_window(
    driver, token, tournament, committee, members, alice, bob, carol, outsider
):
    """A colluding quorum leaves carol out and pads leafCount with a leaf for a position that
    has no stake. Her stake cannot be claimed; after the claim window anyone refunds it whole,
    and with that last position settled the round's unspent reservation returns to the pool."""
    rid = driver.open_round()
    for who in (alice, bob, carol):
        driver.enter(rid, who, "m", 100 * E18)
    scores = {(alice, "m"): 20_000, (bob, "m"): -30_000, (outsider, "m"): 50_000}  # outsider: no stake
    leaves, tree, result = driver.results(rid, scores)
    padded = (result[0], result[1], 5 * E18, 3)  # 3 leaves for 3 staked positions, carol's missing
    pool = tournament.rewardPool()
    driver.accept(rid, padded)
    driver.until(committee.roundState(rid)["disputeEndsAt"])
    committee.finalize(rid, {"from": outsider})
    for i in range(2):
        driver.claim(tree, leaves, i, outsider)
    with reverts("TournamentAlreadySettled", rid, outsider, model("m")):  # the padding pays nothing
        driver.claim(tree, leaves, 2, outsider)
    deadline = tournament.roundTimes(rid)[2]
    opens = deadline + 1 + tournament.CLAIM_WINDOW()
    assert tournament.CLAIM_WINDOW() == 180 * 86_400
    driver.until(opens - 10)
    with at_second(opens - 1), reverts("TournamentRefundNotOpen", rid, opens):
        tournament.refund(rid, carol, model("m"), {"from": outsider})
    balance = token.balanceOf(carol)
    with at_second(opens):
        tx = tournament.refund(rid, carol, model("m"), {"from": outsider})
    assert token.balanceOf(carol) == balance + 100 * E18  # her whole stake: no gain, no burn
    assert tx.events["ReservationReleased"]["amount"] == 5 * E18 - 2 * E18  # declared less alice's gain
    r = tournament.round(rid)
    assert r["settledPositions"] == r["stakedPositions"] == 3 and r["reserved"] == 0
    assert tournament.rewardPool() == pool - 2 * E18
    assert tournament.totalStaked() == tournament.totalReserved() == 0
    _owes_exactly_its_balance(token, tournament)
    with reverts("TournamentNothingStaked", rid, alice, model("m")):  # a claimed position stays claimed
        tournament.refund(rid, alice, model("m"), {"from": outsider})


# ---------------------------------------------------------------- 4. a guardian can delay, not decide


def test_a_guardian_vetoing_as_often_as_it_may_cannot_force_a_refund(
    driver, token, tournament, committee, guardian, members, alice, bob, outsider
):
    """The guardian vetoes every acceptance at the last second of its dispute window, starting
    just before the deadline. Each veto moves the deadline two dispute windows on; after
    MAX_VETOES the next acceptance cannot be vetoed and is finalised: the losers' burns stand."""
    rid = driver.open_round()
    driver.enter(rid, alice, "m", 10 * E18)
    driver.enter(rid, bob, "m", 10 * E18)
    _, _, result = driver.results(rid, {(alice, "m"): 10_000, (bob, "m"): -10_000})
    deadline = tournament.roundTimes(rid)[2]
    driver.until(deadline - DISPUTE_WINDOW - 60)  # the committee is late, but in time
    vetoes = committee.MAX_VETOES()
    assert vetoes == 3
    for n in range(1, vetoes + 1):
        ends = _vote(committee, rid, result, members[:2]).events["ResultAccepted"]["disputeEndsAt"]
        assert ends <= deadline
        with at_second(ends - 1):
            tx = committee.veto(rid, {"from": guardian})
        assert tx.events["ResultVetoed"]["vetoes"] == n
        deadline = ends - 1 + 2 * DISPUTE_WINDOW
        assert tx.events["ResultsDeadlineExtended"]["resultsDeadline"] == deadline
        assert tournament.roundTimes(rid)[2] == deadline
        driver.until(ends - 1 + DISPUTE_WINDOW - 60)  # the members take almost all the time they have
    ends = _vote(committee, rid, result, members[:2]).events["ResultAccepted"]["disputeEndsAt"]
    with reverts("OracleCommitteeVetoesExhausted", rid, vetoes):
        committee.veto(rid, {"from": guardian})
    driver.until(ends)
    supply = token.totalSupply()
    committee.finalize(rid, {"from": outsider})
    assert tournament.round(rid)["finalized"]
    leaves, tree, _ = driver.results(rid, {(alice, "m"): 10_000, (bob, "m"): -10_000})
    driver.claim(tree, leaves, 1, outsider)
    assert token.totalSupply() == supply - E18 // 10  # bob's 1% of 10 is burned, as scored


def test_the_deadline_moves_only_later_and_never_once_passed(driver, tournament, admin, alice, outsider):
    rid = driver.open_round()
    driver.enter(rid, alice, "m", 10 * E18)
    tournament.grantRole(tournament.COMMITTEE_ROLE(), outsider, {"from": admin})
    deadline = tournament.roundTimes(rid)[2]
    tx = tournament.extendResultsDeadline(rid, deadline - 1, {"from": outsider})  # earlier: no change
    assert "ResultsDeadlineExtended" not in tx.events and tournament.roundTimes(rid)[2] == deadline
    tournament.extendResultsDeadline(rid, deadline + 100, {"from": outsider})
    assert tournament.roundTimes(rid)[2] == deadline + 100
    assert tournament.round(rid)["params"]["resultsWindow"] == RESULTS_WINDOW + 100  # refund reads it too
    driver.until(deadline + 90)
    with at_second(deadline + 101), reverts("TournamentResultsTooLate", rid, deadline + 100):
        tournament.extendResultsDeadline(rid, deadline + 10**6, {"from": outsider})  # refunds may have begun


# ---------------------------------------------------------------- 7. bounded parameters


@pytest.mark.parametrize("window, ok", [(3599, False), (3600, True), (90 * 86400, True), (90 * 86400 + 1, False)])
def test_results_window_is_bounded(tournament, operator, window, ok):
    params = (*PARAMS[:3], window, *PARAMS[4:])
    if ok:
        tournament.createTournament(params, {"from": operator})
    else:
        with reverts("TournamentInvalidParams", PARAMS[2], PARAMS[0], PARAMS[1], window):
            tournament.createTournament(params, {"from": operator})


def test_resolve_is_at_most_180_days_after_close(driver, tournament, operator):
    close = chain.time() + 1000
    limit = tournament.MAX_RESOLVE_DELAY()
    assert limit == 180 * 86400
    tid = driver.tournament_id
    tournament.openRound(tid, b"\xda" * 32, close, close + limit, {"from": operator})
    t = chain.time() + 1
    with at_second(t), reverts("TournamentInvalidRoundTimes", close, close + limit + 1, t):
        tournament.openRound(tid, b"\xda" * 32, close, close + limit + 1, {"from": operator})


@pytest.mark.parametrize("window, ok", [(599, False), (600, True), (7 * 86400, True), (7 * 86400 + 1, False),
                                        (2**64 - 1, False)])
def test_dispute_window_is_bounded(OracleCommittee, committee, tournament, admin, members, window, ok):
    """0 would disable the veto; 2**64 - 1 would overflow the k-th vote, so no result is ever accepted."""
    if ok:
        committee.setDisputeWindow(window, {"from": admin})
        assert committee.disputeWindow() == window
        return
    with reverts("OracleCommitteeInvalidDisputeWindow", window, 600, 7 * 86400):
        committee.setDisputeWindow(window, {"from": admin})
    with reverts("OracleCommitteeInvalidDisputeWindow", window, 600, 7 * 86400):
        OracleCommittee.deploy(tournament, admin, members, 2, window, {"from": admin})
