"""The deployed contracts of one chain and their typed reads: struct outputs come back as named
tuples with the contracts' own field names (`round.params.minStake`, `state.disputeEndsAt`),
every read under the connection's retry policy, event logs read in pages."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eth_utils import event_abi_to_log_topic
from web3 import Web3
from web3.contract import Contract
from web3.exceptions import Web3RPCError

from crowdstake.chain.deployments import load_artifact, load_deployment
from crowdstake.chain.rpc import RetryPolicy, retry_policy, with_retries
from crowdstake.errors import ConfigError

LOG_PAGE = 10_000  # blocks per eth_getLogs request: real nodes refuse unbounded ranges


@dataclass
class Contracts:
    """StakeToken, Tournament and OracleCommittee of one deployment, as web3 contract objects
    built with `decode_tuples=True`, and the reads the package makes of them."""

    w3: Web3
    deployment: dict
    token: Contract
    tournament: Contract
    committee: Contract

    @classmethod
    def load(cls, w3: Web3, directory: Path | None = None) -> "Contracts":
        """The deployment of `w3`'s chain from `directory` (default `./deployments`); ConfigError
        (one line) if the chain holds no contract at its Tournament's address: a record left
        from a dev chain that has since restarted, or one of another chain with the same id."""
        chain_id = with_retries(lambda: w3.eth.chain_id, policy=retry_policy(w3))
        contracts = cls.of(w3, load_deployment(chain_id, directory))
        if not with_retries(w3.eth.get_code, contracts.tournament.address, policy=contracts.retry):
            raise ConfigError(f"the deployment record for chain {chain_id} names a Tournament at "
                              f"{contracts.tournament.address}, but the chain holds no contract there (a dev chain that "
                              "restarted?): deploy again, or point at the node the record is for")
        return contracts

    @classmethod
    def of(cls, w3: Web3, deployment: dict) -> "Contracts":
        """The deployment record `deployment` (as `load_deployment` reads it) on `w3`."""
        addresses = deployment["contracts"]

        def contract(name: str) -> Contract:
            return w3.eth.contract(address=addresses[name], abi=load_artifact(name)["abi"], decode_tuples=True)

        return cls(w3, deployment, contract("StakeToken"), contract("Tournament"), contract("OracleCommittee"))

    @property
    def retry(self) -> RetryPolicy:
        return retry_policy(self.w3)

    def call(self, fn) -> Any:
        """Call a bound view function (`contracts.tournament.functions.roundCount()`), retried."""
        return with_retries(fn.call, policy=self.retry)

    def identity(self) -> str:
        """Which deployment this is, for journals: the chain, the Tournament, and the hash of the
        block it was deployed after: a fresh dev chain deploys to the same addresses again, but its
        blocks carry new timestamps, so new hashes."""
        block = self.deployment.get("deploymentBlock", 0)
        mark = with_retries(self.w3.eth.get_block, block, policy=self.retry)["hash"]
        return f"chain {self.w3.eth.chain_id}, Tournament {self.tournament.address}, block {block} {Web3.to_hex(mark)}"

    # ------------------------------------------------------------------ typed reads

    def round_count(self) -> int:
        return self.call(self.tournament.functions.roundCount())

    def round(self, round_id: int):
        """A round's state: `closeTime`, `finalized`, `root`, `params.cap`, ... (Tournament.Round)."""
        return self.call(self.tournament.functions.round(round_id))

    def round_times(self, round_id: int):
        """(closeTime, resolveTime, resultsDeadline); zeros for a round that does not exist. The
        deadline is the last second the round accepts results (a veto may move it later)."""
        return self.call(self.tournament.functions.roundTimes(round_id))

    def position(self, round_id: int, staker: str, model_id: bytes):
        """A position's `stake` (0 once settled or refunded) and `predictionsHash`."""
        return self.call(self.tournament.functions.position(round_id, staker, model_id))

    def round_state(self, round_id: int):
        """The committee's view of a round: `vetoes`, `restarts` (vetoes and refused results: the
        voting epoch), `disputeEndsAt` (0 when no result is accepted), `finalized`, `acceptedHash`,
        `accepted`."""
        return self.call(self.committee.functions.roundState(round_id))

    # ------------------------------------------------------------------ events

    def logs(self, event: str, of: Contract | None = None, **filters) -> list:
        """The `event` logs of the Tournament (or of the contract `of`) since deployment that match
        `filters` (paged)."""
        w3, kind, policy = self.w3, getattr((of or self.tournament).events, event), self.retry
        start = self.deployment.get("deploymentBlock", 0)
        end = with_retries(lambda: w3.eth.block_number, policy=policy)
        found = []
        for lo in range(start, end + 1, LOG_PAGE):
            found += with_retries(kind.get_logs, from_block=lo, to_block=min(lo + LOG_PAGE - 1, end),
                                  argument_filters=filters, policy=policy)
        return found

    def stakes(self, **filters) -> dict[tuple[int, str, bytes], int]:
        """Each matching position's last stake, (roundId, staker, modelId) -> wei, from its stake
        events: settling zeroes a position's stake on-chain, its events keep what was at stake.
        `filters`: roundId, staker."""
        return _latest(self._position_logs("StakeIncreased", 1, **filters)
                       + self._position_logs("StakeDecreased", 1, **filters), lambda word: int(word, 16))

    def predictions_hashes(self, **filters) -> dict[tuple[int, str, bytes], bytes]:
        """Each matching position's committed predictions hash (its last Submitted event)."""
        return _latest(self._position_logs("Submitted", 0, **filters), bytes.fromhex)

    def _position_logs(self, event: str, word: int, roundId: int | None = None, staker: str | None = None) -> list:
        """The Tournament's `event` logs, an event indexed by (roundId, staker, modelId), as
        (block, log index, (roundId, staker, modelId), hex of data word `word`): read raw and
        decoded by position, since web3's decoding cost 0.3 ms a log (a round's positions took
        0.71 s for 1,000 through it, 1.04 s for 10,000 read this way). Paged as `logs`; a node's
        error is raised as Web3RPCError."""
        abi = getattr(self.tournament.events, event).abi
        topics = [Web3.to_hex(event_abi_to_log_topic(abi)),
                  None if roundId is None else "0x" + f"{int(roundId):064x}",
                  None if staker is None else "0x" + Web3.to_checksum_address(staker)[2:].lower().rjust(64, "0")]
        w3, policy, address = self.w3, self.retry, self.tournament.address
        start = self.deployment.get("deploymentBlock", 0)
        end = with_retries(lambda: w3.eth.block_number, policy=policy)
        checksummed: dict[str, str] = {}
        found = []
        for lo in range(start, end + 1, LOG_PAGE):
            query = {"address": address, "fromBlock": hex(lo), "toBlock": hex(min(lo + LOG_PAGE - 1, end)), "topics": topics}
            answer = with_retries(w3.provider.make_request, "eth_getLogs", [query], policy=policy)
            if "error" in answer:
                raise Web3RPCError(str(answer["error"]), rpc_response=answer)
            for log in answer["result"]:
                t = log["topics"]
                who = checksummed.get(t[2]) or checksummed.setdefault(t[2], Web3.to_checksum_address("0x" + t[2][-40:]))
                found.append((int(log["blockNumber"], 16), int(log["logIndex"], 16),
                              (int(t[1], 16), who, bytes.fromhex(t[3][2:])), log["data"][2 + 64 * word:2 + 64 * (word + 1)]))
        return found


def _latest(logs: list, decode) -> dict:
    """The last value (its data word, `decode`d) per position, (roundId, staker, modelId), in chain order."""
    logs.sort(key=lambda e: (e[0], e[1]))
    return {key: decode(word) for _, _, key, word in logs}
