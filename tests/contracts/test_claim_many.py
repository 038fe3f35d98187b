"""claimMany (multiproof batches) and internal balances (withdraw, stakeFromBalance): amounts
to the wei, refusals that change nothing. The keeper that sends these batches:
tests/integration/test_keeper.py."""

import random

import pytest
from brownie import MerkleProofHarness
from support.rounds import PREDICTIONS, claim_many, model, multiclaim_args, reverts

from crowdstake.results.merkle import Leaf, ResultsTree, verify_multiproof
from crowdstake.results.payout import payout_delta

E18 = 10**18
ZERO = "0x0000000000000000000000000000000000000000"

# 7 positions: alice and bob run three models each, carol one. Gains, losses, clamps, a zero.
ENTRIES = [("alice", "m0", 100), ("alice", "m1", 50), ("alice", "m2", 20), ("bob", "m0", 80),
           ("bob", "m1", 30), ("bob", "m2", 10), ("carol", "m0", 60)]
SCORES = [20_000, -30_000, 500_000, -500_000, 7, 0, 41_000]


@pytest.fixture
def people(alice, bob, carol):
    return {"alice": alice, "bob": bob, "carol": carol}


def _round(driver, people, entries=ENTRIES):
    rid = driver.open_round()
    for who, name, amount in entries:
        driver.enter(rid, people[who], name, amount * E18)
    return rid


def _finalize(driver, people, rid, entries=ENTRIES, scores=SCORES):
    return driver.finalize(rid, {(people[w], n): s for (w, n, _), s in zip(entries, scores)})


def _expected(tournament, rid, leaves):
    """Each leaf's payout and loss as the contract computes them (no reservation limit hit)."""
    r = tournament.round(rid)
    out = []
    for l in leaves:
        stake = tournament.position(rid, l.staker, l.model_id)["stake"]
        delta = payout_delta(stake, l.score, r["payoutFactor"], r["params"]["cap"])
        out.append((stake + delta, max(0, -delta)))
    return out


def _burns(tx):
    return [e for e in tx.events["Transfer"] if e["to"] == ZERO] if "Transfer" in tx.events else []


@pytest.mark.parametrize("batches", [[[0], [1, 2], [3, 4, 5], [6]], [list(range(7))], [[6, 0, 3], [5, 1, 2, 4]]])
def test_batches_pay_wallets_exact_amounts(driver, token, tournament, people, outsider, batches):
    rid = _round(driver, people)
    leaves, tree = _finalize(driver, people, rid)
    expected = _expected(tournament, rid, leaves)
    wallets = {w: token.balanceOf(w) for w in people.values()}
    supply, escrow = token.totalSupply(), token.balanceOf(tournament)
    for indices in batches:
        before = token.totalSupply()
        tx = claim_many(tournament, tree, leaves, indices, outsider)
        loss = sum(expected[i][1] for i in indices)
        assert len(_burns(tx)) == (1 if loss else 0)  # one burn per batch
        assert token.totalSupply() == before - loss
        assert tx.events["ClaimedMany"]["count"] == len(indices)
        assert tx.events["ClaimedMany"]["paid"] == sum(expected[i][0] for i in indices)
        assert len(tx.events["Claimed"]) == len(indices)
    for w, account in people.items():
        got = sum(expected[i][0] for i, l in enumerate(leaves) if l.staker == account.address)
        assert token.balanceOf(account) - wallets[account] == got
    total_loss = sum(e[1] for e in expected)
    assert token.totalSupply() == supply - total_loss
    assert all(tournament.position(rid, l.staker, l.model_id)["stake"] == 0 for l in leaves)  # settled
    r = tournament.round(rid)
    assert r["settledPositions"] == r["stakedPositions"] == 7
    assert r["reserved"] == 0 and tournament.totalReserved() == 0  # the last batch released the rest
    assert tournament.totalStaked() == 0 and tournament.totalInternalBalances() == 0
    assert token.balanceOf(tournament) == escrow - total_loss - sum(e[0] for e in expected)
    assert token.balanceOf(tournament) == tournament.totalOwed() == tournament.rewardPool()


