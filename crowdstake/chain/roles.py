"""Who holds which role on the three contracts. `require_role` is the check every privileged
operation makes before it sends: an account without the role gets one line naming the role, the
contract and the addresses that hold it, read from the chain (the RoleGranted and RoleRevoked
events since the deployment, replayed; OpenZeppelin's AccessControl keeps no list). `roles_of`
names the roles one address holds (`crowdstake dev accounts`). Reads only; never sends."""

from __future__ import annotations

from web3 import Web3
from web3.contract import Contract

from crowdstake.chain.contracts import Contracts
from crowdstake.errors import MissingRole

DEFAULT_ADMIN_ROLE = bytes(32)

# (label, contract, role): what `roles_of` checks, in the order it names them
_LABELLED = (
    ("admin", "Tournament", "DEFAULT_ADMIN_ROLE"),
    ("admin", "OracleCommittee", "DEFAULT_ADMIN_ROLE"),
    ("admin", "StakeToken", "DEFAULT_ADMIN_ROLE"),
    ("operator", "Tournament", "OPERATOR_ROLE"),
    ("guardian", "Tournament", "GUARDIAN_ROLE"),
    ("guardian", "OracleCommittee", "GUARDIAN_ROLE"),
    ("minter", "StakeToken", "MINTER_ROLE"),
)


def role_id(role: str) -> bytes:
    """The bytes32 of a role by its Solidity name: keccak256 of the name, 0 for the admin role."""
    return DEFAULT_ADMIN_ROLE if role == "DEFAULT_ADMIN_ROLE" else bytes(Web3.keccak(text=role))


def contract_of(contracts: Contracts, name: str) -> Contract:
    return {"StakeToken": contracts.token, "Tournament": contracts.tournament,
            "OracleCommittee": contracts.committee}[name]


def has_role(contracts: Contracts, contract: str, role: str, address: str) -> bool:
    return bool(contracts.call(contract_of(contracts, contract).functions.hasRole(role_id(role), address)))


def holders(contracts: Contracts, contract: str, role: str) -> list[str]:
    """Every address that holds `role` on `contract` now, in the order it was granted."""
    source, rid = contract_of(contracts, contract), role_id(role)
    events = contracts.logs("RoleGranted", of=source, role=rid) + contracts.logs("RoleRevoked", of=source, role=rid)
    events.sort(key=lambda e: (e["blockNumber"], e["logIndex"]))
    held: dict[str, None] = {}
    for e in events:
        if e["event"] == "RoleGranted":
            held[e["args"]["account"]] = None
        else:
            held.pop(e["args"]["account"], None)
    return list(held)


def require_role(contracts: Contracts, contract: str, role: str, address: str, doing: str) -> None:
    """Nothing when `address` holds `role` on `contract`; else MissingRole, one line saying that
    `doing` needs the role and who holds it."""
    if has_role(contracts, contract, role, address):
        return
    held = holders(contracts, contract, role)
    who = f"it is held by {', '.join(held)}: sign with that key" if held else "nobody holds it now"
    raise MissingRole(f"{doing} needs {role} on the {contract}, and {address} does not hold it; {who} "
                      f"(or have the admin grant the role); nothing was sent")


def roles_of(contracts: Contracts, address: str) -> list[str]:
    """The roles `address` holds, by label: `admin`, `operator`, `guardian`, `minter` (with the
    contracts in brackets when it holds the role on only some of those that have it), `member` of the
    committee, and `treasury` when the deployment record names it the treasury."""
    found: dict[str, list[str]] = {}
    every: dict[str, list[str]] = {}
    for label, contract, role in _LABELLED:
        every.setdefault(label, []).append(contract)
        if has_role(contracts, contract, role, address):
            found.setdefault(label, []).append(contract)
    shown = [label if found[label] == every[label] else f"{label} ({', '.join(found[label])})" for label in found]
    if contracts.call(contracts.committee.functions.isMember(address)):
        shown.append("member")
    treasury = (contracts.deployment.get("roles") or {}).get("treasury")
    if treasury and treasury.lower() == address.lower():
        shown.append("treasury")
    return shown
