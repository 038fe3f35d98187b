"""Deploy StakeToken, Tournament and OracleCommittee, wire their roles, and write
deployments/<chainId>.json.

    brownie run scripts/deploy.py --network development      # anvil, brownie's local accounts
    brownie run scripts/deploy.py --network ganache
    brownie run scripts/deploy.py --network <live network>    # see README: keystore + env

`crowdstake deploy` does the same over plain web3, without brownie; both wire the roles with
crowdstake.chain.deploy.role_wiring.

On a live network the deployer is a keystore (CROWDSTAKE_KEYSTORE + CROWDSTAKE_KEYSTORE_PASSWORD)
or, only if explicitly given, a raw key in CROWDSTAKE_PRIVATE_KEY; role holders come from
CROWDSTAKE_OPERATOR, CROWDSTAKE_GUARDIAN, CROWDSTAKE_MEMBERS (comma-separated),
CROWDSTAKE_THRESHOLD, CROWDSTAKE_DISPUTE_WINDOW, CROWDSTAKE_TREASURY.
"""

import os

from brownie import OracleCommittee, StakeToken, Tournament, accounts, chain, network

from crowdstake.chain import deploy as package
from crowdstake.chain import save_deployment
from crowdstake.config import load as load_settings
from crowdstake.chain.deploy import INITIAL_SUPPLY, SUPPLY_CAP, TOKEN_NAME, TOKEN_SYMBOL, role_wiring


def deploy_protocol(
    deployer,
    *,
    admin,
    operator,
    guardian,
    members,
    threshold,
    dispute_window,
    treasury,
    supply_cap=SUPPLY_CAP,
    initial_supply=INITIAL_SUPPLY,
    token_name=TOKEN_NAME,
):
    """Deploy the three contracts and wire the roles. `deployer` pays; `admin` ends up holding
    every admin role (the deployer keeps none unless it is the admin)."""
    tx = {"from": deployer}
    token = StakeToken.deploy(token_name, TOKEN_SYMBOL, supply_cap, treasury, initial_supply, admin, tx)
    tournament = Tournament.deploy(token, deployer, tx)
    committee = OracleCommittee.deploy(tournament, deployer, list(members), threshold, dispute_window, tx)

    contracts = {"Tournament": tournament, "OracleCommittee": committee}
    for name, function, role, holder in role_wiring(operator=str(operator), guardian=str(guardian),
                                                    committee=committee.address, admin=str(admin),
                                                    deployer=deployer.address):
        getattr(contracts[name], function)(getattr(contracts[name], role)(), holder, tx)
    return token, tournament, committee


def deployment_record(token, tournament, committee, *, block, admin, operator, guardian, members, threshold,
                      treasury=None):
    """The deployment file's record (crowdstake.chain.deploy.deployment_record) of brownie contracts."""
    return package.deployment_record(
        chain_id=chain.id, network=network.show_active(), block=block,
        contracts={"StakeToken": token.address, "Tournament": tournament.address, "OracleCommittee": committee.address},
        admin=admin, operator=operator, guardian=guardian, members=members, threshold=threshold,
        dispute_window=committee.disputeWindow(), treasury=None if treasury is None else str(treasury),
    )


def _live_deployer():
    keystore = os.environ.get("CROWDSTAKE_KEYSTORE")
    if keystore:
        return accounts.load(keystore, password=os.environ.get("CROWDSTAKE_KEYSTORE_PASSWORD"))
    if os.environ.get("CROWDSTAKE_PRIVATE_KEY"):
        return accounts.add(os.environ["CROWDSTAKE_PRIVATE_KEY"])
    raise SystemExit(
        "no deployer account: set CROWDSTAKE_KEYSTORE (an encrypted keystore file) and "
        "CROWDSTAKE_KEYSTORE_PASSWORD, or CROWDSTAKE_PRIVATE_KEY"
    )


def main():
    local = network.show_active() in ("development", "ganache", "anvil") or chain.id in (1337, 31337)
    if local:
        deployer = admin = accounts[0]
        operator, guardian, treasury = accounts[1], accounts[2], accounts[0]
        members, threshold, window = list(accounts[3:6]), 2, 3600
    else:
        deployer = _live_deployer()
        env = os.environ
        admin = env.get("CROWDSTAKE_ADMIN", deployer.address)
        operator = env.get("CROWDSTAKE_OPERATOR", deployer.address)
        guardian = env.get("CROWDSTAKE_GUARDIAN", deployer.address)
        treasury = env.get("CROWDSTAKE_TREASURY", deployer.address)
        members = [m.strip() for m in env.get("CROWDSTAKE_MEMBERS", "").split(",") if m.strip()]
        if not members:
            raise SystemExit("set CROWDSTAKE_MEMBERS to the committee members' addresses, comma-separated")
        threshold = int(env.get("CROWDSTAKE_THRESHOLD", len(members) // 2 + 1))
        window = int(env.get("CROWDSTAKE_DISPUTE_WINDOW", 24 * 3600))

    block = chain.height
    token, tournament, committee = deploy_protocol(
        deployer,
        admin=admin,
        operator=operator,
        guardian=guardian,
        members=members,
        threshold=threshold,
        dispute_window=window,
        treasury=treasury,
    )
    record = deployment_record(
        token, tournament, committee,
        block=block, admin=admin, operator=operator, guardian=guardian, members=members, threshold=threshold,
        treasury=treasury,
    )
    path = save_deployment(chain.id, record, load_settings().node.deployments)
    print(f"crowdstake deployed on chain {chain.id}: {path}")
    for name, address in record["contracts"].items():
        print(f"  {name:16} {address}")
    return token, tournament, committee