def test_batch_to_internal_balances(driver, token, tournament, people, alice, bob, carol, outsider):
    rid = _round(driver, people)
    leaves, tree = _finalize(driver, people, rid)
    expected = _expected(tournament, rid, leaves)
    wallets = [token.balanceOf(w) for w in (alice, bob, carol)]
    escrow, supply = token.balanceOf(tournament), token.totalSupply()
    tx = claim_many(tournament, tree, leaves, [0, 1, 2], outsider, to_balance=True)
    tx2 = claim_many(tournament, tree, leaves, [3, 4, 5, 6], outsider, to_balance=True)
    assert tx.events["ClaimedMany"]["credited"] + tx2.events["ClaimedMany"]["credited"] == sum(e[0] for e in expected)
    assert tx.events["ClaimedMany"]["paid"] == 0
    assert [token.balanceOf(w) for w in (alice, bob, carol)] == wallets  # no transfers
    total = 0
    for account in (alice, bob, carol):
        owed = sum(expected[i][0] for i, l in enumerate(leaves) if l.staker == account.address)
        assert tournament.internalBalance(account) == owed
        total += owed
    loss = sum(e[1] for e in expected)
    assert tournament.totalInternalBalances() == total
    assert token.totalSupply() == supply - loss
    assert token.balanceOf(tournament) == escrow - loss
    assert tournament.totalOwed() == total + tournament.rewardPool() == token.balanceOf(tournament)


def _state(token, tournament, rid, leaves, people):
    return (
        [tournament.position(rid, l.staker, l.model_id)["stake"] for l in leaves],
        [token.balanceOf(w) for w in people.values()],
        [tournament.internalBalance(w) for w in people.values()],
        token.totalSupply(), tournament.totalStaked(), tournament.totalReserved(), tournament.round(rid)["settledPositions"],
    )


def test_bad_multiproofs_revert_and_change_nothing(driver, token, tournament, people, outsider):
    rid = _round(driver, people)
    leaves, tree = _finalize(driver, people, rid)
    before = _state(token, tournament, rid, leaves, people)
    batch, proof, flags, _ = multiclaim_args(tree, leaves, [0, 2, 4])
    n, lp, lf = 3, len(proof), len(flags)
    assert lp > 0 and True in flags and False in flags
    bad_proof = [b"\x00" * 32] + proof[1:]
    with reverts("TournamentInvalidMultiproof", rid, n, lp, lf):
        tournament.claimMany(rid, batch, bad_proof, flags, False, {"from": outsider})
    flipped = [not flags[0]] + flags[1:]
    with reverts("TournamentInvalidMultiproof", rid, n, lp, lf):
        tournament.claimMany(rid, batch, proof, flipped, False, {"from": outsider})
    with reverts("TournamentInvalidMultiproof", rid, n, lp, lf - 1):  # lengths that cannot match
        tournament.claimMany(rid, batch, proof, flags[:-1], False, {"from": outsider})
    with reverts("TournamentInvalidMultiproof", rid, n, lp, lf):  # the leaves out of order
        tournament.claimMany(rid, batch[::-1], proof, flags, False, {"from": outsider})
    better = [batch[0][:2] + (batch[0][2] + 1,)] + batch[1:]  # a better score than the committee's
    with reverts("TournamentInvalidMultiproof", rid, n, lp, lf):
        tournament.claimMany(rid, better, proof, flags, True, {"from": outsider})
    with reverts("TournamentEmptyBatch", rid):
        tournament.claimMany(rid, [], [tree.root], [], False, {"from": outsider})
    assert _state(token, tournament, rid, leaves, people) == before


def test_leaf_twice_in_a_batch_reverts(driver, token, tournament, people, outsider):
    rid = _round(driver, people)
    leaves, tree = _finalize(driver, people, rid)
    before = _state(token, tournament, rid, leaves, people)
    batch, proof, flags, order = multiclaim_args(tree, leaves, [1, 3])
    doubled = [batch[0]] + batch  # the same leaf twice: its proof cannot hold
    with reverts("TournamentInvalidMultiproof", rid, 3, len(proof), len(flags) + 1):
        tournament.claimMany(rid, doubled, proof, flags + [True], False, {"from": outsider})
    assert _state(token, tournament, rid, leaves, people) == before


