"""The edges of every time window, to the second: each window's last allowed second and its first
refused one (or the last refused and the first allowed), with the custom error and its arguments.
`at_second` mines the one transaction of its block at exactly the second named (see its doc)."""

import pytest
from brownie import chain
from support.rounds import DISPUTE_WINDOW, PREDICTIONS, RESULTS_WINDOW, at_second, model, reverts, selector

E18 = 10**18


def _round_with_result(driver, alice, bob):
    """A round with two positions and the committee Result of their scores (nothing voted)."""
    rid = driver.open_round()
    driver.enter(rid, alice, "m", 10 * E18)
    driver.enter(rid, bob, "m", 10 * E18)
    _, _, result = driver.results(rid, {(alice, "m"): 10_000, (bob, "m"): -10_000})
    return rid, result


def _accepted(driver, rid, result):
    """Accept `result` with k = 2 votes from resolveTime on; the end of its dispute window."""
    driver.until(driver.tournament.round(rid)["resolveTime"])
    driver.committee.vote(rid, result, {"from": driver.members[0]})
    tx = driver.committee.vote(rid, result, {"from": driver.members[1]})
    ends = tx.events["ResultAccepted"]["disputeEndsAt"]
    assert ends == tx.timestamp + DISPUTE_WINDOW
    return ends


# ---------------------------------------------------------------- dispute window


def test_finalize_is_refused_until_the_dispute_window_ends(driver, tournament, committee, alice, bob, outsider):
    rid, result = _round_with_result(driver, alice, bob)
    ends = _accepted(driver, rid, result)
    with at_second(ends - 1), reverts("OracleCommitteeDisputeWindowOpen", rid, ends):  # last refused second
        committee.finalize(rid, {"from": outsider})
    assert not tournament.round(rid)["finalized"]
    with at_second(ends):  # first allowed second
        committee.finalize(rid, {"from": outsider})
    assert tournament.round(rid)["finalized"]


def test_veto_is_allowed_until_the_last_second_of_the_dispute_window(
    driver, tournament, committee, guardian, alice, bob, outsider
):
    rid, result = _round_with_result(driver, alice, bob)
    ends = _accepted(driver, rid, result)
    with at_second(ends - 1):  # last allowed second
        tx = committee.veto(rid, {"from": guardian})
    assert tx.events["ResultVetoed"]["vetoes"] == 1
    assert committee.roundState(rid)["disputeEndsAt"] == 0
    # the members vote again in the new epoch; at the second its window ends the veto is refused
    ends = _accepted(driver, rid, result)
    with at_second(ends), reverts("OracleCommitteeDisputeWindowClosed", rid, ends):  # first refused second
        committee.veto(rid, {"from": guardian})
    # and at that same second the result can be finalised: the two windows meet, no gap, no overlap
    with at_second(ends):
        committee.finalize(rid, {"from": outsider})
    assert tournament.round(rid)["finalized"]


# ---------------------------------------------------------------- results deadline


@pytest.mark.parametrize("late", [0, 1], ids=["at-deadline-allowed", "deadline-plus-one-refused"])
def test_results_deadline_is_the_last_second_to_finalize(driver, tournament, committee, alice, bob, outsider, late):
    rid, result = _round_with_result(driver, alice, bob)
    _accepted(driver, rid, result)  # near resolveTime: its dispute window ends long before the deadline
    deadline = tournament.round(rid)["resolveTime"] + RESULTS_WINDOW
    if late:
        with at_second(deadline + 1):  # settleRound refuses; the committee clears the result
            tx = committee.finalize(rid, {"from": outsider})
        assert tx.events["ResultRefused"]["reason"] == selector("TournamentResultsTooLate(uint256,uint256)")
        assert not tournament.round(rid)["finalized"]
        state = committee.roundState(rid)
        assert not state["finalized"] and state["disputeEndsAt"] == 0 and state["restarts"] == 1
    else:
        with at_second(deadline):
            committee.finalize(rid, {"from": outsider})
        assert tournament.round(rid)["finalized"]


