"""The chain tiers' shared fixtures: brownie's accounts by role, and each module's own deployment
of the protocol (scripts/deploy.py). Each chain tier's conftest (contracts, integration, e2e) imports them."""

import pytest
from brownie import chain, web3

from crowdstake.chain import Contracts, connect, save_deployment
from scripts.deploy import deploy_protocol, deployment_record
from support.rounds import DISPUTE_WINDOW, PARAMS, Driver

FUNDED = 100_000 * 10**18
POOL = 50_000 * 10**18


@pytest.fixture(scope="module")
def admin(accounts):
    return accounts[0]


@pytest.fixture(scope="module")
def operator(accounts):
    return accounts[1]


@pytest.fixture(scope="module")
def guardian(accounts):
    return accounts[2]


@pytest.fixture(scope="module")
def members(accounts):
    return list(accounts[3:6])


@pytest.fixture(scope="module")
def alice(accounts):
    return accounts[6]


@pytest.fixture(scope="module")
def bob(accounts):
    return accounts[7]


@pytest.fixture(scope="module")
def carol(accounts):
    return accounts[8]


@pytest.fixture(scope="module")
def outsider(accounts):
    return accounts[9]


@pytest.fixture(scope="module")
def protocol(admin, operator, guardian, members, alice, bob, carol):
    """Token, tournament and a 2-of-3 committee; participants funded, reward pool funded."""
    token, tournament, committee = deploy_protocol(
        admin,
        admin=admin,
        operator=operator,
        guardian=guardian,
        members=members,
        threshold=2,
        dispute_window=DISPUTE_WINDOW,
        treasury=admin,
    )
    for who in (alice, bob, carol):
        token.transfer(who, FUNDED, {"from": admin})
    token.approve(tournament, POOL, {"from": admin})
    tournament.fundRewards(POOL, {"from": admin})
    return token, tournament, committee


@pytest.fixture(scope="module")
def token(protocol):
    return protocol[0]


@pytest.fixture(scope="module")
def tournament(protocol):
    return protocol[1]


@pytest.fixture(scope="module")
def committee(protocol):
    return protocol[2]


@pytest.fixture(scope="module")
def driver(token, tournament, committee, operator, members):
    tid = tournament.createTournament(PARAMS, {"from": operator}).return_value
    return Driver(token, tournament, committee, operator, members, tid)


@pytest.fixture
def runtime(protocol, tmp_path, admin, operator, guardian, members):
    """The package's own view of the module's deployment (web3 + shipped ABIs, no brownie)."""
    token, tournament, committee = protocol
    record = deployment_record(token, tournament, committee, block=0, admin=admin, operator=operator,
                               guardian=guardian, members=members, threshold=2)
    save_deployment(chain.id, record, tmp_path)
    return Contracts.load(connect(web3.provider.endpoint_uri), tmp_path)
