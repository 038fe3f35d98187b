"""Deploy the protocol from the package's own artifacts over plain web3 (no brownie project):
what `crowdstake demo` uses. Developers deploying to a network use `scripts/deploy.py`, which
wires the same roles with brownie."""

from __future__ import annotations

from pathlib import Path

from eth_account.signers.local import LocalAccount
from web3 import Web3

from crowdstake.chain import Protocol, load_artifact, save_deployment, send

TOKEN_NAME, TOKEN_SYMBOL = "Crowdstake", "STAKE"


def _create(w3: Web3, deployer: LocalAccount, name: str, *args) -> str:
    art = load_artifact(name)
    receipt = send(w3, deployer, w3.eth.contract(abi=art["abi"], bytecode=art["bytecode"]).constructor(*args))
    return receipt["contractAddress"]


def deploy(w3: Web3, deployer: LocalAccount, *, operator: str, guardian: str, members: list[str], threshold: int,
           dispute_window: int, treasury: str, supply_cap: int = 100_000_000 * 10**18,
           initial_supply: int = 10_000_000 * 10**18, directory: Path | None = None) -> Protocol:
    """Deploy token, tournament and committee with `deployer` as admin, wire the roles, and
    write the chain's deployment file; returns the loaded Protocol."""
    block = w3.eth.block_number
    token = _create(w3, deployer, "StakeToken", TOKEN_NAME, TOKEN_SYMBOL, supply_cap, treasury, initial_supply,
                    deployer.address)
    tournament = _create(w3, deployer, "Tournament", token, deployer.address)
    committee = _create(w3, deployer, "OracleCommittee", tournament, deployer.address, members, threshold, dispute_window)
    t = w3.eth.contract(address=tournament, abi=load_artifact("Tournament")["abi"])
    c = w3.eth.contract(address=committee, abi=load_artifact("OracleCommittee")["abi"])
    for contract, role, holder in ((t, "OPERATOR_ROLE", operator), (t, "GUARDIAN_ROLE", guardian),
                                   (t, "COMMITTEE_ROLE", committee), (c, "GUARDIAN_ROLE", guardian)):
        send(w3, deployer, contract.functions.grantRole(getattr(contract.functions, role)().call(), holder))
    record = {
        "chainId": w3.eth.chain_id,
        "network": "local",
        "deploymentBlock": block,
        "contracts": {"StakeToken": token, "Tournament": tournament, "OracleCommittee": committee},
        "roles": {"admin": deployer.address, "operator": operator, "guardian": guardian, "members": list(members),
                  "threshold": threshold, "disputeWindow": dispute_window},
    }
    save_deployment(w3.eth.chain_id, record, directory)
    return Protocol.load(w3, directory)
