"""A hostile or non-standard stake token cannot make the Tournament pay twice.

A separate Tournament and committee run on `ReentrantToken`, which on demand calls back into the
Tournament from inside `transfer`, `transferFrom` or `burn` (as an ERC-777 hook or a malicious
token would), returns false instead of reverting, or returns no data at all. Every token path is
`nonReentrant`, so the call back fails with ReentrancyGuardReentrantCall: either the whole outer
call reverts and nothing changes, or (when the token swallows the failure) the outer call settles
exactly once. SafeERC20 turns a `false` into SafeERC20FailedOperation and accepts no return data.
"""

import pytest
from brownie import OracleCommittee, ReentrantToken, Tournament
from eth_hash.auto import keccak
from support.rounds import CAP, DISPUTE_WINDOW, PARAMS, PREDICTIONS, RESULTS_WINDOW, Driver, model, reverts

from crowdstake.results.payout import payout_delta

STAKE = 100 * 10**18
NORMAL, REENTER, RETURN_FALSE, NO_RETURN = range(4)  # ReentrantToken.Mode
REENTRANT_CALL = keccak(b"ReentrancyGuardReentrantCall()")[:4]


@pytest.fixture(scope="module")
def weird(admin, operator, guardian, members, alice, bob):
    """Token, tournament and 2-of-3 committee wired like scripts/deploy.py, on the weird token."""
    tx = {"from": admin}
    token = ReentrantToken.deploy(10_000_000 * 10**18, tx)
    tournament = Tournament.deploy(token, admin, tx)
    committee = OracleCommittee.deploy(tournament, admin, list(members), 2, DISPUTE_WINDOW, tx)
    tournament.grantRole(tournament.OPERATOR_ROLE(), operator, tx)
    tournament.grantRole(tournament.GUARDIAN_ROLE(), guardian, tx)
    tournament.grantRole(tournament.COMMITTEE_ROLE(), committee, tx)
    for who in (alice, bob):
        token.transfer(who, 10_000 * 10**18, tx)
    token.approve(tournament, 10_000 * 10**18, tx)
    tournament.fundRewards(10_000 * 10**18, tx)
    tid = tournament.createTournament(PARAMS, {"from": operator}).return_value
    return Driver(token, tournament, committee, operator, members, tid)


def books(d, *who):
    """Everything a double payout would change."""
    t = d.tournament
    return (
        [d.token.balanceOf(w) for w in who],
        d.token.balanceOf(t),
        d.token.totalSupply(),
        t.totalStaked(),
        t.totalReserved(),
        t.rewardPool(),
    )


def finalized_round(d, alice, bob, alice_score):
    """A round where alice and bob staked; the committee scored alice `alice_score`, bob 0."""
    rid = d.open_round()
    d.enter(rid, alice, "m", STAKE)
    d.enter(rid, bob, "m", STAKE)
    leaves, tree = d.finalize(rid, {(alice, "m"): alice_score, (bob, "m"): 0})
    return rid, leaves[0], tree.proof(0)


def expected_payout(d, rid, score):
    r = d.tournament.round(rid)
    return STAKE + payout_delta(STAKE, score, r["payoutFactor"], CAP)


# A gain is paid by `transfer`; a loss is first burned, so the call back comes from `burn`.
SCORES = pytest.mark.parametrize("score", [150_000, -150_000], ids=["gain-from-transfer", "loss-from-burn"])


@SCORES
def test_reentrant_claim_reverts_the_whole_claim(weird, alice, bob, outsider, score):
    d = weird
    rid, leaf, proof = finalized_round(d, alice, bob, score)
    args = (rid, alice, leaf.model_id, score, proof)
    d.token.arm(d.tournament, d.tournament.claim.encode_input(*args), False, {"from": outsider})
    before = books(d, alice, outsider)
    with reverts("ReentrancyGuardReentrantCall"):
        d.tournament.claim(*args, {"from": outsider})
    assert books(d, alice, outsider) == before
    assert d.tournament.position(rid, alice, leaf.model_id)["stake"] == STAKE  # not settled

    d.token.setMode(NORMAL, {"from": outsider})  # the honest claim still works, once
    d.tournament.claim(*args, {"from": outsider})
    assert d.token.balanceOf(alice) == before[0][0] + expected_payout(d, rid, score)
    with reverts("TournamentAlreadySettled", rid, alice, leaf.model_id):
        d.tournament.claim(*args, {"from": outsider})


