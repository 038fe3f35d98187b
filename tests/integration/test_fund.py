"""The fund's operations (crowdstake.fund.operations.Fund) in-process against the module's
deployment on brownie's anvil, signing as the operator, guardian and admin (the node's unlocked
accounts, through NodeAccount) or as a fresh wallet: what each does on-chain, and each refusal
(a missing role named with its holder, bounds, times, the pause, balances) sending nothing."""

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount

from crowdstake._units import TOKEN
from crowdstake.chain.devchain import DevChain, NodeAccount
from crowdstake.chain.roles import role_id
from crowdstake.errors import FundError, MissingRole
from crowdstake.fund import operations
from crowdstake.fund import params as fund_params
from crowdstake.fund.operations import Fund
from crowdstake.fund.params import Params

E18 = 10**18
HASH = "0x" + "da" * 32


@pytest.fixture
def as_(runtime):
    """Fund for an account of the node (brownie's) or a wallet."""

    def make(who):
        account = who if isinstance(who, LocalAccount) else NodeAccount(runtime.w3, who.address)
        return Fund(runtime, account)

    return make


@pytest.fixture
def wallet(runtime, admin, token):
    """A fresh wallet with 1 ETH and 1,000 tokens: it holds no role."""
    account = Account.create()
    admin.transfer(account.address, E18)
    token.transfer(account.address, 1_000 * E18, {"from": admin})
    return account


def nonce(runtime, who) -> int:
    return runtime.w3.eth.get_transaction_count(getattr(who, "address", who))


def test_the_python_bounds_are_the_contracts(tournament, committee):
    assert (fund_params.MIN_RESULTS_WINDOW, fund_params.MAX_RESULTS_WINDOW) == \
        (tournament.MIN_RESULTS_WINDOW(), tournament.MAX_RESULTS_WINDOW())
    assert operations.MAX_RESOLVE_DELAY == tournament.MAX_RESOLVE_DELAY()
    from crowdstake.chain import deploy

    assert (deploy.MIN_DISPUTE_WINDOW, deploy.MAX_DISPUTE_WINDOW) == (committee.MIN_DISPUTE_WINDOW(),
                                                                       committee.MAX_DISPUTE_WINDOW())


# ------------------------------------------------------------------ tournaments


