"""`crowdstake deploy`'s Deployer in-process on brownie's anvil: the node's unlocked accounts in
scripts/deploy.py's roles, a wallet deployer handing the admin role over exactly as the brownie
script does (the same role_wiring), and every refusal made before the first transaction."""

import json

import pytest
from brownie import Contract, OracleCommittee, StakeToken, Tournament, web3
from eth_account import Account

from crowdstake.chain import Contracts, connect, load_deployment
from crowdstake.chain.deploy import DEV_DISPUTE_WINDOW, INITIAL_SUPPLY, Deployer, Roles
from crowdstake.chain.devchain import NodeAccount
from crowdstake.chain.roles import role_id
from crowdstake.errors import ConfigError, FundError
from scripts.deploy import deploy_protocol

E18 = 10**18
ROLES = ("DEFAULT_ADMIN_ROLE", "OPERATOR_ROLE", "GUARDIAN_ROLE", "COMMITTEE_ROLE")


@pytest.fixture
def w3():
    return connect(web3.provider.endpoint_uri)


def matrix(w3, token, tournament, committee, people):
    """Who holds which role on which contract: {(contract, role, person): bool}."""
    held = {}
    for name, address in (("StakeToken", token), ("Tournament", tournament), ("OracleCommittee", committee)):
        contract = w3.eth.contract(address=address, abi=[{
            "type": "function", "name": "hasRole", "stateMutability": "view", "outputs": [{"type": "bool", "name": ""}],
            "inputs": [{"type": "bytes32", "name": "role"}, {"type": "address", "name": "account"}]}])
        for role in ROLES:
            for who, address_ in people.items():
                held[(name, role, who)] = contract.functions.hasRole(role_id(role), address_).call()
    return held


def test_a_dev_chain_deploys_with_the_nodes_accounts(w3, tmp_path, accounts):
    deployer = Deployer.on(w3, None, tmp_path)
    assert isinstance(deployer.account, NodeAccount) and deployer.account.address == accounts[0].address
    assert deployer.network == "anvil" and deployer.label(accounts[4].address) == "(node account 4)"
    roles = deployer.roles()
    done = deployer.deploy(roles)
    record = load_deployment(w3.eth.chain_id, tmp_path)
    assert record == done.record and done.path == tmp_path / f"{w3.eth.chain_id}.json" and not done.replaced
    assert record["roles"] == {"admin": accounts[0].address, "treasury": accounts[0].address,
                               "operator": accounts[1].address, "guardian": accounts[2].address,
                               "members": [a.address for a in accounts[3:6]], "threshold": 2,
                               "disputeWindow": DEV_DISPUTE_WINDOW}
    token, tournament = StakeToken.at(record["contracts"]["StakeToken"]), Tournament.at(record["contracts"]["Tournament"])
    committee = OracleCommittee.at(record["contracts"]["OracleCommittee"])
    assert tournament.hasRole(tournament.OPERATOR_ROLE(), accounts[1]) and tournament.hasRole(tournament.GUARDIAN_ROLE(), accounts[2])
    assert tournament.hasRole(tournament.COMMITTEE_ROLE(), committee) and committee.hasRole(committee.GUARDIAN_ROLE(), accounts[2])
    assert [committee.isMember(a) for a in accounts[3:7]] == [True, True, True, False]
    assert committee.threshold() == 2 and committee.disputeWindow() == DEV_DISPUTE_WINDOW
    assert token.balanceOf(accounts[0]) == INITIAL_SUPPLY and token.hasRole(token.DEFAULT_ADMIN_ROLE(), accounts[0])
    assert done.transactions == 7 and done.gas == sum(
        web3.eth.get_transaction_receipt(tx)["gasUsed"] for tx in _deployment_txs(w3, record, accounts[0].address))
    assert done.contracts.tournament.address == tournament.address


def _deployment_txs(w3, record, sender):
    start = record["deploymentBlock"] + 1
    return [tx["hash"] for n in range(start, w3.eth.block_number + 1)
            for tx in w3.eth.get_block(n, full_transactions=True)["transactions"] if tx["from"] == sender]


