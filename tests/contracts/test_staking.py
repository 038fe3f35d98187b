"""Tournaments, rounds, submissions and stakes before close."""

import secrets

import pytest
from brownie import chain
from brownie.exceptions import VirtualMachineError
from support.rounds import MIN_STAKE, PARAMS, PREDICTIONS, model, reverts

from crowdstake.chain.permit import sign_permit
from scripts.deploy import TOKEN_NAME

E18 = 10**18


def test_create_tournament_emits_and_stores_params(tournament, operator):
    tx = tournament.createTournament(PARAMS, {"from": operator})
    tid = tx.return_value
    assert tx.events["TournamentCreated"]["tournamentId"] == tid
    assert tuple(tournament.tournament(tid)) == PARAMS


def test_invalid_params_revert(tournament, operator):
    bad = (PARAMS[0], PARAMS[1], 2 * 10**18, PARAMS[3], 0, 0, 0, 0)  # cap above 100% of the stake
    with reverts("TournamentInvalidParams", 2 * 10**18, PARAMS[0], PARAMS[1], PARAMS[3]):
        tournament.createTournament(bad, {"from": operator})


@pytest.mark.parametrize("kind, min_tickers, ok", [
    (0, 0, True), (0, 1, False),  # classic: no ticker floor
    (1, 100, True), (1, 0, False), (2, 1, True), (2, 0, False),  # Signals (alpha, FNC): a floor above 0
    (3, 100, False),  # no such kind
])
def test_kind_and_ticker_floor_are_checked(tournament, operator, kind, min_tickers, ok):
    params = (*PARAMS[:6], kind, min_tickers)
    if ok:
        tid = tournament.createTournament(params, {"from": operator}).return_value
        assert tuple(tournament.tournament(tid))[6:] == (kind, min_tickers)
    else:
        with reverts("TournamentInvalidKind", kind, min_tickers):
            tournament.createTournament(params, {"from": operator})


def test_a_tournament_keeps_its_kind(driver, tournament, operator):
    signals = tournament.createTournament((*PARAMS[:6], 1, 100), {"from": operator}).return_value
    tournament.setTournamentParams(signals, (*PARAMS[:6], 1, 50), {"from": operator})  # its floor may change
    with reverts("TournamentKindFixed", signals, 1):
        tournament.setTournamentParams(signals, (*PARAMS[:6], 2, 50), {"from": operator})
    with reverts("TournamentKindFixed", driver.tournament_id, 0):
        tournament.setTournamentParams(driver.tournament_id, (*PARAMS[:6], 1, 50), {"from": operator})
    assert tuple(tournament.tournament(signals))[6:] == (1, 50)


def test_round_ids_strictly_increase_across_tournaments(driver, tournament, operator):
    other = tournament.createTournament(PARAMS, {"from": operator}).return_value
    first = driver.open_round()
    now = chain.time()
    second = tournament.openRound(other, b"\x01" * 32, now + 100, now + 200, {"from": operator}).return_value
    assert (first, second) == (1, 2)
    assert tournament.roundCount() == 2


def test_open_round_rejects_bad_times(driver, tournament, operator):
    now = chain.time()
    for close, resolve in ((now + 100, now + 50), (now - 10, now + 50)):
        with pytest.raises(VirtualMachineError) as caught:
            tournament.openRound(driver.tournament_id, b"\x01" * 32, close, resolve, {"from": operator})
        # the third argument is the block time, which the test does not control exactly
        assert caught.value.revert_msg.startswith(f"TournamentInvalidRoundTimes: {close}, {resolve}, ")
    assert tournament.roundCount() == 0


def test_open_round_unknown_tournament(tournament, operator):
    now = chain.time()
    with reverts("TournamentUnknown", 99):
        tournament.openRound(99, b"\x01" * 32, now + 100, now + 200, {"from": operator})


