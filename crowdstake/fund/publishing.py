"""The fund's publications, read and checked whole before anything is uploaded or sent:

- `checked_dataset(directory)`: a round's dataset directory (train.csv, validation.csv,
  live.csv, optionally features.json; what `crowdstake data build` writes per era) with every
  check the store makes; returns its files and the dataset hash `Tournament.openRound` commits.
- `publish_dataset_dir(store, account, directory)`: that directory into the store, file by file,
  then its manifest (`Fund.open_round(dataset_dir=...)` does this between its checks and its
  transaction); the round's live ids are then its live.csv's, in the store.
- `checked_targets(path, live_ids)`: a resolved round's targets file (`id,target`, exactly the
  round's live ids, targets in [0, 1]; a Signals round's `ticker,target`, a forward return for
  each ticker of its universe) and its hash (`Fund.publish_targets` uploads it and
  commits the hash on-chain, once per round).

Every mistake is one line, a `FundError` naming the file (or the store's refusal), and nothing
is uploaded. Crash behaviour: the store writes each file atomically and the same bytes again
change nothing, so a publication killed at any point is finished by running it again."""

from __future__ import annotations

from pathlib import Path

from eth_account.signers.local import LocalAccount

from crowdstake.errors import FundError, InvalidDatasetError, InvalidTargetsError
from crowdstake.fund.dataset import read_dataset_dir
from crowdstake.store import Store, file_hash
from crowdstake.store.datasets import dataset_hash, dataset_manifest
from crowdstake.store.formats import validate_targets
from crowdstake.store.signals_formats import validate_signals_targets


def checked_dataset(directory) -> tuple[dict[str, bytes], bytes]:
    """A dataset directory's files and its dataset hash, after every check a store makes."""
    files = read_dataset_dir(directory)
    try:
        return files, dataset_hash(dataset_manifest(files))
    except InvalidDatasetError as e:
        raise FundError(f"{directory}: {e}") from None


def publish_dataset_dir(store: Store, account: LocalAccount, directory) -> bytes:
    """Check a dataset directory and publish it to the store (signed by `account`, an operator
    of the Tournament: the store asks the chain). Returns the dataset hash to commit."""
    files, _ = checked_dataset(directory)
    return store.publish_dataset(account, files)


def read_targets(path) -> tuple[bytes, bytes]:
    """A targets file's bytes and their hash, unchecked (see `checked_targets`)."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as e:
        raise FundError(f"cannot read the targets file {path}: {e.strerror}") from None
    return data, file_hash(data)


def checked_targets(path, data: bytes, live_ids, signals: bool = False) -> None:
    """Refuse targets that are not exactly `live_ids` with a target in [0, 1] each, naming the
    line; a Signals round's (`signals`), that are not `ticker,target` with a finite forward
    return for exactly the universe's tickers (`live_ids`)."""
    try:
        (validate_signals_targets if signals else validate_targets)(data, live_ids)
    except InvalidTargetsError as e:
        raise FundError(f"{path}: {e}") from None