@SCORES
def test_swallowed_reentrant_claim_still_pays_once(weird, alice, bob, outsider, score):
    d = weird
    rid, leaf, proof = finalized_round(d, alice, bob, score)
    args = (rid, alice, leaf.model_id, score, proof)
    d.token.arm(d.tournament, d.tournament.claim.encode_input(*args), True, {"from": outsider})
    alice_before, supply_before = d.token.balanceOf(alice), d.token.totalSupply()

    d.tournament.claim(*args, {"from": outsider})

    assert d.token.reentries() == 1
    assert d.token.lastReentryOk() is False
    assert bytes(d.token.lastReentryData()) == REENTRANT_CALL
    payout = expected_payout(d, rid, score)
    assert d.token.balanceOf(alice) == alice_before + payout  # paid once
    assert d.token.totalSupply() == supply_before - max(0, STAKE - payout)  # burned once
    assert d.token.balanceOf(d.tournament) == d.tournament.totalOwed()
    assert d.tournament.position(rid, alice, leaf.model_id)["stake"] == 0  # settled


def test_reentrant_claim_and_restake_cannot_claim_again(weird, alice, bob, outsider):
    """claimAndRestake burns the loss last: the burn's call back cannot settle the position again."""
    d = weird
    rid, leaf, proof = finalized_round(d, alice, bob, -150_000)
    into = d.open_round()
    d.tournament.submit(into, leaf.model_id, PREDICTIONS, {"from": alice})
    claim = d.tournament.claim.encode_input(rid, alice, leaf.model_id, leaf.score, proof)
    d.token.arm(d.tournament, claim, False, {"from": outsider})
    before = books(d, alice)
    with reverts("ReentrancyGuardReentrantCall"):
        d.tournament.claimAndRestake(rid, leaf.model_id, leaf.score, proof, into, {"from": alice})
    assert books(d, alice) == before
    assert d.tournament.position(into, alice, leaf.model_id)["stake"] == 0

    d.token.arm(d.tournament, claim, True, {"from": outsider})
    d.tournament.claimAndRestake(rid, leaf.model_id, leaf.score, proof, into, {"from": alice})
    assert bytes(d.token.lastReentryData()) == REENTRANT_CALL
    assert d.tournament.position(into, alice, leaf.model_id)["stake"] == expected_payout(d, rid, leaf.score)
    assert d.token.balanceOf(alice) == before[0][0]  # restaked, not paid out
    assert d.token.balanceOf(d.tournament) == d.tournament.totalOwed()


def _lapsed_round(d, alice, bob):
    rid = d.open_round()
    d.enter(rid, alice, "m", STAKE)
    d.enter(rid, bob, "m", STAKE)
    d.until(d.tournament.round(rid)["resolveTime"] + RESULTS_WINDOW + 1)  # no results in time
    return rid


def test_reentrant_refund_cannot_refund_twice(weird, alice, bob, outsider):
    d = weird
    rid, m = _lapsed_round(d, alice, bob), model("m")
    d.token.arm(d.tournament, d.tournament.refund.encode_input(rid, alice, m), False, {"from": outsider})
    before = books(d, alice)
    with reverts("ReentrancyGuardReentrantCall"):
        d.tournament.refund(rid, alice, m, {"from": outsider})
    assert books(d, alice) == before

    d.token.arm(d.tournament, d.tournament.refund.encode_input(rid, alice, m), True, {"from": outsider})
    d.tournament.refund(rid, alice, m, {"from": outsider})
    assert bytes(d.token.lastReentryData()) == REENTRANT_CALL
    assert d.token.balanceOf(alice) == before[0][0] + STAKE  # refunded once
    assert d.tournament.totalStaked() == before[3] - STAKE
    with reverts("TournamentNothingStaked", rid, alice, m):
        d.tournament.refund(rid, alice, m, {"from": outsider})