def test_create_a_tournament(as_, operator, tournament):
    done = as_(operator).create_tournament("2000", "1.5", cap="2.5%", corr_weight="1", mmc_weight="0.25",
                                           results_window="30d")
    assert done.tournament == tournament.tournamentCount()
    assert tuple(tournament.tournament(done.tournament)) == (2000 * E18, 15 * E18 // 10, 25 * 10**15, 30 * 86400,
                                                             10000, 2500, 0, 0)
    assert done.params == Params(2000 * E18, 15 * E18 // 10, 25 * 10**15, 30 * 86400, 10000, 2500)


def test_a_wallet_without_the_role_is_told_who_holds_it(as_, wallet, operator, runtime, tournament):
    count = tournament.tournamentCount()
    with pytest.raises(MissingRole) as refused:
        as_(wallet).create_tournament("2000", "1")
    assert str(refused.value) == (f"creating a tournament needs OPERATOR_ROLE on the Tournament, and {wallet.address} "
                                  f"does not hold it; it is held by {operator.address}: sign with that key (or have "
                                  "the admin grant the role); nothing was sent")
    assert tournament.tournamentCount() == count and nonce(runtime, wallet) == 0


def test_the_holder_named_is_the_one_holding_the_role_now(as_, wallet, admin, operator, outsider, tournament):
    """Not the deployment record's operator: the role's grants and revocations, replayed."""
    tournament.grantRole(role_id("OPERATOR_ROLE"), outsider, {"from": admin})
    tournament.revokeRole(role_id("OPERATOR_ROLE"), operator, {"from": admin})
    with pytest.raises(MissingRole, match=f"it is held by {outsider.address}: sign"):
        as_(wallet).create_tournament("2000", "1")
    tournament.revokeRole(role_id("OPERATOR_ROLE"), outsider, {"from": admin})
    with pytest.raises(MissingRole, match="nobody holds it now"):
        as_(wallet).create_tournament("2000", "1")


def test_a_results_window_within_the_dispute_window_is_refused(as_, operator, runtime, committee):
    assert committee.disputeWindow() == 3600
    before = nonce(runtime, operator)
    with pytest.raises(FundError, match="results window 1h is not longer than the committee's dispute window 1h"):
        as_(operator).create_tournament("2000", "1", results_window="1h")
    assert as_(operator).create_tournament("2000", "1", results_window="1h1s").params.results_window == 3601
    assert nonce(runtime, operator) == before + 1


def test_set_params_changes_later_rounds_only(as_, operator, tournament):
    fund = as_(operator)
    tid = fund.create_tournament("2000", "1").tournament
    opened = fund.open_round(tid, HASH, close_in="1h", resolve_in="2h")
    done = fund.set_params(tid, cap="10%", min_stake="3")
    assert (done.before.cap, done.after.cap, done.after.min_stake) == (5 * 10**16, 10**17, 3 * E18)
    assert tournament.tournament(tid)["cap"] == 10**17 and tournament.tournament(tid)["threshold"] == 2000 * E18
    assert tournament.round(opened.round)["params"]["cap"] == 5 * 10**16  # the open round keeps its copy
    with pytest.raises(FundError, match=f"tournament {tid} has these parameters already"):
        fund.set_params(tid, cap="10%")
    with pytest.raises(FundError, match="tournament 99 not found: tournaments run from 1 to"):
        fund.set_params(99, cap="10%")


# ------------------------------------------------------------------ rounds


@pytest.fixture
def tid(as_, operator):
    return as_(operator).create_tournament("2000", "1").tournament


def test_open_a_round_by_the_chains_clock(as_, operator, tournament, tid, runtime):
    fund = as_(operator)
    done = fund.open_round(tid, HASH, close_in="1h", resolve_in="20d")
    r = tournament.round(done.round)
    assert done.round == tournament.roundCount() and r["tournamentId"] == tid and r["datasetHash"] == HASH
    assert (r["closeTime"], r["resolveTime"]) == (done.close_time, done.resolve_time)
    assert done.close_time == done.now + 3600 and done.resolve_time == done.now + 20 * 86400
    assert done.now <= runtime.w3.eth.get_block("latest")["timestamp"] < done.close_time
    assert done.results_deadline == done.resolve_time + 7 * 86400
    from crowdstake._human import utc

    at = fund.open_round(tid, bytes.fromhex("ee" * 32), close_at=str(done.close_time + 5),  # a hash as bytes
                         resolve_at=utc(done.close_time + 86400).removesuffix(" UTC"))
    assert (at.close_time, at.resolve_time) == (done.close_time + 5, done.close_time + 86400)
    assert tournament.round(at.round)["datasetHash"] == "0x" + "ee" * 32


@pytest.mark.parametrize("times, message", [
    (dict(close_at="2020-01-01T00:00Z", resolve_in="20d"),
     r"close time 2020-01-01 00:00:00 UTC \(\d+ days ago\) is not in the future by the chain's clock"),
    (dict(close_in="2h", resolve_in="1h"), "resolve time .* is before the close time"),
    (dict(close_in="1h", resolve_in="180d1h1s"), "resolve time .* is 180d1s after the close: the contract allows at most 180d"),
    (dict(close_in="1h", resolve_in="1h", resolve_at="2100-01-01"), "give the resolve time once"),
    (dict(close_in="1h"), "give the resolve time once"),
    (dict(close_in="1 hour", resolve_in="2h"), "close in '1 hour' is not a duration"),
])
def test_bad_round_times_send_nothing(as_, operator, runtime, tid, times, message):
    before = nonce(runtime, operator)
    with pytest.raises(FundError, match=message):
        as_(operator).open_round(tid, HASH, **times)
    assert nonce(runtime, operator) == before


def test_the_resolve_delay_at_its_bound(as_, operator, tid):
    done = as_(operator).open_round(tid, HASH, close_in="1h", resolve_in="180d1h")
    assert done.resolve_time - done.close_time == 180 * 86400


def test_other_round_refusals(as_, operator, guardian, wallet, runtime, tid):
    fund = as_(operator)
    before = nonce(runtime, operator)
    with pytest.raises(FundError, match="tournament 99 not found"):
        fund.open_round(99, HASH, close_in="1h", resolve_in="2h")
    with pytest.raises(FundError, match="dataset hash is all zeros"):
        fund.open_round(tid, "0x" + "00" * 32, close_in="1h", resolve_in="2h")
    with pytest.raises(MissingRole, match=f"opening a round needs OPERATOR_ROLE .* held by {operator.address}"):
        as_(wallet).open_round(tid, HASH, close_in="1h", resolve_in="2h")
    as_(guardian).pause()
    with pytest.raises(FundError, match="the Tournament is paused, and no round opens until the admin unpauses it"):
        fund.open_round(tid, HASH, close_in="1h", resolve_in="2h")
    assert nonce(runtime, operator) == before and nonce(runtime, wallet) == 0


# ------------------------------------------------------------------ the reward pool


def test_fund_the_reward_pool(as_, wallet, runtime, tournament, token):
    pool = tournament.rewardPool()
    done = as_(wallet).fund_rewards("250")
    assert done.approve_tx is not None and done.amount == 250 and done.pool * TOKEN == pool + 250 * E18
    assert tournament.rewardPool() == pool + 250 * E18 and token.balanceOf(wallet.address) == 750 * E18
    runtime.w3.eth.wait_for_transaction_receipt(done.tx)
    assert nonce(runtime, wallet) == 2  # approve, fundRewards


def test_an_allowance_that_covers_the_amount_needs_no_approve(as_, wallet, runtime, tournament):
    from crowdstake.chain import send

    send(runtime.w3, wallet, runtime.token.functions.approve(tournament.address, 500 * E18))
    done = as_(wallet).fund_rewards("100.5")
    assert done.approve_tx is None and nonce(runtime, wallet) == 2
    assert runtime.token.functions.allowance(wallet.address, tournament.address).call() == 3995 * E18 // 10


def test_funding_more_than_the_wallet_holds_sends_nothing(as_, wallet, runtime):
    with pytest.raises(FundError, match=f"{wallet.address} holds 1000 tokens, not the 1000.5 to fund"):
        as_(wallet).fund_rewards("1000.5")
    with pytest.raises(FundError, match="amount '0' must be positive"):
        as_(wallet).fund_rewards("0")
    assert nonce(runtime, wallet) == 0


def test_no_eth_for_the_approve_and_the_funding_sends_nothing(as_, runtime, admin, token):
    poor = Account.create()
    token.transfer(poor.address, 10 * E18, {"from": admin})
    with pytest.raises(FundError, match="holds 0 ETH"):
        as_(poor).fund_rewards("5")
    assert nonce(runtime, poor) == 0


# ------------------------------------------------------------------ the pause


def test_the_guardian_pauses_and_only_the_admin_unpauses(as_, guardian, admin, operator, tournament):
    assert as_(guardian).pause().paused and tournament.paused()
    with pytest.raises(FundError, match="the Tournament is paused already"):
        as_(guardian).pause()
    with pytest.raises(MissingRole, match=f"unpausing the Tournament needs DEFAULT_ADMIN_ROLE on the Tournament, and "
                                          f"{guardian.address} does not hold it; it is held by {admin.address}"):
        as_(guardian).unpause()
    assert not as_(admin).unpause().paused and not tournament.paused()
    with pytest.raises(FundError, match="the Tournament is not paused"):
        as_(admin).unpause()
    with pytest.raises(MissingRole, match=f"pausing the Tournament needs GUARDIAN_ROLE .* held by {guardian.address}"):
        as_(operator).pause()


# ------------------------------------------------------------------ the targets hash


def test_publish_a_rounds_targets_hash_once_from_its_resolve_time(as_, operator, wallet, runtime, tid, tournament):
    fund = as_(operator)
    rid = fund.open_round(tid, HASH, close_in="1h", resolve_in="2h").round
    targets = "0x" + "7a" * 32
    before = nonce(runtime, operator)
    with pytest.raises(FundError, match=rf"round {rid} resolves at .* \(in (1 h|2 h)\): its targets can be "
                                        "published from then on"):
        fund.publish_targets_hash(rid, targets)
    with pytest.raises(MissingRole, match=f"publishing a round's targets needs OPERATOR_ROLE .* {operator.address}"):
        as_(wallet).publish_targets_hash(rid, targets)
    assert nonce(runtime, operator) == before
    DevChain(runtime.w3, runtime).advance_to("resolve", rid)
    done = fund.publish_targets_hash(rid, targets)
    assert (done.round, done.targets_hash) == (rid, targets) and tournament.round(rid)["targetsHash"] == targets
    with pytest.raises(FundError, match=f"round {rid}'s targets are published already \\({targets}, not 0x7b"):
        fund.publish_targets_hash(rid, "0x" + "7b" * 32)
    with pytest.raises(FundError, match="round 99 not found"):
        fund.publish_targets_hash(99, targets)
    assert nonce(runtime, operator) == before + 1
