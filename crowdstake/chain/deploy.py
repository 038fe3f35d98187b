"""Deploy the protocol from the package's own artifacts over plain web3, no brownie project:
`crowdstake deploy` (a `Deployer`) and `crowdstake demo` (`deploy`). `scripts/deploy.py` deploys
with brownie and wires the roles through the same `role_wiring`.

Who will hold what is a `Roles`: `dev_roles` gives a dev node's unlocked accounts the roles as
the brownie script does, `plan_roles` takes the holders given and leaves the rest to the
deployer. `Deployer.deploy` makes every check before its first transaction: the committee's rules
(members, threshold, dispute window), the addresses, a live deployment already recorded for the
chain, and the deployer's ETH for the whole deployment. Killed half-way, it leaves contracts
that no record names and the old record untouched; running it again deploys a fresh set."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from eth_account.signers.local import LocalAccount
from web3 import Web3

from crowdstake._human import format_duration, parse_address, parse_duration
from crowdstake.chain.contracts import Contracts
from crowdstake.chain.deployments import DEFAULT_DIR, load_artifact, save_deployment
from crowdstake.chain.rpc import retry_policy, with_retries
from crowdstake.chain.tx import estimate, send
from crowdstake.chain.devchain import NodeAccount, dev_chain_kind
from crowdstake.errors import FundError, InvalidInputError, MissingSetting, TransactionFailed

TOKEN_NAME, TOKEN_SYMBOL = "Crowdstake", "STAKE"
SUPPLY_CAP = 100_000_000 * 10**18
INITIAL_SUPPLY = 10_000_000 * 10**18

MIN_DISPUTE_WINDOW, MAX_DISPUTE_WINDOW = 10 * 60, 7 * 86_400  # OracleCommittee's bounds
DEV_DISPUTE_WINDOW, LIVE_DISPUTE_WINDOW = 3_600, 86_400  # the defaults: a dev chain's, a live network's
DEV_ACCOUNTS = 6  # admin and treasury, operator, guardian, three members
GRANT_GAS = 80_000  # a bound on one grantRole or renounceRole, for the ETH check before the first transaction


@dataclass(frozen=True)
class Roles:
    """Who holds what after the deployment; `admin` holds every admin role (Tournament,
    OracleCommittee, StakeToken) and `treasury` receives the initial supply."""

    admin: str
    operator: str
    guardian: str
    treasury: str
    members: tuple[str, ...]
    threshold: int
    dispute_window: int

    def check(self) -> None:
        """The committee's rules, as its constructor applies them; FundError on the first broken one."""
        n = len(self.members)
        if n == 0:
            raise FundError("the committee needs members: name their addresses").with_setting("members")
        if len({m.lower() for m in self.members}) != n:
            raise FundError(f"the list of members names an address twice: {', '.join(self.members)}").with_setting("members")
        if not (2 * self.threshold > n and self.threshold <= n):
            raise FundError(f"threshold {self.threshold} does not fit {n} members: it must be more than half of "
                            f"them and at most all ({n // 2 + 1} to {n})")
        if not MIN_DISPUTE_WINDOW <= self.dispute_window <= MAX_DISPUTE_WINDOW:
            raise FundError(f"dispute window {format_duration(self.dispute_window)} is outside the committee's bounds, "
                            f"{format_duration(MIN_DISPUTE_WINDOW)} to {format_duration(MAX_DISPUTE_WINDOW)}")


def _address(value: str, role: str, setting: str | None = None) -> str:
    """`value` as a checksummed address; FundError naming `role` and the setting that gave it."""
    try:
        return parse_address(value, role)
    except InvalidInputError as e:
        raise FundError(str(e)).with_setting(setting or role) from None


def parse_members(text: str) -> tuple[str, ...]:
    """`ADDR,ADDR,...` as checksummed addresses (spaces around the commas are fine)."""
    parts = [part.strip() for part in str(text).split(",")]
    if not any(parts):
        raise FundError("the list of members is empty: name the committee's addresses, comma-separated") \
            .with_setting("members")
    return tuple(_address(part, "member", "members") for part in parts)