def _token_is_staker(d, admin, rid, amount):
    """The token contract itself holds a position, so its hooks re-enter as the staker."""
    t, m = d.tournament, model("m")
    d.token.transfer(d.token, 2 * amount, {"from": admin})  # some left over to stake more
    d.token.execute(t, t.submit.encode_input(rid, m, PREDICTIONS), {"from": admin})
    d.token.execute(d.token, d.token.approve.encode_input(t, 2**256 - 1), {"from": admin})
    d.token.execute(t, t.stake.encode_input(rid, m, amount), {"from": admin})
    return m


@pytest.mark.parametrize("entry", ["decreaseStake", "stake"])
def test_reentrant_staker_cannot_withdraw_twice(weird, admin, outsider, entry):
    """From a withdrawal's transfer (or a stake's transferFrom) the staker tries to withdraw again."""
    d = weird
    t, rid = d.tournament, d.open_round()
    m = _token_is_staker(d, admin, rid, 2 * STAKE)
    outer = getattr(t, entry).encode_input(rid, m, STAKE)
    again = t.decreaseStake.encode_input(rid, m, STAKE)
    d.token.arm(t, again, False, {"from": outsider})
    before = books(d, d.token)
    with reverts("ReentrancyGuardReentrantCall"):
        d.token.execute(t, outer, {"from": outsider})
    assert books(d, d.token) == before
    assert t.position(rid, d.token, m)["stake"] == 2 * STAKE

    d.token.arm(t, again, True, {"from": outsider})
    d.token.execute(t, outer, {"from": outsider})
    assert bytes(d.token.lastReentryData()) == REENTRANT_CALL
    moved = -STAKE if entry == "decreaseStake" else STAKE  # the outer call only, once
    assert t.position(rid, d.token, m)["stake"] == 2 * STAKE + moved
    assert d.token.balanceOf(d.token) == before[0][0] - moved
    assert d.token.balanceOf(t) == t.totalOwed()


def test_false_returning_token_fails_every_path(weird, alice, bob):
    """A `false` from transfer or transferFrom reverts with SafeERC20FailedOperation: no position
    changes on the word of a transfer that did not happen."""
    d, t = weird, weird.tournament
    rid, leaf, proof = finalized_round(d, alice, bob, 150_000)
    open_rid = d.open_round()
    d.enter(open_rid, alice, "m", STAKE)
    d.token.setMode(RETURN_FALSE, {"from": alice})
    before = books(d, alice)
    with reverts("SafeERC20FailedOperation", d.token):
        t.stake(open_rid, leaf.model_id, STAKE, {"from": alice})
    with reverts("SafeERC20FailedOperation", d.token):
        t.decreaseStake(open_rid, leaf.model_id, STAKE, {"from": alice})
    with reverts("SafeERC20FailedOperation", d.token):
        t.claim(rid, alice, leaf.model_id, leaf.score, proof, {"from": alice})
    assert books(d, alice) == before
    assert t.position(open_rid, alice, leaf.model_id)["stake"] == STAKE
    assert t.position(rid, alice, leaf.model_id)["stake"] == STAKE  # not settled


def test_token_without_return_value_works(weird, alice, bob):
    """USDT-style: transfer and transferFrom return no data; SafeERC20 accepts them."""
    d, t, m = weird, weird.tournament, model("m")
    rid, leaf, proof = finalized_round(d, alice, bob, 150_000)
    open_rid = d.open_round()
    d.token.setMode(NO_RETURN, {"from": alice})
    start = d.token.balanceOf(alice)
    d.enter(open_rid, alice, "m", 3 * STAKE)
    t.decreaseStake(open_rid, m, STAKE, {"from": alice})
    t.claim(rid, alice, m, leaf.score, proof, {"from": alice})
    assert t.position(open_rid, alice, m)["stake"] == 2 * STAKE
    assert d.token.balanceOf(alice) == start - 2 * STAKE + expected_payout(d, rid, leaf.score)
    assert d.token.balanceOf(t) == t.totalOwed()
