"""What the oracle scores a round from: its staked positions (from the chain's events), the
fund's realised targets, and each committed predictions file, fetched from the store by its
on-chain hash and checked against it.

Targets (`round_targets`): when the round commits a `targetsHash` on-chain, they are those
bytes and no others: fetched from the store by that hash, or read from an operator's own
`<dir>/<round>.csv` (an override for one who holds the fund's files), either refused with one
line when it hashes to anything else. Before the fund commits them, only an operator's own file
can be scored (as before targets were committed: `read_targets`).

A Signals round (its params' `kind` above 0) is scored on its dataset's universe, neutralisers
and sample weights (`signals_round`: fetched by the round's `datasetHash`, every byte checked),
its submissions read as `ticker,signal` and its targets as `ticker,target`."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pandas as pd
from eth_hash.auto import keccak
from web3 import Web3

from crowdstake.chain.contracts import Contracts
from crowdstake.errors import (ConfigError, InvalidDatasetError, InvalidInputError, InvalidPredictionsError,
                               InvalidTargetsError, OracleError, StoreNotFound)
from crowdstake.store import Store
from crowdstake.downloads import dataset_files
from crowdstake.store.formats import read_predictions, read_targets_data
from crowdstake.store.signals_formats import SignalsRoundData, read_signals, read_signals_round, read_signals_targets

ZERO = bytes(32)


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


@dataclass(frozen=True)
class Targets:
    """A round's targets as scored: the values by id, the keccak256 of the bytes they were read
    from, and where those came from (the store, or an operator's file)."""

    values: pd.Series
    digest: bytes
    source: str


def round_targets(contracts: Contracts, store: Store | None, round_id: int, directory: Path | None = None) -> Targets:
    """The targets to score round `round_id` with: the ones it commits on-chain (from the store by
    their hash, or from `directory/<round>.csv` when there, checked against that hash); without a
    committed hash, `directory/<round>.csv` as it is. OracleError (one line) otherwise."""
    fields = contracts.round(round_id)
    committed, signals = bytes(fields.targetsHash), fields.params.kind != 0
    path = Path(directory) / f"{round_id}.csv" if directory is not None else None
    if committed == ZERO:
        if path is None:
            raise OracleError(f"round {round_id} has no targets committed on-chain yet: the fund publishes them once the "
                              f"round resolved (`crowdstake fund publish-targets`); or give a targets directory with "
                              f"{round_id}.csv").with_setting("targets")
        if not signals:
            return Targets(read_targets(path), Web3.keccak(path.read_bytes()), str(path))
        data = path.read_bytes()
        try:
            return Targets(read_signals_targets(data), Web3.keccak(data), str(path))
        except InvalidTargetsError as e:
            raise OracleError(f"{path}: {e}") from None
    shown = Web3.to_hex(committed)
    if path is not None and path.exists():
        data, source = path.read_bytes(), str(path)
        own = Web3.keccak(data)
        if own != committed:
            raise OracleError(f"{path} hashes to {Web3.to_hex(own)}, but round {round_id} commits the "
                              f"targets {shown} on-chain: use the file the fund published, or give no targets "
                              "directory, to fetch it from the store").with_setting("targets")
    else:
        if store is None:
            raise OracleError(f"round {round_id}'s targets {shown} are in the store: give the store")
        try:
            data, source = store.get_targets(round_id, committed), "the store"
        except StoreNotFound as missing:
            raise OracleError(f"round {round_id} commits the targets {shown} on-chain, but the store does not have them "
                              f"({missing}): use the fund's store") from None
        if Web3.keccak(data) != committed:
            raise OracleError(f"the store's targets for round {round_id} hash to {Web3.to_hex(Web3.keccak(data))}, not "
                              f"the {shown} committed on-chain: use another store")
    try:
        values = read_signals_targets(data) if signals else read_targets_data(data)
    except InvalidTargetsError as e:
        raise OracleError(f"round {round_id}'s committed targets {shown} are malformed ({e}): the fund published "
                          "a file no one can score") from None
    return Targets(values, committed, source)


def targets_ready(contracts: Contracts, round_id: int, directory: Path | None = None) -> bool:
    """Whether round `round_id` can be scored yet: it commits targets on-chain, or the operator
    holds its own `directory/<round>.csv`."""
    if bytes(contracts.round(round_id).targetsHash) != ZERO:
        return True
    return directory is not None and (Path(directory) / f"{round_id}.csv").exists()


FETCH_CONCURRENCY = 8  # files fetched and checked at once: the store's latency overlaps, its load stays bounded


def signals_round(store: Store, round_id: int, dataset_hash: bytes) -> SignalsRoundData:
    """A Signals round's universe, neutralisers and sample weights, from the dataset it commits."""
    files = dataset_files(store, round_id, bytes(dataset_hash), OracleError)
    try:
        return read_signals_round(files)
    except InvalidDatasetError as e:
        raise OracleError(f"round {round_id} commits a Signals dataset no one can score ({e}): ask the fund") from None


def classic_reader(targets: pd.Series) -> Callable[[bytes], pd.Series]:
    """A classic submission's bytes to its predictions, by the store's rules for the round: its
    ids exactly the targets' (the live ids, which the published targets list exactly), so a file
    the store would refuse for an id it lacks or one too many scores at the floor here too."""
    live = frozenset(targets.index)
    return lambda raw: read_predictions(raw, live_ids=live)


def signals_reader(data: SignalsRoundData, min_tickers: int) -> Callable[[bytes], pd.Series]:
    """A Signals submission's bytes to its signal on the universe (outside tickers dropped)."""
    universe = frozenset(data.universe)
    return lambda raw: read_signals(raw, universe, min_tickers).signal


def fetch_predictions(store: Store, round_id: int, positions: list[Position],
                      advance: Callable[[int], None] = lambda n=1: None,
                      concurrency: int = FETCH_CONCURRENCY,
                      read: Callable[[bytes], pd.Series] = read_predictions) -> tuple[dict, dict]:
    """Each position's committed file, fetched by its on-chain hash and checked against it,
    `concurrency` at a time (each hashed in the pool, parsed by the caller as it comes in). Returns (predictions by key,
    reasons by key for the files that cannot be scored), in the positions' order whatever order
    the files arrived in. Only a file the store does not have scores at the floor: a store or
    node that does not answer stops the run at its first such file, the fetches not yet started
    cancelled (scoring it as missing would vote a wrong root). `read`: the round kind's format.
    Each file is hashed once; parsing is numpy work that takes and drops the interpreter lock
    at every step, so it runs in this thread alone (eight threads parsing took 1.5 s for 1,000
    files against 0.8 s here). Files of a round that list the same ids share one index
    (`crowdstake.store.formats`), which scoring aligns once."""

    def one(p: Position) -> tuple[bytes | None, str | None]:
        try:
            data = store.get_file(round_id, p.predictions_hash)
        except StoreNotFound:
            return None, "committed file missing from the store"
        if keccak(data) != p.predictions_hash:  # once, here (eth_hash's: Web3.keccak converts its input first)
            return None, "file does not match its on-chain hash"
        return data, None

    def parse(data: bytes) -> tuple[pd.Series | None, str | None]:
        try:
            return read(data), None
        except InvalidPredictionsError as e:
            return None, f"malformed predictions file: {e}"

    predictions, reasons = {}, {}
    pool = ThreadPoolExecutor(max_workers=max(1, concurrency), thread_name_prefix="fetch")
    try:
        for p, future in [(p, pool.submit(one, p)) for p in positions]:
            data, reason = future.result()
            values, reason = parse(data) if reason is None else (None, reason)
            advance()
            if reason is None:
                predictions[p.key] = values
            else:
                reasons[p.key] = reason
    finally:
        pool.shutdown(wait=True, cancel_futures=True)  # after a failure: nothing more is asked of the store
    return predictions, reasons