def dev_roles(accounts: list[str], threshold: int | None = None, dispute_window: int | None = None) -> Roles:
    """A dev node's unlocked accounts in the roles scripts/deploy.py gives them: 0 admin and
    treasury, 1 operator, 2 guardian, 3-5 the committee (2 of 3), a 1-hour dispute window."""
    if len(accounts) < DEV_ACCOUNTS:
        raise FundError(f"the node has {len(accounts)} unlocked accounts, and the roles need {DEV_ACCOUNTS}: start it "
                        f"with {DEV_ACCOUNTS} or more (anvil's default is 10), or name the holders of the roles") \
            .with_setting("role_holders")
    a = [Web3.to_checksum_address(x) for x in accounts]
    roles = Roles(admin=a[0], operator=a[1], guardian=a[2], treasury=a[0], members=tuple(a[3:6]),
                  threshold=2 if threshold is None else threshold,
                  dispute_window=DEV_DISPUTE_WINDOW if dispute_window is None else dispute_window)
    roles.check()
    return roles


def plan_roles(deployer: str, *, members: str | list[str] | tuple[str, ...] | None, threshold: int | None = None,
               dispute_window: int | None = None, operator: str | None = None, guardian: str | None = None,
               admin: str | None = None, treasury: str | None = None) -> Roles:
    """The holders given (addresses as text), the deployer for every role not given; the
    threshold defaults to a bare majority of the members, the dispute window to a day."""
    if members is None:
        raise FundError("the committee needs members: name their addresses (there are no node accounts to use on "
                        "this chain)").with_setting("members")
    chosen = parse_members(members) if isinstance(members, str) else tuple(_address(m, "member", "members") for m in members)
    me = Web3.to_checksum_address(deployer)
    roles = Roles(
        admin=_address(admin, "admin") if admin else me, operator=_address(operator, "operator") if operator else me,
        guardian=_address(guardian, "guardian") if guardian else me,
        treasury=_address(treasury, "treasury") if treasury else me, members=chosen,
        threshold=len(chosen) // 2 + 1 if threshold is None else threshold,
        dispute_window=LIVE_DISPUTE_WINDOW if dispute_window is None else dispute_window)
    roles.check()
    return roles


def choose_roles(deployer: str, dev_accounts: list[str] | None, *, members=None, threshold: int | None = None,
                 dispute_window=None, operator=None, guardian=None, admin=None, treasury=None) -> Roles:
    """A dev chain's unlocked accounts (`dev_accounts`; None on any other chain) when no holder is
    named (`dev_roles`); else the holders named and the deployer for the rest (`plan_roles`). The
    dispute window is seconds or a duration (`1h`)."""
    if dispute_window is not None:
        try:
            dispute_window = parse_duration(dispute_window, "dispute window")
        except InvalidInputError as e:
            raise FundError(str(e)) from None
    if dev_accounts is not None and all(v is None for v in (members, operator, guardian, admin, treasury)):
        return dev_roles(dev_accounts, threshold, dispute_window)
    return plan_roles(deployer, members=members, threshold=threshold, dispute_window=dispute_window, operator=operator,
                      guardian=guardian, admin=admin, treasury=treasury)


def role_wiring(*, operator: str, guardian: str, committee: str, admin: str, deployer: str
                ) -> tuple[tuple[str, str, str, str], ...]:
    """The transactions that wire the roles once the three contracts exist, as (contract,
    function, role, account): the grants, then, when the admin is not the deployer, the admin
    role handed over and renounced. This deployer and scripts/deploy.py both send exactly these."""
    steps = [("Tournament", "grantRole", "OPERATOR_ROLE", operator), ("Tournament", "grantRole", "GUARDIAN_ROLE", guardian),
             ("Tournament", "grantRole", "COMMITTEE_ROLE", committee),
             ("OracleCommittee", "grantRole", "GUARDIAN_ROLE", guardian)]
    if str(admin).lower() != str(deployer).lower():
        for name in ("Tournament", "OracleCommittee"):
            steps += [(name, "grantRole", "DEFAULT_ADMIN_ROLE", admin), (name, "renounceRole", "DEFAULT_ADMIN_ROLE", deployer)]
    return tuple(steps)


def deployment_record(*, chain_id: int, network: str, block: int, contracts: dict[str, str], admin: str,
                      operator: str, guardian: str, members: list[str], threshold: int, dispute_window: int,
                      treasury: str | None = None) -> dict:
    """What the package needs to find and use a deployment (`deployments/<chainId>.json`)."""
    roles = {"admin": str(admin), "operator": str(operator), "guardian": str(guardian),
             "members": [str(m) for m in members], "threshold": threshold, "disputeWindow": dispute_window}
    if treasury is not None:
        roles["treasury"] = str(treasury)
    return {"chainId": chain_id, "network": network, "deploymentBlock": block, "contracts": dict(contracts),
            "roles": roles}