def test_refund_opens_the_second_after_the_results_deadline(driver, token, tournament, alice, bob, outsider):
    rid, _ = _round_with_result(driver, alice, bob)
    deadline = tournament.round(rid)["resolveTime"] + RESULTS_WINDOW
    driver.until(deadline - 10)
    with at_second(deadline), reverts("TournamentRefundNotOpen", rid, deadline + 1):  # last refused second
        tournament.refund(rid, alice, model("m"), {"from": outsider})
    balance = token.balanceOf(alice)
    with at_second(deadline + 1):  # first allowed second
        tx = tournament.refund(rid, alice, model("m"), {"from": outsider})
    assert tx.events["Refunded"]["amount"] == 10 * E18
    assert token.balanceOf(alice) == balance + 10 * E18


def test_settle_round_is_refused_before_the_resolve_time(driver, tournament, admin, alice, bob, outsider):
    # the committee cannot call it early (its votes wait for resolveTime too): the Tournament's own check
    rid, result = _round_with_result(driver, alice, bob)
    tournament.grantRole(tournament.COMMITTEE_ROLE(), outsider, {"from": admin})
    resolve = tournament.round(rid)["resolveTime"]
    with at_second(resolve - 1), reverts("TournamentRoundNotResolved", rid, resolve):
        tournament.settleRound(rid, *result, {"from": outsider})
    with at_second(resolve):
        tournament.settleRound(rid, *result, {"from": outsider})
    assert tournament.round(rid)["finalized"]


# ---------------------------------------------------------------- close time


@pytest.mark.parametrize("action", ["submit", "stake", "decrease"])
def test_close_time_is_the_first_refused_second(driver, token, tournament, alice, action):
    rid = driver.open_round()
    driver.enter(rid, alice, "m", 5 * E18)
    token.approve(tournament, 2 * E18, {"from": alice})
    close = tournament.round(rid)["closeTime"]
    send = {
        "submit": lambda: tournament.submit(rid, model("m"), PREDICTIONS, {"from": alice}),
        "stake": lambda: tournament.stake(rid, model("m"), E18, {"from": alice}),
        "decrease": lambda: tournament.decreaseStake(rid, model("m"), E18, {"from": alice}),
    }[action]
    with at_second(close - 1):  # last allowed second
        send()
    after = tournament.position(rid, alice, model("m"))["stake"]
    assert after == {"submit": 5, "stake": 6, "decrease": 4}[action] * E18
    with at_second(close), reverts("TournamentRoundClosed", rid, close):  # first refused second
        send()
    assert tournament.position(rid, alice, model("m"))["stake"] == after


def test_open_round_needs_a_close_time_after_its_block(driver, tournament, operator):
    t = chain[-1].timestamp + 5
    with at_second(t), reverts("TournamentInvalidRoundTimes", t, t, t):  # closes at its own second
        tournament.openRound(driver.tournament_id, PREDICTIONS, t, t, {"from": operator})
    with at_second(t + 1):  # closes the second after: allowed, and resolving at close is allowed
        tx = tournament.openRound(driver.tournament_id, PREDICTIONS, t + 2, t + 2, {"from": operator})
    assert tx.events["RoundOpened"]["closeTime"] == t + 2
    with at_second(t + 2), reverts("TournamentInvalidRoundTimes", t + 10, t + 9, t + 2):  # resolve before close
        tournament.openRound(driver.tournament_id, PREDICTIONS, t + 10, t + 9, {"from": operator})


# ---------------------------------------------------------------- resolve time


def test_vote_is_refused_until_the_resolve_time(driver, tournament, committee, members, alice, bob):
    rid, result = _round_with_result(driver, alice, bob)
    resolve = tournament.round(rid)["resolveTime"]
    driver.until(resolve - 10)
    with at_second(resolve - 1), reverts("OracleCommitteeRoundNotResolved", rid, resolve):  # last refused
        committee.vote(rid, result, {"from": members[0]})
    assert not committee.hasVoted(rid, members[0])
    with at_second(resolve):  # first allowed second
        tx = committee.vote(rid, result, {"from": members[0]})
    assert tx.events["Voted"]["votes"] == 1
