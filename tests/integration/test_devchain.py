"""The dev-chain helpers (crowdstake.chain.devchain.DevChain) and the token's (crowdstake.tokens.Tokens)
in-process on brownie's anvil: the node's accounts and their roles, funding a wallet with ETH and
the treasury's tokens, the clock moved by seconds or to a round's times; each refusal sends nothing.
(A node that is not a dev chain: tests/unit/test_fund_input.py decides, tests/e2e/test_fund_cli.py
runs the refusal against an anvil with another chain id.)"""

import pytest
from brownie import web3
from eth_account import Account

from crowdstake.chain import connect, send
from crowdstake.chain.deploy import Deployer, Roles
from crowdstake.chain.devchain import DevChain, NodeAccount
from crowdstake.chain.roles import role_id
from crowdstake.errors import FundError
from crowdstake.fund.operations import Fund
from crowdstake.tokens import Tokens

E18 = 10**18


@pytest.fixture
def w3():
    return connect(web3.provider.endpoint_uri)


@pytest.fixture
def dev_deployment(w3, tmp_path):
    """A deployment by `crowdstake deploy`'s rules on the node's accounts (its record names the treasury)."""
    deployer = Deployer.on(w3, None, tmp_path)
    deployer.deploy(deployer.roles())
    return DevChain.open(w3, tmp_path)


def test_accounts_with_their_balances_and_roles(dev_deployment, accounts, w3):
    rows = dev_deployment.accounts()
    assert [r.address for r in rows] == [a.address for a in accounts] and [r.index for r in rows] == list(range(10))
    assert [r.roles for r in rows[:7]] == [("admin", "treasury"), ("operator",), ("guardian",), ("member",), ("member",),
                                           ("member",), ()]
    assert rows[0].tokens == 10_000_000 and rows[1].tokens == 0
    assert rows[6].eth * E18 == w3.eth.get_balance(accounts[6].address)


def test_accounts_without_a_deployment(w3, tmp_path):
    chain = DevChain.open(w3, tmp_path)
    assert chain.contracts is None and chain.kind == "anvil"
    assert all(r.tokens is None and r.roles == () for r in chain.accounts())


def test_roles_held_on_some_contracts_only_are_named_with_them(dev_deployment, accounts, w3):
    t = dev_deployment.contracts.tournament
    send(w3, NodeAccount(w3, accounts[0].address), t.functions.grantRole(role_id("DEFAULT_ADMIN_ROLE"), accounts[7].address))
    assert dev_deployment.accounts()[7].roles == ("admin (Tournament)",)


def test_fund_a_new_wallet(dev_deployment, accounts, w3):
    wallet = Account.create().address
    done = dev_deployment.fund(wallet, eth="2.5", tokens="1000")
    assert w3.eth.get_balance(wallet) == 25 * E18 // 10 and done.eth_balance == 2.5
    assert dev_deployment.contracts.token.functions.balanceOf(wallet).call() == 1000 * E18 and done.token_balance == 1000
    assert done.tokens_from == accounts[0].address and done.eth_from in [a.address for a in accounts]
    assert w3.eth.get_transaction(done.tokens_tx)["from"] == accounts[0].address  # the treasury paid, the node signed
    only_eth = dev_deployment.fund(wallet, eth="1", tokens="0")
    assert only_eth.tokens_tx is None and w3.eth.get_balance(wallet) == 35 * E18 // 10


def test_funding_refusals_send_nothing(dev_deployment, w3, accounts):
    wallet = Account.create().address
    sent = w3.eth.get_block_number()
    for args, message in (
        (dict(eth="0", tokens="0"), "nothing to send"),
        (dict(eth="1", tokens="10000001"), f"the treasury {accounts[0].address} holds 10000000 tokens, not the 10000001"),
        (dict(eth="100000", tokens="0"), "no account of this node holds 100000 ETH to send"),
        (dict(eth="1e3", tokens="0"), "the ETH to send: amount '1e3' is not a plain number"),
    ):
        with pytest.raises(FundError, match=message):
            dev_deployment.fund(wallet, **args)
    with pytest.raises(FundError, match="the address to fund '0x12' is not an address"):
        dev_deployment.fund("0x12")
    assert w3.eth.get_block_number() == sent and w3.eth.get_balance(wallet) == 0


def test_a_treasury_the_node_does_not_hold_is_said_so(w3, tmp_path, accounts):
    treasury = Account.create()
    roles = Roles(accounts[0].address, accounts[1].address, accounts[2].address, treasury.address,
                  tuple(a.address for a in accounts[3:6]), 2, 3600)
    Deployer.on(w3, None, tmp_path).deploy(roles)
    chain = DevChain.open(w3, tmp_path)
    wallet = Account.create().address
    with pytest.raises(FundError, match=f"the treasury {treasury.address} is not an account of this node, so its tokens "
                                        f"cannot be sent from here: send them to {wallet} with `crowdstake token transfer`"):
        chain.fund(wallet)
    assert w3.eth.get_balance(wallet) == 0  # not even the ETH went
    assert chain.fund(wallet, tokens="0").eth == 10


def test_tokens_need_a_deployment(w3, tmp_path):
    chain = DevChain.open(w3, tmp_path)
    with pytest.raises(FundError, match="no crowdstake deployment on this chain, so there are no tokens to send"):
        chain.fund(Account.create().address)
    with pytest.raises(FundError, match="no crowdstake deployment on this chain, so no round times"):
        chain.advance_to("close", 1)