@dataclass(frozen=True)
class Deployed:
    """A finished deployment: its contracts, the record written (`path`), whether it replaced the
    record of contracts no longer on the chain, and what it cost."""

    contracts: Contracts
    roles: Roles
    record: dict
    path: Path
    replaced: bool
    transactions: int
    gas: int


class Deployer:
    """Deploys StakeToken, Tournament and OracleCommittee with `account` paying (a wallet's
    LocalAccount, or a dev node's unlocked NodeAccount) and records them in `directory`.
    `dev_accounts` are the node's unlocked accounts on a dev chain (None elsewhere)."""

    def __init__(self, w3: Web3, account: LocalAccount, directory: Path | None = None, network: str = "rpc",
                 dev_accounts: list[str] | None = None):
        self.w3, self.account, self.network, self.dev_accounts = w3, account, network, dev_accounts
        self.directory = Path(directory or DEFAULT_DIR)

    @classmethod
    def on(cls, w3: Web3, account: LocalAccount | None = None, directory: Path | None = None,
           network: str | None = None) -> "Deployer":
        """A deployer for the node behind `w3`: on a dev chain (anvil, ganache) its unlocked
        accounts may take the roles, and without `account` its first one deploys; elsewhere the
        deployer's key is needed."""
        policy = retry_policy(w3)
        kind = dev_chain_kind(str(with_retries(lambda: w3.client_version, policy=policy)),
                              with_retries(lambda: w3.eth.chain_id, policy=policy))
        unlocked = list(with_retries(lambda: w3.eth.accounts, policy=policy)) if kind else None
        if account is None:
            if not unlocked:
                raise MissingSetting("deploying needs the deployer's key (on a dev chain, anvil or ganache, the node's "
                                     "first account deploys without one)", "wallet")
            account = NodeAccount(w3, unlocked[0])
        return cls(w3, account, directory, network or kind or "rpc", unlocked)

    def roles(self, **given) -> Roles:
        """`choose_roles` for this deployer and node: the holders `given` (members, threshold,
        dispute_window, operator, guardian, admin, treasury; None when not given)."""
        return choose_roles(self.account.address, self.dev_accounts, **given)

    def label(self, address: str) -> str:
        """`(node account 3)` for one of a dev node's unlocked accounts, `(the deployer)`, else ''."""
        if self.dev_accounts:
            for index, unlocked in enumerate(self.dev_accounts):
                if unlocked.lower() == str(address).lower():
                    return f"(node account {index})"
        return "(the deployer)" if str(address).lower() == self.account.address.lower() else ""

    def _constructor(self, name: str, *args):
        art = load_artifact(name)
        return self.w3.eth.contract(abi=art["abi"], bytecode=art["bytecode"]).constructor(*args)

    def _gas(self, call) -> int:
        """The gas `call` takes with prepare's margin (simulated), or FundError naming the revert."""
        try:
            return estimate(self.w3, self.account, call) * 5 // 4
        except TransactionFailed as e:
            raise FundError(f"the deployment would fail: {e}", e.error, e.error_args) from None

    def existing(self) -> tuple[Path, bool]:
        """The chain's record path, and whether it exists for contracts no longer on the chain
        (a restarted dev chain); a record of a deployment still live is refused."""
        chain_id = self.w3.eth.chain_id
        path = self.directory / f"{chain_id}.json"
        if not path.exists():
            return path, False
        try:
            tournament = json.loads(path.read_text())["contracts"]["Tournament"]
        except (OSError, ValueError, KeyError, TypeError):
            raise FundError(f"{path} exists and is not a deployment record: move it away, or write the record to "
                            "another deployments directory").with_setting("deployments") from None
        if len(with_retries(self.w3.eth.get_code, tournament, policy=retry_policy(self.w3))) > 0:
            raise FundError(f"{path} records a deployment that is live on chain {chain_id} (Tournament {tournament}): "
                            "keep it, move it away, or write the new one to another deployments directory") \
                .with_setting("deployments")
        return path, True

    def check(self, roles: Roles, supply_cap: int = SUPPLY_CAP, initial_supply: int = INITIAL_SUPPLY) -> bool:
        """Every check before the first transaction (see the module); returns whether an old record
        of contracts no longer on the chain will be replaced."""
        roles.check()
        if not 0 < initial_supply <= supply_cap:
            raise FundError(f"initial supply {initial_supply} must be above 0 and at most the cap {supply_cap}")
        _, replaced = self.existing()
        me, placeholder = self.account.address, self.account.address  # the constructors only refuse address 0
        gas = self._gas(self._constructor("StakeToken", TOKEN_NAME, TOKEN_SYMBOL, supply_cap, roles.treasury,
                                          initial_supply, roles.admin))
        gas += self._gas(self._constructor("Tournament", placeholder, me))
        gas += self._gas(self._constructor("OracleCommittee", placeholder, me, list(roles.members), roles.threshold,
                                           roles.dispute_window))
        gas += GRANT_GAS * len(role_wiring(operator=roles.operator, guardian=roles.guardian, committee=placeholder,
                                           admin=roles.admin, deployer=me))
        w3, policy = self.w3, retry_policy(self.w3)
        base = with_retries(w3.eth.get_block, "latest", policy=policy).get("baseFeePerGas")
        # the most a transaction built now may pay per gas: web3's default, twice the base fee and the tip
        fee = (2 * base + with_retries(lambda: w3.eth.max_priority_fee, policy=policy) if base is not None
               else with_retries(lambda: w3.eth.gas_price, policy=policy))
        held = with_retries(w3.eth.get_balance, me, policy=policy)
        if held < gas * fee:
            raise FundError(f"the deployer {me} holds {held / 10**18:.6g} ETH, and the deployment may cost up to "
                            f"{gas * fee / 10**18:.6g} ETH in gas: send it some ETH first")
        return replaced

    def deploy(self, roles: Roles, supply_cap: int = SUPPLY_CAP, initial_supply: int = INITIAL_SUPPLY) -> Deployed:
        """Check, deploy the three contracts, wire the roles, write the record; the Deployed."""
        replaced = self.check(roles, supply_cap, initial_supply)
        w3, me = self.w3, self.account.address
        block = w3.eth.block_number
        receipts = []

        def sent(call):
            try:
                receipts.append(send(w3, self.account, call))
            except TransactionFailed as e:
                raise FundError(f"the deployment stopped after {len(receipts)} transactions: {e}; no record was written, "
                                "run it again", e.error, e.error_args) from None
            return receipts[-1]

        token = sent(self._constructor("StakeToken", TOKEN_NAME, TOKEN_SYMBOL, supply_cap, roles.treasury,
                                       initial_supply, roles.admin))["contractAddress"]
        tournament = sent(self._constructor("Tournament", token, me))["contractAddress"]
        committee = sent(self._constructor("OracleCommittee", tournament, me, list(roles.members), roles.threshold,
                                           roles.dispute_window))["contractAddress"]
        addresses = {"StakeToken": token, "Tournament": tournament, "OracleCommittee": committee}
        for name, function, role, holder in role_wiring(operator=roles.operator, guardian=roles.guardian,
                                                        committee=committee, admin=roles.admin, deployer=me):
            contract = w3.eth.contract(address=addresses[name], abi=load_artifact(name)["abi"])
            role_id = getattr(contract.functions, role)().call()
            sent(getattr(contract.functions, function)(role_id, holder))
        record = deployment_record(chain_id=w3.eth.chain_id, network=self.network, block=block, contracts=addresses,
                                   admin=roles.admin, operator=roles.operator, guardian=roles.guardian,
                                   members=list(roles.members), threshold=roles.threshold,
                                   dispute_window=roles.dispute_window, treasury=roles.treasury)
        path = save_deployment(w3.eth.chain_id, record, self.directory)
        return Deployed(Contracts.load(w3, self.directory), roles, record, path, replaced, len(receipts),
                        sum(r["gasUsed"] for r in receipts))


def deploy(w3: Web3, deployer: LocalAccount, *, operator: str, guardian: str, members: list[str], threshold: int,
           dispute_window: int, treasury: str, supply_cap: int = SUPPLY_CAP,
           initial_supply: int = INITIAL_SUPPLY, directory: Path | None = None) -> Contracts:
    """Deploy token, tournament and committee with `deployer` as admin, wire the roles, and
    write the chain's deployment file (the demo's way); returns the loaded Contracts."""
    roles = Roles(admin=deployer.address, operator=operator, guardian=guardian, treasury=treasury,
                  members=tuple(members), threshold=threshold, dispute_window=dispute_window)
    return Deployer(w3, deployer, directory, network="local").deploy(roles, supply_cap, initial_supply).contracts
