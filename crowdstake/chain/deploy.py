"""Deploy the protocol from the package's own artifacts over plain web3 (no brownie project):
what `crowdstake demo` uses. Developers deploying to a network use `scripts/deploy.py`, which
wires the same roles with brownie."""

from __future__ import annotations

from pathlib import Path

from eth_account.signers.local import LocalAccount
from web3 import Web3

from crowdstake.chain.contracts import Contracts
from crowdstake.chain.deployments import load_artifact, save_deployment
from crowdstake.chain.tx import send

TOKEN_NAME, TOKEN_SYMBOL = "Crowdstake", "STAKE"
SUPPLY_CAP = 100_000_000 * 10**18
INITIAL_SUPPLY = 10_000_000 * 10**18


def role_grants(operator: str, guardian: str, committee: str) -> tuple[tuple[str, str, str], ...]:
    """The roles to grant once the three contracts exist, as (contract, role, holder); this
    deployer and `scripts/deploy.py` both wire exactly these."""
    return (("Tournament", "OPERATOR_ROLE", operator), ("Tournament", "GUARDIAN_ROLE", guardian),
            ("Tournament", "COMMITTEE_ROLE", committee), ("OracleCommittee", "GUARDIAN_ROLE", guardian))


def deployment_record(*, chain_id: int, network: str, block: int, contracts: dict[str, str], admin: str,
                      operator: str, guardian: str, members: list[str], threshold: int, dispute_window: int) -> dict:
    """What the package needs to find and use a deployment (`deployments/<chainId>.json`)."""
    return {
        "chainId": chain_id,
        "network": network,
        "deploymentBlock": block,
        "contracts": dict(contracts),
        "roles": {"admin": str(admin), "operator": str(operator), "guardian": str(guardian),
                  "members": [str(m) for m in members], "threshold": threshold, "disputeWindow": dispute_window},
    }


def _create(w3: Web3, deployer: LocalAccount, name: str, *args) -> str:
    art = load_artifact(name)
    receipt = send(w3, deployer, w3.eth.contract(abi=art["abi"], bytecode=art["bytecode"]).constructor(*args))
    return receipt["contractAddress"]


def deploy(w3: Web3, deployer: LocalAccount, *, operator: str, guardian: str, members: list[str], threshold: int,
           dispute_window: int, treasury: str, supply_cap: int = SUPPLY_CAP,
           initial_supply: int = INITIAL_SUPPLY, directory: Path | None = None) -> Contracts:
    """Deploy token, tournament and committee with `deployer` as admin, wire the roles, and
    write the chain's deployment file; returns the loaded Contracts."""
    block = w3.eth.block_number
    token = _create(w3, deployer, "StakeToken", TOKEN_NAME, TOKEN_SYMBOL, supply_cap, treasury, initial_supply,
                    deployer.address)
    tournament = _create(w3, deployer, "Tournament", token, deployer.address)
    committee = _create(w3, deployer, "OracleCommittee", tournament, deployer.address, members, threshold, dispute_window)
    addresses = {"StakeToken": token, "Tournament": tournament, "OracleCommittee": committee}
    for name, role, holder in role_grants(operator, guardian, committee):
        contract = w3.eth.contract(address=addresses[name], abi=load_artifact(name)["abi"])
        send(w3, deployer, contract.functions.grantRole(getattr(contract.functions, role)().call(), holder))
    record = deployment_record(chain_id=w3.eth.chain_id, network="local", block=block, contracts=addresses,
                               admin=deployer.address, operator=operator, guardian=guardian, members=members,
                               threshold=threshold, dispute_window=dispute_window)
    save_deployment(w3.eth.chain_id, record, directory)
    return Contracts.load(w3, directory)
