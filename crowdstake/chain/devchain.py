"""Local dev chains as a developer uses them: the node's own unlocked, funded accounts, funding a
new wallet from them, and the chain's clock moved forward (`evm_increaseTime`, then `evm_mine`).
`NodeAccount` lets `crowdstake.chain.tx.send` use an unlocked account as it uses a wallet: the
node signs (`eth_signTransaction`), so the key never enters this process.

A dev chain is anvil with chain id 31337 or ganache with chain id 1337, told by the node's
`web3_clientVersion` and its chain id together (`dev_chain_kind`). `DevChain` refuses any other
node with NotADevChain before it does anything: a fork of a live chain, or a live node, is not a
place for time travel or the node's accounts. Every check of a request (amounts, balances, the
round and its times) is made before the first transaction or clock change; a refusal is one
FundError line and changes nothing. `fund` sends the ETH, then the tokens: killed in between, the
ETH has arrived and a rerun sends both again (dev chains only: nothing to protect)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace

from hexbytes import HexBytes
from web3 import Web3

from crowdstake._human import parse_address, parse_duration, utc
from crowdstake._units import parse_amount, to_tokens
from crowdstake.chain.contracts import Contracts
from crowdstake.chain.deployments import DEFAULT_DIR
from crowdstake.chain.roles import roles_of
from crowdstake.chain.rpc import retry_policy, with_retries
from crowdstake.chain.tx import prepare, send, wait_for
from crowdstake.errors import FundError, InvalidInputError, NotADevChain, TransactionFailed

DEV_CHAINS = {"anvil": 31337, "ganache": 1337}
ETH_GAS_RESERVE = 10**16  # what the ETH source keeps for gas: 0.01 ETH
TARGETS = ("close", "resolve", "dispute-end")


def dev_chain_kind(client_version: str, chain_id: int) -> str | None:
    """"anvil" or "ganache" when the node is that dev chain with its own chain id, else None."""
    name = str(client_version).split("/", 1)[0].strip().lower()
    return name if DEV_CHAINS.get(name) == chain_id else None


def require_dev_chain(w3: Web3, doing: str) -> str:
    """The dev chain's kind, or NotADevChain saying that `doing` needs one."""
    policy = retry_policy(w3)
    version = str(with_retries(lambda: w3.client_version, policy=policy))
    chain_id = with_retries(lambda: w3.eth.chain_id, policy=policy)
    kind = dev_chain_kind(version, chain_id)
    if kind is None:
        raise NotADevChain(f"{doing} works only on a local dev chain (anvil with chain id 31337, ganache with 1337); "
                           f"this node is {version.split('/', 1)[0][:40]!r} with chain id {chain_id}: nothing was done")
    return kind


class NodeAccount:
    """An account the dev node holds unlocked, signing through the node (`eth_signTransaction`,
    which anvil and ganache both answer with the raw transaction); for `send` and `prepare`."""

    def __init__(self, w3: Web3, address: str):
        self.w3, self.address = w3, Web3.to_checksum_address(address)

    def sign_transaction(self, tx: dict):
        fields = {}
        for key, value in tx.items():
            if isinstance(value, (bytes, bytearray)):
                if not value:  # a contract creation's empty `to`: the node wants none
                    continue
                value = Web3.to_hex(value)
            fields[key] = hex(value) if isinstance(value, int) and not isinstance(value, bool) else value
        answer = with_retries(self.w3.provider.make_request, "eth_signTransaction", [fields],
                              policy=retry_policy(self.w3))
        if answer.get("error") or not answer.get("result"):
            message = (answer.get("error") or {}).get("message", "no answer")
            raise TransactionFailed(f"the node would not sign for {self.address} ({message}): is it one of its "
                                    "unlocked accounts?")
        result = answer["result"]
        raw = HexBytes(result if isinstance(result, str) else result["raw"])
        return SimpleNamespace(raw_transaction=raw, hash=HexBytes(Web3.keccak(raw)))

    def __repr__(self) -> str:
        return f"NodeAccount({self.address})"


@dataclass(frozen=True)
class DevAccount:
    """One of the node's accounts: its ETH, its tokens (None without a deployment) and roles."""

    index: int
    address: str
    eth: Decimal
    tokens: Decimal | None
    roles: tuple[str, ...]


@dataclass(frozen=True)
class Funding:
    """What `DevChain.fund` sent, from whom, and the address's balances afterwards."""

    address: str
    eth: Decimal
    eth_from: str | None
    eth_tx: str | None
    tokens: Decimal
    tokens_from: str | None
    tokens_tx: str | None
    eth_balance: Decimal
    token_balance: Decimal | None


