"""Raw logs of the Tournament and the committee as index rows: `Decoder(contracts).row(log)` is
(table, {column: value}) per `schema.EVENTS`, or None for an event the index does not keep.
Pure: no request to the node (a vote's transaction details are `vote_details`, which asks).

Logs are decoded straight from the ABI with eth_abi (indexed arguments from the topics, the rest
from the data), not with web3's `process_log`, which spent three quarters of a backfill's time.
Values: ints as ints, wei as (decimal text, tokens as a float), hashes and bytes as 0x lowercase
hex, addresses checksummed. A log the ABI cannot decode raises (a wrong ABI must not be skipped
silently: the index would miss rows)."""

from __future__ import annotations

from functools import lru_cache

from eth_abi import decode as abi_decode
from eth_utils import event_abi_to_log_topic
from web3 import Web3

from crowdstake.chain.contracts import Contracts
from crowdstake.chain.rpc import with_retries
from crowdstake.index.schema import EVENTS

TOKEN = 10**18


def raw_log(entry: dict) -> dict:
    """An `eth_getLogs` result entry as the JSON-RPC gives it (hex strings) with numbers as ints
    and hashes as bytes: what `Decoder.row` reads (web3's own formatting of the answer cost more
    than the decoding)."""
    def data(text: str) -> bytes:
        return bytes.fromhex(text[2:])

    return {"address": entry["address"], "topics": [data(t) for t in entry["topics"]], "data": data(entry["data"]),
            "blockNumber": int(entry["blockNumber"], 16), "logIndex": int(entry["logIndex"], 16),
            "blockHash": data(entry["blockHash"]), "transactionHash": data(entry["transactionHash"]),
            "removed": bool(entry.get("removed", False)),
            "blockTimestamp": int(entry["blockTimestamp"], 16) if entry.get("blockTimestamp") else None}


def tokens(wei: int) -> float:
    return wei / TOKEN


def _hex(value) -> str:
    return "0x" + bytes(value).hex()


@lru_cache(maxsize=65_536)
def checksum(address: str) -> str:
    return Web3.to_checksum_address(address)


def _abi_type(entry: dict) -> str:
    kind = entry["type"]
    if kind.startswith("tuple"):
        return "(" + ",".join(_abi_type(c) for c in entry["components"]) + ")" + kind[len("tuple"):]
    return kind


def _named(entry: dict, raw):
    """A decoded value with its struct fields by name (a tuple as a dict)."""
    if entry["type"] == "tuple":
        return {c["name"]: _named(c, v) for c, v in zip(entry["components"], raw)}
    return raw


class EventDecoder:
    """One event's ABI: a log's arguments by name."""

    def __init__(self, abi: dict):
        self.indexed = [(i, _abi_type(i)) for i in abi["inputs"] if i["indexed"]]
        self.plain = [i for i in abi["inputs"] if not i["indexed"]]
        self.plain_types = [_abi_type(i) for i in self.plain]

    def args(self, log) -> dict:
        topics = log["topics"][1:]
        if len(topics) != len(self.indexed):
            raise ValueError(f"a log with {len(topics)} indexed arguments, its ABI has {len(self.indexed)}")
        out = {entry["name"]: abi_decode([kind], bytes(topic))[0] for (entry, kind), topic in zip(self.indexed, topics)}
        for entry, raw in zip(self.plain, abi_decode(self.plain_types, bytes(log["data"]))):
            out[entry["name"]] = _named(entry, raw)
        return out


def _arg(args, path: str):
    value = args
    for part in path.split("."):
        value = value[part] if isinstance(value, dict) or hasattr(value, "keys") else getattr(value, part)
    return value


def columns(spec: dict[str, tuple[str, str]], args) -> dict:
    row = {}
    for name, (path, kind) in spec.items():
        row.update(value(name, _arg(args, path), kind))
    return row


def value(name: str, raw, kind: str) -> dict:
    if raw is None:
        return {name: None, **({f"{name}_tokens": None} if kind == "wei" else {})}
    if kind == "wei":
        return {name: str(int(raw)), f"{name}_tokens": tokens(int(raw))}
    if kind == "hex":
        return {name: _hex(raw)}
    if kind == "addr":
        return {name: checksum(raw)}
    return {name: int(raw)}


class Decoder:
    """Decodes the logs of one deployment's Tournament and OracleCommittee."""

    def __init__(self, contracts: Contracts):
        self.contracts = contracts
        self.addresses = [contracts.tournament.address, contracts.committee.address]
        self._by_topic = {}
        for contract, name in (("Tournament", contracts.tournament), ("OracleCommittee", contracts.committee)):
            for entry in name.abi:
                if entry.get("type") == "event" and (contract, entry["name"]) in EVENTS:
                    topic = event_abi_to_log_topic(entry)
                    self._by_topic[name.address.lower(), topic] = (EventDecoder(entry), EVENTS[contract, entry["name"]])

    def row(self, log) -> tuple[str, dict] | None:
        if not log["topics"]:
            return None
        found = self._by_topic.get((log["address"].lower(), bytes(log["topics"][0])))
        if found is None:
            return None
        event, (table, spec, constants) = found
        row = {"block": log["blockNumber"], "log_index": log["logIndex"], "tx_hash": _hex(log["transactionHash"]),
               **columns(spec, event.args(log)), **constants}
        return table, row

    def vote_details(self, tx_hash: str) -> dict:
        """A vote's Result (root, scoreTableHash, totalReward, leafCount) from its transaction's
        input, when the transaction called `vote` directly (NULLs otherwise), and its gas used."""
        w3, policy = self.contracts.w3, self.contracts.retry
        tx = with_retries(w3.eth.get_transaction, tx_hash, policy=policy)
        receipt = with_retries(w3.eth.get_transaction_receipt, tx_hash, policy=policy)
        result = None
        if tx["to"] and tx["to"].lower() == self.contracts.committee.address.lower():
            try:
                function, args = self.contracts.committee.decode_function_input(tx["input"])
                if function.fn_name == "vote":
                    result = args["result"]
            except ValueError:
                result = None
        out = {"gas_used": int(receipt["gasUsed"])}
        for name, path, kind in (("root", "root", "hex"), ("score_table_hash", "scoreTableHash", "hex"),
                                 ("total_reward", "totalReward", "wei"), ("leaf_count", "leafCount", "int")):
            out.update(value(name, None if result is None else _arg(result, path), kind))
        return out