def test_round_snapshots_params(driver, tournament, operator):
    rid = driver.open_round()
    changed = (PARAMS[0] * 2, PARAMS[1] * 2, PARAMS[2] // 2, PARAMS[3], 0, 0, 0, 0)
    tx = tournament.setTournamentParams(driver.tournament_id, changed, {"from": operator})
    assert "TournamentParamsUpdated" in tx.events
    assert tuple(tournament.round(rid)["params"]) == PARAMS
    assert tuple(tournament.round(driver.open_round())["params"]) == changed


def test_submit_and_resubmit_replace_hash(driver, tournament, alice):
    rid = driver.open_round()
    tournament.submit(rid, model("m"), PREDICTIONS, {"from": alice})
    tx = tournament.submit(rid, model("m"), b"\x22" * 32, {"from": alice})
    assert tx.events["Submitted"]["predictionsHash"] == "0x" + "22" * 32
    assert tournament.position(rid, alice, model("m"))["predictionsHash"] == "0x" + "22" * 32


def test_submit_zero_hash_reverts(driver, tournament, alice):
    rid = driver.open_round()
    with reverts("TournamentZeroHash"):
        tournament.submit(rid, model("m"), b"\x00" * 32, {"from": alice})


def test_stake_moves_tokens_and_counts_position(driver, token, tournament, alice):
    rid = driver.open_round()
    before = token.balanceOf(alice)
    tx = driver.enter(rid, alice, "m", 5 * E18)
    assert tx.events["StakeIncreased"]["newStake"] == 5 * E18
    assert token.balanceOf(alice) == before - 5 * E18
    r = tournament.round(rid)
    assert (r["totalStake"], r["stakedPositions"]) == (5 * E18, 1)
    assert tournament.position(rid, alice, model("m"))["stake"] == 5 * E18


def test_one_wallet_many_models(driver, tournament, alice):
    rid = driver.open_round()
    driver.enter(rid, alice, "m1", 2 * E18)
    driver.enter(rid, alice, "m2", 3 * E18)
    r = tournament.round(rid)
    assert (r["totalStake"], r["stakedPositions"]) == (5 * E18, 2)


def test_increase_stake(driver, token, tournament, alice):
    rid = driver.open_round()
    driver.enter(rid, alice, "m", 2 * E18)
    token.approve(tournament, E18, {"from": alice})
    tournament.stake(rid, model("m"), E18, {"from": alice})
    assert tournament.position(rid, alice, model("m"))["stake"] == 3 * E18
    assert tournament.round(rid)["stakedPositions"] == 1


def test_top_up_below_minimum_on_a_position_above_it(driver, token, tournament, alice):
    # The minimum bounds the position, not each addition: once at 2 tokens, half a minimum more is fine.
    rid = driver.open_round()
    driver.enter(rid, alice, "m", 2 * E18)
    token.approve(tournament, MIN_STAKE // 2, {"from": alice})
    tx = tournament.stake(rid, model("m"), MIN_STAKE // 2, {"from": alice})
    assert tx.events["StakeIncreased"]["newStake"] == 2 * E18 + MIN_STAKE // 2
    assert tournament.round(rid)["totalStake"] == 2 * E18 + MIN_STAKE // 2


def test_stake_without_submission_reverts(driver, token, tournament, alice):
    rid = driver.open_round()
    token.approve(tournament, E18, {"from": alice})
    with reverts("TournamentNoSubmission", rid, alice, model("m")):
        tournament.stake(rid, model("m"), E18, {"from": alice})
    assert tournament.round(rid)["totalStake"] == 0


def test_zero_stake_reverts(driver, tournament, alice):
    rid = driver.open_round()
    tournament.submit(rid, model("m"), PREDICTIONS, {"from": alice})
    with reverts("TournamentZeroAmount"):
        tournament.stake(rid, model("m"), 0, {"from": alice})


def test_stake_below_minimum_reverts(driver, token, tournament, alice):
    rid = driver.open_round()
    tournament.submit(rid, model("m"), PREDICTIONS, {"from": alice})
    token.approve(tournament, MIN_STAKE, {"from": alice})
    with reverts("TournamentStakeBelowMinimum", MIN_STAKE - 1, MIN_STAKE):
        tournament.stake(rid, model("m"), MIN_STAKE - 1, {"from": alice})


def test_stake_after_close_reverts_and_changes_nothing(driver, token, tournament, alice):
    rid = driver.open_round()
    driver.enter(rid, alice, "m", 2 * E18)
    close = tournament.round(rid)["closeTime"]
    driver.until(close)
    token.approve(tournament, E18, {"from": alice})
    balance = token.balanceOf(alice)
    with reverts("TournamentRoundClosed", rid, close):
        tournament.stake(rid, model("m"), E18, {"from": alice})
    with reverts("TournamentRoundClosed", rid, close):
        tournament.submit(rid, model("m"), PREDICTIONS, {"from": alice})
    with reverts("TournamentRoundClosed", rid, close):
        tournament.decreaseStake(rid, model("m"), E18, {"from": alice})
    assert token.balanceOf(alice) == balance
    assert tournament.position(rid, alice, model("m"))["stake"] == 2 * E18


def test_stake_unknown_round_reverts(tournament, alice):
    with reverts("TournamentRoundUnknown", 7):
        tournament.stake(7, model("m"), 1, {"from": alice})


def test_stake_with_permit_in_one_transaction(driver, token, tournament, accounts, alice):
    staker = accounts.add(secrets.token_hex(32))
    token.transfer(staker, 10 * E18, {"from": alice})
    alice.transfer(staker, 10**18)  # gas money
    rid = driver.open_round()
    tournament.submit(rid, model("m"), PREDICTIONS, {"from": staker})
    deadline = chain.time() + 600
    v, r, s = sign_permit(
        staker.private_key, token_name=TOKEN_NAME, token_address=token.address, chain_id=chain.id,
        owner=staker.address, spender=tournament.address, value=4 * E18, nonce=0, deadline=deadline,
    )
    assert token.allowance(staker, tournament) == 0
    tournament.stakeWithPermit(rid, model("m"), 4 * E18, deadline, v, r, s, {"from": staker})
    assert tournament.position(rid, staker, model("m"))["stake"] == 4 * E18
    assert token.balanceOf(staker) == 6 * E18


def test_stake_with_permit_survives_a_front_run_permit(driver, token, tournament, accounts, alice, outsider):
    # Someone copies the signed permit from the mempool and submits it to the token first: the
    # permit's nonce is spent, so the permit inside stakeWithPermit fails; its try/catch lets
    # the stake go on with the allowance the front-runner's call set.
    staker = accounts.add(secrets.token_hex(32))
    token.transfer(staker, 10 * E18, {"from": alice})
    alice.transfer(staker, 10**18)  # gas money
    rid = driver.open_round()
    tournament.submit(rid, model("m"), PREDICTIONS, {"from": staker})
    deadline = chain.time() + 600
    v, r, s = sign_permit(
        staker.private_key, token_name=TOKEN_NAME, token_address=token.address, chain_id=chain.id,
        owner=staker.address, spender=tournament.address, value=4 * E18, nonce=0, deadline=deadline,
    )
    token.permit(staker, tournament, 4 * E18, deadline, v, r, s, {"from": outsider})  # the front-run
    assert token.allowance(staker, tournament) == 4 * E18 and token.nonces(staker) == 1
    with pytest.raises(VirtualMachineError) as caught:  # the same permit again: its nonce is spent
        token.permit(staker, tournament, 4 * E18, deadline, v, r, s, {"from": staker})
    # (the first argument is whoever the signature recovers to under nonce 1: some other address)
    assert caught.value.revert_msg.startswith("ERC2612InvalidSigner: ")
    assert caught.value.revert_msg.endswith(f", {staker.address.lower()}")
    tx = tournament.stakeWithPermit(rid, model("m"), 4 * E18, deadline, v, r, s, {"from": staker})
    assert tx.events["StakeIncreased"]["newStake"] == 4 * E18
    assert tournament.position(rid, staker, model("m"))["stake"] == 4 * E18
    assert token.balanceOf(staker) == 6 * E18
    assert token.allowance(staker, tournament) == 0  # the front-run allowance, used
    assert token.nonces(staker) == 1


def test_stake_with_bad_permit_reverts(driver, token, tournament, alice):
    rid = driver.open_round()
    tournament.submit(rid, model("m"), PREDICTIONS, {"from": alice})
    with reverts("ERC20InsufficientAllowance", tournament, 0, E18):
        tournament.stakeWithPermit(rid, model("m"), E18, chain.time() + 60, 27, b"\x01" * 32, b"\x02" * 32, {"from": alice})


def test_decrease_part_and_all(driver, token, tournament, alice):
    rid = driver.open_round()
    driver.enter(rid, alice, "m", 5 * E18)
    balance = token.balanceOf(alice)
    tx = tournament.decreaseStake(rid, model("m"), 2 * E18, {"from": alice})
    assert tx.events["StakeDecreased"]["newStake"] == 3 * E18
    tournament.decreaseStake(rid, model("m"), 3 * E18, {"from": alice})
    assert token.balanceOf(alice) == balance + 5 * E18
    r = tournament.round(rid)
    assert (r["totalStake"], r["stakedPositions"]) == (0, 0)
    assert tournament.totalStaked() == 0


def test_decrease_more_than_stake_reverts(driver, tournament, alice):
    rid = driver.open_round()
    driver.enter(rid, alice, "m", 2 * E18)
    with reverts("TournamentInsufficientStake", 2 * E18, 3 * E18):
        tournament.decreaseStake(rid, model("m"), 3 * E18, {"from": alice})


def test_decrease_leaving_dust_reverts(driver, tournament, alice):
    rid = driver.open_round()
    driver.enter(rid, alice, "m", 2 * E18)
    with reverts("TournamentStakeBelowMinimum", E18 // 2, MIN_STAKE):
        tournament.decreaseStake(rid, model("m"), 3 * E18 // 2, {"from": alice})


def test_fund_rewards_anyone(token, tournament, alice):
    pool = tournament.rewardPool()
    token.approve(tournament, 7, {"from": alice})
    tx = tournament.fundRewards(7, {"from": alice})
    assert tx.events["RewardsFunded"]["amount"] == 7
    assert tournament.rewardPool() == pool + 7