# ------------------------------------------------------------------ time


def test_advance_by_seconds(dev_deployment, w3):
    before = w3.eth.get_block("latest")
    done = dev_deployment.advance("1h")
    after = w3.eth.get_block("latest")
    assert after["number"] == before["number"] + 1 and done.after == after["timestamp"]
    assert 3600 <= after["timestamp"] - before["timestamp"] <= 3605 and done.before == before["timestamp"]
    assert dev_deployment.advance(90).after - done.after >= 90
    with pytest.raises(FundError, match="the time to advance '1 day' is not a duration"):
        dev_deployment.advance("1 day")


def test_advance_to_a_rounds_times(dev_deployment, w3, accounts):
    contracts = dev_deployment.contracts
    fund = Fund(contracts, NodeAccount(w3, accounts[1].address))
    tid = fund.create_tournament("1000", "1").tournament
    rid = fund.open_round(tid, "0x" + "da" * 32, close_in="1h", resolve_in="1d").round
    close, resolve, _ = contracts.round_times(rid)
    done = dev_deployment.advance_to("close", rid)
    assert done.moved and close <= done.after == w3.eth.get_block("latest")["timestamp"] <= close + 5
    assert not dev_deployment.advance_to("close", rid).moved  # already past: nothing moves
    with pytest.raises(FundError, match=f"round {rid} has no accepted result, so no dispute window is running"):
        dev_deployment.advance_to("dispute-end", rid)
    assert resolve <= dev_deployment.advance_to("resolve", rid).after <= resolve + 5
    committee = contracts.committee
    result = (b"\x01" * 32, b"\x02" * 32, 0, 0)
    for member in accounts[3:5]:
        send(w3, NodeAccount(w3, member.address), committee.functions.vote(rid, result))
    ends = contracts.round_state(rid).disputeEndsAt
    assert ends and ends <= dev_deployment.advance_to("dispute-end", rid).after <= ends + 5
    for bad, message in ((("close", 99), "round 99 not found: rounds run from 1 to"), (("later", rid), "cannot advance to")):
        with pytest.raises(FundError, match=message):
            dev_deployment.advance_to(*bad)


# ------------------------------------------------------------------ the token


def test_transfer_and_balance(dev_deployment, w3, accounts):
    contracts = dev_deployment.contracts
    treasury = Tokens(contracts, NodeAccount(w3, accounts[0].address))
    to = Account.create().address
    done = treasury.transfer(to.lower(), "12.5")
    assert (done.to, done.amount, done.recipient_balance) == (to, 12.5, 12.5)
    assert done.sender_balance == 10_000_000 - 12.5
    held = Tokens(contracts).balance(to)
    assert (held.tokens, held.eth, held.symbol) == (12.5, 0, "STAKE")
    assert treasury.balance().address == accounts[0].address


def test_transfer_refusals_send_nothing(dev_deployment, w3, accounts):
    contracts = dev_deployment.contracts
    poor = Tokens(contracts, NodeAccount(w3, accounts[6].address))  # ETH, no tokens
    sent = w3.eth.get_block_number()
    for to, amount, message in (
        (Account.create().address, "1", f"{accounts[6].address} holds 0 tokens, not the 1 to send"),
        (contracts.tournament.address, "1", "is the Tournament contract: tokens sent there are neither staked nor in the "
                                            "reward pool \\(to fund the reward pool: `crowdstake fund rewards`\\)"),
        (contracts.token.address, "1", "is the token contract"),
        (accounts[6].address, "1", "is the sending wallet itself"),
        ("0x12", "1", "the recipient '0x12' is not an address"),
        (Account.create().address, "-1", "is not a plain number of tokens"),
    ):
        with pytest.raises(FundError, match=message):
            poor.transfer(to, amount)
    assert w3.eth.get_block_number() == sent


def test_ganache_too(tmp_path):
    """The same helpers on ganache 7: its accounts sign through eth_signTransaction, its clock moves."""
    from crowdstake.chain.localchain import local_chain

    with local_chain("ganache") as url:
        w3 = connect(url)
        deployer = Deployer.on(w3, None, tmp_path)
        assert deployer.network == "ganache" and isinstance(deployer.account, NodeAccount)
        done = deployer.deploy(deployer.roles())
        chain = DevChain.open(w3, tmp_path)
        assert chain.kind == "ganache" and [r.roles for r in chain.accounts()[:3]] == [("admin", "treasury"),
                                                                                         ("operator",), ("guardian",)]
        wallet = Account.create().address
        chain.fund(wallet, eth="1", tokens="5")
        assert w3.eth.get_balance(wallet) == E18 and done.contracts.token.functions.balanceOf(wallet).call() == 5 * E18
        fund = Fund(done.contracts, NodeAccount(w3, w3.eth.accounts[1]))
        rid = fund.open_round(fund.create_tournament("1000", "1").tournament, "0x" + "da" * 32, close_in="1h",
                              resolve_in="1d").round
        moved = chain.advance_to("close", rid)
        assert moved.after >= done.contracts.round_times(rid)[0] == moved.target
        assert chain.advance("2h").after >= moved.after + 7200
