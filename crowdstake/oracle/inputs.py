"""What the oracle scores a round from: its staked positions (from the chain's events), the
fund's realised targets, and each committed predictions file, fetched from the store by its
on-chain hash and checked against it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pandas as pd
from web3 import Web3

from crowdstake.chain.contracts import Contracts
from crowdstake.errors import ConfigError, InvalidInputError, InvalidPredictionsError, StoreNotFound
from crowdstake.store import Store
from crowdstake.store.formats import read_predictions


@dataclass(frozen=True)
class Position:
    staker: str
    model_id: bytes
    stake: int
    predictions_hash: bytes

    @property
    def key(self) -> str:
        return f"{self.staker.lower()}:{self.model_id.hex()}"


def read_positions(contracts: Contracts, round_id: int) -> list[Position]:
    """The round's staked positions, sorted by (staker, modelId), read from the contract's events
    (paged eth_getLogs, no call per position): stakes stay there once positions are settled."""
    stakes, hashes = contracts.stakes(roundId=round_id), contracts.predictions_hashes(roundId=round_id)
    positions = []
    for (rid, staker, mid), stake in sorted(stakes.items(), key=lambda kv: (kv[0][1].lower(), kv[0][2])):
        if stake:
            positions.append(Position(Web3.to_checksum_address(staker), mid, stake, hashes[rid, staker, mid]))
    return positions


def read_targets(path: Path) -> pd.Series:
    """Realised targets as the fund publishes them: a CSV `id,target`."""
    try:
        frame = pd.read_csv(path, dtype={"id": str})
    except FileNotFoundError:
        raise ConfigError(f"no targets file {path}: the fund publishes one per round as <round>.csv") from None
    if list(frame.columns) != ["id", "target"]:
        raise InvalidInputError(f"{path} needs the header id,target")
    return frame.set_index("id")["target"]


def fetch_predictions(store: Store, round_id: int, positions: list[Position],
                      advance: Callable[[int], None] = lambda n=1: None) -> tuple[dict, dict]:
    """Each position's committed file, fetched by its on-chain hash and checked against it.
    Returns (predictions by key, reasons by key for the files that cannot be scored). Only a
    file the store does not have scores at the floor: a store or node that does not answer
    stops the run (scoring it as missing would vote a wrong root)."""
    predictions, reasons = {}, {}
    for p in positions:
        advance()
        try:
            data = store.get_file(round_id, p.predictions_hash)
        except StoreNotFound:
            reasons[p.key] = "committed file missing from the store"
            continue
        if Web3.keccak(data) != p.predictions_hash:
            reasons[p.key] = "file does not match its on-chain hash"
            continue
        try:
            predictions[p.key] = read_predictions(data)
        except InvalidPredictionsError as e:
            reasons[p.key] = f"malformed predictions file: {e}"
    return predictions, reasons
