"""Pause gates entry (open, submit, stake, restake), never exit (decrease, claim, refund)."""

from brownie import chain
from support.rounds import PREDICTIONS, RESULTS_WINDOW, model, reverts
from support.rounds import claim_many

E18 = 10**18


def test_entry_reverts_when_paused(driver, token, tournament, guardian, operator, alice):
    rid = driver.open_round()
    driver.enter(rid, alice, "m", 2 * E18)
    tournament.pause({"from": guardian})
    now = chain.time()
    token.approve(tournament, E18, {"from": alice})
    with reverts("EnforcedPause"):
        tournament.openRound(driver.tournament_id, PREDICTIONS, now + 100, now + 200, {"from": operator})
    with reverts("EnforcedPause"):
        tournament.submit(rid, model("m"), PREDICTIONS, {"from": alice})
    with reverts("EnforcedPause"):
        tournament.stake(rid, model("m"), E18, {"from": alice})
    with reverts("EnforcedPause"):
        tournament.stakeWithPermit(rid, model("m"), E18, now + 60, 27, PREDICTIONS, PREDICTIONS, {"from": alice})
    assert tournament.position(rid, alice, model("m"))["stake"] == 2 * E18


def test_exit_works_when_paused(driver, token, tournament, guardian, alice, bob, carol):
    rid = driver.open_round()
    driver.enter(rid, alice, "m", 2 * E18)
    driver.enter(rid, bob, "m", 2 * E18)
    tournament.pause({"from": guardian})
    balance = token.balanceOf(alice)
    tournament.decreaseStake(rid, model("m"), E18, {"from": alice})  # withdraw before close
    assert token.balanceOf(alice) == balance + E18
    leaves, tree = driver.finalize(rid, {(alice, "m"): 10_000, (bob, "m"): -10_000})
    driver.claim(tree, leaves, 0, alice)
    with reverts("EnforcedPause"):  # restaking is entry
        tournament.claimAndRestake(rid, model("m"), leaves[1].score, tree.proof(1), rid, {"from": bob})
    driver.claim(tree, leaves, 1, bob)
    assert tournament.totalStaked() == 0


def test_refund_works_when_paused(driver, token, tournament, guardian, alice):
    rid = driver.open_round()
    driver.enter(rid, alice, "m", 2 * E18)
    tournament.pause({"from": guardian})
    driver.until(tournament.round(rid)["resolveTime"] + RESULTS_WINDOW + 1)
    balance = token.balanceOf(alice)
    tournament.refund(rid, alice, model("m"), {"from": alice})
    assert token.balanceOf(alice) == balance + 2 * E18


def test_only_admin_unpauses(driver, tournament, guardian, admin, operator, alice):
    tournament.pause({"from": guardian})
    with reverts("AccessControlUnauthorizedAccount", guardian, tournament.DEFAULT_ADMIN_ROLE()):
        tournament.unpause({"from": guardian})
    tournament.unpause({"from": admin})
    assert driver.open_round() == 1


def test_stake_from_balance_reverts_when_paused_and_works_after_unpause(driver, token, tournament, guardian, admin,
                                                                       alice, bob):
    rid = driver.open_round()
    driver.enter(rid, alice, "m", 10 * E18)
    driver.enter(rid, bob, "m", 10 * E18)
    leaves, tree = driver.finalize(rid, {(alice, "m"): 10_000, (bob, "m"): -10_000})
    claim_many(tournament, tree, leaves, [0, 1], alice, to_balance=True)
    credited = tournament.internalBalance(alice)
    assert credited == 10_100 * E18 // 1000  # 10 + 1%
    nxt = driver.open_round()
    tournament.submit(nxt, model("m"), PREDICTIONS, {"from": alice})
    tournament.pause({"from": guardian})
    with reverts("EnforcedPause"):
        tournament.stakeFromBalance(nxt, model("m"), 2 * E18, {"from": alice})
    assert tournament.internalBalance(alice) == credited
    assert tournament.position(nxt, alice, model("m"))["stake"] == 0
    tournament.withdraw(E18, {"from": alice})  # leaving stays open while paused
    tournament.unpause({"from": admin})
    tx = tournament.stakeFromBalance(nxt, model("m"), 2 * E18, {"from": alice})
    assert tx.events["StakedFromBalance"]["balance"] == credited - 3 * E18
    assert tournament.position(nxt, alice, model("m"))["stake"] == 2 * E18
    assert tournament.internalBalance(alice) == credited - 3 * E18