def test_a_front_run_claim_is_skipped_inside_a_batch(driver, token, tournament, people, alice, outsider):
    """A keeper's batch survives someone claiming one of its leaves first: that leaf is skipped
    (paid once, counted once), the rest settle; a bad leaf still sinks the whole batch."""
    rid = _round(driver, people)
    leaves, tree = _finalize(driver, people, rid)
    expected = _expected(tournament, rid, leaves)
    driver.claim(tree, leaves, 2, outsider)  # alice m2, claimed alone: the front-run
    before = _state(token, tournament, rid, leaves, people)
    balance = token.balanceOf(alice)
    # a settled leaf with a forged score is still checked by the multiproof
    batch, proof, flags, _ = multiclaim_args(tree, leaves, [1, 2, 3])
    forged = [(s, m, score + 1) if (s, m) == (leaves[2].staker, leaves[2].model_id) else (s, m, score)
              for s, m, score in batch]
    with reverts("TournamentInvalidMultiproof", rid, 3, len(proof), len(flags)):
        tournament.claimMany(rid, forged, proof, flags, False, {"from": outsider})
    assert _state(token, tournament, rid, leaves, people) == before
    tx = claim_many(tournament, tree, leaves, [1, 2, 3], outsider)
    assert tx.events["ClaimedMany"]["count"] == 2
    assert sorted((e["staker"], str(e["modelId"])) for e in tx.events["Claimed"]) == sorted(
        (leaves[i].staker, "0x" + leaves[i].model_id.hex()) for i in (1, 3))
    assert tournament.round(rid)["settledPositions"] == 3
    assert tx.events["ClaimedMany"]["paid"] == expected[1][0] + expected[3][0]
    assert token.balanceOf(alice) == balance + expected[1][0]  # alice m1; m2 is not paid twice
    tx = claim_many(tournament, tree, leaves, [2], outsider, to_balance=True)  # only settled leaves: a no-op
    assert tx.events["ClaimedMany"]["count"] == 0 and "Claimed" not in tx.events
    assert tournament.internalBalance(alice) == 0
    with reverts("TournamentAlreadySettled", rid, leaves[1].staker, leaves[1].model_id):
        driver.claim(tree, leaves, 1, alice)


def test_claim_many_before_finalize_reverts(driver, tournament, people, outsider):
    rid = _round(driver, people)
    leaves, tree, result = driver.results(rid, {(people[w], n): s for (w, n, _), s in zip(ENTRIES, SCORES)})
    driver.accept(rid, result)
    with reverts("TournamentNotFinalized", rid):
        claim_many(tournament, tree, leaves, [0, 1], outsider)
    with reverts("TournamentRoundUnknown", 99):
        tournament.claimMany(99, [], [], [], False, {"from": outsider})


def test_third_party_settles_everyone_and_gets_nothing(driver, token, tournament, people, outsider):
    rid = _round(driver, people)
    leaves, tree = _finalize(driver, people, rid)
    mine = token.balanceOf(outsider)
    tx = claim_many(tournament, tree, leaves, range(7), outsider, to_balance=True)
    assert tx.events["ClaimedMany"]["caller"] == outsider
    assert token.balanceOf(outsider) == mine and tournament.internalBalance(outsider) == 0