@dataclass(frozen=True)
class Advance:
    """The chain's clock before and after (`target`: the round's time asked for, if one was)."""

    before: int
    after: int
    target: int | None = None
    what: str | None = None
    round: int | None = None

    @property
    def moved(self) -> bool:
        return self.after > self.before


def _amount_or_none(text, what: str, setting: str) -> int:
    """Wei from a plain decimal amount; `0` means none. FundError naming `setting` otherwise."""
    if re.fullmatch(r"0+(\.0*)?|\.0+", str(text), re.ASCII):
        return 0
    try:
        return parse_amount(text)
    except InvalidInputError as e:
        raise FundError(f"{what}: {e}").with_setting(setting) from None


class DevChain:
    """A local anvil or ganache node (refused otherwise) and, when the chain has one, its
    deployment (`contracts`): accounts, funding, time."""

    def __init__(self, w3: Web3, contracts: Contracts | None = None, doing: str = "this dev-chain helper"):
        self.kind = require_dev_chain(w3, doing)
        self.w3, self.contracts = w3, contracts
        self.policy = retry_policy(w3)

    @classmethod
    def open(cls, w3: Web3, directory: Path | None = None, doing: str = "this dev-chain helper") -> "DevChain":
        """The dev chain behind `w3` (refused first if it is not one) with the deployment recorded
        for it in `directory`, when there is one."""
        dev = cls(w3, None, doing)
        path = Path(directory or DEFAULT_DIR) / f"{with_retries(lambda: w3.eth.chain_id, policy=dev.policy)}.json"
        if path.exists():
            dev.contracts = Contracts.load(w3, path.parent)
        return dev

    # ------------------------------------------------------------------ reading

    def now(self) -> int:
        return with_retries(self.w3.eth.get_block, "latest", policy=self.policy)["timestamp"]

    def addresses(self) -> list[str]:
        """The node's unlocked accounts, in its order."""
        return list(with_retries(lambda: self.w3.eth.accounts, policy=self.policy))

    def node_account(self, address: str) -> NodeAccount:
        return NodeAccount(self.w3, address)

    def accounts(self) -> list[DevAccount]:
        """Each unlocked account with its ETH, its tokens and the roles it holds."""
        rows = []
        for index, address in enumerate(self.addresses()):
            eth = to_tokens(with_retries(self.w3.eth.get_balance, address, policy=self.policy))  # 18 decimals too
            tokens, roles = None, ()
            if self.contracts is not None:
                tokens = to_tokens(self.contracts.call(self.contracts.token.functions.balanceOf(address)))
                roles = tuple(roles_of(self.contracts, address))
            rows.append(DevAccount(index, address, eth, tokens, roles))
        return rows

    # ------------------------------------------------------------------ funding

    def fund(self, address: str, eth="10", tokens="1000") -> Funding:
        """Send `eth` ETH from the richest unlocked account and `tokens` tokens from the treasury,
        when the treasury is one of the node's accounts (`0` sends none of either)."""
        try:
            to = parse_address(address, "the address to fund")
        except InvalidInputError as e:
            raise FundError(str(e)) from None
        eth_wei = _amount_or_none(eth, "the ETH to send", "eth")
        token_wei = _amount_or_none(tokens, "the tokens to send", "tokens")
        if not eth_wei and not token_wei:
            raise FundError("nothing to send: give an amount of ETH or of tokens above 0").with_setting("eth_or_tokens")
        unlocked = self.addresses()
        source = None
        if eth_wei:
            balances = {a: with_retries(self.w3.eth.get_balance, a, policy=self.policy)
                        for a in unlocked if a.lower() != to.lower()}
            source = max(balances, key=balances.get, default=None)
            if source is None or balances[source] < eth_wei + ETH_GAS_RESERVE:
                richest = to_tokens(balances[source]) if source else 0
                raise FundError(f"no account of this node holds {to_tokens(eth_wei)} ETH to send (the richest holds "
                                f"{richest}): ask for less")
        transfer, treasury = None, None
        if token_wei:
            transfer, treasury = self._token_transfer(to, token_wei, unlocked)
        eth_tx = tokens_tx = None
        if eth_wei:
            sent = with_retries(self.w3.eth.send_transaction, {"from": source, "to": to, "value": eth_wei},
                                policy=self.policy)
            eth_tx = Web3.to_hex(wait_for(self.w3, sent)["transactionHash"])
        if transfer is not None:
            try:
                receipt = send(self.w3, self.node_account(treasury), transfer)
            except TransactionFailed as e:
                raise FundError(f"the token transfer failed ({e}); the ETH was sent (tx {eth_tx})", e.error,
                                e.error_args) from None
            tokens_tx = Web3.to_hex(receipt["transactionHash"])
        held = None
        if self.contracts is not None:
            held = to_tokens(self.contracts.call(self.contracts.token.functions.balanceOf(to)))
        return Funding(to, to_tokens(eth_wei), source if eth_wei else None, eth_tx, to_tokens(token_wei),
                       treasury, tokens_tx, to_tokens(with_retries(self.w3.eth.get_balance, to, policy=self.policy)),
                       held)

    def _token_transfer(self, to: str, wei: int, unlocked: list[str]):
        """The treasury's transfer of `wei` tokens to `to`, simulated and paid for, not sent."""
        if self.contracts is None:
            raise FundError("no crowdstake deployment on this chain, so there are no tokens to send: deploy first "
                            "(`crowdstake deploy`), or send ETH only (0 tokens)").with_setting("tokens")
        treasury = (self.contracts.deployment.get("roles") or {}).get("treasury")
        if not treasury:
            raise FundError("the deployment record names no treasury: send the tokens with `crowdstake token transfer` "
                            "from the wallet that holds them")
        if treasury.lower() not in {a.lower() for a in unlocked}:
            raise FundError(f"the treasury {treasury} is not an account of this node, so its tokens cannot be sent "
                            f"from here: send them to {to} with `crowdstake token transfer` from the treasury's wallet")
        token = self.contracts.token
        held = self.contracts.call(token.functions.balanceOf(treasury))
        if held < wei:
            raise FundError(f"the treasury {treasury} holds {to_tokens(held)} tokens, not the {to_tokens(wei)} asked for")
        call = token.functions.transfer(to, wei)
        try:
            prepare(self.w3, self.node_account(treasury), call)
        except TransactionFailed as e:
            raise FundError(f"the token transfer would fail: {e}", e.error, e.error_args) from None
        return call, Web3.to_checksum_address(treasury)

    # ------------------------------------------------------------------ time

    def advance(self, seconds) -> Advance:
        """Move the chain's clock forward by `seconds` (a whole number, or `1h`, `20d`) and mine a block."""
        try:
            seconds = parse_duration(seconds, "the time to advance")
        except InvalidInputError as e:
            raise FundError(str(e)) from None
        before = self.now()
        return Advance(before, self._move_to(before + seconds))

    def advance_to(self, what: str, round_id: int) -> Advance:
        """Move the clock to round `round_id`'s close, resolve or dispute-window end (when a result is
        accepted); a time already past moves nothing."""
        if what not in TARGETS:
            raise FundError(f"cannot advance to {what!r}: use one of {', '.join(TARGETS)}")
        if self.contracts is None:
            raise FundError("no crowdstake deployment on this chain, so no round times: deploy first (`crowdstake deploy`)")
        count = self.contracts.round_count()
        if not 1 <= round_id <= count:
            raise FundError(f"round {round_id} not found: rounds run from 1 to {count}" if count
                            else f"round {round_id} not found: no round is open yet (`crowdstake fund open-round`)")
        close, resolve, _ = self.contracts.round_times(round_id)
        target = {"close": close, "resolve": resolve}.get(what)
        if what == "dispute-end":
            target = self.contracts.round_state(round_id).disputeEndsAt
            if not target:
                raise FundError(f"round {round_id} has no accepted result, so no dispute window is running: the "
                                "committee votes first (`crowdstake oracle run`)")
        before = self.now()
        if before >= target:
            return Advance(before, before, target, what, round_id)
        return Advance(before, self._move_to(target), target, what, round_id)

    def _move_to(self, target: int) -> int:
        """Increase the time and mine until the latest block's timestamp is at least `target`; returns it."""
        now = self.now()
        for _ in range(5):  # a block stamped ahead of the node's clock can absorb part of an increase
            self._rpc("evm_increaseTime", [int(target - now)])
            self._rpc("evm_mine", [])
            now = self.now()
            if now >= target:
                return now
        raise FundError(f"the {self.kind} node's clock did not reach {utc(target)}: it is at {utc(now)}")

    def _rpc(self, method: str, params: list):
        answer = with_retries(self.w3.provider.make_request, method, params, policy=self.policy)
        if answer.get("error"):
            raise FundError(f"the {self.kind} node refused {method}: {answer['error'].get('message', answer['error'])}")
        return answer.get("result")