def test_the_package_and_the_brownie_script_wire_the_same_roles(w3, tmp_path, accounts):
    """A wallet deploys, another address is the admin: both ways hand the admin role over and keep
    none of it, and every role ends up with the same holders."""
    wallet = Account.create()
    accounts[0].transfer(wallet.address, 10 * E18)
    admin, operator, guardian, treasury = (a.address for a in accounts[6:10])
    members = tuple(a.address for a in accounts[3:6])
    done = Deployer(w3, wallet, tmp_path).deploy(Roles(admin, operator, guardian, treasury, members, 2, 600))
    ours = done.record["contracts"]

    theirs = deploy_protocol(accounts[0], admin=admin, operator=operator, guardian=guardian, members=members,
                             threshold=2, dispute_window=600, treasury=treasury)
    people = {"admin": admin, "operator": operator, "guardian": guardian, "treasury": treasury}
    ours_held = matrix(w3, ours["StakeToken"], ours["Tournament"], ours["OracleCommittee"],
                       {**people, "deployer": wallet.address, "committee": ours["OracleCommittee"]})
    theirs_held = matrix(w3, *(c.address for c in theirs),
                         {**people, "deployer": accounts[0].address, "committee": theirs[2].address})
    assert ours_held == theirs_held
    assert not any(held for (_, _, who), held in ours_held.items() if who == "deployer")  # the deployer kept nothing
    assert all(ours_held[(name, "DEFAULT_ADMIN_ROLE", "admin")] for name in ("StakeToken", "Tournament", "OracleCommittee"))
    assert ours_held[("Tournament", "COMMITTEE_ROLE", "committee")]
    assert Contract.from_abi("T", ours["StakeToken"], StakeToken.abi).balanceOf(treasury) == INITIAL_SUPPLY


def test_a_live_deployment_on_record_is_never_replaced(w3, tmp_path, accounts):
    deployer = Deployer.on(w3, None, tmp_path)
    deployer.deploy(deployer.roles())
    before = (tmp_path / f"{w3.eth.chain_id}.json").read_text()
    nonce = w3.eth.get_transaction_count(accounts[0].address)
    with pytest.raises(FundError, match="records a deployment that is live on chain 31337 .*write the new one to "
                                        "another deployments directory") as refused:
        deployer.deploy(deployer.roles())
    assert refused.value.setting == "deployments"  # the CLI adds --deployments
    assert w3.eth.get_transaction_count(accounts[0].address) == nonce
    assert (tmp_path / f"{w3.eth.chain_id}.json").read_text() == before


def test_a_record_of_contracts_gone_from_the_chain_is_replaced(w3, tmp_path):
    """A dev chain restarted: its old record names addresses with no code."""
    gone = {"contracts": {"Tournament": Account.create().address}}
    (tmp_path / f"{w3.eth.chain_id}.json").write_text(json.dumps(gone))
    deployer = Deployer.on(w3, None, tmp_path)
    done = deployer.deploy(deployer.roles())
    assert done.replaced and load_deployment(w3.eth.chain_id, tmp_path)["contracts"] == done.record["contracts"]


def test_a_record_of_contracts_gone_from_the_chain_is_one_line_for_every_other_command(w3, tmp_path):
    record = {"contracts": {name: Account.create().address for name in ("StakeToken", "Tournament", "OracleCommittee")}}
    (tmp_path / f"{w3.eth.chain_id}.json").write_text(json.dumps(record))
    with pytest.raises(ConfigError, match=f"names a Tournament at {record['contracts']['Tournament']}, but the chain "
                                          "holds no contract there"):
        Contracts.load(w3, tmp_path)


def test_refusals_come_before_the_first_transaction(w3, tmp_path, accounts):
    broke = Account.create()
    with pytest.raises(FundError, match=f"{broke.address} holds 0 ETH"):
        Deployer(w3, broke, tmp_path).deploy(Deployer.on(w3, broke, tmp_path).roles())
    almost = Account.create()  # some ETH, not enough for the whole deployment
    accounts[0].transfer(almost.address, 10**16)
    with pytest.raises(FundError, match=f"the deployer {almost.address} holds 0.01 ETH, and the deployment may cost"):
        Deployer(w3, almost, tmp_path).deploy(Deployer.on(w3, almost, tmp_path).roles())
    assert w3.eth.get_transaction_count(almost.address) == 0
    (tmp_path / f"{w3.eth.chain_id}.json").write_text("{not json")
    with pytest.raises(FundError, match="exists and is not a deployment record"):
        Deployer.on(w3, None, tmp_path).deploy(Deployer.on(w3, None, tmp_path).roles())
    assert not list(tmp_path.glob(".tmp-*")) and (tmp_path / f"{w3.eth.chain_id}.json").read_text() == "{not json"