def test_python_multiproofs_match_openzeppelin(admin):
    """Random trees and random subsets: OpenZeppelin's multiProofVerify accepts exactly what
    crowdstake.results.merkle builds, and a corrupted multiproof fails on both sides."""
    harness = MerkleProofHarness.deploy({"from": admin})
    rng = random.Random(7)
    for n in (1, 2, 3, 7, 16, 33, 200):
        leaves = [Leaf(3, "0x" + rng.randbytes(20).hex(), rng.randbytes(32), rng.randint(-10**6, 10**6)) for _ in range(n)]
        tree = ResultsTree(leaves)
        for k in sorted({1, min(2, n), n // 2 or 1, n, rng.randint(1, n)}):
            indices = rng.sample(range(n), k)
            order, proof, flags = tree.multiproof(indices)
            hashes = [leaves[i].hash() for i in order]
            assert verify_multiproof(hashes, proof, flags, tree.root)
            assert harness.multiProofVerify(proof, flags, tree.root, hashes)
            if proof:
                bad = proof[:-1] + [bytes(32)]
                assert not verify_multiproof(hashes, bad, flags, tree.root)
                assert not harness.multiProofVerify(bad, flags, tree.root, hashes)


def test_random_subsets_verify_in_claim_many(driver, tournament, people, outsider):
    rid = _round(driver, people)
    leaves, tree = _finalize(driver, people, rid)
    rng = random.Random(11)
    for _ in range(12):
        indices = rng.sample(range(7), rng.randint(1, 7))
        batch, proof, flags, _ = multiclaim_args(tree, leaves, indices)
        tournament.claimMany.call(rid, batch, proof, flags, bool(rng.getrandbits(1)), {"from": outsider})


# ------------------------------------------------------------------ internal balances

def _credited(driver, tournament, people, outsider):
    """A finalised round settled to internal balances; returns (round id, {account: balance})."""
    rid = _round(driver, people)
    leaves, tree = _finalize(driver, people, rid)
    claim_many(tournament, tree, leaves, range(7), outsider, to_balance=True)
    return rid, {a: tournament.internalBalance(a) for a in people.values()}


def test_withdraw_part_then_all(driver, token, tournament, people, alice, outsider):
    _, balances = _credited(driver, tournament, people, outsider)
    owed, wallet, escrow = balances[alice], token.balanceOf(alice), token.balanceOf(tournament)
    tx = tournament.withdraw(E18, {"from": alice})
    assert tx.events["Withdrawn"]["amount"] == E18 and tx.events["Withdrawn"]["balance"] == owed - E18
    tournament.withdraw(owed - E18, {"from": alice})
    assert token.balanceOf(alice) == wallet + owed
    assert tournament.internalBalance(alice) == 0
    assert token.balanceOf(tournament) == escrow - owed == tournament.totalOwed()


def test_over_withdraw_and_zero_revert(driver, tournament, people, alice, outsider):
    _, balances = _credited(driver, tournament, people, outsider)
    with reverts("TournamentInsufficientBalance", alice, balances[alice], balances[alice] + 1):
        tournament.withdraw(balances[alice] + 1, {"from": alice})
    with reverts("TournamentInsufficientBalance", outsider, 0, 1):
        tournament.withdraw(1, {"from": outsider})
    with reverts("TournamentZeroAmount"):
        tournament.withdraw(0, {"from": alice})
    assert tournament.internalBalance(alice) == balances[alice]


def test_withdraw_works_while_paused(driver, token, tournament, people, guardian, bob, outsider):
    _, balances = _credited(driver, tournament, people, outsider)
    tournament.pause({"from": guardian})
    wallet = token.balanceOf(bob)
    tournament.withdraw(balances[bob], {"from": bob})
    assert token.balanceOf(bob) == wallet + balances[bob]


def test_claim_many_works_while_paused(driver, token, tournament, people, guardian, outsider):
    rid = _round(driver, people)
    leaves, tree = _finalize(driver, people, rid)
    tournament.pause({"from": guardian})
    claim_many(tournament, tree, leaves, [0, 1], outsider)
    claim_many(tournament, tree, leaves, [2, 3], outsider, to_balance=True)


def test_stake_from_balance_moves_no_tokens(driver, token, tournament, people, alice, outsider):
    _, balances = _credited(driver, tournament, people, outsider)
    into = driver.open_round()
    tournament.submit(into, model("next"), PREDICTIONS, {"from": alice})
    escrow, wallet, staked = token.balanceOf(tournament), token.balanceOf(alice), tournament.totalStaked()
    amount = balances[alice] // 3
    tx = tournament.stakeFromBalance(into, model("next"), amount, {"from": alice})
    assert "Transfer" not in tx.events
    assert tx.events["StakedFromBalance"]["balance"] == balances[alice] - amount
    assert tx.events["StakeIncreased"]["newStake"] == amount
    assert tournament.position(into, alice, model("next"))["stake"] == amount
    assert tournament.internalBalance(alice) == balances[alice] - amount
    assert tournament.totalStaked() == staked + amount
    assert token.balanceOf(tournament) == escrow and token.balanceOf(alice) == wallet
    assert tournament.totalOwed() == token.balanceOf(tournament)
    assert tournament.round(into)["stakedPositions"] == 1


def test_stake_from_balance_refusals(driver, tournament, people, guardian, admin, alice, outsider):
    _, balances = _credited(driver, tournament, people, outsider)
    into = driver.open_round()
    have = balances[alice]
    with reverts("TournamentNoSubmission", into, alice, model("next")):
        tournament.stakeFromBalance(into, model("next"), E18, {"from": alice})
    tournament.submit(into, model("next"), PREDICTIONS, {"from": alice})
    with reverts("TournamentInsufficientBalance", alice, have, have + 1):
        tournament.stakeFromBalance(into, model("next"), have + 1, {"from": alice})
    with reverts("TournamentStakeBelowMinimum", E18 // 2, E18):
        tournament.stakeFromBalance(into, model("next"), E18 // 2, {"from": alice})
    with reverts("TournamentZeroAmount"):
        tournament.stakeFromBalance(into, model("next"), 0, {"from": alice})
    tournament.pause({"from": guardian})
    with reverts("EnforcedPause"):
        tournament.stakeFromBalance(into, model("next"), E18, {"from": alice})
    tournament.unpause({"from": admin})
    close = tournament.round(into)["closeTime"]
    driver.until(close)
    with reverts("TournamentRoundClosed", into, close):
        tournament.stakeFromBalance(into, model("next"), E18, {"from": alice})
    assert tournament.internalBalance(alice) == have


def test_recover_cannot_take_internal_balances(driver, token, tournament, people, admin, outsider):
    _credited(driver, tournament, people, outsider)
    token.transfer(tournament, 5 * E18, {"from": admin})  # stray tokens: recoverable, nothing more
    with reverts("TournamentRecoverExceedsExcess", 5 * E18 + 1, 5 * E18):
        tournament.recoverERC20(token, admin, 5 * E18 + 1, {"from": admin})
    tournament.recoverERC20(token, admin, 5 * E18, {"from": admin})
    assert token.balanceOf(tournament) == tournament.totalOwed()
